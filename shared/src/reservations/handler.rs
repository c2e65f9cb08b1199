//! The reservation handler: when a room is deleted, every future stay in it is cancelled
//! (`cancelledBy: room-deleted`), which refunds and notifies as any cancellation does.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::{cancel_reservation, ReservationError, ReservationStore};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::reservation::CancelledBy;
use crate::domain::stay::format_date;
use crate::events::{Causation, Envelope, EventType};
use crate::storage::{Query, SortKey, Table, WriteOp};

pub struct ReservationHandler {
    store: ReservationStore,
}

impl ReservationHandler {
    pub const NAME: &'static str = "reservation-handler";

    pub fn new(table: Arc<dyn Table>) -> Self {
        ReservationHandler { store: ReservationStore::new(table) }
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
        if event.event_type != EventType::RoomDeleted {
            return Ok(Vec::new());
        }
        let room = event.payload.get("roomId").and_then(Value::as_str).ok_or_else(|| ConsumerError::Transient("RoomDeleted names no room".into()))?;
        let tomorrow = OffsetDateTime::now_utc().date().next_day().unwrap_or(OffsetDateTime::now_utc().date());
        // The room's confirmed stays from tomorrow on: one index query per page.
        let mut query = Query::on_index("gsi1", format!("ROOM#{room}")).sort(SortKey::GreaterOrEqual(format_date(tomorrow))).limit(100);
        loop {
            let page = self.store.table().query(&query).await?;
            for item in &page.items {
                let id = item.get("reservationId").and_then(Value::as_str).unwrap_or_default();
                // Each cancellation is its own transaction, conditional on the reservation
                // still being confirmed: a redelivered RoomDeleted cancels nothing twice.
                match cancel_reservation(&self.store, id, None, CancelledBy::RoomDeleted, &Causation::event(event)).await {
                    Ok(_) | Err(ReservationError::AlreadyCancelled) | Err(ReservationError::AlreadyStarted) | Err(ReservationError::NotFound) => {}
                    Err(ReservationError::Storage(e)) => return Err(ConsumerError::Storage(e)),
                    Err(e) => return Err(ConsumerError::Transient(e.to_string())),
                }
            }
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => return Ok(Vec::new()),
            }
        }
    }
}
