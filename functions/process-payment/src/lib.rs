//! `process-payment`: the payment gateway, invoked synchronously (`RequestResponse`) by
//! `place-reservation` — never from the API. Approves, declines and refunds; idempotent by
//! reservation id.

use bnb::payments::{PaymentRequest, PaymentResult, PaymentService};
use serde_json::Value;
use tracing::Instrument;

pub const NAME: &str = "process-payment";

/// Runs one request. An error becomes a Lambda function error, which the caller's breaker
/// counts as a failure.
pub async fn handle(payments: &PaymentService, payload: Value) -> Result<PaymentResult, String> {
    let request: PaymentRequest = serde_json::from_value(payload).map_err(|e| format!("not a payment request: {e}"))?;
    let span = tracing::info_span!("payment", function = NAME, correlation_id = %request.correlation_id, reservation_id = %request.reservation_id);
    async move { payments.process(request).await.map_err(|e| e.to_string()) }.instrument(span).await
}
