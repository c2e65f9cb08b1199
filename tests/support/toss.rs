//! A local server that keeps Toss Payments' documented Core API v1 contract, so the provider
//! adapter and the payment saga are tested over real HTTP against what Toss says it does, with
//! no account, no key and no network. Each behaviour names the document it comes from (pages of
//! https://docs.tosspayments.com, read 2026-12-01 from stored copies):
//!
//! - [auth]: `/reference/using-api/authorization`: `Authorization: Basic base64("{secretKey}:")`;
//!   and its "멱등키" section: `Idempotency-Key` on any POST, at most 300 characters, kept 15
//!   days; a repeat answers the first response without running again; one still running is 409
//!   `IDEMPOTENT_REQUEST_PROCESSING`; over 300 characters is 400 `INVALID_IDEMPOTENCY_KEY`;
//!   the key is matched with the API key, the URL and the method (not the body); GET ignores it.
//! - [confirm]: `/reference#결제-승인`: `POST /v1/payments/confirm` `{paymentKey, orderId,
//!   amount}` answers the `Payment` object (`status` `DONE`).
//! - [cancel]: `/reference#결제-취소`: `POST /v1/payments/{paymentKey}/cancel` `{cancelReason,
//!   cancelAmount?}` (without an amount, all of it) answers the `Payment` with `cancels[]`,
//!   `status` `CANCELED`, `balanceAmount` 0.
//! - [lookup]: `/reference#orderid로-결제-조회`: `GET /v1/payments/orders/{orderId}`.
//! - [status]: `/reference#payment-객체`: `READY`, `IN_PROGRESS`, `WAITING_FOR_DEPOSIT` (a
//!   virtual account), `DONE`, `CANCELED`, `PARTIAL_CANCELED`, `ABORTED`, `EXPIRED`.
//! - [codes]: `/reference/error-codes`: 401 `UNAUTHORIZED_KEY`, 400 `ALREADY_PROCESSED_PAYMENT`,
//!   400 `PROVIDER_ERROR`, 403 `REJECT_CARD_PAYMENT`, 404 `NOT_FOUND_PAYMENT_SESSION`, 404
//!   `NOT_FOUND_PAYMENT`, 400 `ALREADY_CANCELED_PAYMENT`, 403 `NOT_CANCELABLE_PAYMENT`, 403
//!   `NOT_CANCELABLE_AMOUNT`, 500 `FAILED_INTERNAL_SYSTEM_PROCESSING`.
//!
//! Not documented, and so chosen here: a confirm whose amount is not the authorized one is 400
//! `INVALID_REQUEST` (Toss leaves that check to the merchant); an error is replayed under its
//! idempotency key like a success (the KO guide warns against retrying an error with a new key).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

/// The test secret key the server takes (Toss's test keys start `test_sk_`).
pub const SECRET_KEY: &str = "test_sk_bnbContractServer0000";

/// A payment the server knows: authorized in the (imagined) widget, then confirmed, refunded.
#[derive(Debug, Clone)]
pub struct TossPayment {
    pub payment_key: String,
    pub order_id: String,
    pub amount: i64,
    /// `READY` (authorized), `DONE`, `WAITING_FOR_DEPOSIT`, `CANCELED`, `ABORTED`, `EXPIRED`.
    pub status: String,
    /// A virtual account: its confirm leaves it `WAITING_FOR_DEPOSIT` [confirm].
    pub virtual_account: bool,
    /// A decline the card issuer will give at confirm: (code, message).
    pub decline: Option<(String, String)>,
    pub cancels: Vec<Value>,
}

impl TossPayment {
    fn json(&self) -> Value {
        let balance = if self.status == "DONE" { self.amount } else { 0 };
        json!({
            "mId": "tvivarepublica",
            "version": "2022-11-16",
            "paymentKey": self.payment_key,
            "orderId": self.order_id,
            "orderName": "bnb stay",
            "currency": "KRW",
            "method": "카드",
            "status": self.status,
            "totalAmount": self.amount,
            "balanceAmount": balance,
            "requestedAt": "2026-12-01T10:00:00+09:00",
            "approvedAt": if self.status == "READY" { Value::Null } else { json!("2026-12-01T10:00:05+09:00") },
            "cancels": if self.cancels.is_empty() { Value::Null } else { json!(self.cancels) },
            "failure": self.decline.as_ref().filter(|_| self.status == "ABORTED").map(|(c, m)| json!({"code": c, "message": m})),
            "card": {"number": "43301234****123*", "installmentPlanMonths": 0},
        })
    }
}

/// One call the server took, for tests to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// Whether its Basic auth was the test key's, as [auth] writes it.
    pub authorized: bool,
    /// Answered from the idempotency store, without running again.
    pub replayed: bool,
    pub status: u16,
}

/// What a scripted call does instead of, or besides, the contract.
#[derive(Debug, Clone, Copy)]
pub enum Scripted {
    /// This HTTP status with Toss's code for it (500 `FAILED_INTERNAL_SYSTEM_PROCESSING`, 400
    /// `PROVIDER_ERROR`), nothing done.
    Fail(u16, &'static str),
    /// Does what the contract says, then answers this late (the client times out not knowing
    /// the payment went through).
    TakeThenHang(Duration),
}

#[derive(Default)]
struct TossState {
    payments: HashMap<String, TossPayment>,
    /// (key, path, method) → the first answer [auth].
    idempotent: HashMap<(String, String, String), (u16, Value)>,
    in_flight: HashSet<(String, String, String)>,
    script: VecDeque<Scripted>,
    calls: Vec<Call>,
}

pub struct TossServer {
    pub url: String,
    state: Arc<Mutex<TossState>>,
}

impl TossServer {
    pub async fn start() -> TossServer {
        let state = Arc::new(Mutex::new(TossState::default()));
        let app = Router::new()
            .route("/v1/payments/confirm", post(confirm))
            .route("/v1/payments/{payment_key}/cancel", post(cancel))
            .route("/v1/payments/orders/{order_id}", get(by_order))
            // Not Toss's API: what the widget does in the guest's browser (the guest authorizes
            // a payment in Toss's form), for a browser story to stand in for it.
            .route("/_widget/authorize", post(widget_authorize))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        TossServer { url, state }
    }

    /// A payment the guest authorized in the widget for `order_id` and `amount`: its paymentKey,
    /// as the widget's successUrl carries it.
    pub fn authorize(&self, order_id: &str, amount: i64) -> String {
        self.authorize_with(order_id, amount, None)
    }

    /// One the card issuer will decline at confirm, with Toss's code and words for it.
    pub fn authorize_declined(&self, order_id: &str, amount: i64, code: &str, message: &str) -> String {
        self.authorize_with(order_id, amount, Some((code.to_owned(), message.to_owned())))
    }

    fn authorize_with(&self, order_id: &str, amount: i64, decline: Option<(String, String)>) -> String {
        authorize(&self.state, order_id, amount, decline)
    }

    /// One paid by virtual account: confirmed, it waits for the guest's deposit.
    pub fn authorize_virtual_account(&self, order_id: &str, amount: i64) -> String {
        let key = self.authorize(order_id, amount);
        self.state.lock().unwrap().payments.get_mut(&key).expect("just authorized").virtual_account = true;
        key
    }

    /// The authorization of `order_id` ran out unconfirmed ([status]: `EXPIRED` once its time
    /// passes in `IN_PROGRESS`).
    pub fn expire(&self, order_id: &str) {
        let mut state = self.state.lock().unwrap();
        if let Some(p) = state.payments.values_mut().find(|p| p.order_id == order_id && p.status == "READY") {
            p.status = "EXPIRED".into();
        }
    }

    /// The next POSTs do these instead, in order.
    pub fn script(&self, answers: &[Scripted]) {
        self.state.lock().unwrap().script.extend(answers.iter().copied());
    }

    pub fn payment_of_order(&self, order_id: &str) -> Option<TossPayment> {
        self.state.lock().unwrap().payments.values().find(|p| p.order_id == order_id).cloned()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Every payment the server holds money for (charged and not refunded).
    pub fn charged(&self) -> Vec<TossPayment> {
        self.state.lock().unwrap().payments.values().filter(|p| p.status == "DONE").cloned().collect()
    }
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "message": message}))
}

/// [auth]: the secret key as user, an empty password, base64.
fn authorized(headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_KEY}:"));
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"))
}

/// Runs one POST under [auth]'s rules: the key, then idempotency, then the script, then `work`.
async fn post_call(state: Arc<Mutex<TossState>>, method: Method, uri: Uri, headers: HeaderMap, work: impl FnOnce(&mut TossState) -> (u16, Value)) -> Response {
    let path = uri.path().to_owned();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let ok = authorized(&headers);
    let record = |state: &Arc<Mutex<TossState>>, status: u16, replayed: bool| {
        state.lock().unwrap().calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            idempotency_key: key.clone(),
            authorized: ok,
            replayed,
            status,
        });
    };
    if !ok {
        record(&state, 401, false);
        return answer(error(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."));
    }
    let slot = key.as_ref().map(|k| (k.clone(), path.clone(), method.to_string()));
    if let Some(k) = &key {
        if k.len() > 300 {
            record(&state, 400, false);
            return answer(error(400, "INVALID_IDEMPOTENCY_KEY", "멱등키는 300자 이하여야 합니다."));
        }
    }
    let scripted = {
        let mut s = state.lock().unwrap();
        if let Some(slot) = &slot {
            if let Some(first) = s.idempotent.get(slot).cloned() {
                drop(s);
                record(&state, first.0, true);
                return answer(first);
            }
            if !s.in_flight.insert(slot.clone()) {
                drop(s);
                record(&state, 409, false);
                return answer(error(409, "IDEMPOTENT_REQUEST_PROCESSING", "이전 멱등 요청이 처리중입니다."));
            }
        }
        s.script.pop_front()
    };
    let (result, hang) = match scripted {
        Some(Scripted::Fail(status, code)) => (error(status, code, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."), Duration::ZERO),
        Some(Scripted::TakeThenHang(d)) => (work(&mut state.lock().unwrap()), d),
        None => (work(&mut state.lock().unwrap()), Duration::ZERO),
    };
    {
        let mut s = state.lock().unwrap();
        if let Some(slot) = &slot {
            s.in_flight.remove(slot);
            // A passing failure is not kept: the same key may try again (as after a 5xx).
            if !matches!(scripted, Some(Scripted::Fail(..))) {
                s.idempotent.insert(slot.clone(), result.clone());
            }
        }
    }
    record(&state, result.0, false);
    if !hang.is_zero() {
        tokio::time::sleep(hang).await;
    }
    answer(result)
}

fn answer((status, body): (u16, Value)) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
}

/// [confirm].
async fn confirm(State(state): State<Arc<Mutex<TossState>>>, method: Method, uri: Uri, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    post_call(state, method, uri, headers, move |s| {
        let (Some(key), Some(order), Some(amount)) = (body["paymentKey"].as_str(), body["orderId"].as_str(), body["amount"].as_i64()) else {
            return error(400, "INVALID_REQUEST", "잘못된 요청입니다.");
        };
        let Some(payment) = s.payments.get_mut(key).filter(|p| p.order_id == order) else {
            return error(404, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.");
        };
        if payment.status != "READY" {
            return error(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.");
        }
        if payment.amount != amount {
            return error(400, "INVALID_REQUEST", "잘못된 요청입니다.");
        }
        if let Some((code, message)) = payment.decline.clone() {
            payment.status = "ABORTED".into();
            return error(403, &code, &message);
        }
        payment.status = if payment.virtual_account { "WAITING_FOR_DEPOSIT" } else { "DONE" }.into();
        (200, payment.json())
    })
    .await
}

/// [cancel].
async fn cancel(
    State(state): State<Arc<Mutex<TossState>>>,
    Path(payment_key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    post_call(state, method, uri, headers, move |s| {
        let Some(reason) = body["cancelReason"].as_str().filter(|r| !r.is_empty()) else {
            return error(400, "INVALID_REQUEST", "잘못된 요청입니다.");
        };
        let Some(payment) = s.payments.get_mut(&payment_key) else {
            return error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
        };
        match payment.status.as_str() {
            "CANCELED" => return error(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다."),
            // A virtual account before its deposit is cancelled whole [cancel].
            "DONE" | "WAITING_FOR_DEPOSIT" => {}
            _ => return error(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다."),
        }
        let amount = body["cancelAmount"].as_i64().unwrap_or(payment.amount);
        if amount != payment.amount {
            // bnb refunds whole payments; a part is more than this server keeps.
            return error(403, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.");
        }
        payment.status = "CANCELED".into();
        payment.cancels.push(json!({"cancelAmount": amount, "cancelReason": reason, "canceledAt": "2026-12-01T10:05:00+09:00", "transactionKey": uuid::Uuid::now_v7().simple().to_string(), "cancelStatus": "DONE"}));
        (200, payment.json())
    })
    .await
}

/// [lookup]: GET needs the key too, and ignores an idempotency key.
async fn by_order(State(state): State<Arc<Mutex<TossState>>>, Path(order_id): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    let ok = authorized(&headers);
    let result = if !ok {
        error(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.")
    } else {
        match state.lock().unwrap().payments.values().find(|p| p.order_id == order_id) {
            Some(p) => (200, p.json()),
            None => error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다."),
        }
    };
    state.lock().unwrap().calls.push(Call {
        method: "GET".into(),
        path: uri.path().to_owned(),
        idempotency_key: None,
        authorized: ok,
        replayed: false,
        status: result.0,
    });
    answer(result)
}

/// The widget's part: `{orderId, amount}` authorized → `{paymentKey}`.
async fn widget_authorize(State(state): State<Arc<Mutex<TossState>>>, Json(body): Json<Value>) -> Response {
    let (Some(order_id), Some(amount)) = (body["orderId"].as_str(), body["amount"].as_i64()) else {
        return answer(error(400, "INVALID_REQUEST", "잘못된 요청입니다."));
    };
    let payment_key = authorize(&state, order_id, amount, None);
    answer((200, json!({"paymentKey": payment_key})))
}

/// A payment the guest authorized in the widget, `READY` for bnb's confirm: its paymentKey.
fn authorize(state: &Mutex<TossState>, order_id: &str, amount: i64, decline: Option<(String, String)>) -> String {
    let payment_key = format!("tgen_{}", uuid::Uuid::now_v7().simple());
    let payment = TossPayment {
        payment_key: payment_key.clone(),
        order_id: order_id.to_owned(),
        amount,
        status: "READY".into(),
        decline,
        cancels: Vec::new(),
        virtual_account: false,
    };
    state.lock().unwrap().payments.insert(payment_key.clone(), payment);
    payment_key
}
