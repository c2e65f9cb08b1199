//! NHN Cloud KakaoTalk Bizmessage, AlimTalk API v2.3: bnb's first KakaoTalk dealer.
//!
//! The contract, from NHN's own documentation (github.com/TOAST-DOCS/Alimtalk, the source of
//! docs.nhncloud.com, "KakaoTalk Bizmessage > AlimTalk > API v2.3 Guide", read 2026-11-30):
//! - send: `POST /alimtalk/v2.3/appkeys/{appkey}/messages`, headers `X-Secret-Key` and
//!   `X-NC-API-IDEMPOTENCY-KEY` ("if a request is made with the same key for 10 minutes, the
//!   request will be failed": header `resultCode` -1005); body `senderKey`, `templateCode`,
//!   `recipientList[]` with `recipientNo`, `templateParameter` (`#{key}` → value),
//!   `resendParameter` (SMS/LMS fallback: `isResend`, `resendType`, `resendTitle`,
//!   `resendContent`, `resendSendNo`) and `recipientGroupingKey` (≤ 100 characters); answer
//!   `header {resultCode, resultMessage, isSuccessful}` and `message {requestId, sendResults[]
//!   {recipientSeq, resultCode, resultMessage}}`. Request-time errors: -3003 no such template,
//!   -3005 template not approved, -3049 parameters do not match the template, -2019 text over
//!   1,300 characters, -1000/-1001 bad app key/secret key ("error-code" page).
//! - one message: `GET .../messages/{requestId}/{recipientSeq}` → `message {messageStatus
//!   (COMPLETED, FAILED, CANCEL), resultCode ("1000" delivered, "3018"/"3019"/"3020" cannot
//!   receive, not a KakaoTalk user, blocked), resendStatus (RSC01 no fallback, RSC02 fallback if
//!   it fails, RSC03 falling back, RSC04 fell back, RSC05 fallback failed)}`; -1016 unknown.
//! - list: `GET .../messages?recipientGroupingKey=&startRequestDate=&endRequestDate=`
//!   (dates `yyyy-MM-dd HH:mm`, at most 30 days apart) → `messageSearchResultResponse.messages[]`.
//!
//! Not documented, and so decided here: the HTTP status of an error (the JSON `header` is read
//! whatever the status; 5xx and 429 are "try again" whatever it says), a rate limit (429 is
//! treated as one), whether -1005 returns the first request's id (it does not say so: the
//! adapter finds the first message by its grouping key instead).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bnb_contexts::notifications::dealer::DealerSettings;
use bnb_contexts::notifications::{AlimTalk, Dealer, DealerError, Delivery, Receipt, TextKind};
use bnb_contexts::secrets::SecretSource;
use bnb_https_client::Full;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// NHN's API host since 2026-02-27 (it was `api-alimtalk.cloud.toast.com`).
pub const DEFAULT_ENDPOINT: &str = "https://kakaotalk-bizmessage.api.nhncloudservice.com";
/// How long one call may take before it counts as unavailable (and is retried).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Where and as whom to send.
#[derive(Clone)]
pub struct NhnSettings {
    /// `https://kakaotalk-bizmessage.api.nhncloudservice.com`, or a local contract server.
    pub endpoint: String,
    pub app_key: String,
    /// The KakaoTalk channel's sender key (40 characters).
    pub sender_key: String,
    /// The number the fallback SMS comes from (registered with NHN's SMS service).
    pub fallback_send_no: String,
    /// The `X-Secret-Key`, read in the function's init (`bnb_lambda::run`).
    pub secret_key: Arc<dyn SecretSource>,
}

pub struct NhnBizmessage {
    settings: NhnSettings,
    client: bnb_https_client::HttpsClient,
    timeout: Duration,
}

impl NhnBizmessage {
    /// The adapter, or why it cannot be set up (at start-up): the endpoint must be HTTPS (the
    /// secret key goes in a header), but for a contract server on this machine's loopback.
    pub fn new(settings: NhnSettings) -> Result<NhnBizmessage, String> {
        let client = bnb_https_client::client(&settings.endpoint, "AlimTalk")?;
        Ok(NhnBizmessage { settings, client, timeout: CALL_TIMEOUT })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}/alimtalk/v2.3/appkeys/{}{path}", self.settings.endpoint.trim_end_matches('/'), self.settings.app_key)
    }

    /// One call: the status and the JSON answer, or why there is none.
    async fn call(&self, method: Method, url: &str, body: Option<Vec<u8>>, idempotency_key: Option<&str>) -> Result<(StatusCode, Value), DealerError> {
        let secret = self.settings.secret_key.secret().await.map_err(|e| DealerError::Unavailable(e.to_string()))?;
        let mut secret_header = http::HeaderValue::from_str(secret.expose())
            .map_err(|_| DealerError::Refused { code: "SECRET".into(), reason: "the secret key is not a header value".into() })?;
        secret_header.set_sensitive(true);
        let mut request = Request::builder().method(method).uri(url).header("X-Secret-Key", secret_header);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json;charset=UTF-8");
        }
        if let Some(key) = idempotency_key {
            request = request.header("X-NC-API-IDEMPOTENCY-KEY", key);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| DealerError::Refused { code: "REQUEST".into(), reason: e.to_string() })?;
        let (status, bytes) = bnb_https_client::send(&self.client, request, self.timeout).await.map_err(|e| DealerError::Unavailable(e.0))?;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(DealerError::Unavailable(format!("HTTP {status}")));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(json) => Ok((status, json)),
            Err(_) if status.is_success() => Err(DealerError::Unavailable(format!("HTTP {status} without a JSON answer"))),
            Err(_) => {
                Err(DealerError::Refused { code: format!("HTTP {}", status.as_u16()), reason: String::from_utf8_lossy(&bytes).chars().take(200).collect() })
            }
        }
    }

    /// The message an earlier request with this grouping key made, if the dealer has one.
    async fn find(&self, reference: &str) -> Result<Option<Receipt>, DealerError> {
        let seoul = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
        let now = time::OffsetDateTime::now_utc().to_offset(seoul);
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        let (from, to) = ((now - time::Duration::days(1)).format(&format), (now + time::Duration::hours(1)).format(&format));
        let (from, to) = (from.map_err(|e| DealerError::Unavailable(e.to_string()))?, to.map_err(|e| DealerError::Unavailable(e.to_string()))?);
        let url =
            format!("{}?recipientGroupingKey={}&startRequestDate={}&endRequestDate={}", self.url("/messages"), encode(reference), encode(&from), encode(&to));
        let (_, json) = self.call(Method::GET, &url, None, None).await?;
        let header: ResponseHeader = serde_json::from_value(json.get("header").cloned().unwrap_or(Value::Null)).unwrap_or_default();
        if !header.is_successful {
            return Err(self.refused(header.result_code, &header.result_message));
        }
        let first = json.pointer("/messageSearchResultResponse/messages/0");
        Ok(first.and_then(|m| Some(Receipt { request_id: m.get("requestId")?.as_str()?.to_owned(), message_id: seq_text(m.get("recipientSeq")?)? })))
    }

    /// A request-time `resultCode` as the sender must take it. A key NHN refuses may have been
    /// rotated: it is read again, and the call counts as unavailable (to be retried).
    fn refused(&self, code: i64, message: &str) -> DealerError {
        if matches!(code, -1000 | -1001) {
            self.settings.secret_key.forget();
            return DealerError::Unavailable(format!("{code}: {message} (the key is read again for the next try)"));
        }
        classify(code, message)
    }
}

/// The dealer from a function's settings and where its secret key is kept, as a function's main
/// hands it to `bnb_lambda::AwsAdapters`.
pub fn dealer(settings: DealerSettings, secret_key: Arc<dyn SecretSource>) -> Result<Arc<dyn Dealer>, String> {
    let nhn = NhnBizmessage::new(NhnSettings {
        endpoint: settings.endpoint,
        app_key: settings.app_key,
        sender_key: settings.sender_key,
        fallback_send_no: settings.fallback_send_no,
        secret_key,
    })?;
    Ok(Arc::new(nhn))
}

fn seq_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseHeader {
    #[serde(default)]
    result_code: i64,
    #[serde(default)]
    result_message: String,
    #[serde(default)]
    is_successful: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest<'a> {
    sender_key: &'a str,
    template_code: &'a str,
    recipient_list: [Recipient<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Recipient<'a> {
    recipient_no: String,
    template_parameter: &'a BTreeMap<String, String>,
    resend_parameter: ResendParameter<'a>,
    recipient_grouping_key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResendParameter<'a> {
    is_resend: bool,
    resend_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resend_title: Option<&'a str>,
    resend_content: &'a str,
    resend_send_no: &'a str,
}

/// NHN takes Korean numbers in their domestic form (`01012345678`), others with their `+`.
pub fn recipient_no(e164: &str) -> String {
    match e164.strip_prefix("+82") {
        Some(national) => format!("0{national}"),
        None => e164.to_owned(),
    }
}

/// What a request-time `resultCode` means for the sender (NHN "error-code" page, "API Response
/// Code"): only a system error (-9999) is worth trying again (as are 5xx, 429 and timeouts,
/// decided before); every other code describes the request, which the same retry would repeat,
/// so the message is refused: `FAILED`, and the DLQ with its reason.
fn classify(code: i64, message: &str) -> DealerError {
    match code {
        -9999 => DealerError::Unavailable(format!("{code}: {message}")),
        _ => DealerError::Refused { code: code.to_string(), reason: message.to_owned() },
    }
}

#[async_trait]
impl Dealer for NhnBizmessage {
    async fn send(&self, message: &AlimTalk) -> Result<Receipt, DealerError> {
        let body = SendRequest {
            sender_key: &self.settings.sender_key,
            template_code: &message.template_code,
            recipient_list: [Recipient {
                recipient_no: recipient_no(&message.phone_number),
                template_parameter: &message.parameters,
                resend_parameter: ResendParameter {
                    is_resend: true,
                    resend_type: match message.fallback.kind {
                        TextKind::Sms => "SMS",
                        TextKind::Lms => "LMS",
                    },
                    resend_title: message.fallback.title.as_deref(),
                    resend_content: &message.fallback.text,
                    resend_send_no: &self.settings.fallback_send_no,
                },
                recipient_grouping_key: &message.reference,
            }],
        };
        let body = serde_json::to_vec(&body).map_err(|e| DealerError::Refused { code: "REQUEST".into(), reason: e.to_string() })?;
        // An earlier call may have got through: NHN's idempotency key holds for 10 minutes only,
        // so the message is looked for first (by its grouping key) rather than sent again.
        if message.maybe_sent_before {
            if let Some(receipt) = self.find(&message.reference).await? {
                tracing::info!(reference = %message.reference, "the dealer has this message from an earlier call");
                return Ok(receipt);
            }
        }
        let (_, json) = self.call(Method::POST, &self.url("/messages"), Some(body), Some(&message.reference)).await?;
        let header: ResponseHeader = serde_json::from_value(json.get("header").cloned().unwrap_or(Value::Null)).unwrap_or_default();
        if header.result_code == -1005 {
            tracing::info!(reference = %message.reference, "the dealer had this message already (-1005); finding its receipt");
            return self
                .find(&message.reference)
                .await?
                .ok_or_else(|| DealerError::Unavailable(format!("the dealer holds the idempotency key {} but no message under it yet", message.reference)));
        }
        // The recipient's own code first: "all recipients failed" (-1031) carries the reason there.
        let result = json.pointer("/message/sendResults/0");
        let recipient_code = result.and_then(|r| r.get("resultCode")).and_then(Value::as_i64).unwrap_or(0);
        if recipient_code != 0 {
            let reason = result.and_then(|r| r.get("resultMessage")).and_then(Value::as_str).unwrap_or_default();
            return Err(self.refused(recipient_code, reason));
        }
        if !header.is_successful {
            return Err(self.refused(header.result_code, &header.result_message));
        }
        let request_id = json.pointer("/message/requestId").and_then(Value::as_str).unwrap_or_default().to_owned();
        match (request_id.is_empty(), result.and_then(|r| r.get("recipientSeq")).and_then(seq_text)) {
            (false, Some(message_id)) => Ok(Receipt { request_id, message_id }),
            _ => Err(DealerError::Unavailable("the dealer said yes without a requestId and recipientSeq".into())),
        }
    }

    async fn delivery(&self, receipt: &Receipt) -> Result<Delivery, DealerError> {
        let url = self.url(&format!("/messages/{}/{}", encode(&receipt.request_id), encode(&receipt.message_id)));
        let (_, json) = self.call(Method::GET, &url, None, None).await?;
        let header: ResponseHeader = serde_json::from_value(json.get("header").cloned().unwrap_or(Value::Null)).unwrap_or_default();
        if !header.is_successful {
            return Err(self.refused(header.result_code, &header.result_message));
        }
        let field = |name: &str| json.pointer(&format!("/message/{name}")).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(delivery_of(&field("messageStatus"), &field("resultCode"), &field("resultCodeName"), &field("resendStatus"), &field("resendResultCode")))
    }
}

/// A message's fate from its status fields (NHN's "Status Code of SMS/LMS Resending" and
/// "Delivery Result Code" tables).
pub fn delivery_of(status: &str, code: &str, code_name: &str, resend: &str, resend_code: &str) -> Delivery {
    match (status, resend) {
        (_, "RSC04") => Delivery::FellBackToSms { code: code.to_owned() },
        (_, "RSC02" | "RSC03") if status != "COMPLETED" || code != "1000" => Delivery::Pending,
        (_, "RSC05") => Delivery::Failed { code: format!("{code}/{resend_code}"), reason: format!("{code_name}; the SMS fallback failed too") },
        ("COMPLETED", _) if code == "1000" => Delivery::Delivered,
        ("COMPLETED" | "FAILED" | "CANCEL", _) => Delivery::Failed { code: code.to_owned(), reason: code_name.to_owned() },
        _ => Delivery::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_as_documented() {
        assert_eq!(delivery_of("COMPLETED", "1000", "Success", "RSC01", ""), Delivery::Delivered);
        assert_eq!(delivery_of("FAILED", "3019", "Not a KakaoTalk user", "RSC04", "0"), Delivery::FellBackToSms { code: "3019".into() });
        assert_eq!(delivery_of("FAILED", "3019", "x", "RSC03", ""), Delivery::Pending);
        assert!(matches!(delivery_of("FAILED", "3020", "Blocked", "RSC01", ""), Delivery::Failed { code, .. } if code == "3020"));
        assert!(matches!(delivery_of("FAILED", "3019", "x", "RSC05", "-1"), Delivery::Failed { .. }));
        assert_eq!(delivery_of("READY", "", "", "RSC02", ""), Delivery::Pending);
        assert_eq!(delivery_of("", "", "", "", ""), Delivery::Pending);
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(classify(-3003, "no template"), DealerError::Refused { .. }));
        assert!(matches!(classify(-3049, "mismatch"), DealerError::Refused { .. }));
        assert!(matches!(classify(-2019, "too long"), DealerError::Refused { .. }));
        assert!(matches!(classify(-9999, "system"), DealerError::Unavailable(_)));
        assert!(matches!(classify(-2502, "no fallback configured"), DealerError::Refused { .. }), "unknown codes are refused, not retried");
        assert_eq!(recipient_no("+821012345678"), "01012345678");
        assert_eq!(recipient_no("+14155550100"), "+14155550100");
        assert_eq!(encode("a b#1"), "a%20b%231");
    }
}
