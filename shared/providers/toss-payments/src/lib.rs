//! Toss Payments, Core API v1: bnb's payment provider in Korea.
//!
//! The contract, from Toss's own documentation (read 2026-12-01 from stored copies; docs pages
//! named by their path under https://docs.tosspayments.com):
//! - auth: `Authorization: Basic base64("{secretKey}:")`, the secret key as user and an empty
//!   password (`/reference/using-api/authorization`); an unknown key is 401 `UNAUTHORIZED_KEY`
//!   (`/reference/error-codes`).
//! - confirm: `POST /v1/payments/confirm` `{paymentKey, orderId, amount}`, within 10 minutes of
//!   the guest's authorization, answering the `Payment` object (`/reference#결제-승인`).
//! - cancel: `POST /v1/payments/{paymentKey}/cancel` `{cancelReason, cancelAmount}`; without an
//!   amount, the whole payment (`/reference#결제-취소`).
//! - look-up: `GET /v1/payments/orders/{orderId}`, 404 `NOT_FOUND_PAYMENT` when there is none
//!   (`/reference#orderid로-결제-조회`).
//! - errors: an HTTP status with `{code, message}`; `message` is Korean, meant for people
//!   (`/reference/using-api/req-res`, `/reference/error-codes`).
//! - idempotency: every POST takes `Idempotency-Key` (at most 300 characters, kept 15 days);
//!   a repeat answers the first response without running again; one still running answers 409
//!   `IDEMPOTENT_REQUEST_PROCESSING` (`/reference/using-api/authorization#멱등키-헤더`).
//!
//! Decided here, where the documents leave it open: which codes are the guest's (a decline,
//! told to them in Toss's words) and which are passing or ours (unavailable: try again). The
//! error tables change over time, so an unknown code falls back on its status class: a 5xx,
//! 401, 403 `FORBIDDEN_*`/`INCORRECT_BASIC_AUTH_FORMAT` and 429 are unavailable; other 4xx are
//! the guest's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bnb_contexts::payments::provider::{Cancel, Confirm, PaymentProvider, ProviderError, ProviderKind, ProviderPayment, ProviderStatus};
use bnb_contexts::secrets::SecretSource;
use bnb_https_client::Full;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

pub const DEFAULT_ENDPOINT: &str = "https://api.tosspayments.com";
/// How long one call may take. Toss advises a read timeout of up to 60 s for payment calls; a
/// booking waits `PaymentTimeoutMs` for `process-payment` as a whole, and a call that outlives
/// it is settled by the saga (late approval refunded, or reconciliation), so 10 s is enough.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as whom to call.
#[derive(Clone)]
pub struct TossSettings {
    /// `https://api.tosspayments.com`, or a local contract server.
    pub endpoint: String,
    /// The secret key (`test_sk_…`/`live_sk_…`, or a widget's `…_gsk_…`), read in the function's init (`bnb_lambda::run`).
    pub secret_key: Arc<dyn SecretSource>,
}

pub struct TossPayments {
    settings: TossSettings,
    client: bnb_https_client::HttpsClient,
    timeout: Duration,
}

/// Toss's `Payment` object: the fields bnb reads (more come, and are ignored, as the docs ask).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payment {
    payment_key: String,
    order_id: String,
    status: String,
    total_amount: i64,
    #[serde(default)]
    balance_amount: i64,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl TossPayments {
    /// The adapter, or why it cannot be set up (at start-up): the endpoint must be HTTPS (Toss
    /// takes nothing else; the secret key is in a header), but for a contract server on this
    /// machine's loopback.
    pub fn new(settings: TossSettings) -> Result<TossPayments, String> {
        let client = bnb_https_client::client(&settings.endpoint, "Toss Payments")?;
        Ok(TossPayments { settings, client, timeout: CALL_TIMEOUT })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One call: the status and the JSON answer, or why there is none. Logged with its
    /// idempotency key and correlation id; never with the key, the body or card data.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
        correlation_id: &str,
    ) -> Result<(StatusCode, Value), ProviderError> {
        let secret = self.settings.secret_key.secret().await.map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:", secret.expose()));
        let mut authorization = http::HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| ProviderError::Unavailable("the secret key is not a header value".into()))?;
        authorization.set_sensitive(true);
        let url = format!("{}{path}", self.settings.endpoint.trim_end_matches('/'));
        let mut request = Request::builder().method(method.clone()).uri(&url).header(header::AUTHORIZATION, authorization);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let request = request.body(Full::new(Bytes::from(bytes))).map_err(|e| ProviderError::Unavailable(format!("request: {e}")))?;
        let started = std::time::Instant::now();
        let (status, bytes) = match bnb_https_client::send(&self.client, request, self.timeout).await.map_err(|e| ProviderError::Unavailable(e.0)) {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(%correlation_id, idempotency_key = idempotency_key.unwrap_or("-"), %method, path = %redacted(path), error = %e, "Toss Payments call failed");
                return Err(e);
            }
        };
        tracing::info!(%correlation_id, idempotency_key = idempotency_key.unwrap_or("-"), %method, path = %redacted(path), status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "Toss Payments call");
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(json) => Ok((status, json)),
            Err(_) => Err(ProviderError::Unavailable(format!("HTTP {status} without a JSON answer"))),
        }
    }

    /// The error a non-2xx answer stands for.
    fn error(&self, status: StatusCode, body: &Value) -> ProviderError {
        let error: ErrorBody = serde_json::from_value(body.clone()).unwrap_or_default();
        if status == StatusCode::UNAUTHORIZED || error.code == "UNAUTHORIZED_KEY" || error.code == "INVALID_API_KEY" {
            // A rotated key: read it again for the next call.
            self.settings.secret_key.forget();
        }
        classify(status, &error.code, &error.message)
    }
}

/// A code as bnb must take it (see the module's note).
pub fn classify(status: StatusCode, code: &str, message: &str) -> ProviderError {
    match code {
        "ALREADY_PROCESSED_PAYMENT" => ProviderError::AlreadyProcessed,
        "ALREADY_CANCELED_PAYMENT" | "ALREADY_REFUND_PAYMENT" => ProviderError::AlreadyCanceled,
        // Passing, by Toss's own words ("잠시 후 다시 시도해주세요"), or a repeat still running.
        "PROVIDER_ERROR" | "CARD_PROCESSING_ERROR" | "IDEMPOTENT_REQUEST_PROCESSING" | "FORBIDDEN_CONSECUTIVE_REQUEST" | "COMMON_ERROR" => {
            ProviderError::Unavailable(format!("{code}: {message}"))
        }
        // Ours, not the guest's: a key Toss does not take, or a header it cannot read.
        "UNAUTHORIZED_KEY" | "INVALID_API_KEY" | "INCORRECT_BASIC_AUTH_FORMAT" | "INVALID_IDEMPOTENCY_KEY" => {
            ProviderError::Unavailable(format!("{code}: {message}"))
        }
        _ if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::UNAUTHORIZED => {
            ProviderError::Unavailable(format!("HTTP {} {code}: {message}", status.as_u16()))
        }
        _ => ProviderError::Declined { code: code.to_owned(), message: message.to_owned() },
    }
}

/// A path with its payment key or order id cut (they are not secrets, but logs need neither).
fn redacted(path: &str) -> String {
    if path == "/v1/payments/confirm" {
        path.to_owned()
    } else if path.starts_with("/v1/payments/orders/") {
        "/v1/payments/orders/…".to_owned()
    } else if path.ends_with("/cancel") {
        "/v1/payments/…/cancel".to_owned()
    } else {
        "/v1/payments/…".to_owned()
    }
}

/// Percent-encodes a path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn read(body: Value) -> Result<ProviderPayment, ProviderError> {
    let payment: Payment = serde_json::from_value(body).map_err(|e| ProviderError::Unavailable(format!("an answer that is not a Payment: {e}")))?;
    let status = match payment.status.as_str() {
        "DONE" => ProviderStatus::Done,
        "CANCELED" => ProviderStatus::Canceled,
        "PARTIAL_CANCELED" => ProviderStatus::PartialCanceled,
        "ABORTED" => ProviderStatus::Aborted,
        "EXPIRED" => ProviderStatus::Expired,
        _ => ProviderStatus::Pending,
    };
    Ok(ProviderPayment {
        payment_key: payment.payment_key,
        order_id: payment.order_id,
        status,
        total_amount: payment.total_amount,
        balance_amount: payment.balance_amount,
    })
}

#[async_trait]
impl PaymentProvider for TossPayments {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Toss
    }

    async fn confirm(&self, request: &Confirm) -> Result<ProviderPayment, ProviderError> {
        let body = json!({"paymentKey": request.payment_key, "orderId": request.order_id, "amount": request.amount});
        let (status, answer) = self.call(Method::POST, "/v1/payments/confirm", Some(body), Some(&request.idempotency_key), &request.correlation_id).await?;
        if !status.is_success() {
            return Err(self.error(status, &answer));
        }
        read(answer)
    }

    async fn cancel(&self, request: &Cancel) -> Result<ProviderPayment, ProviderError> {
        let body = json!({"cancelReason": request.reason, "cancelAmount": request.amount});
        let path = format!("/v1/payments/{}/cancel", segment(&request.payment_key));
        let (status, answer) = self.call(Method::POST, &path, Some(body), Some(&request.idempotency_key), &request.correlation_id).await?;
        if !status.is_success() {
            return Err(self.error(status, &answer));
        }
        read(answer)
    }

    async fn find_order(&self, order_id: &str) -> Result<Option<ProviderPayment>, ProviderError> {
        let path = format!("/v1/payments/orders/{}", segment(order_id));
        let (status, answer) = self.call(Method::GET, &path, None, None, &format!("reconcile-{order_id}")).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(match self.error(status, &answer) {
                // A look-up is never the guest's decline: anything else is "ask again later".
                ProviderError::Declined { code, message } => ProviderError::Unavailable(format!("{code}: {message}")),
                other => other,
            });
        }
        read(answer).map(Some)
    }
}

/// The provider from where its secret key is kept, as a function's main hands it to
/// `bnb_lambda::AwsAdapters`.
pub fn provider(endpoint: String, secret_key: Arc<dyn SecretSource>) -> Result<Arc<dyn PaymentProvider>, String> {
    Ok(Arc::new(TossPayments::new(TossSettings { endpoint, secret_key })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_as_documented_and_unknown_ones_by_their_status() {
        let declined = |e: ProviderError| matches!(e, ProviderError::Declined { .. });
        let unavailable = |e: ProviderError| matches!(e, ProviderError::Unavailable(_));
        assert!(declined(classify(StatusCode::FORBIDDEN, "REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족으로 결제에 실패했습니다.")));
        assert!(declined(classify(StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.")));
        assert!(unavailable(classify(StatusCode::BAD_REQUEST, "PROVIDER_ERROR", "일시적인 오류가 발생했습니다.")));
        assert!(unavailable(classify(StatusCode::CONFLICT, "IDEMPOTENT_REQUEST_PROCESSING", "이전 멱등 요청이 처리중입니다.")));
        assert!(unavailable(classify(StatusCode::UNAUTHORIZED, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.")));
        assert!(unavailable(classify(StatusCode::INTERNAL_SERVER_ERROR, "SOME_NEW_CODE", "?")));
        assert!(declined(classify(StatusCode::BAD_REQUEST, "SOME_NEW_CODE", "?")));
        assert_eq!(classify(StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT", ""), ProviderError::AlreadyProcessed);
        assert_eq!(classify(StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT", ""), ProviderError::AlreadyCanceled);
    }

    #[test]
    fn logged_paths_name_no_payment() {
        assert_eq!(redacted("/v1/payments/tgen_2024abc/cancel"), "/v1/payments/…/cancel");
        assert_eq!(redacted("/v1/payments/orders/order-123456"), "/v1/payments/orders/…");
        assert_eq!(redacted("/v1/payments/confirm"), "/v1/payments/confirm");
    }
}
