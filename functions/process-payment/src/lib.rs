//! `process-payment`: the payment gateway, invoked synchronously (`RequestResponse`) by
//! `place-reservation` — never from the API. Approves, declines and refunds; idempotent by
//! reservation id.

use bnb_contexts::payments::FaultConfig;
use bnb_contexts::payments::{PaymentRequest, PaymentResult, PaymentService};
use bnb_contexts::tables::PAYMENTS;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use serde_json::Value;
use tracing::Instrument;

pub const NAME: &str = "process-payment";

/// `process-payment`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::Table(PAYMENTS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let payments = PaymentService::new(r.table(PAYMENTS)?, FaultConfig::from_lookup(|var| r.var(var)));
    Ok(Handler::invoke(move |payload| {
        let payments = payments.clone();
        async move { handle(&payments, payload).await.and_then(|result| serde_json::to_value(result).map_err(|e| e.to_string())) }
    }))
}

/// Runs one request. An error becomes a Lambda function error, which the caller's breaker
/// counts as a failure.
pub async fn handle(payments: &PaymentService, payload: Value) -> Result<PaymentResult, String> {
    let request: PaymentRequest = serde_json::from_value(payload).map_err(|e| format!("not a payment request: {e}"))?;
    let span = tracing::info_span!("payment", function = NAME, correlation_id = %request.correlation_id, reservation_id = %request.reservation_id);
    async move { payments.process(request).await.map_err(|e| e.to_string()) }.instrument(span).await
}
