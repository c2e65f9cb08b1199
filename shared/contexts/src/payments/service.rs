//! `process-payment`'s logic: bnb's side of every payment. It records what it asks of the
//! provider before it asks (`PENDING`), so that a booking that gave up waiting (`UNCERTAIN`) is
//! settled whatever the provider did: a late approval is refunded at once, and reconciliation
//! asks the provider about the rest. One reservation is charged at most once, however often it
//! is asked; every refund goes through the provider with its own idempotency key.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::provider::{Cancel, Confirm, PaymentProvider, ProviderError, ProviderKind, ProviderPayment};
use super::sandbox::{FaultConfig, Sandbox};
use crate::clock::SharedClock;
use crate::domain::payment::PaymentStatus;
use crate::domain::reservation::AbortReason;
use crate::domain::{Money, PaymentId, ReservationId, UserId};
use crate::events::{Causation, Envelope, Event};
use crate::outbox::{outbox_item, write_with_events};
use crate::storage::{from_item, to_item, Condition, Key, StorageError, Table, WriteOp};

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
    /// The sandbox's card token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_token: Option<String>,
    /// What the provider's form authorized: its payment key, for the order id the client chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
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
    /// Who took the money, and by which key and order (absent on records from before providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Why the guest got their money back, in their words (shown to them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
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

impl From<ProviderError> for PaymentError {
    fn from(e: ProviderError) -> Self {
        PaymentError::Gateway(e.to_string())
    }
}

/// Why a payment is refunded: each path its own idempotency key at the provider, and its own
/// words for the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundPath {
    /// The guest cancelled the stay.
    Cancelled,
    /// The host deleted the room.
    RoomDeleted,
    /// The booking did not go through after the nights were held.
    Aborted(AbortReason),
    /// The provider charged after the booking had given up waiting.
    LateApproval,
    /// Reconciliation found a charge for a booking that did not happen.
    Reconciled,
}

impl RefundPath {
    pub fn idempotency_key(&self, reservation: &ReservationId) -> String {
        let path = match self {
            RefundPath::Cancelled => "cancel",
            RefundPath::RoomDeleted => "room-deleted",
            RefundPath::Aborted(_) => "abort",
            RefundPath::LateApproval => "late",
            RefundPath::Reconciled => "reconcile",
        };
        format!("{path}-{reservation}")
    }

    /// The cancel reason the provider records and the guest is shown.
    pub fn reason(&self) -> &'static str {
        match self {
            RefundPath::Cancelled => "You cancelled the stay.",
            RefundPath::RoomDeleted => "The host removed the room.",
            RefundPath::Aborted(AbortReason::RoomDeleted) => "The host removed the room while you were booking it.",
            RefundPath::Aborted(AbortReason::HoldExpired) => "The booking was not finished in time.",
            RefundPath::Aborted(_) | RefundPath::LateApproval => "The payment was not confirmed in time, so the booking did not go through.",
            RefundPath::Reconciled => "The booking did not go through; bnb found the charge and returned it.",
        }
    }
}

/// The sparse index of uncertain payments, oldest first: reconciliation's work list.
pub const UNCERTAIN_INDEX: &str = "uncertain";
const UNCERTAIN: &str = "UNCERTAIN";
/// How long a payment stays uncertain before reconciliation asks the provider (well past any
/// call of `process-payment` that could still be under way).
pub const RECONCILE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The payments table: `PAYMENT#<reservationId>` / `PAYMENT`.
#[derive(Clone)]
pub struct PaymentService {
    table: Arc<dyn Table>,
    provider: Arc<dyn PaymentProvider>,
    clock: SharedClock,
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
    /// Set while `UNCERTAIN`: the `uncertain` index's keys (since when, in ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainpk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainsk: Option<String>,
}

/// What the provider said to a confirm.
enum Outcome {
    Charged(ProviderPayment),
    Declined(String),
}

/// What one run of reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Charged for a booking that did not happen: refunded.
    pub refunded: usize,
    /// Never charged: recorded as such.
    pub voided: usize,
    /// The provider could not be asked, or the record not settled: due again next run.
    pub left: usize,
}

impl PaymentService {
    /// With the sandbox provider, which keeps its ledger in the same table.
    pub fn new(table: Arc<dyn Table>, faults: FaultConfig) -> Self {
        let sandbox: Arc<dyn PaymentProvider> = Arc::new(Sandbox::new(table.clone(), faults));
        Self::with_provider(table, sandbox)
    }

    pub fn with_provider(table: Arc<dyn Table>, provider: Arc<dyn PaymentProvider>) -> Self {
        PaymentService { table, provider, clock: crate::clock::system() }
    }

    /// The same service over another view of its table (tests inject faults this way).
    pub fn with_table(mut self, table: Arc<dyn Table>) -> Self {
        self.table = table;
        self
    }

    /// Time for `uncertain` records and reconciliation (tests pass a clock they move).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
    }

    pub async fn process(&self, request: PaymentRequest) -> Result<PaymentResult, PaymentError> {
        let cause = Causation::request(&request.correlation_id);
        match request.action {
            PaymentAction::Approve => self.approve(&request, &cause).await,
            PaymentAction::Refund => {
                let path = RefundPath::Aborted(AbortReason::PaymentFailed);
                self.refund(&request.reservation_id, &request.amount, request.guest_id.as_ref(), path, &cause).await
            }
        }
    }

    pub async fn get(&self, reservation: &ReservationId) -> Result<Option<PaymentResult>, StorageError> {
        Ok(self.stored(reservation).await?.map(|p| p.result))
    }

    async fn stored(&self, reservation: &ReservationId) -> Result<Option<PaymentItem>, StorageError> {
        self.table.get(&key(reservation)).await?.map(|i| from_item::<PaymentItem>(&i)).transpose()
    }

    /// The record as another writer left it, after a conditional write lost to them.
    async fn settled(&self, reservation: &ReservationId) -> Result<PaymentItem, PaymentError> {
        self.stored(reservation).await?.ok_or(PaymentError::Storage(StorageError::Conflict))
    }

    /// Confirms the reservation's payment with the provider, once: a second call (a retry, a
    /// resumed booking) answers what the first decided, or finishes what it started.
    async fn approve(&self, request: &PaymentRequest, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        for _ in 0..3 {
            match self.stored(&request.reservation_id).await? {
                Some(p) if p.result.status == PaymentStatus::Pending => return self.confirm_pending(p, cause).await,
                Some(p) => return Ok(p.result),
                None => {
                    // Written before the provider is asked: whatever becomes of the call, bnb
                    // knows it was made. With it, the order is claimed for this reservation
                    // alone: one authorized payment never pays (nor is refunded for) two bookings.
                    let pending = self.pending(request)?;
                    let order = pending.result.order_id.clone().unwrap_or_default();
                    let claim = to_item(&OrderClaim::new(&order, &pending.result.reservation_id))?;
                    match self.table.write(vec![WriteOp::put_if(to_item(&pending)?, Condition::NotExists), WriteOp::put_if(claim, Condition::NotExists)]).await
                    {
                        Ok(()) => return self.confirm_pending(pending, cause).await,
                        Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => continue,
                        Err(StorageError::ConditionFailed { .. }) => return self.refuse_reused_order(pending).await,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(PaymentError::Storage(StorageError::Conflict))
    }

    /// A payment whose order another booking claimed: declined, and recorded so (nothing was
    /// asked of the provider, so nothing was charged).
    async fn refuse_reused_order(&self, pending: PaymentItem) -> Result<PaymentResult, PaymentError> {
        let declined = PaymentResult {
            status: PaymentStatus::Declined,
            decline_reason: Some("this payment was already used for another booking; authorize a new one".into()),
            ..pending.result.clone()
        };
        tracing::warn!(reservation_id = %declined.reservation_id, "the payment's order belongs to another booking; declined without asking the provider");
        match self.table.write(vec![WriteOp::put_if(to_item(&PaymentItem { result: declined.clone(), ..pending })?, Condition::NotExists)]).await {
            Ok(()) => Ok(declined),
            Err(StorageError::ConditionFailed { .. }) => Ok(self.settled(&declined.reservation_id).await?.result),
            Err(e) => Err(e.into()),
        }
    }

    fn pending(&self, request: &PaymentRequest) -> Result<PaymentItem, PaymentError> {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let (payment_key, order_id) = match self.provider.kind() {
            // The sandbox's order is the reservation; the card token authorizes it.
            ProviderKind::Sandbox => {
                let token = text(&request.card_token).ok_or_else(|| PaymentError::Invalid("an approval needs a card token".into()))?;
                (token, request.reservation_id.to_string())
            }
            ProviderKind::Toss => match (text(&request.payment_key), text(&request.order_id)) {
                // Toss's domestic payments are in won: another currency's minor units are not won.
                _ if request.amount.currency.code() != "KRW" => {
                    return Err(PaymentError::Invalid(format!("Toss Payments takes KRW, not {}", request.amount.currency.code())))
                }
                (Some(key), Some(order)) => (key, order),
                _ => return Err(PaymentError::Invalid("an approval needs the provider's paymentKey and orderId".into())),
            },
        };
        let now = self.clock.now_utc();
        let k = key(&request.reservation_id);
        Ok(PaymentItem {
            pk: k.pk,
            sk: k.sk,
            kind: "payment".into(),
            result: PaymentResult {
                payment_id: PaymentId::generate(),
                reservation_id: request.reservation_id.clone(),
                amount: request.amount.clone(),
                status: PaymentStatus::Pending,
                decline_reason: None,
                guest_id: request.guest_id.clone(),
                provider: Some(self.provider.kind()),
                payment_key: Some(payment_key),
                order_id: Some(order_id),
                refund_reason: None,
            },
            version: 1,
            created_at: now,
            updated_at: now,
            uncertainpk: None,
            uncertainsk: None,
        })
    }

    async fn confirm_pending(&self, pending: PaymentItem, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        let p = &pending.result;
        let confirm = Confirm {
            payment_key: p.payment_key.clone().unwrap_or_default(),
            order_id: p.order_id.clone().unwrap_or_default(),
            amount: p.amount.amount,
            idempotency_key: p.reservation_id.to_string(),
            correlation_id: cause.correlation_id.clone(),
        };
        tracing::info!(reservation_id = %p.reservation_id, idempotency_key = %confirm.idempotency_key, provider = self.provider.kind().as_str(), "confirming the payment");
        let outcome = match self.provider.confirm(&confirm).await {
            Ok(charged) if charged.status.charged() => Outcome::Charged(charged),
            // Not paid at once (a virtual account waiting for a deposit): bnb books only what is
            // paid, so the payment is closed at the provider before the booking is declined.
            Ok(other) => {
                let close = Cancel {
                    payment_key: other.payment_key.clone(),
                    reason: "bnb takes only payments made at once.".into(),
                    amount: other.total_amount,
                    idempotency_key: format!("unpaid-{}", p.reservation_id),
                    correlation_id: cause.correlation_id.clone(),
                };
                match self.provider.cancel(&close).await {
                    Ok(_) | Err(ProviderError::AlreadyCanceled) => {}
                    // Left open at the provider: the booking stays pending for reconciliation.
                    Err(e) => return Err(e.into()),
                }
                Outcome::Declined("this way of paying is not taken here; pay by card or an easy-pay app".into())
            }
            Err(ProviderError::Declined { code, message }) => {
                tracing::info!(reservation_id = %p.reservation_id, %code, "the provider declined the payment");
                Outcome::Declined(message)
            }
            // Processed before: the order is this reservation's alone (claimed with PENDING), so
            // a charge for it with this payment key is this booking's own, whose answer was lost.
            Err(ProviderError::AlreadyProcessed) => match self.provider.find_order(&confirm.order_id).await? {
                Some(found) if found.status.charged() && found.total_amount == confirm.amount && self.same_payment(p, &found) => Outcome::Charged(found),
                _ => Outcome::Declined("this payment was already used; authorize a new one".into()),
            },
            // No answer: the record stays PENDING; the booking that gives up makes it UNCERTAIN.
            Err(e) => return Err(e.into()),
        };
        self.settle(pending, outcome, cause).await
    }

    /// Records the provider's answer, unless the booking gave up meanwhile: then a charge is
    /// refunded at once (the late approval), and a decline recorded as nothing charged.
    async fn settle(&self, pending: PaymentItem, outcome: Outcome, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        let result = match &outcome {
            Outcome::Charged(charged) => {
                PaymentResult { status: PaymentStatus::Approved, payment_key: Some(charged.payment_key.clone()), ..pending.result.clone() }
            }
            Outcome::Declined(reason) => PaymentResult { status: PaymentStatus::Declined, decline_reason: Some(reason.clone()), ..pending.result.clone() },
        };
        let event = match result.status {
            PaymentStatus::Approved => Event::PaymentApproved(result.clone()),
            _ => Event::PaymentDeclined(result.clone()),
        };
        let event = Envelope::new(event, result.reservation_id.to_string(), 1, cause);
        let item = self.next(&pending, result.clone(), None);
        match write_with_events(self.table.as_ref(), vec![WriteOp::put_if(to_item(&item)?, Condition::equals("status", "PENDING"))], &[event]).await {
            Ok(()) => {
                tracing::info!(reservation_id = %result.reservation_id, status = ?result.status, amount = %result.amount, "payment processed");
                Ok(result)
            }
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => {
                let now = self.settled(&result.reservation_id).await?;
                match (now.result.status, outcome) {
                    (PaymentStatus::Uncertain | PaymentStatus::Voided, Outcome::Charged(charged)) => {
                        tracing::warn!(reservation_id = %result.reservation_id, "charged after the booking gave up; refunding");
                        self.refund_uncertain(now, &charged.payment_key, RefundPath::LateApproval, cause).await
                    }
                    (PaymentStatus::Uncertain, Outcome::Declined(_)) => self.void_uncertain(now).await,
                    // Another call settled it: what is stored stands.
                    _ => Ok(now.result),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The record after `stored`, with `result` (and the uncertain index's keys, or none).
    fn next(&self, stored: &PaymentItem, result: PaymentResult, uncertain_since_ms: Option<i64>) -> PaymentItem {
        PaymentItem {
            result,
            version: stored.version + 1,
            updated_at: self.clock.now_utc(),
            uncertainpk: uncertain_since_ms.map(|_| UNCERTAIN.to_owned()),
            uncertainsk: uncertain_since_ms.map(|ms| format!("{ms:015}#{}", stored.result.reservation_id)),
            ..stored.clone()
        }
    }

    /// Refunds an uncertain payment the provider charged, and records it (with the guest's
    /// `PaymentRefunded`) unless someone settled it first.
    async fn refund_uncertain(&self, stored: PaymentItem, payment_key: &str, path: RefundPath, cause: &Causation) -> Result<PaymentResult, PaymentError> {
        self.cancel_at_provider(&stored.result, payment_key, path, cause).await?;
        let refunded = PaymentResult {
            status: PaymentStatus::Refunded,
            payment_key: Some(payment_key.to_owned()),
            refund_reason: Some(path.reason().to_owned()),
            ..stored.result.clone()
        };
        let event = Envelope::new(Event::PaymentRefunded(refunded.clone()), refunded.reservation_id.to_string(), 2, cause);
        let was = if stored.result.status == PaymentStatus::Voided { "VOIDED" } else { "UNCERTAIN" };
        let item = self.next(&stored, refunded.clone(), None);
        match write_with_events(self.table.as_ref(), vec![WriteOp::put_if(to_item(&item)?, Condition::equals("status", was))], &[event]).await {
            Ok(()) => {
                tracing::info!(reservation_id = %refunded.reservation_id, ?path, "uncertain payment refunded");
                Ok(refunded)
            }
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => Ok(self.settled(&refunded.reservation_id).await?.result),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that an uncertain payment was never charged.
    async fn void_uncertain(&self, stored: PaymentItem) -> Result<PaymentResult, PaymentError> {
        let voided = PaymentResult { status: PaymentStatus::Voided, ..stored.result.clone() };
        let item = self.next(&stored, voided.clone(), None);
        match self.table.write(vec![WriteOp::put_if(to_item(&item)?, Condition::equals("status", "UNCERTAIN"))]).await {
            Ok(()) => {
                tracing::info!(reservation_id = %voided.reservation_id, "uncertain payment was never charged");
                Ok(voided)
            }
            Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => Ok(self.settled(&voided.reservation_id).await?.result),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the provider's payment is the one this record asked for (its order, and for a real
    /// provider its payment key; the sandbox names its charge itself).
    fn same_payment(&self, record: &PaymentResult, found: &ProviderPayment) -> bool {
        record.order_id.as_deref() == Some(found.order_id.as_str())
            && (self.provider.kind() == ProviderKind::Sandbox || record.payment_key.as_deref() == Some(found.payment_key.as_str()))
    }

    /// The provider's refund, under the path's idempotency key. Refunded before is refunded. A
    /// record another provider took (the deployment switched) is refunded by that provider only
    /// if it moved real money: the sandbox's never did.
    async fn cancel_at_provider(&self, payment: &PaymentResult, payment_key: &str, path: RefundPath, cause: &Causation) -> Result<(), PaymentError> {
        match payment.provider {
            Some(ProviderKind::Sandbox) if self.provider.kind() != ProviderKind::Sandbox => return Ok(()),
            Some(kind) if kind != self.provider.kind() => {
                return Err(PaymentError::Gateway(format!("this payment was taken by {}, which this deployment no longer calls", kind.as_str())))
            }
            _ => {}
        }
        let cancel = Cancel {
            payment_key: payment_key.to_owned(),
            reason: path.reason().to_owned(),
            amount: payment.amount.amount,
            idempotency_key: path.idempotency_key(&payment.reservation_id),
            correlation_id: cause.correlation_id.clone(),
        };
        tracing::info!(reservation_id = %payment.reservation_id, idempotency_key = %cancel.idempotency_key, provider = self.provider.kind().as_str(), "refunding through the provider");
        match self.provider.cancel(&cancel).await {
            Ok(_) | Err(ProviderError::AlreadyCanceled) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Refunds the reservation's payment. Idempotent.
    pub async fn refund(
        &self,
        reservation: &ReservationId,
        amount: &Money,
        guest: Option<&UserId>,
        path: RefundPath,
        cause: &Causation,
    ) -> Result<PaymentResult, PaymentError> {
        for _ in 0..3 {
            let (ops, result) = match self.refund_ops(reservation, amount, guest, path, cause).await? {
                Refund::Settled(result) => return Ok(result),
                Refund::Write { ops, result } => (ops, result),
            };
            match self.table.write(ops).await {
                Ok(()) => {
                    tracing::info!(reservation_id = %reservation, status = ?result.status, amount = %result.amount, "payment refunded, voided or marked uncertain");
                    return Ok(result);
                }
                Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PaymentError::Storage(StorageError::Conflict))
    }

    /// What refunding the reservation's payment writes, as it stands now (the first operation
    /// carries the condition that guards what was read):
    /// - charged: the provider refunds it first (under the path's key, so a redelivery repeats
    ///   the same refund), then `REFUNDED` and its `PaymentRefunded`;
    /// - being confirmed (`PENDING`): `UNCERTAIN`, for the confirm's end or reconciliation;
    /// - never asked of the provider: `VOIDED`, so a late approval asks nothing;
    /// - settled already: nothing.
    pub async fn refund_ops(
        &self,
        reservation: &ReservationId,
        amount: &Money,
        guest: Option<&UserId>,
        path: RefundPath,
        cause: &Causation,
    ) -> Result<Refund, PaymentError> {
        let Some(stored) = self.stored(reservation).await? else {
            let now = self.clock.now_utc();
            let k = key(reservation);
            let voided = PaymentResult {
                payment_id: PaymentId::generate(),
                reservation_id: reservation.clone(),
                amount: amount.clone(),
                status: PaymentStatus::Voided,
                decline_reason: Some("voided before approval".into()),
                guest_id: guest.cloned(),
                provider: Some(self.provider.kind()),
                payment_key: None,
                order_id: None,
                refund_reason: None,
            };
            let item = PaymentItem {
                pk: k.pk,
                sk: k.sk,
                kind: "payment".into(),
                result: voided.clone(),
                version: 2,
                created_at: now,
                updated_at: now,
                uncertainpk: None,
                uncertainsk: None,
            };
            return Ok(Refund::Write { ops: vec![WriteOp::put_if(to_item(&item)?, Condition::NotExists)], result: voided });
        };
        match stored.result.status {
            PaymentStatus::Pending => {
                let uncertain = PaymentResult { status: PaymentStatus::Uncertain, refund_reason: Some(path.reason().to_owned()), ..stored.result.clone() };
                let item = self.next(&stored, uncertain.clone(), Some(self.clock.now_ms()));
                Ok(Refund::Write { ops: vec![WriteOp::put_if(to_item(&item)?, Condition::equals("status", "PENDING"))], result: uncertain })
            }
            PaymentStatus::Approved => {
                // A record from before providers has no key: the sandbox charged nothing real.
                if let Some(payment_key) = stored.result.payment_key.clone() {
                    self.cancel_at_provider(&stored.result, &payment_key, path, cause).await?;
                }
                let refunded = PaymentResult { status: PaymentStatus::Refunded, refund_reason: Some(path.reason().to_owned()), ..stored.result.clone() };
                let event = Envelope::new(Event::PaymentRefunded(refunded.clone()), reservation.to_string(), 2, cause);
                let item = self.next(&stored, refunded.clone(), None);
                Ok(Refund::Write {
                    ops: vec![
                        WriteOp::put_if(to_item(&item)?, Condition::equals("status", "APPROVED")),
                        WriteOp::put_if(outbox_item(&event)?, Condition::NotExists),
                    ],
                    result: refunded,
                })
            }
            _ => Ok(Refund::Settled(stored.result)),
        }
    }

    /// Settles every payment left uncertain for longer than [`RECONCILE_AFTER`]: asks the
    /// provider about its order; refunds a charge (the booking did not happen), records the
    /// rest as never charged. An index query, bounded by `limit`: the work grows with uncertain
    /// payments, not with the table.
    pub async fn reconcile(&self, limit: usize, cause: &Causation) -> Result<Reconciled, PaymentError> {
        let due = self.clock.now_ms() - RECONCILE_AFTER.as_millis() as i64;
        let query = crate::storage::Query::on_index(UNCERTAIN_INDEX, UNCERTAIN).sort(crate::storage::SortKey::LessThan(format!("{due:015}#~"))).limit(limit);
        let page = self.table.query(&query).await?;
        let mut done = Reconciled::default();
        for item in &page.items {
            let stored = match from_item::<PaymentItem>(item) {
                Ok(stored) if stored.result.status == PaymentStatus::Uncertain => stored,
                _ => continue,
            };
            let reservation = stored.result.reservation_id.clone();
            let order_id = stored.result.order_id.clone().unwrap_or_else(|| reservation.to_string());
            let settled = match self.provider.find_order(&order_id).await {
                Ok(Some(found)) if !self.same_payment(&stored.result, &found) => {
                    Err(PaymentError::Gateway("the provider's payment for this order is not the one this booking asked for".into()))
                }
                Ok(Some(found)) if found.status.charged() || found.status == super::provider::ProviderStatus::Canceled => {
                    self.refund_uncertain(stored, &found.payment_key, RefundPath::Reconciled, cause).await
                }
                // Still being confirmed at the provider (it may take longer than bnb waited): asked
                // again on a later run, until it is charged or expires.
                Ok(Some(found)) if found.status == super::provider::ProviderStatus::Pending => {
                    self.requeue(stored).await;
                    done.left += 1;
                    continue;
                }
                Ok(_) => self.void_uncertain(stored).await,
                Err(e) => Err(e.into()),
            };
            match settled {
                Ok(result) if result.status == PaymentStatus::Refunded => done.refunded += 1,
                Ok(result) if result.status == PaymentStatus::Voided => done.voided += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(reservation_id = %reservation, error = %e, "could not reconcile an uncertain payment; a later run tries again");
                    if let Ok(Some(stored)) = self.stored(&reservation).await {
                        self.requeue(stored).await;
                    }
                    done.left += 1;
                }
            }
        }
        Ok(done)
    }
}

impl PaymentService {
    /// Puts an uncertain payment behind the others in reconciliation's work list, so one that
    /// cannot be settled yet never holds up the rest (best effort: it is due again either way).
    async fn requeue(&self, stored: PaymentItem) {
        if stored.result.status != PaymentStatus::Uncertain {
            return;
        }
        let item = self.next(&stored, stored.result.clone(), Some(self.clock.now_ms()));
        if let Ok(item) = to_item(&item) {
            let _ = self.table.write(vec![WriteOp::put_if(item, Condition::equals("version", stored.version))]).await;
        }
    }
}

/// The claim of an order id by the one reservation it pays for (`ORDER#<orderId>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderClaim {
    pk: String,
    sk: String,
    kind: String,
    reservation_id: ReservationId,
}

impl OrderClaim {
    fn new(order_id: &str, reservation: &ReservationId) -> Self {
        OrderClaim { pk: format!("ORDER#{order_id}"), sk: "ORDER".into(), kind: "order-claim".into(), reservation_id: reservation.clone() }
    }
}

/// What a refund comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Refund {
    /// Refunded, voided, declined or uncertain already: nothing to write.
    Settled(PaymentResult),
    /// These writes (the first one guarded) settle it.
    Write { ops: Vec<WriteOp>, result: PaymentResult },
}
