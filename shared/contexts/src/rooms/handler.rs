//! The room handler: keeps the room context's own copies of what other contexts decide — the
//! occupancy calendar (from reservation events) and each room's rating (from reviews).

use std::sync::Arc;

use async_trait::async_trait;

use super::occupancy::record_nights;
use super::RoomStore;
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::RoomId;
use crate::events::{Envelope, Event};
use crate::storage::{Condition, Table, Update, WriteOp};

pub struct RoomHandler {
    table: Arc<dyn Table>,
}

impl RoomHandler {
    pub const NAME: &'static str = "room-handler";

    pub fn new(table: Arc<dyn Table>) -> Self {
        RoomHandler { table }
    }
}

#[async_trait]
impl Consumer for RoomHandler {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        match &event.event {
            Event::ReservationConfirmed(e) => Ok(record_nights(self.table.as_ref(), &e.reservation).await?),
            Event::ReservationCancelled(e) => Ok(record_nights(self.table.as_ref(), &e.reservation).await?),
            Event::ReviewWritten(written) => {
                let review = &written.review;
                let room_id = RoomId::parse(review.room_id.as_str()).ok_or_else(|| ConsumerError::Rejected(format!("review names room {}", review.room_id)))?;
                // A review of a room this table does not hold (yet): retried, and dead-lettered
                // with the reason if the room never comes. Never dropped.
                if self.table.get(&RoomStore::key(&room_id)).await?.is_none() {
                    return Err(ConsumerError::NotYet(format!("room {room_id} is not in the rooms table")));
                }
                // Additions commute, so reviews may arrive in any order; the processed-event
                // record written with this update makes a redelivery add nothing. Only the
                // rating attributes: a host's modify never overwrites them (it updates its own).
                let update = Update::new(RoomStore::key(&room_id)).add("ratingCount", 1).add("ratingTotal", i64::from(review.rating)).when(Condition::Exists);
                Ok(vec![update.into_op()])
            }
            _ => Ok(Vec::new()),
        }
    }
}
