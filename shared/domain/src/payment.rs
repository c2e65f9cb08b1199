//! The payment context's domain.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentStatus {
    /// Asked of the provider, no answer yet.
    Pending,
    /// The booking gave up waiting for the provider's answer: whether it charged is unknown
    /// until the call ends or reconciliation asks (then `REFUNDED` or `VOIDED`).
    Uncertain,
    Approved,
    Declined,
    Refunded,
    /// Nothing was charged: a refund that came before the approval was asked for (it stops a late
    /// one from being asked), or an uncertain payment the provider never took. No one is told
    /// of a refund that never was.
    Voided,
}
