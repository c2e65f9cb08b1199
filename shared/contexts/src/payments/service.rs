//! `process-payment`'s logic: the payment gateway bnb talks to, simulated, with faults that can
//! be injected for tests and chaos. One reservation is charged at most once, however often it
//! is asked; a refund that comes before its (slow) approval voids it, so nothing is kept.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::payment::PaymentStatus;
use crate::domain::{Money, PaymentId, ReservationId, UserId};
use crate::events::{Causation, Envelope, Event};
use crate::outbox::{outbox_item, write_with_events};
use crate::storage::{from_item, to_item, Condition, Item, Key, StorageError, Table, Update, WriteOp};

/// Card tokens the simulated gateway declines, and why.
pub const DECLINE_TOKENS: &[(&str, &str)] = &[("tok_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")];
/// A token whose approval takes `FaultConfig::slow` (to force a client timeout).
pub const SLOW_TOKEN: &str = "tok_slow";
/// A token whose call fails (to trip the breaker).
pub const ERROR_TOKEN: &str = "tok_error";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentAction {
    Approve,
    Refund,
}

/// What `process-payment` is invoked with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequest {
    pub action: PaymentAction,
    /// The idempotency key: one reservation, at most one charge.
    pub reservation_id: ReservationId,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_token: Option<String>,
    /// Who pays: carried so that the guest hears of a refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<UserId>,
    pub correlation_id: String,
}

/// What it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    pub payment_id: PaymentId,
    pub reservation_id: ReservationId,
    pub amount: Money,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<UserId>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment gateway failed: {0}")]
    Gateway(String),
    #[error("invalid payment request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Injected latency and failures (`PAYMENT_LATENCY_MS`, `PAYMENT_FAILURE_RATE`, `PAYMENT_SLOW_MS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultConfig {
    pub latency: Duration,
    /// 0.0 to 1.0: the share of approvals that fail.
    pub failure_rate: f64,
    /// How long `tok_slow` takes.
    pub slow: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig { latency: Duration::ZERO, failure_rate: 0.0, slow: Duration::from_secs(5) }
    }
}

impl FaultConfig {
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// From any source of variables (the local runtime passes the template's environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let ms = |var: &str, default: u64| lookup(var).and_then(|v| v.parse().ok()).map(Duration::from_millis).unwrap_or(Duration::from_millis(default));
        FaultConfig {
            latency: ms("PAYMENT_LATENCY_MS", 0),
            failure_rate: lookup("PAYMENT_FAILURE_RATE").and_then(|v| v.parse().ok()).unwrap_or(0.0f64).clamp(0.0, 1.0),
            slow: ms("PAYMENT_SLOW_MS", 5000),
        }
    }
}

/// The payments table: `PAYMENT#<reservationId>` / `PAYMENT`.
#[derive(Clone)]
pub struct PaymentService {
    table: Arc<dyn Table>,
    faults: FaultConfig,
}

fn key(reservation: &ReservationId) -> Key {
    Key::new(format!("PAYMENT#{reservation}"), "PAYMENT")
}

/// A payment as stored: one per reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(flatten)]
    pub result: PaymentResult,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn read(item: &Item) -> Result<PaymentResult, StorageError> {
    from_item::<PaymentItem>(item).map(|stored| stored.result)
}

impl PaymentService {
    pub fn new(table: Arc<dyn Table>, faults: FaultConfig) -> Self {
        PaymentService { table, faults }
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    pub async fn process(&self, request: PaymentRequest) -> Result<PaymentResult, PaymentError> {
        let cause = Causation::request(&request.correlation_id);
        match request.action {
            PaymentAction::Approve => self.approve(&request, &cause).await,
            PaymentAction::Refund => self.refund(&request.reservation_id, &request.amount, request.guest_id.as_ref(), &cause).await,
        }
    }

    pub async fn get(&self, reservation: &ReservationId) -> Result<Option<PaymentResult>, StorageError> {
        self.table.get(&key(reservation)).await?.map(|i| read(&i)).transpose()
    }

    async fn approve(&self, request: &PaymentRequest, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        if let Some(existing) = self.get(&request.reservation_id).await? {
            return Ok(existing);
        }
        let token = request.card_token.as_deref().unwrap_or_default();
        if token.is_empty() {
            return Err(PaymentError::Invalid("an approval needs a card token".into()));
        }
        // The gateway's own time: configured latency, or a slow card.
        let delay = if token == SLOW_TOKEN { self.faults.slow } else { self.faults.latency };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if token == ERROR_TOKEN || (self.faults.failure_rate > 0.0 && chance() < self.faults.failure_rate) {
            return Err(PaymentError::Gateway("the card network did not answer".into()));
        }
        let decline = DECLINE_TOKENS.iter().find(|(t, _)| *t == token).map(|(_, reason)| reason.to_string());
        let result = PaymentResult {
            payment_id: PaymentId::generate(),
            reservation_id: request.reservation_id.clone(),
            amount: request.amount.clone(),
            status: if decline.is_some() { PaymentStatus::Declined } else { PaymentStatus::Approved },
            decline_reason: decline,
            guest_id: request.guest_id.clone(),
        };
        let event = if result.status == PaymentStatus::Approved { Event::PaymentApproved(result.clone()) } else { Event::PaymentDeclined(result.clone()) };
        let event = Envelope::new(event, result.reservation_id.to_string(), 1, cause);
        match write_with_events(self.table.as_ref(), vec![WriteOp::put_if(item(&result, 1)?, Condition::NotExists)], &[event]).await {
            Ok(()) => {
                tracing::info!(reservation_id = %result.reservation_id, status = ?result.status, amount = %result.amount, "payment processed");
                Ok(result)
            }
            // A duplicate request, or a refund that voided this approval meanwhile: what is stored stands.
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => {
                let stored = self.get(&request.reservation_id).await?.ok_or(PaymentError::Storage(StorageError::Conflict))?;
                tracing::info!(reservation_id = %stored.reservation_id, status = ?stored.status, "payment already decided");
                Ok(stored)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Refunds the reservation's payment. Idempotent; a refund of a payment not yet made voids
    /// it, so a late approval finds it voided and charges nothing.
    pub async fn refund(&self, reservation: &ReservationId, amount: &Money, guest: Option<&UserId>, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        for _ in 0..3 {
            let (ops, result) = match self.refund_ops(reservation, amount, guest, cause).await? {
                Refund::Settled(result) => return Ok(result),
                Refund::Write { ops, result } => (ops, result),
            };
            match self.table.write(ops).await {
                Ok(()) => {
                    tracing::info!(reservation_id = %reservation, status = ?result.status, amount = %result.amount, "payment refunded or voided");
                    return Ok(result);
                }
                Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PaymentError::Storage(StorageError::Conflict))
    }

    /// What refunding the reservation's payment writes, as it stands now: the refund and its
    /// `PaymentRefunded` event when something was charged; a void, and no event, when nothing
    /// was; nothing when it is settled already. The first operation carries the condition that
    /// guards what was read.
    pub async fn refund_ops(&self, reservation: &ReservationId, amount: &Money, guest: Option<&UserId>, cause: &Causation) -> Result<Refund, PaymentError> {
        match self.get(reservation).await? {
            Some(p) if p.status != PaymentStatus::Approved => Ok(Refund::Settled(p)),
            Some(p) => {
                let refunded = PaymentResult { status: PaymentStatus::Refunded, ..p };
                let update = Update::new(key(reservation))
                    .set("status", "REFUNDED")
                    .set("version", 2)
                    .set("updatedAt", rfc3339(OffsetDateTime::now_utc())?)
                    .when(Condition::equals("status", "APPROVED"));
                let event = Envelope::new(Event::PaymentRefunded(refunded.clone()), reservation.to_string(), 2, cause);
                Ok(Refund::Write { ops: vec![update.into_op(), WriteOp::put_if(outbox_item(&event)?, Condition::NotExists)], result: refunded })
            }
            None => {
                let voided = PaymentResult {
                    payment_id: PaymentId::generate(),
                    reservation_id: reservation.clone(),
                    amount: amount.clone(),
                    status: PaymentStatus::Voided,
                    decline_reason: Some("voided before approval".into()),
                    guest_id: guest.cloned(),
                };
                Ok(Refund::Write { ops: vec![WriteOp::put_if(item(&voided, 2)?, Condition::NotExists)], result: voided })
            }
        }
    }
}

/// What a refund comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Refund {
    /// Refunded, voided or declined already: nothing to write.
    Settled(PaymentResult),
    /// These writes (the first one guarded) settle it.
    Write { ops: Vec<WriteOp>, result: PaymentResult },
}

fn item(result: &PaymentResult, version: u64) -> Result<Item, StorageError> {
    let key = key(&result.reservation_id);
    let now = OffsetDateTime::now_utc();
    to_item(&PaymentItem { pk: key.pk, sk: key.sk, kind: "payment".into(), result: result.clone(), version, created_at: now, updated_at: now })
}

fn rfc3339(at: OffsetDateTime) -> Result<String, StorageError> {
    at.format(&time::format_description::well_known::Rfc3339).map_err(|e| StorageError::Invalid(e.to_string()))
}

/// A number in [0, 1), from the OS's randomness (through UUIDv4).
fn chance() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}
