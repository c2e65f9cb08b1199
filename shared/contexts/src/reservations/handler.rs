//! The reservation handler: when a room is deleted, every future stay in it is cancelled
//! (`cancelledBy: room-deleted`), which refunds and notifies as any cancellation does.
//!
//! Booking races deletion: a booking may read the room just before it is deleted. So the handler
//! first records the deletion in the reservations table (`ROOM_DELETED#<roomId>`), which every
//! later hold and confirmation checks in its own transaction; then it cancels the stays already
//! confirmed; and a confirmation it hears of after that (one that committed just before the
//! record) is cancelled too.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{cancel_reservation, ReservationError, ReservationStore};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::reservation::CancelledBy;
use crate::domain::stay::format_date;
use crate::domain::{EventId, RoomId};
use crate::events::{Causation, Envelope, Event};
use crate::storage::{to_item, Query, SortKey, Table, WriteOp};

/// That a room is gone, as the reservation context knows it: every later hold and
/// confirmation of the room checks this item is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomDeletedMarker {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub event_id: EventId,
}

pub struct ReservationHandler {
    store: ReservationStore,
}

impl ReservationHandler {
    pub const NAME: &'static str = "reservation-handler";

    pub fn new(store: ReservationStore) -> Self {
        ReservationHandler { store }
    }

    /// Cancels one stay because its room is gone. Each cancellation is its own transaction,
    /// conditional on the stay still being confirmed, so a redelivery cancels nothing twice: a
    /// room may have more stays than one transaction holds, so this effect is idempotent by
    /// construction rather than written with the processed-event record.
    async fn cancel_for_deleted_room(&self, id: &str, event: &Envelope) -> Result<(), ConsumerError> {
        match cancel_reservation(&self.store, id, None, CancelledBy::RoomDeleted, &Causation::event(event)).await {
            Ok(_) | Err(ReservationError::AlreadyCancelled) | Err(ReservationError::AlreadyStarted) | Err(ReservationError::NotFound) => Ok(()),
            Err(ReservationError::Storage(e)) => Err(ConsumerError::Storage(e)),
            Err(e) => Err(ConsumerError::Transient(e.to_string())),
        }
    }

    async fn room_deleted(&self, event: &Envelope, room: &RoomId) -> Result<(), ConsumerError> {
        let key = ReservationStore::room_deleted_key(room);
        let marker = RoomDeletedMarker { pk: key.pk, sk: key.sk, kind: "room-deleted".into(), event_id: event.event_id.clone() };
        // Written on its own and first: from here on no hold or confirmation of this room commits.
        self.store.table().write(vec![WriteOp::put(to_item(&marker)?)]).await?;
        let tomorrow = self.store.clock().today().next_day().unwrap_or(self.store.clock().today());
        // The room's confirmed stays from tomorrow on: one index query per page.
        let mut query = Query::on_index("gsi1", format!("ROOM#{room}")).sort(SortKey::GreaterOrEqual(format_date(tomorrow))).limit(100);
        loop {
            let page = self.store.table().query(&query).await?;
            for item in &page.items {
                if let Some(id) = item.get("reservationId").and_then(Value::as_str) {
                    self.cancel_for_deleted_room(id, event).await?;
                }
            }
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl Consumer for ReservationHandler {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.store.table()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        match &event.event {
            Event::RoomDeleted(room) => {
                let room = RoomId::parse(&room.room_id).ok_or_else(|| ConsumerError::Rejected(format!("RoomDeleted names room {:?}", room.room_id)))?;
                self.room_deleted(event, &room).await?;
            }
            Event::ReservationConfirmed(confirmed) => {
                let r = &confirmed.reservation;
                // Confirmed just before the room's deletion was recorded: cancel it now.
                if self.store.table().get(&ReservationStore::room_deleted_key(&r.room_id)).await?.is_some() {
                    self.cancel_for_deleted_room(r.reservation_id.as_str(), event).await?;
                }
            }
            _ => {}
        }
        Ok(Vec::new())
    }
}
