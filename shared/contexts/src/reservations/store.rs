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

use serde_json::{json, Value};
use time::Date;

use crate::clock::{Clock, SharedClock};
use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::domain::stay::format_date;
use crate::domain::{ReservationId, RoomId};
use crate::storage::{Condition, Item, Key, StorageError, Table, WriteOp};

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

    pub async fn get(&self, id: &ReservationId) -> Result<Option<(Reservation, Item)>, StorageError> {
        match self.table.get(&Self::key(id)).await? {
            Some(item) => Ok(Some((Self::from_item(&item)?, item))),
            None => Ok(None),
        }
    }

    pub fn from_item(item: &Item) -> Result<Reservation, StorageError> {
        serde_json::from_value(Value::Object(item.clone())).map_err(|e| StorageError::Unavailable(format!("stored reservation does not read back: {e}")))
    }

    /// The item for a reservation in its current status, with the indexes that status calls for.
    pub fn to_item(&self, r: &Reservation, hold_expires_at_ms: Option<i64>, extra: Value) -> Result<Item, StorageError> {
        let Value::Object(mut item) = serde_json::to_value(r).map_err(|e| StorageError::Invalid(e.to_string()))? else {
            return Err(StorageError::Invalid("reservation is not an object".into()));
        };
        let key = Self::key(&r.reservation_id);
        let now = self.clock.now_seconds();
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("kind".into(), "reservation".into());
        item.insert("updatedAt".into(), now.into());
        match r.status {
            ReservationStatus::Held => {
                let expires = hold_expires_at_ms.unwrap_or(0);
                item.insert("holdExpiresAtMs".into(), expires.into());
                item.insert("gsi2pk".into(), Self::hold_shard(&r.reservation_id).into());
                item.insert("gsi2sk".into(), format!("{expires:015}#{}", r.reservation_id).into());
                item.insert("expiresAt".into(), (now + HELD_KEPT_SECONDS).into());
            }
            ReservationStatus::Confirmed => {
                item.insert("gsi1pk".into(), format!("ROOM#{}", r.room_id).into());
                item.insert("gsi1sk".into(), format!("{}#{}", format_date(r.stay.check_in), r.reservation_id).into());
                item.insert("gsi3pk".into(), Self::stays_of(&r.guest_id, &r.room_id).into());
                item.insert("gsi3sk".into(), format!("{}#{}", format_date(r.stay.check_in), r.reservation_id).into());
            }
            ReservationStatus::Rejected => {
                item.insert("expiresAt".into(), (now + REJECTED_KEPT_SECONDS).into());
            }
            ReservationStatus::Cancelled => {}
        }
        if let Value::Object(extra) = extra {
            item.extend(extra);
        }
        Ok(item)
    }

    /// One lock per night, each only if the night is free.
    pub fn hold_nights(r: &Reservation) -> Vec<WriteOp> {
        r.stay
            .each_night()
            .map(|night| {
                let mut item = Self::night_key(&r.room_id, night).to_item();
                if let Value::Object(extra) = json!({"kind": "night-lock", "reservationId": r.reservation_id, "night": format_date(night)}) {
                    item.extend(extra);
                }
                WriteOp::put_if(item, Condition::NotExists)
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
