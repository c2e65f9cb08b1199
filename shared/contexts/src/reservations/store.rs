//! Reservations in the `reservations` table.
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | reservation | `RESERVATION#<id>` | `RESERVATION` | `gsi1`: `ROOM#<roomId>` / `<checkIn>#<id>` and `gsi3`: `GUEST#<guestId>#ROOM#<roomId>` / `<checkIn>#<id>` while confirmed; `gsi2`: `HELD#<shard>` / `<holdExpiresAtMs>#<id>` while held |
//! | night lock | `NIGHT#<roomId>#<date>` | `LOCK` | |
//! | idempotency record | `IDEMPOTENCY#<guestId>#<key>` | `IDEMPOTENCY` | |
//! | deleted room | `ROOM_DELETED#<roomId>` | `ROOM_DELETED` | |
//! | circuit breaker | `BREAKER#payment` | `BREAKER` | |
//!
//! Holds are spread over [`HOLD_SHARDS`] index partitions (by reservation id), so that no one
//! partition takes every booking's hold.

use std::sync::Arc;

use time::Date;

use super::item::{Bookkeeping, NightLock, ReservationItem};
use crate::clock::{Clock, SharedClock};
use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::domain::stay::format_date;
use crate::domain::{ReservationId, RoomId};
use crate::storage::{from_item, to_item, Condition, Item, Key, StorageError, Table, WriteOp};

/// How many `gsi2` partitions hold the holds.
pub const HOLD_SHARDS: u32 = 8;

/// How long a rejected reservation is kept (TTL), for support and audits.
const REJECTED_KEPT_SECONDS: i64 = 7 * 24 * 3600;
/// A hold is garbage-collected by TTL after a day, whatever happens (expiry is compensated much
/// earlier by `expire-holds`).
const HELD_KEPT_SECONDS: i64 = 24 * 3600;

#[derive(Clone)]
pub struct ReservationStore {
    table: Arc<dyn Table>,
    clock: SharedClock,
}

impl ReservationStore {
    pub fn new(table: Arc<dyn Table>, clock: SharedClock) -> Self {
        ReservationStore { table, clock }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The `gsi2` partition that holds this reservation's hold.
    pub fn hold_shard(id: &ReservationId) -> String {
        // FNV-1a: stable across builds and machines, unlike the std hasher.
        let hash = id.as_str().bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        format!("HELD#{}", hash % HOLD_SHARDS)
    }

    /// The marker the reservation handler writes when a room is deleted.
    pub fn room_deleted_key(room: &RoomId) -> Key {
        Key::new(format!("ROOM_DELETED#{room}"), "ROOM_DELETED")
    }

    /// A transaction's check that the room has not been deleted: no stay is held or confirmed
    /// once the reservation context has heard of the deletion.
    pub fn room_not_deleted(room: &RoomId) -> WriteOp {
        WriteOp::check(Self::room_deleted_key(room), Condition::NotExists)
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    pub fn table_arc(&self) -> Arc<dyn Table> {
        self.table.clone()
    }

    pub fn key(id: &ReservationId) -> Key {
        Key::new(format!("RESERVATION#{id}"), "RESERVATION")
    }

    /// The `gsi3` partition of a guest's confirmed stays in one room (who may review it).
    pub fn stays_of(guest: &crate::domain::UserId, room: &RoomId) -> String {
        format!("GUEST#{guest}#ROOM#{room}")
    }

    pub fn night_key(room: &RoomId, night: Date) -> Key {
        Key::new(format!("NIGHT#{room}#{}", format_date(night)), "LOCK")
    }

    /// The reservation and what its item keeps besides.
    pub async fn get(&self, id: &ReservationId) -> Result<Option<(Reservation, Bookkeeping)>, StorageError> {
        match self.table.get(&Self::key(id)).await? {
            Some(item) => {
                let stored: ReservationItem = from_item(&item)?;
                Ok(Some((stored.reservation, stored.kept)))
            }
            None => Ok(None),
        }
    }

    pub fn from_item(item: &Item) -> Result<(Reservation, Bookkeeping), StorageError> {
        let stored: ReservationItem = from_item(item)?;
        Ok((stored.reservation, stored.kept))
    }

    /// The item for a reservation in its current status, with the indexes that status calls for.
    pub fn to_item(&self, r: &Reservation, hold_expires_at_ms: Option<i64>, kept: Bookkeeping) -> Result<Item, StorageError> {
        let key = Self::key(&r.reservation_id);
        let now = self.clock.now_seconds();
        let mut item = ReservationItem {
            pk: key.pk,
            sk: key.sk,
            kind: "reservation".into(),
            reservation: r.clone(),
            kept,
            updated_at: self.clock.now_utc(),
            hold_expires_at_ms: None,
            gsi2pk: None,
            gsi2sk: None,
            gsi1pk: None,
            gsi1sk: None,
            gsi3pk: None,
            gsi3sk: None,
            expires_at: None,
        };
        match r.status {
            ReservationStatus::Held => {
                let expires = hold_expires_at_ms.unwrap_or(0);
                item.hold_expires_at_ms = Some(expires);
                item.gsi2pk = Some(Self::hold_shard(&r.reservation_id));
                item.gsi2sk = Some(format!("{expires:015}#{}", r.reservation_id));
                item.expires_at = Some(now + HELD_KEPT_SECONDS);
            }
            ReservationStatus::Confirmed => {
                let stay = format!("{}#{}", format_date(r.stay.check_in), r.reservation_id);
                item.gsi1pk = Some(format!("ROOM#{}", r.room_id));
                item.gsi1sk = Some(stay.clone());
                item.gsi3pk = Some(Self::stays_of(&r.guest_id, &r.room_id));
                item.gsi3sk = Some(stay);
            }
            ReservationStatus::Rejected => item.expires_at = Some(now + REJECTED_KEPT_SECONDS),
            ReservationStatus::Cancelled => {}
        }
        to_item(&item)
    }

    /// One lock per night, each only if the night is free.
    pub fn hold_nights(r: &Reservation) -> Result<Vec<WriteOp>, StorageError> {
        r.stay
            .each_night()
            .map(|night| {
                let key = Self::night_key(&r.room_id, night);
                let lock =
                    NightLock { pk: key.pk, sk: key.sk, kind: "night-lock".into(), reservation_id: r.reservation_id.to_string(), night: format_date(night) };
                Ok(WriteOp::put_if(to_item(&lock)?, Condition::NotExists))
            })
            .collect()
    }

    /// Releases this reservation's night locks (and no one else's).
    pub fn release_nights(r: &Reservation) -> Vec<WriteOp> {
        r.stay
            .each_night()
            .map(|night| {
                WriteOp::delete_if(Self::night_key(&r.room_id, night), Condition::NotExists.or(Condition::equals("reservationId", r.reservation_id.as_str())))
            })
            .collect()
    }
}
