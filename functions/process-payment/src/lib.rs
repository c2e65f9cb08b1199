//! `process-payment`: bnb's side of a payment, invoked synchronously (`RequestResponse`) by
//! `place-reservation` — never from the API. Confirms the payment with the provider (Toss
//! Payments, or the sandbox), idempotent by reservation id; a charge that lands after its
//! booking gave up is refunded at once.

use bnb_contexts::payments::{PaymentRequest, PaymentResult, PaymentService};
use bnb_contexts::tables::PAYMENTS;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use serde_json::Value;
use tracing::Instrument;

pub const NAME: &str = "process-payment";

/// `process-payment`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::Table(PAYMENTS), Need::PaymentProvider], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let payments = PaymentService::with_provider(r.table(PAYMENTS)?, bnb_lambda::payment_provider(r)?).with_clock(r.clock());
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
