//! The room context's occupancy calendar: which nights of a room are taken, kept by the room
//! handler from reservation events and read by search.
//!
//! One item per night and reservation, `ROOM#<roomId>` / `NIGHT#<date>#<reservationId>`, with
//! the reservation's status and version: a cancellation leaves the item `FREE` instead of
//! deleting it, so a confirmation that arrives after it (out of order) cannot revive the night.
//! Beside them, one counter per night, `ROOM#<roomId>` / `TAKEN#<date>`: how many reservations
//! hold it, moved in the same transaction as the entry that changes, so a search reads a stay's
//! nights by key (`BatchGetItem`), never by querying each room's calendar.

use serde_json::{json, Value};
use time::Date;

use super::RoomStore;
use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::domain::stay::format_date;
use crate::domain::{RoomId, Stay};
use crate::storage::{Condition, Item, Key, StorageError, Table, WriteOp};

fn night_key(room: &RoomId, night: Date, reservation: &str) -> Key {
    Key::new(format!("ROOM#{room}"), format!("NIGHT#{}#{reservation}", format_date(night)))
}

/// The counter of reservations holding `room` on `night`.
pub fn taken_key(room: &RoomId, night: Date) -> Key {
    Key::new(format!("ROOM#{room}"), format!("TAKEN#{}", format_date(night)))
}

/// The writes that record `reservation`'s nights as it now stands (taken when confirmed, free
/// otherwise): only the nights whose calendar entry is older than this version. Each write is
/// guarded by the version it read, so a concurrent change makes the event retry, not vanish.
pub async fn record_nights(table: &dyn Table, reservation: &Reservation) -> Result<Vec<WriteOp>, StorageError> {
    let status = match reservation.status {
        ReservationStatus::Confirmed => "TAKEN",
        _ => "FREE",
    };
    let mut ops = Vec::new();
    for night in reservation.stay.each_night() {
        let key = night_key(&reservation.room_id, night, reservation.reservation_id.as_str());
        let held = table.get(&key).await?;
        let held_version = held.as_ref().and_then(|n| n.get("version")).and_then(Value::as_u64);
        let guard = match held_version {
            Some(v) if v >= reservation.version => continue,
            Some(v) => Condition::equals("version", v),
            None => Condition::NotExists,
        };
        let was_taken = held.as_ref().and_then(|n| n.get("status")).and_then(Value::as_str) == Some("TAKEN");
        let delta = i64::from(status == "TAKEN") - i64::from(was_taken);
        // Written even when nothing moves, so every order of the same events leaves the same items.
        ops.push(
            crate::storage::Update::new(taken_key(&reservation.room_id, night))
                .set("kind", "taken-night")
                .set("night", format_date(night))
                .add("taken", delta)
                .into_op(),
        );
        let mut item = key.to_item();
        let extra = json!({
            "kind": "night",
            "night": format_date(night),
            "reservationId": reservation.reservation_id,
            "status": status,
            "version": reservation.version,
        });
        if let Value::Object(extra) = extra {
            item.extend(extra);
        }
        ops.push(WriteOp::put_if(item as Item, guard));
    }
    Ok(ops)
}

impl RoomStore {
    /// Whether every night of `stay` is free in the room's calendar: one `BatchGetItem` of its
    /// nights' counters.
    pub async fn is_free(&self, room: &RoomId, stay: &Stay) -> Result<bool, StorageError> {
        Ok(self.free_rooms(std::slice::from_ref(room), stay).await?.first().copied().unwrap_or(false))
    }

    /// For each room, whether every night of `stay` is free: one `BatchGetItem` of every room's
    /// nights' counters (split by the adapter into requests of 100 keys).
    pub async fn free_rooms(&self, rooms: &[RoomId], stay: &Stay) -> Result<Vec<bool>, StorageError> {
        let nights: Vec<Date> = stay.each_night().collect();
        let keys: Vec<Key> = rooms.iter().flat_map(|room| nights.iter().map(move |night| taken_key(room, *night))).collect();
        let counters = self.table().get_many(&keys).await?;
        Ok(counters
            .chunks(nights.len().max(1))
            .map(|room| room.iter().flatten().all(|counter| counter.get("taken").and_then(Value::as_i64).unwrap_or(0) <= 0))
            .collect())
    }
}
