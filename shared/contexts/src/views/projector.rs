use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::keys;
use crate::consumer::{Consumer, ConsumerError};
use crate::events::{Envelope, EventType};
use crate::storage::{Condition, Item, Key, StorageError, Table, Update, WriteOp};

/// Keeps the `views` table: one projection per event type it is subscribed to. Each copy of an
/// aggregate is written only when the event is newer than what the copy holds (read first, and
/// guarded by the version read), and every write of an event goes in the one transaction the
/// harness commits with its processed-event record: a crash leaves all or nothing, and a
/// redelivered event changes nothing.
pub struct ViewProjector {
    table: Arc<dyn Table>,
}

impl ViewProjector {
    pub const NAME: &'static str = "view-projector";

    pub fn new(table: Arc<dyn Table>) -> Self {
        ViewProjector { table }
    }
}

fn text(payload: &Value, field: &str) -> Result<String, ConsumerError> {
    payload.get(field).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| ConsumerError::Rejected(format!("payload has no `{field}`")))
}

fn object(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        _ => Item::new(),
    }
}

impl ViewProjector {
    /// An update that sets every field of `fields` and `version_attr = version`, if the copy at
    /// `key` holds an older version (or none); `None` if it holds this one or a newer one.
    async fn set_if_newer(&self, key: Key, fields: Value, version_attr: &str, version: u64) -> Result<Option<WriteOp>, StorageError> {
        let held = self.table.get(&key).await?.and_then(|item| item.get(version_attr).and_then(Value::as_u64));
        let guard = match held {
            Some(v) if v >= version => return Ok(None),
            Some(v) => Condition::equals(version_attr, v),
            None => Condition::AttributeNotExists(version_attr.into()),
        };
        let mut update = Update::new(key);
        for (k, v) in object(fields) {
            update = update.set(k, v);
        }
        Ok(Some(update.set(version_attr, version).when(guard).into_op()))
    }
}

#[async_trait]
impl Consumer for ViewProjector {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        let p = &event.payload;
        let at = event.occurred_at.unix_timestamp();
        match event.event_type {
            EventType::RoomRegistered | EventType::RoomModified | EventType::RoomDeleted => {
                let host_id = text(p, "hostId")?;
                let room_id = text(p, "roomId")?;
                let status = if event.event_type == EventType::RoomDeleted { "DELETED".to_owned() } else { text(p, "status")? };
                let fields = json!({
                    "kind": "host-room", "roomId": room_id, "title": p.get("title"), "city": p.get("city"),
                    "capacity": p.get("capacity"), "nightlyPrice": p.get("nightlyPrice"), "status": status,
                    "lastEventId": event.event_id.to_string(), "updatedAt": at,
                });
                Ok(self.set_if_newer(keys::host_room(&host_id, &room_id), fields, "version", event.version).await?.into_iter().collect())
            }
            EventType::ReviewWritten => {
                // The host's room row keeps its rating as reviews come: sums commute, and the
                // harness applies each review once.
                let host_id = text(p, "hostId")?;
                let room_id = text(p, "roomId")?;
                let rating = p.get("rating").and_then(Value::as_i64).unwrap_or(0);
                let update = Update::new(keys::host_room(&host_id, &room_id)).add("ratingCount", 1).add("ratingTotal", rating);
                Ok(vec![update.into_op()])
            }
            EventType::ReservationConfirmed | EventType::ReservationCancelled => {
                let id = text(p, "reservationId")?;
                let guest = text(p, "guestId")?;
                let host = text(p, "hostId")?;
                let check_in = text(p, "checkIn")?;
                let status = text(p, "status")?;
                let view = json!({
                    "kind": "reservation-view", "reservationId": id, "roomId": p.get("roomId"), "roomTitle": p.get("roomTitle"),
                    "guestId": guest, "hostId": host, "checkIn": check_in, "checkOut": p.get("checkOut"),
                    "guests": p.get("guests"), "amount": p.get("amount"), "status": status,
                    "cancelledBy": p.get("cancelledBy"), "lastChange": event.event_type.as_str(), "lastChangeAt": at,
                });
                // The three copies of the reservation take only a newer version: an older event
                // (a confirmation arriving after its cancellation) skips them, not the revenue.
                let mut ops = Vec::new();
                for key in [keys::reservation(&id), keys::guest_reservation(&guest, &check_in, &id), keys::host_stay(&host, &check_in, &id)] {
                    ops.extend(self.set_if_newer(key, view.clone(), "version", event.version).await?);
                }
                // Revenue: confirmed in, cancelled (and so refunded) out. Sums commute, and the
                // processed-event record makes each event add once, in whatever order they come.
                let amount = p.get("amount").and_then(|a| a.get("amount")).and_then(Value::as_i64).unwrap_or(0);
                let currency = p.get("amount").and_then(|a| a.get("currency")).and_then(Value::as_str).unwrap_or("KRW").to_owned();
                let revenue = Update::new(keys::host_revenue(&host, &currency)).set("kind", "host-revenue").set("currency", currency.clone());
                ops.push(
                    match event.event_type {
                        EventType::ReservationConfirmed => revenue.add("confirmed", amount).add("bookings", 1),
                        _ => revenue.add("refunded", amount).add("cancellations", 1),
                    }
                    .into_op(),
                );
                if event.event_type == EventType::ReservationConfirmed {
                    let mut latest = keys::host_latest(&host, at, &id).to_item();
                    latest.extend(object(json!({"kind": "host-latest", "reservationId": id, "guestId": guest, "roomTitle": p.get("roomTitle"), "checkIn": check_in, "checkOut": p.get("checkOut"), "bookedAt": at})));
                    ops.push(WriteOp::put(latest));
                }
                Ok(ops)
            }
            EventType::PaymentApproved | EventType::PaymentRefunded | EventType::PaymentDeclined => {
                // The payment's status on the reservation's views, versioned on its own so it
                // never fights the reservation's.
                let id = text(p, "reservationId")?;
                let status = text(p, "status")?;
                let fields = json!({"paymentStatus": status, "paymentId": p.get("paymentId")});
                Ok(self.set_if_newer(keys::reservation(&id), fields, "paymentVersion", event.version).await?.into_iter().collect())
            }
            EventType::ReservationAborted => Ok(Vec::new()),
        }
    }
}
