use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::keys;
use super::rows::{HostRoomRow, LatestBooking, PaymentOnView, ReservationView, Stored};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::reservation::{CancelledBy, Reservation};
use crate::domain::room::RoomStatus;
use crate::domain::stay::format_date;
use crate::events::{Envelope, Event, EventType};
use crate::rooms::RoomDocument;
use crate::storage::{to_item, Condition, Item, Key, StorageError, Table, Update, WriteOp};

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

impl ViewProjector {
    /// An update that sets every field of `fields` and `version_attr = version`, if the copy at
    /// `key` holds an older version (or none); `None` if it holds this one or a newer one.
    async fn set_if_newer(&self, key: Key, fields: &impl Serialize, version_attr: &str, version: u64) -> Result<Option<WriteOp>, StorageError> {
        let held = self.table.get(&key).await?;
        set_over(held.as_ref(), key, fields, version_attr, version)
    }
}

/// [`ViewProjector::set_if_newer`] over what the copy holds (`held`, read by the caller).
fn set_over(held: Option<&Item>, key: Key, fields: &impl Serialize, version_attr: &str, version: u64) -> Result<Option<WriteOp>, StorageError> {
    {
        let held = held.and_then(|item| item.get(version_attr).and_then(Value::as_u64));
        let guard = match held {
            Some(v) if v >= version => return Ok(None),
            Some(v) => Condition::equals(version_attr, v),
            None => Condition::AttributeNotExists(version_attr.into()),
        };
        let mut update = Update::new(key);
        for (k, v) in to_item(fields)? {
            // Absent, not null: the row shows only what it has.
            if !v.is_null() {
                update = update.set(k, v);
            }
        }
        Ok(Some(update.set(version_attr, version).when(guard).into_op()))
    }
}

impl ViewProjector {
    async fn room(&self, envelope: &Envelope, room: &RoomDocument) -> Result<Vec<WriteOp>, ConsumerError> {
        let row = HostRoomRow {
            room_id: room.room_id.clone(),
            title: room.title.clone(),
            city: room.city.clone(),
            capacity: room.capacity,
            nightly_price: room.nightly_price.clone(),
            status: if envelope.event_type() == EventType::RoomDeleted { RoomStatus::Deleted } else { room.status },
            last_event_id: envelope.event_id.to_string(),
            updated_at: envelope.occurred_at,
        };
        let key = keys::host_room(&room.host_id, &room.room_id);
        let held = self.table.get(&key).await?;
        let status = row.status;
        let row = Stored { kind: "host-room", row: &row };
        let Some(write) = set_over(held.as_ref(), key, &row, "version", envelope.version)? else {
            return Ok(Vec::new());
        };
        // The host's count of active rooms moves with this row's status, in the same
        // transaction, guarded by the same version: exact whatever the order events come in.
        // (A row only a review has touched holds no status: not a room yet.)
        let was_active = held.as_ref().and_then(|h| h.get("status")).and_then(Value::as_str) == Some("ACTIVE");
        let delta = i64::from(status == RoomStatus::Active) - i64::from(was_active);
        let mut ops = vec![write];
        if delta != 0 {
            ops.push(Update::new(keys::host_summary(&room.host_id)).set("kind", "host-summary").add("activeRooms", delta).into_op());
        }
        Ok(ops)
    }

    async fn reservation(
        &self,
        envelope: &Envelope,
        r: &Reservation,
        room_title: Option<&str>,
        cancelled_by: Option<CancelledBy>,
    ) -> Result<Vec<WriteOp>, ConsumerError> {
        let (id, guest, host) = (r.reservation_id.as_str(), r.guest_id.as_str(), r.host_id.as_str());
        let check_in = format_date(r.stay.check_in);
        let view = ReservationView {
            reservation_id: r.reservation_id.clone(),
            room_id: r.room_id.clone(),
            room_title: room_title.map(str::to_owned),
            guest_id: r.guest_id.clone(),
            host_id: r.host_id.clone(),
            check_in: check_in.clone(),
            check_out: format_date(r.stay.check_out),
            guests: r.guests,
            amount: r.amount.clone(),
            status: r.status,
            cancelled_by,
            last_change: envelope.event_type(),
            last_change_at: envelope.occurred_at,
            // The payment's own events set these; an update that leaves them out keeps them.
            payment_status: None,
            payment_id: None,
            refund_reason: None,
        };
        let row = Stored { kind: "reservation-view", row: &view };
        // The three copies of the reservation take only a newer version: an older event (a
        // confirmation arriving after its cancellation) skips them, not the revenue.
        let copies = [keys::reservation(id), keys::guest_reservation(guest, &check_in, id), keys::host_stay(host, &check_in, id)];
        let held = self.table.get_many(&copies).await?;
        let mut ops = Vec::new();
        for (key, held) in copies.into_iter().zip(&held) {
            ops.extend(set_over(held.as_ref(), key, &row, "version", envelope.version)?);
        }
        // The host's booked rooms per night move with the stay copy's status (taken when
        // confirmed, given back when no longer), in the transaction that moves the copy: each
        // change counts once, and an older event that the copy refuses counts nothing.
        let stay_copy = held[2].as_ref();
        let stay_moves = stay_copy.and_then(|h| h.get("version")).and_then(Value::as_u64).is_none_or(|v| v < envelope.version);
        if stay_moves {
            let was = stay_copy.and_then(|h| h.get("status")).and_then(Value::as_str) == Some("CONFIRMED");
            let delta = i64::from(r.status == crate::domain::reservation::ReservationStatus::Confirmed) - i64::from(was);
            // Written even when nothing moves (a cancellation that overtook its confirmation), so
            // that every order of the same events leaves the same items.
            for night in r.stay.each_night() {
                let night = format_date(night);
                ops.push(Update::new(keys::host_night(host, &night)).set("kind", "host-night").set("night", night.clone()).add("booked", delta).into_op());
            }
        }
        // Revenue: confirmed in, cancelled (and so refunded) out. Sums commute, and the
        // processed-event record makes each event add once, in whatever order they come.
        let currency = r.amount.currency.code().to_owned();
        let revenue = Update::new(keys::host_revenue(host, &currency)).set("kind", "host-revenue").set("currency", currency.clone());
        let confirmed = envelope.event_type() == EventType::ReservationConfirmed;
        ops.push(
            if confirmed {
                revenue.add("confirmed", r.amount.amount).add("bookings", 1)
            } else {
                revenue.add("refunded", r.amount.amount).add("cancellations", 1)
            }
            .into_op(),
        );
        if confirmed {
            let key = keys::host_latest(host, envelope.occurred_at.unix_timestamp(), id);
            let latest = LatestBooking {
                reservation_id: r.reservation_id.clone(),
                guest_id: r.guest_id.clone(),
                room_title: room_title.map(str::to_owned),
                check_in,
                check_out: format_date(r.stay.check_out),
                booked_at: envelope.occurred_at,
            };
            let mut item = key.to_item();
            item.extend(to_item(&Stored { kind: "host-latest", row: &latest })?);
            ops.push(WriteOp::put(item));
        }
        Ok(ops)
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

    async fn apply(&self, envelope: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        match &envelope.event {
            Event::RoomRegistered(room) | Event::RoomModified(room) | Event::RoomDeleted(room) => self.room(envelope, room).await,
            Event::ReviewWritten(written) => {
                // The host's room row keeps its rating as reviews come: sums commute, and the
                // harness applies each review once.
                let key = keys::host_room(written.host_id.as_str(), written.review.room_id.as_str());
                Ok(vec![Update::new(key).add("ratingCount", 1).add("ratingTotal", i64::from(written.review.rating)).into_op()])
            }
            Event::ReservationConfirmed(e) => self.reservation(envelope, &e.reservation, e.room_title.as_deref(), None).await,
            Event::ReservationCancelled(e) => self.reservation(envelope, &e.reservation, e.room_title.as_deref(), Some(e.cancelled_by)).await,
            Event::PaymentApproved(p) | Event::PaymentRefunded(p) | Event::PaymentDeclined(p) => {
                // The payment's status on the reservation's views, versioned on its own so it
                // never fights the reservation's.
                let fields = PaymentOnView { payment_status: p.status, payment_id: &p.payment_id, refund_reason: p.refund_reason.as_deref() };
                Ok(self.set_if_newer(keys::reservation(p.reservation_id.as_str()), &fields, "paymentVersion", envelope.version).await?.into_iter().collect())
            }
            Event::ReservationAborted(_) => Ok(Vec::new()),
        }
    }
}
