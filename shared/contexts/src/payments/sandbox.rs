//! The sandbox: bnb's stand-in provider, for `bnb-local`, the tests and a stack deployed without
//! a real one. The "payment key" is a card token from the booking form (`tok_visa` is charged,
//! `tok_declined` and `tok_insufficient_funds` are declined, `tok_slow` takes its time,
//! `tok_error` fails), and it keeps its ledger in the payments table (`SANDBOX#<orderId>`), as a
//! real provider keeps its own: a replay of one idempotency key answers what the first call did,
//! a refund refunds once, and reconciliation can ask it what became of an order.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::provider::{Cancel, Confirm, PaymentProvider, ProviderError, ProviderKind, ProviderPayment, ProviderStatus};
use crate::storage::{from_item, to_item, Condition, Key, StorageError, Table, WriteOp};

/// Card tokens the sandbox declines, and why (its `code`; the message is the same words).
pub const DECLINE_TOKENS: &[(&str, &str)] = &[("tok_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")];
/// A token whose approval takes `FaultConfig::slow` (to force a client timeout).
pub const SLOW_TOKEN: &str = "tok_slow";
/// A token whose call fails (to trip the breaker).
pub const ERROR_TOKEN: &str = "tok_error";

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

/// One order in the sandbox's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Charge {
    pk: String,
    sk: String,
    kind: String,
    /// The card token that authorized it.
    card_token: String,
    order_id: String,
    /// `DONE`, `CANCELED` or `ABORTED` (declined).
    status: String,
    amount: i64,
    idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decline_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancel_key: Option<String>,
}

fn key(order_id: &str) -> Key {
    Key::new(format!("SANDBOX#{order_id}"), "CHARGE")
}

pub struct Sandbox {
    table: Arc<dyn Table>,
    faults: FaultConfig,
}

impl Sandbox {
    pub fn new(table: Arc<dyn Table>, faults: FaultConfig) -> Self {
        Sandbox { table, faults }
    }

    async fn charge(&self, order_id: &str) -> Result<Option<Charge>, ProviderError> {
        let item = self.table.get(&key(order_id)).await.map_err(unavailable)?;
        item.map(|i| from_item::<Charge>(&i).map_err(unavailable)).transpose()
    }

    /// What a replay of the first call answers.
    fn answer(charge: &Charge) -> Result<ProviderPayment, ProviderError> {
        match charge.decline_code.as_deref() {
            Some(code) => Err(ProviderError::Declined { code: code.to_owned(), message: code.to_owned() }),
            None => Ok(payment(charge)),
        }
    }
}

fn unavailable(e: StorageError) -> ProviderError {
    ProviderError::Unavailable(format!("the sandbox's ledger: {e}"))
}

fn payment(charge: &Charge) -> ProviderPayment {
    let status = match charge.status.as_str() {
        "DONE" => ProviderStatus::Done,
        "CANCELED" => ProviderStatus::Canceled,
        _ => ProviderStatus::Aborted,
    };
    let balance = if status == ProviderStatus::Done { charge.amount } else { 0 };
    ProviderPayment {
        payment_key: format!("sandbox_{}", charge.order_id),
        order_id: charge.order_id.clone(),
        status,
        total_amount: charge.amount,
        balance_amount: balance,
    }
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Sandbox
    }

    async fn confirm(&self, request: &Confirm) -> Result<ProviderPayment, ProviderError> {
        if let Some(first) = self.charge(&request.order_id).await? {
            return match first.idempotency_key == request.idempotency_key {
                true => Self::answer(&first),
                false => Err(ProviderError::AlreadyProcessed),
            };
        }
        let token = request.payment_key.as_str();
        // The card network's own time: configured latency, or a slow card.
        let delay = if token == SLOW_TOKEN { self.faults.slow } else { self.faults.latency };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if token == ERROR_TOKEN || (self.faults.failure_rate > 0.0 && chance() < self.faults.failure_rate) {
            return Err(ProviderError::Unavailable("the card network did not answer".into()));
        }
        let decline = DECLINE_TOKENS.iter().find(|(t, _)| *t == token).map(|(_, code)| code.to_string());
        let k = key(&request.order_id);
        let charge = Charge {
            pk: k.pk,
            sk: k.sk,
            kind: "sandbox-charge".into(),
            card_token: token.to_owned(),
            order_id: request.order_id.clone(),
            status: if decline.is_some() { "ABORTED" } else { "DONE" }.into(),
            amount: request.amount,
            idempotency_key: request.idempotency_key.clone(),
            decline_code: decline,
            cancel_key: None,
        };
        let item = to_item(&charge).map_err(unavailable)?;
        match self.table.write(vec![WriteOp::put_if(item, Condition::NotExists)]).await {
            Ok(()) => Self::answer(&charge),
            // Two calls at once: the first one's answer stands.
            Err(StorageError::ConditionFailed { .. }) => Box::pin(self.confirm(request)).await,
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn cancel(&self, request: &Cancel) -> Result<ProviderPayment, ProviderError> {
        let Some(charge) = self.charge_by_key(&request.payment_key).await? else {
            return Err(ProviderError::Declined { code: "NOT_FOUND_PAYMENT".into(), message: "no such payment".into() });
        };
        match charge.status.as_str() {
            "CANCELED" if charge.cancel_key.as_deref() == Some(request.idempotency_key.as_str()) => Ok(payment(&charge)),
            "CANCELED" => Err(ProviderError::AlreadyCanceled),
            "DONE" => {
                let update = crate::storage::Update::new(key(&charge.order_id))
                    .set("status", "CANCELED")
                    .set("cancelKey", request.idempotency_key.clone())
                    .when(Condition::equals("status", "DONE"));
                match self.table.write(vec![update.into_op()]).await {
                    Ok(()) => Ok(payment(&Charge { status: "CANCELED".into(), cancel_key: Some(request.idempotency_key.clone()), ..charge })),
                    Err(StorageError::ConditionFailed { .. }) => Box::pin(self.cancel(request)).await,
                    Err(e) => Err(unavailable(e)),
                }
            }
            _ => Err(ProviderError::Declined { code: "NOT_CANCELABLE_PAYMENT".into(), message: "this payment was never charged".into() }),
        }
    }

    async fn find_order(&self, order_id: &str) -> Result<Option<ProviderPayment>, ProviderError> {
        Ok(self.charge(order_id).await?.map(|c| payment(&c)))
    }
}

impl Sandbox {
    /// The charge a payment key (`sandbox_<orderId>`) names.
    async fn charge_by_key(&self, payment_key: &str) -> Result<Option<Charge>, ProviderError> {
        self.charge(order_of(payment_key)).await
    }
}

/// The sandbox names a charge by its order: the payment key it gives back is `sandbox_<orderId>`
/// (the card token only authorizes it, as a provider's widget does).
fn order_of(payment_key: &str) -> &str {
    payment_key.strip_prefix("sandbox_").unwrap_or(payment_key)
}

/// A number in [0, 1), from the OS's randomness (through UUIDv4).
fn chance() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}
