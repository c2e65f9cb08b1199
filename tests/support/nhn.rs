//! A local server that keeps NHN Cloud KakaoTalk Bizmessage's documented contract (AlimTalk API
//! v2.3), so the dealer adapter and the sender are tested over real HTTP against what NHN says
//! it does, with no account and no network. Each behaviour names the document it comes from:
//!
//! - [guide]: "AlimTalk > API v2.3 Guide" (github.com/TOAST-DOCS/Alimtalk `en/alimtalk-api-guide.md`,
//!   the source of docs.nhncloud.com; read at commit 8dc8f5c, 2026-06-23);
//! - [codes]: "Error Codes" (same repository, `en/error-code.md`);
//! - [sms]: "SMS > API v3.0 Guide", Caution (github.com/TOAST-DOCS/SMS `en/api-guide.md`).
//!
//! Where NHN does not document a behaviour (the HTTP status of an error, rate limits, the state
//! of a message still in flight) this server makes the choice written beside it, and the
//! adapter must cope with any choice: it reads the JSON header whatever the status.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bnb_contexts::clock::SharedClock;
use bnb_contexts::notifications::dealer::euc_kr_bytes;
use bnb_contexts::notifications::templates::catalog;
use serde_json::{json, Value};

pub const APP_KEY: &str = "bnbTestAppKey";
pub const SECRET_KEY: &str = "bnb-test-secret-key";
/// [guide] "senderKey: Sender key (40 characters)".
pub const SENDER_KEY: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SEND_NO: &str = "0212345678";

/// One message the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub request_id: String,
    pub recipient_seq: u32,
    pub recipient_no: String,
    pub template_code: String,
    /// The template filled with the parameters, as Kakao would show it.
    pub text: String,
    pub resend_type: Option<String>,
    pub resend_content: Option<String>,
    pub grouping_key: String,
    pub idempotency_key: Option<String>,
    /// When it was taken, by the server's clock.
    pub requested_at: time::OffsetDateTime,
}

/// What a scripted request answers instead of the contract.
#[derive(Debug, Clone, Copy)]
pub enum Scripted {
    /// This HTTP status (5xx, 429) with NHN's system-error header.
    Status(u16),
    /// No answer for this long (the client's timeout fires first).
    Hang(Duration),
    /// The request is taken as the contract says, but the answer comes this late (the client
    /// times out not knowing the message went through).
    TakeThenHang(Duration),
}

struct NhnState {
    clock: SharedClock,
    /// Template code → (approved text, approved?). [guide] templates are registered and reviewed
    /// before use.
    templates: BTreeMap<String, (String, bool)>,
    /// Idempotency key → when it was first used (unix seconds, the server's clock).
    keys: HashMap<String, i64>,
    taken: Vec<Taken>,
    not_on_kakaotalk: BTreeSet<String>,
    script: VecDeque<Scripted>,
    in_flight: bool,
    requests: u32,
}

#[derive(Clone)]
pub struct NhnServer {
    pub url: String,
    state: Arc<Mutex<NhnState>>,
}

fn header(code: i64, message: &str) -> Value {
    json!({"header": {"resultCode": code, "resultMessage": message, "isSuccessful": code == 0}})
}

/// Errors are answered HTTP 200 with the JSON header (NHN documents the header, not the status).
fn error(code: i64, message: &str) -> Response {
    (StatusCode::OK, Json(header(code, message))).into_response()
}

fn variables(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("#{") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        out.insert(rest[start + 2..start + 2 + len].to_owned());
        rest = &rest[start + 3 + len..];
    }
    out
}

impl NhnServer {
    /// Starts on a free loopback port, every template of the repository's catalog approved.
    pub async fn start() -> NhnServer {
        NhnServer::start_with_clock(bnb_contexts::clock::system()).await
    }

    /// The same, its time (the idempotency window, request dates) from `clock`.
    pub async fn start_with_clock(clock: SharedClock) -> NhnServer {
        let mut state = NhnState {
            clock,
            templates: BTreeMap::new(),
            keys: HashMap::new(),
            taken: Vec::new(),
            not_on_kakaotalk: BTreeSet::new(),
            script: VecDeque::new(),
            in_flight: false,
            requests: 0,
        };
        for t in catalog() {
            state.templates.insert(t.code.clone(), (t.text.clone(), true));
        }
        let state = Arc::new(Mutex::new(state));
        let app = Router::new()
            .route("/alimtalk/v2.3/appkeys/{appkey}/messages", post(send).get(list))
            .route("/alimtalk/v2.3/appkeys/{appkey}/messages/{request_id}/{recipient_seq}", get(one))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        NhnServer { url, state }
    }

    /// Who is not a KakaoTalk user (a `recipientNo`): their AlimTalk fails with 3019.
    pub fn not_on_kakaotalk(&self, recipient_no: &str) {
        self.state.lock().unwrap().not_on_kakaotalk.insert(recipient_no.to_owned());
    }

    /// The next requests answer these instead.
    pub fn script(&self, answers: &[Scripted]) {
        self.state.lock().unwrap().script.extend(answers.iter().copied());
    }

    /// While set, results are not known yet.
    pub fn in_flight(&self, yes: bool) {
        self.state.lock().unwrap().in_flight = yes;
    }

    /// Registers (or replaces) a template, approved or still under review.
    pub fn register(&self, code: &str, text: &str, approved: bool) {
        self.state.lock().unwrap().templates.insert(code.to_owned(), (text.to_owned(), approved));
    }

    pub fn taken(&self) -> Vec<Taken> {
        self.state.lock().unwrap().taken.clone()
    }

    pub fn requests(&self) -> u32 {
        self.state.lock().unwrap().requests
    }
}

type Shared = State<Arc<Mutex<NhnState>>>;

/// What the script says to answer instead, and how long to hold a real answer back.
async fn scripted(state: &Arc<Mutex<NhnState>>) -> (Option<Response>, Duration) {
    let next = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        s.script.pop_front()
    };
    match next {
        None => (None, Duration::ZERO),
        Some(Scripted::Status(status)) => (Some((StatusCode::from_u16(status).unwrap(), Json(header(-9999, "System error"))).into_response()), Duration::ZERO),
        Some(Scripted::Hang(d)) => {
            tokio::time::sleep(d).await;
            (Some(error(-9999, "System error")), Duration::ZERO)
        }
        Some(Scripted::TakeThenHang(d)) => (None, d),
    }
}

/// `None` when the app key and secret key are right, else the answer.
fn unauthorised(appkey: &str, headers: &HeaderMap) -> Option<Response> {
    // [codes] -1000 "Invalid appKey", -1001 "Invalid secretKey".
    if appkey != APP_KEY {
        return Some(error(-1000, "Invalid appKey"));
    }
    if headers.get("X-Secret-Key").and_then(|v| v.to_str().ok()) != Some(SECRET_KEY) {
        return Some(error(-1001, "Invalid secretKey"));
    }
    None
}

async fn send(State(state): Shared, Path(appkey): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let (answer, delay) = scripted(&state).await;
    if let Some(answer) = answer {
        return answer;
    }
    let answer = take(&state, &appkey, &headers, &body);
    tokio::time::sleep(delay).await;
    answer
}

fn take(state: &Arc<Mutex<NhnState>>, appkey: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut s = state.lock().unwrap();
    let now = s.clock.now_utc();
    if let Some(answer) = unauthorised(appkey, headers) {
        return answer;
    }
    // [guide] "Content-Type: application/json;charset=UTF-8"; [codes] -9996 otherwise.
    if !headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json")) {
        return error(-9996, "Content-Type must be application/json");
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(-3002, "Request body is unreadable");
    };
    // [guide] senderKey (40 characters), templateCode (up to 20 characters).
    if body["senderKey"] != SENDER_KEY {
        return error(-1006, "No such senderKey");
    }
    let code = body["templateCode"].as_str().unwrap_or_default().to_owned();
    if code.chars().count() > 20 {
        return error(-2000, "templateCode is too long");
    }
    // [codes] -3003 "Template does not exist", -3005 "template status error (not approved)".
    let Some((approved_text, approved)) = s.templates.get(&code).cloned() else {
        return error(-3003, "Template does not exist");
    };
    if !approved {
        return error(-3005, "The template is not approved");
    }
    let recipients = body["recipientList"].as_array().cloned().unwrap_or_default();
    // [guide] recipientList: up to 1000 recipients.
    if recipients.is_empty() || recipients.len() > 1000 {
        return error(-2004, "recipientList must hold 1 to 1000 recipients");
    }
    // [guide] X-NC-API-IDEMPOTENCY-KEY: "If a request is made with the same key for 10 minutes,
    // the request will be failed"; [codes] -1005. The first request's answer is not repeated.
    let key = headers.get("X-NC-API-IDEMPOTENCY-KEY").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(k) = &key {
        if s.keys.get(k).is_some_and(|at| now.unix_timestamp() - at < 600) {
            return error(-1005, "The same 'X-NC-API-IDEMPOTENCY-KEY' was used within the last 10 minute.");
        }
    }
    let mut taken = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        // [guide] recipientNo: up to 15 characters; [codes] -5000 invalid recipient number.
        let no = r["recipientNo"].as_str().unwrap_or_default().to_owned();
        if no.is_empty() || no.len() > 15 || !no.trim_start_matches('+').chars().all(|c| c.is_ascii_digit()) {
            return (StatusCode::OK, Json(json!({"header": {"resultCode": -1031, "resultMessage": "All of receivers are failed to send.", "isSuccessful": false}, "message": {"sendResults": [{"recipientSeq": i + 1, "recipientNo": no, "resultCode": -5000, "resultMessage": "Invalid recipient number"}]}}))).into_response();
        }
        // [guide] templateParameter: the values of the template's #{key}s; [codes] -3049 when
        // they do not match the template, -2019 when the filled body is over 1,300 characters.
        let params: BTreeMap<String, String> = r["templateParameter"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default();
        let wanted = variables(&approved_text);
        if params.keys().cloned().collect::<BTreeSet<_>>() != wanted {
            return error(-3049, "The template parameters do not match the template");
        }
        let mut text = approved_text.clone();
        for (k, v) in &params {
            text = text.replace(&format!("#{{{k}}}"), v);
        }
        if text.chars().count() > 1300 {
            return error(-2019, "The message is over 1,300 characters");
        }
        // [guide] resendParameter: resendType SMS or LMS, resendSendNo a registered number;
        // [sms] SMS body 90 bytes, LMS title 40 bytes and body 2,000 bytes, in EUC-KR.
        let resend = &r["resendParameter"];
        let resend_type = resend["resendType"].as_str().map(str::to_owned);
        let resend_content = resend["resendContent"].as_str().map(str::to_owned);
        if resend["isResend"] == true {
            if resend["resendSendNo"] != SEND_NO {
                return error(-1003, "Invalid SMS sender number");
            }
            let (limit, title_ok) = match resend_type.as_deref() {
                Some("SMS") => (90, true),
                Some("LMS") => (2000, resend["resendTitle"].as_str().is_none_or(|t| euc_kr_bytes(t) <= 40)),
                _ => return error(-2005, "resendType must be SMS or LMS"),
            };
            if !title_ok || resend_content.as_deref().is_none_or(|c| euc_kr_bytes(c) > limit) {
                return error(-2000, "The fallback text is over its SMS/LMS limit");
            }
        }
        taken.push(Taken {
            request_id: String::new(),
            recipient_seq: i as u32 + 1,
            recipient_no: no,
            template_code: code.clone(),
            text,
            resend_type: resend_type.filter(|_| resend["isResend"] == true),
            resend_content: resend_content.filter(|_| resend["isResend"] == true),
            grouping_key: r["recipientGroupingKey"].as_str().unwrap_or_default().to_owned(),
            idempotency_key: key.clone(),
            requested_at: now,
        });
    }
    if let Some(k) = key {
        s.keys.insert(k, now.unix_timestamp());
    }
    let request_id = format!("2026{:016}", s.taken.len() + 1);
    let mut results = Vec::new();
    for mut t in taken {
        t.request_id = request_id.clone();
        results.push(json!({"recipientSeq": t.recipient_seq, "recipientNo": t.recipient_no, "resultCode": 0, "resultMessage": "SUCCESS", "recipientGroupingKey": t.grouping_key}));
        s.taken.push(t);
    }
    let mut answer = header(0, "SUCCESS");
    answer["message"] = json!({"requestId": request_id, "senderGroupingKey": body["senderGroupingKey"], "sendResults": results});
    (StatusCode::OK, Json(answer)).into_response()
}

/// [guide] "Query Messages": one message's status.
async fn one(State(state): Shared, Path((appkey, request_id, seq)): Path<(String, String, u32)>, headers: HeaderMap) -> Response {
    if let (Some(answer), _) = scripted(&state).await {
        return answer;
    }
    let s = state.lock().unwrap();
    if let Some(answer) = unauthorised(&appkey, &headers) {
        return answer;
    }
    let Some(t) = s.taken.iter().find(|t| t.request_id == request_id && t.recipient_seq == seq) else {
        // [codes] -1016: no message for that requestId or recipientSeq.
        return error(-1016, "It is not found any messages responding with that requestId or recipientSeq.");
    };
    // [guide] messageStatus COMPLETED/FAILED/CANCEL; resendStatus RSC01-RSC05; resultCode 1000
    // delivered, 3019 not a KakaoTalk user ([codes], "Delivery Result Code"). Undocumented: a
    // message still in flight; this server says READY with no result, the fallback pending.
    let (status, code, name, resend) = match (s.in_flight, s.not_on_kakaotalk.contains(&t.recipient_no), t.resend_type.is_some()) {
        (true, _, _) => ("READY", "", "", "RSC02"),
        (false, true, true) => ("FAILED", "3019", "Not a KakaoTalk user", "RSC04"),
        (false, true, false) => ("FAILED", "3019", "Not a KakaoTalk user", "RSC01"),
        (false, false, _) => ("COMPLETED", "1000", "Success", "RSC01"),
    };
    let mut answer = header(0, "SUCCESS");
    answer["message"] = json!({
        "requestId": t.request_id, "recipientSeq": t.recipient_seq, "senderKey": SENDER_KEY, "templateCode": t.template_code,
        "recipientNo": t.recipient_no, "content": t.text, "messageStatus": status, "resultCode": code, "resultCodeName": name,
        "resendStatus": resend, "resendStatusName": "", "recipientGroupingKey": t.grouping_key,
    });
    (StatusCode::OK, Json(answer)).into_response()
}

/// [guide] "List Messages": needs requestId or a request date range; filters by grouping key.
async fn list(State(state): Shared, Path(appkey): Path<String>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if let (Some(answer), _) = scripted(&state).await {
        return answer;
    }
    let s = state.lock().unwrap();
    if let Some(answer) = unauthorised(&appkey, &headers) {
        return answer;
    }
    let dated = q.contains_key("startRequestDate") && q.contains_key("endRequestDate");
    if !(q.contains_key("requestId") || dated) {
        return error(-4103, "requestId or startRequestDate and endRequestDate are required");
    }
    // [guide] dates are `yyyy-MM-dd HH:mm` (Korea time); [codes] -4003: a range over 31 days.
    let kst = time::UtcOffset::from_hms(9, 0, 0).unwrap();
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let parse = |name: &str| q.get(name).map(|d| time::PrimitiveDateTime::parse(d, &format).map(|t| t.assume_offset(kst)));
    let range = match (parse("startRequestDate"), parse("endRequestDate")) {
        (Some(Ok(from)), Some(Ok(to))) if to - from > time::Duration::days(31) => return error(-4003, "The range is over 31 days"),
        (Some(Ok(from)), Some(Ok(to))) => Some((from, to)),
        (Some(Err(_)), _) | (_, Some(Err(_))) => return error(-2027, "A date is not yyyy-MM-dd HH:mm"),
        _ => None,
    };
    let messages: Vec<Value> = s
        .taken
        .iter()
        .filter(|t| range.is_none_or(|(from, to)| t.requested_at >= from && t.requested_at <= to))
        .filter(|t| q.get("recipientGroupingKey").is_none_or(|k| &t.grouping_key == k))
        .filter(|t| q.get("requestId").is_none_or(|r| &t.request_id == r))
        .map(|t| json!({"requestId": t.request_id, "recipientSeq": t.recipient_seq, "recipientNo": t.recipient_no, "templateCode": t.template_code, "recipientGroupingKey": t.grouping_key}))
        .collect();
    let mut answer = header(0, "SUCCESS");
    answer["messageSearchResultResponse"] = json!({"totalCount": messages.len(), "messages": messages});
    (StatusCode::OK, Json(answer)).into_response()
}
