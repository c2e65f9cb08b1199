//! The payment context's domain.

use serde::{Deserialize, Serialize};

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
