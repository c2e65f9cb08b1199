//! The payment context's domain.

use serde::{Deserialize, Serialize};

use super::{Money, PaymentId, ReservationId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentStatus {
    Approved,
    Declined,
    Refunded,
    /// Nothing was charged: a refund that came before the approval it cancels. It stops a late
    /// approval from charging, and tells no one of a refund that never was.
    Voided,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub payment_id: PaymentId,
    /// Also the payment's idempotency key: one reservation, at most one charge.
    pub reservation_id: ReservationId,
    pub amount: Money,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
}
