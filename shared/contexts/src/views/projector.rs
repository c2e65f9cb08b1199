use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::keys;
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::payment::PaymentStatus;
use crate::domain::reservation::{CancelledBy, Reservation, ReservationStatus};
use crate::domain::room::RoomStatus;
use crate::domain::stay::format_date;
use crate::domain::{Money, PaymentId, ReservationId, RoomId, UserId};
use crate::events::{Envelope, Event, EventType};
use crate::rooms::{MoneyDocument, RoomDocument};
use crate::storage::{to_item, Condition, Key, StorageError, Table, Update, WriteOp};

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

/// A host's room, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct HostRoomRow<'a> {
    kind: &'static str,
    room_id: &'a str,
    title: &'a str,
    city: &'a str,
    capacity: u32,
    nightly_price: &'a MoneyDocument,
    status: RoomStatus,
    last_event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

/// A reservation as its guest and its room's host see it (three copies, one per way to find it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReservationRow<'a> {
    kind: &'static str,
    reservation_id: &'a ReservationId,
    room_id: &'a RoomId,
    room_title: Option<&'a str>,
    guest_id: &'a UserId,
    host_id: &'a UserId,
    check_in: String,
    check_out: String,
    guests: u32,
    amount: &'a Money,
    status: ReservationStatus,
    cancelled_by: Option<CancelledBy>,
    last_change: EventType,
    #[serde(with = "time::serde::rfc3339")]
    last_change_at: OffsetDateTime,
}

/// One of a host's latest bookings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct LatestBookingRow<'a> {
    pk: String,
    sk: String,
    kind: &'static str,
    reservation_id: &'a ReservationId,
    guest_id: &'a UserId,
    room_title: Option<&'a str>,
    check_in: String,
    check_out: String,
    #[serde(with = "time::serde::rfc3339")]
    booked_at: OffsetDateTime,
}

/// A payment's status on its reservation's view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentOnView<'a> {
    payment_status: PaymentStatus,
    payment_id: &'a PaymentId,
}

impl ViewProjector {
    /// An update that sets every field of `fields` and `version_attr = version`, if the copy at
    /// `key` holds an older version (or none); `None` if it holds this one or a newer one.
    async fn set_if_newer(&self, key: Key, fields: &impl Serialize, version_attr: &str, version: u64) -> Result<Option<WriteOp>, StorageError> {
        let held = self.table.get(&key).await?.and_then(|item| item.get(version_attr).and_then(Value::as_u64));
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

    async fn room(&self, envelope: &Envelope, room: &RoomDocument) -> Result<Vec<WriteOp>, ConsumerError> {
        let row = HostRoomRow {
            kind: "host-room",
            room_id: &room.room_id,
            title: &room.title,
            city: &room.city,
            capacity: room.capacity,
            nightly_price: &room.nightly_price,
            status: if envelope.event_type() == EventType::RoomDeleted { RoomStatus::Deleted } else { room.status },
            last_event_id: envelope.event_id.to_string(),
            updated_at: envelope.occurred_at,
        };
        Ok(self.set_if_newer(keys::host_room(&room.host_id, &room.room_id), &row, "version", envelope.version).await?.into_iter().collect())
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
        let row = ReservationRow {
            kind: "reservation-view",
            reservation_id: &r.reservation_id,
            room_id: &r.room_id,
            room_title,
            guest_id: &r.guest_id,
            host_id: &r.host_id,
            check_in: check_in.clone(),
            check_out: format_date(r.stay.check_out),
            guests: r.guests,
            amount: &r.amount,
            status: r.status,
            cancelled_by,
            last_change: envelope.event_type(),
            last_change_at: envelope.occurred_at,
        };
        // The three copies of the reservation take only a newer version: an older event (a
        // confirmation arriving after its cancellation) skips them, not the revenue.
        let mut ops = Vec::new();
        for key in [keys::reservation(id), keys::guest_reservation(guest, &check_in, id), keys::host_stay(host, &check_in, id)] {
            ops.extend(self.set_if_newer(key, &row, "version", envelope.version).await?);
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
            let latest = LatestBookingRow {
                pk: key.pk,
                sk: key.sk,
                kind: "host-latest",
                reservation_id: &r.reservation_id,
                guest_id: &r.guest_id,
                room_title,
                check_in,
                check_out: format_date(r.stay.check_out),
                booked_at: envelope.occurred_at,
            };
            ops.push(WriteOp::put(to_item(&latest)?));
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
                let fields = PaymentOnView { payment_status: p.status, payment_id: &p.payment_id };
                Ok(self.set_if_newer(keys::reservation(p.reservation_id.as_str()), &fields, "paymentVersion", envelope.version).await?.into_iter().collect())
            }
            Event::ReservationAborted(_) => Ok(Vec::new()),
        }
    }
}
