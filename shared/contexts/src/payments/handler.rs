//! The payment handler: refunds what must not be kept — the payment of a cancelled
//! reservation, and any payment of an aborted booking (a timed-out call that went through).

use async_trait::async_trait;

use super::{PaymentError, PaymentService, Refund, RefundPath};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::reservation::CancelledBy;
use crate::events::{Causation, Envelope, Event};
use crate::storage::{Table, WriteOp};

pub struct PaymentHandler {
    payments: PaymentService,
}

impl PaymentHandler {
    pub const NAME: &'static str = "payment-handler";

    pub fn new(payments: PaymentService) -> Self {
        PaymentHandler { payments }
    }
}

#[async_trait]
impl Consumer for PaymentHandler {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn table(&self) -> &dyn Table {
        self.payments.table()
    }

    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError> {
        let (reservation, amount, guest, path) = match &event.event {
            Event::ReservationCancelled(e) => {
                let path = if e.cancelled_by == CancelledBy::RoomDeleted { RefundPath::RoomDeleted } else { RefundPath::Cancelled };
                (&e.reservation.reservation_id, &e.reservation.amount, &e.reservation.guest_id, path)
            }
            Event::ReservationAborted(e) => (&e.reservation_id, &e.amount, &e.guest_id, RefundPath::Aborted(e.reason)),
            _ => return Ok(Vec::new()),
        };
        // The refund (or void) and its event are written with the processed-event record: one
        // transaction, so a crash leaves either all of it or none. The provider's refund comes
        // first, under this path's idempotency key: a redelivery repeats the same refund, which
        // the provider answers as it did the first time.
        match self.payments.refund_ops(reservation, amount, Some(guest), path, &Causation::event(event)).await {
            Ok(Refund::Settled(_)) => Ok(Vec::new()),
            Ok(Refund::Write { ops, .. }) => Ok(ops),
            Err(PaymentError::Storage(e)) => Err(ConsumerError::Storage(e)),
            Err(e) => Err(ConsumerError::Transient(e.to_string())),
        }
    }
}
