//! The payment handler: refunds what must not be kept — the payment of a cancelled
//! reservation, and any payment of an aborted booking (a timed-out call that went through).

use async_trait::async_trait;
use serde_json::Value;

use super::{PaymentError, PaymentService, Refund};
use crate::consumer::{Consumer, ConsumerError};
use crate::domain::{Money, ReservationId};
use crate::events::{Causation, Envelope, EventType};
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
        if !matches!(event.event_type, EventType::ReservationCancelled | EventType::ReservationAborted) {
            return Ok(Vec::new());
        }
        let p = &event.payload;
        let reservation = p
            .get("reservationId")
            .and_then(Value::as_str)
            .and_then(ReservationId::parse)
            .ok_or_else(|| ConsumerError::Rejected(format!("{} names no reservation", event.event_type)))?;
        let amount: Money = p
            .get("amount")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
            .ok_or_else(|| ConsumerError::Rejected(format!("{} names no amount", event.event_type)))?;
        // The refund (or void) and its event are written with the processed-event record: one
        // transaction, so a crash leaves either all of it or none, and a redelivery refunds
        // nothing twice.
        let guest = p.get("guestId").and_then(Value::as_str).map(crate::domain::UserId::new);
        match self.payments.refund_ops(&reservation, &amount, guest.as_ref(), &Causation::event(event)).await {
            Ok(Refund::Settled(_)) => Ok(Vec::new()),
            Ok(Refund::Write { ops, .. }) => Ok(ops),
            Err(PaymentError::Storage(e)) => Err(ConsumerError::Storage(e)),
            Err(e) => Err(ConsumerError::Transient(e.to_string())),
        }
    }
}
