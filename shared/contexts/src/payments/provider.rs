//! The port to the payment provider: the company that takes the guest's money (Toss Payments;
//! locally, the sandbox). A payment is authorized in the guest's browser by the provider's own
//! form, for an order id the client chose; bnb then confirms it (nothing is captured until it
//! does), refunds it, or asks what became of it. Every call that moves money carries an
//! idempotency key, so a retry is the same call.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Which provider a deployment takes payments with: `PAYMENT_PROVIDER` (template parameter
/// `PaymentProvider`).
pub const PAYMENT_PROVIDER: &str = "PAYMENT_PROVIDER";
/// Where the provider's API is (`TOSS_ENDPOINT`; a local contract server in tests).
pub const TOSS_ENDPOINT: &str = "TOSS_ENDPOINT";
/// The name of the SSM SecureString parameter that holds the provider's secret key (never the key).
pub const TOSS_SECRET_KEY_PARAMETER: &str = "TOSS_SECRET_KEY_PARAMETER";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// bnb's own stand-in: card tokens (`tok_visa`, `tok_declined`...), no money moves.
    Sandbox,
    /// Toss Payments, API v1.
    Toss,
}

impl ProviderKind {
    pub fn parse(text: &str) -> Option<ProviderKind> {
        match text.trim() {
            "" | "sandbox" => Some(ProviderKind::Sandbox),
            "toss" => Some(ProviderKind::Toss),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::Sandbox => "sandbox",
            ProviderKind::Toss => "toss",
        }
    }
}

/// How every order id a guest pays under begins: `bnb` and the first 16 hex digits of
/// SHA-256(`bnb-order:` + the guest's user id, the JWT's `sub`). The client chooses the rest.
///
/// The provider's form authorizes a payment for an order id, and whoever holds the paymentKey and
/// order id could otherwise book with it: a guest's authorization, leaked from the success
/// address it came back on, would pay for another guest's stay. Toss's confirm needs the order
/// id the payment was authorized for, so an order made under one guest's prefix pays for that
/// guest's bookings only. The web app computes the same prefix (web/pages/pay.js, WebCrypto).
/// It is no secret, and needs to be none: the caller's own identity decides which is theirs.
pub fn order_prefix(guest: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("bnb-order:{guest}").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bnb{hex}")
}

/// Confirm a payment the guest authorized: `{paymentKey, orderId, amount}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub payment_key: String,
    pub order_id: String,
    /// KRW, whole won.
    pub amount: i64,
    /// The reservation id: one reservation is confirmed once, however often it is asked.
    pub idempotency_key: String,
    pub correlation_id: String,
}

/// Refund a confirmed payment, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    pub payment_key: String,
    /// Shown to the guest: why they get their money back.
    pub reason: String,
    pub amount: i64,
    /// One per saga path (`cancel-…`, `abort-…`, `late-…`, `reconcile-…`): a redelivery of one
    /// path repeats its call, and two paths never pass for one.
    pub idempotency_key: String,
    pub correlation_id: String,
}

/// What the provider knows of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    pub payment_key: String,
    pub order_id: String,
    pub status: ProviderStatus,
    pub total_amount: i64,
    /// What is still charged (the total less what was refunded).
    pub balance_amount: i64,
}

/// A payment's status at the provider (Toss: `Payment.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStatus {
    /// Charged (`DONE`).
    Done,
    /// Refunded, whole (`CANCELED`) or in part (`PARTIAL_CANCELED`).
    Canceled,
    PartialCanceled,
    /// Never charged: the approval failed (`ABORTED`) or the authorization ran out (`EXPIRED`).
    Aborted,
    Expired,
    /// Authorized and not yet confirmed, or being confirmed (`READY`, `IN_PROGRESS`,
    /// `WAITING_FOR_DEPOSIT`): nothing charged yet.
    Pending,
}

impl ProviderStatus {
    /// Whether money is held from the guest.
    pub fn charged(&self) -> bool {
        matches!(self, ProviderStatus::Done | ProviderStatus::PartialCanceled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused this payment for a reason of the guest's (card declined, limit,
    /// expired authorization): `message` is the provider's own words.
    #[error("declined ({code}): {message}")]
    Declined { code: String, message: String },
    /// The payment was processed before (Toss `ALREADY_PROCESSED_PAYMENT`): look it up.
    #[error("already processed")]
    AlreadyProcessed,
    /// Refunded before (Toss `ALREADY_CANCELED_PAYMENT`).
    #[error("already refunded")]
    AlreadyCanceled,
    /// No answer, a 5xx, or an error the provider says is passing (`PROVIDER_ERROR`), or a key it
    /// does not take: try again later; the outcome of a call that got no answer is unknown.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    fn kind(&self) -> ProviderKind;
    /// Captures an authorized payment. `Ok` means charged.
    async fn confirm(&self, request: &Confirm) -> Result<ProviderPayment, ProviderError>;
    /// Refunds a charged payment, whole.
    async fn cancel(&self, request: &Cancel) -> Result<ProviderPayment, ProviderError>;
    /// The payment made for an order id, if the provider has one.
    async fn find_order(&self, order_id: &str) -> Result<Option<ProviderPayment>, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefix is SHA-256 as WebCrypto computes it (the value below is Python's
    /// `hashlib.sha256(b"bnb-order:minho").hexdigest()[:16]`), within Toss's order-id alphabet,
    /// and each guest's own.
    #[test]
    fn a_guests_order_prefix_is_theirs_alone() {
        assert_eq!(order_prefix("minho"), "bnbb506a329316d68d8");
        assert_ne!(order_prefix("minho"), order_prefix("hana"));
        assert!(order_prefix("5f1c-인증 sub").chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
