//! The room context's occupancy calendar: which nights of a room are taken, kept by the room
//! handler from reservation events and read by search.
//!
//! One item per night and reservation, `ROOM#<roomId>` / `NIGHT#<date>#<reservationId>`, with
//! the reservation's status and version: a cancellation leaves the item `CANCELLED` instead of
//! deleting it, so a confirmation that arrives after it (out of order) cannot revive the night.

use serde_json::{json, Value};
use time::Date;

use super::RoomStore;
use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::domain::stay::format_date;
use crate::domain::{RoomId, Stay};
use crate::storage::{Condition, Item, Key, Query, SortKey, StorageError, Table, WriteOp};

fn night_key(room: &RoomId, night: Date, reservation: &str) -> Key {
    Key::new(format!("ROOM#{room}"), format!("NIGHT#{}#{reservation}", format_date(night)))
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
    /// Whether every night of `stay` is free in the room's calendar: one query of the room's
    /// partition, bounded by the nights of the stay.
    pub async fn is_free(&self, room: &RoomId, stay: &Stay) -> Result<bool, StorageError> {
        let last = stay.each_night().last().unwrap_or(stay.check_in);
        let query = Query::partition(format!("ROOM#{room}"))
            .sort(SortKey::Between(format!("NIGHT#{}#", format_date(stay.check_in)), format!("NIGHT#{}#~", format_date(last))))
            .limit(200);
        let mut query = query;
        loop {
            let page = self.table().query(&query).await?;
            if page.items.iter().any(|n| n.get("status").and_then(Value::as_str) == Some("TAKEN")) {
                return Ok(false);
            }
            match page.next {
                Some(cursor) => query = query.after(Some(cursor)),
                None => return Ok(true),
            }
        }
    }
}
