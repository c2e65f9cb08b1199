//! Booking and paying, on the embedded adapters and on moto: no double booking under
//! concurrency, declines, timeouts with late approvals refunded, the shared circuit breaker,
//! idempotency keys, cancellation with refund, a deleted room's stays cancelled, and a
//! randomized run after which invariants 1 and 2 of design.md §7 are checked over the store
//! (and the sandbox provider's ledger). Then the same saga with Toss Payments, against a server
//! that keeps its documented contract (`mod toss`).

#[macro_use]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bnb_contexts::clock::ManualClock;
use bnb_contexts::consumer::{apply_once, Consumer};
use bnb_contexts::events::{Envelope, EventType};
use bnb_contexts::outbox::envelope_of;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentHandler, PaymentService, Permit};
use bnb_contexts::reservations::{ReservationHandler, ReservationSettings, ReservationStore};
use bnb_contexts::storage::{Item, Key, StreamPosition, Table, TableSpec};
use bnb_contexts::tables::{RESERVATIONS, ROOMS};
use bnb_lambda::function::HttpFunction;
use serde_json::{json, Value};
use support::linked::TestResources;
use support::{answer, api_request, claims, On};

/// Three tables, the functions over them, and the consumers that settle the saga.
struct World {
    rooms: Arc<dyn Table>,
    reservations: Arc<dyn Table>,
    payments: Arc<dyn Table>,
    /// place-reservation, as its declaration builds it.
    deps: HttpFunction,
    /// How many times process-payment was invoked, and how many of those calls have ended.
    calls: Arc<Calls>,
    payment_service: PaymentService,
    positions: tokio::sync::Mutex<BTreeMap<String, StreamPosition>>,
    clock: Arc<ManualClock>,
    _dirs: Vec<tempfile::TempDir>,
}

async fn table(on: On, spec: TableSpec, dirs: &mut Vec<tempfile::TempDir>) -> Arc<dyn Table> {
    match on {
        On::Embedded => {
            let (t, d) = support::embedded_table(spec);
            dirs.push(d);
            t
        }
        On::Moto => support::moto_table(spec).await,
    }
}

fn breaker_config() -> BreakerConfig {
    BreakerConfig {
        failure_threshold: 1000,
        window: Duration::from_secs(60),
        cool_down: Duration::from_secs(1),
        probe_timeout: Duration::from_secs(5),
        cache_ttl: Duration::ZERO,
    }
}

async fn world(on: On, faults: FaultConfig, settings: ReservationSettings, breaker: BreakerConfig) -> World {
    world_with(on, settings, breaker, move |payments, clock| PaymentService::new(payments, faults).with_clock(clock)).await
}

/// The same, with the payments served as `payment_service` builds them (a real provider).
async fn world_with(
    on: On,
    settings: ReservationSettings,
    breaker: BreakerConfig,
    payment_service: impl FnOnce(Arc<dyn Table>, bnb_contexts::clock::SharedClock) -> PaymentService,
) -> World {
    let mut dirs = Vec::new();
    let rooms = table(on, bnb_contexts::tables::rooms(), &mut dirs).await;
    let reservations = table(on, bnb_contexts::tables::reservations(), &mut dirs).await;
    let payments = table(on, bnb_contexts::tables::payments(), &mut dirs).await;
    let calls = Arc::new(Calls::default());
    // Time moves only when a test moves it (the breaker's cool-down, reconciliation's wait).
    let clock = ManualClock::starting_now();
    let payment_service = payment_service(payments.clone(), clock.clone());
    let deps = deps_for(&rooms, &reservations, &payment_service, &calls, settings, breaker, &clock);
    World { rooms, reservations, payments, deps, calls, payment_service, positions: Default::default(), clock, _dirs: dirs }
}

struct Calls {
    started: AtomicUsize,
    ended: AtomicUsize,
    /// When set, a `tok_slow` payment waits for the test to let it land (one permit each), so a
    /// test orders "the late approval" and "the refund" itself instead of racing a timer.
    gated: AtomicBool,
    gate: tokio::sync::Semaphore,
}

impl Default for Calls {
    fn default() -> Self {
        Calls { started: AtomicUsize::new(0), ended: AtomicUsize::new(0), gated: AtomicBool::new(false), gate: tokio::sync::Semaphore::new(0) }
    }
}

impl Calls {
    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until every payment call has ended, late ones included: a call that
    /// outlived its timeout runs on, as a Lambda does.
    async fn all_ended(&self) {
        support::eventually(30, "every payment call has ended", || async { self.ended.load(Ordering::SeqCst) == self.started() }).await;
    }
}

/// One instance of place-reservation, built by its declaration from the settings the template
/// would give it: its own invoker (counting its calls) and its own breaker client.
fn deps_for(
    rooms: &Arc<dyn Table>,
    reservations: &Arc<dyn Table>,
    payments: &PaymentService,
    calls: &Arc<Calls>,
    settings: ReservationSettings,
    breaker: BreakerConfig,
    clock: &Arc<ManualClock>,
) -> HttpFunction {
    let (service, counter) = (payments.clone(), calls.clone());
    let invoker = InProcessInvoker::new(Arc::new(move |payload| {
        let (service, counter) = (service.clone(), counter.clone());
        Box::pin(async move {
            counter.started.fetch_add(1, Ordering::SeqCst);
            if counter.gated.load(Ordering::SeqCst) && payload["cardToken"] == "tok_slow" {
                if let Ok(permit) = counter.gate.acquire().await {
                    permit.forget();
                }
            }
            let answer = process_payment::handle(&service, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string()));
            counter.ended.fetch_add(1, Ordering::SeqCst);
            answer
        })
    }));
    // The template's variables have whole seconds where the types have durations.
    let seconds = |d: Duration| d.as_secs_f64().ceil() as u64;
    TestResources::new(clock.clone())
        .table(ROOMS, rooms.clone())
        .table(RESERVATIONS, reservations.clone())
        .payments(Arc::new(invoker))
        .var("PAYMENT_TIMEOUT_MS", settings.payment_timeout.as_millis())
        .var("HOLD_SECONDS", seconds(settings.hold))
        .var("IDEMPOTENCY_LEASE_MS", settings.lease.as_millis())
        .var("BREAKER_FAILURE_THRESHOLD", breaker.failure_threshold)
        .var("BREAKER_WINDOW_SECONDS", seconds(breaker.window))
        .var("BREAKER_COOL_DOWN_SECONDS", seconds(breaker.cool_down))
        .var("BREAKER_CACHE_MS", breaker.cache_ttl.as_millis())
        .var("PAYMENT_PROVIDER", settings.provider.as_str())
        .http(&place_reservation::FUNCTION)
}

fn settings(timeout_ms: u64) -> ReservationSettings {
    ReservationSettings {
        payment_timeout: Duration::from_millis(timeout_ms),
        hold: Duration::from_secs(120),
        lease: Duration::from_secs(15),
        ..ReservationSettings::default()
    }
}

impl World {
    async fn room(&self, capacity: i64, price: i64) -> String {
        let body =
            json!({"title": "Hanok", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": capacity, "nightlyPrice": {"amount": price, "currency": "KRW"}});
        let request = api_request("POST", "/rooms", "/rooms", Some(&body.to_string()), Some(claims("hana", "host")), &[]);
        let register = TestResources::new(self.clock.clone()).table(ROOMS, self.rooms.clone()).http(&register_room::FUNCTION);
        let (status, _, room) = answer(register(request).await);
        assert_eq!(status, 201);
        room["roomId"].as_str().unwrap().to_owned()
    }

    // A booking's fields, one argument each, as the API takes them.
    #[allow(clippy::too_many_arguments)]
    async fn book_with(
        &self,
        deps: &HttpFunction,
        guest: &str,
        room: &str,
        check_in: &str,
        check_out: &str,
        token: &str,
        key: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let body = json!({"roomId": room, "checkIn": check_in, "checkOut": check_out, "guests": 1, "cardToken": token}).to_string();
        let headers: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
        let request = api_request("POST", "/reservations", "/reservations", Some(&body), Some(claims(guest, "guest")), &headers);
        let response = deps(request).await;
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let (status, _, body) = answer(response);
        (status, body, retry_after)
    }

    /// A booking paid with what Toss Payments' widget authorized.
    async fn book_paid(&self, guest: &str, room: &str, check_in: &str, check_out: &str, payment: Value, key: Option<&str>) -> (u16, Value, Option<String>) {
        let body = json!({"roomId": room, "checkIn": check_in, "checkOut": check_out, "guests": 1, "payment": payment}).to_string();
        let headers: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
        let request = api_request("POST", "/reservations", "/reservations", Some(&body), Some(claims(guest, "guest")), &headers);
        let response = self.deps.as_ref()(request).await;
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let (status, _, body) = answer(response);
        (status, body, retry_after)
    }

    async fn book(&self, guest: &str, room: &str, check_in: &str, check_out: &str, token: &str) -> (u16, Value, Option<String>) {
        self.book_with(&self.deps, guest, room, check_in, check_out, token, None).await
    }

    async fn cancel(&self, guest: &str, id: &str) -> (u16, Value) {
        let path = format!("/reservations/{id}/cancel");
        let request = api_request("POST", "/reservations/{reservationId}/cancel", &path, None, Some(claims(guest, "guest")), &[]);
        let cancel = TestResources::new(bnb_contexts::clock::system()).table(RESERVATIONS, self.reservations.clone()).http(&cancel_reservation::FUNCTION);
        let (status, _, body) = answer(cancel(request).await);
        (status, body)
    }

    /// Runs the consumers on every event published since the last call, until nothing new
    /// comes: the saga settles (refunds, cancellations of a deleted room's stays).
    async fn settle(&self) -> Vec<Envelope> {
        let payment_handler = PaymentHandler::new(self.payment_service.clone());
        let reservation_handler = ReservationHandler::new(ReservationStore::new(self.reservations.clone(), bnb_contexts::clock::system()));
        let mut seen = Vec::new();
        for _ in 0..20 {
            let mut fresh = Vec::new();
            for (name, table) in [("rooms", &self.rooms), ("reservations", &self.reservations), ("payments", &self.payments)] {
                let mut positions = self.positions.lock().await;
                let position = positions.entry(name.to_owned()).or_insert_with(StreamPosition::start);
                loop {
                    let batch = table.read_stream(position, 500).await.unwrap();
                    if batch.records.is_empty() {
                        break;
                    }
                    *position = batch.next;
                    for r in batch.records {
                        if r.kind == bnb_contexts::storage::ChangeKind::Insert {
                            if let Some(Ok(envelope)) = r.new_image.as_ref().and_then(envelope_of) {
                                fresh.push(envelope);
                            }
                        }
                    }
                }
            }
            if fresh.is_empty() {
                return seen;
            }
            for event in &fresh {
                for consumer in [&payment_handler as &dyn Consumer, &reservation_handler] {
                    apply_once(consumer, event).await.unwrap();
                }
            }
            seen.extend(fresh);
        }
        panic!("the saga did not settle");
    }

    /// Lets reconciliation's wait pass and runs it, then lets the saga settle what it wrote:
    /// every payment a timeout left uncertain is refunded or recorded as never charged.
    async fn reconcile(&self) -> bnb_contexts::payments::Reconciled {
        self.clock.advance(bnb_contexts::payments::RECONCILE_AFTER + Duration::from_secs(1));
        let done = self.payment_service.reconcile(1000, &bnb_contexts::events::Causation::request("reconcile")).await.unwrap();
        self.settle().await;
        done
    }

    async fn payment(&self, reservation: &str) -> Option<Item> {
        self.payments.get(&Key::new(format!("PAYMENT#{reservation}"), "PAYMENT")).await.unwrap()
    }

    async fn reservation(&self, id: &str) -> Item {
        self.reservations.get(&Key::new(format!("RESERVATION#{id}"), "RESERVATION")).await.unwrap().expect("reservation item")
    }

    async fn lock(&self, room: &str, night: &str) -> Option<Item> {
        self.reservations.get(&Key::new(format!("NIGHT#{room}#{night}"), "LOCK")).await.unwrap()
    }
}

/// A date `days` from today, as YYYY-MM-DD.
fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

/// Every item as it stands now, folded from the table's change stream.
async fn current_items(table: &dyn Table) -> HashMap<Key, Item> {
    let mut items = HashMap::new();
    for change in support::all_changes(table).await {
        match change.new_image {
            Some(image) => items.insert(change.keys, image),
            None => items.remove(&change.keys),
        };
    }
    items
}

// ---------------------------------------------------------------- the cases

async fn fifty_concurrent_bookings_of_overlapping_nights_have_one_winner(on: On) {
    let w = Arc::new(world(on, FaultConfig::default(), settings(5000), breaker_config()).await);
    let room = w.room(4, 100_000).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (w, room) = (w.clone(), room.clone());
        // Every range covers night +12.
        let start = 10 + (i % 3) as i64;
        tasks.push(tokio::spawn(async move { w.book(&format!("guest-{i}"), &room, &day(start), &day(start + 3), "tok_visa").await }));
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut winner = None;
    let mut losers = Vec::new();
    for t in tasks {
        let (status, body, _) = t.await.unwrap();
        *statuses.entry(status).or_default() += 1;
        if status == 201 {
            winner = Some(body);
        } else {
            assert_eq!(body["type"], "https://bnb.dev/problems/nights-taken", "{body}");
            losers.push(body);
        }
    }
    assert_eq!(statuses, BTreeMap::from([(201, 1), (409, 49)]));
    assert_eq!(w.calls.started(), 1, "only the winner paid");
    let winner = winner.unwrap();
    let (check_in, check_out) = (winner["reservation"]["checkIn"].as_str().unwrap(), winner["reservation"]["checkOut"].as_str().unwrap());
    let id = winner["reservation"]["reservationId"].as_str().unwrap();
    // Each refusal names the nights, as data a client can show: nights the winner holds.
    for body in &losers {
        let nights = body["nights"].as_array().unwrap_or_else(|| panic!("no nights in {body}"));
        assert!(!nights.is_empty() && nights.iter().all(|n| n.as_str().unwrap() >= check_in && n.as_str().unwrap() < check_out), "{body}");
    }
    for d in 9..16 {
        let lock = w.lock(&room, &day(d)).await;
        let inside = day(d).as_str() >= check_in && day(d).as_str() < check_out;
        assert_eq!(lock.map(|l| l["reservationId"] == id), inside.then_some(true), "night {}", day(d));
    }
}

async fn a_declined_card_books_nothing(on: On) {
    let w = world(on, FaultConfig::default(), settings(5000), breaker_config()).await;
    let room = w.room(2, 100_000).await;
    let (status, problem, _) = w.book("minho", &room, &day(5), &day(7), "tok_declined").await;
    assert_eq!(status, 402, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("card_declined"));
    assert!(w.lock(&room, &day(5)).await.is_none() && w.lock(&room, &day(6)).await.is_none(), "no night stays locked");
    let reservations = current_items(w.reservations.as_ref()).await;
    assert!(reservations.values().all(|i| i.get("status").and_then(Value::as_str) != Some("CONFIRMED")), "no reservation");
    let events = w.settle().await;
    let types: Vec<EventType> = events.iter().map(|e| e.event_type()).filter(|t| *t != EventType::RoomRegistered).collect();
    assert_eq!(types, [EventType::PaymentDeclined], "no event but the decline");
    // The nights can be booked at once.
    assert_eq!(w.book("minho", &room, &day(5), &day(7), "tok_visa").await.0, 201);
}

async fn a_payment_slower_than_the_timeout_is_refunded_whichever_lands_first(on: On) {
    // The slow approval lands when the test says: after the refund in one case, before it in the other.
    let w = world(on, FaultConfig::default(), settings(200), breaker_config()).await;
    w.calls.gated.store(true, Ordering::SeqCst);
    let room = w.room(2, 100_000).await;
    for (case, refund_first) in [("refund before the late approval", true), ("late approval before the refund", false)] {
        let offset = if refund_first { 20 } else { 30 };
        let (status, problem, retry_after) = w.book("minho", &room, &day(offset), &day(offset + 1), "tok_slow").await;
        assert_eq!(status, 503, "{case}: {problem}");
        assert!(retry_after.is_some_and(|s| s.parse::<u32>().is_ok()), "{case}: Retry-After");
        assert_eq!(problem["title"], "Payment is busy, try again shortly");
        assert!(w.lock(&room, &day(offset)).await.is_none(), "{case}: the night is free again");
        let aborted = current_items(w.reservations.as_ref())
            .await
            .into_values()
            .find(|i| i.get("kind") == Some(&json!("reservation")) && i["checkIn"] == day(offset))
            .unwrap();
        assert_eq!(aborted["status"], "REJECTED", "{case}: no reservation");
        let id = aborted["reservationId"].as_str().unwrap().to_owned();
        if refund_first {
            w.settle().await;
            w.calls.gate.add_permits(1);
            w.calls.all_ended().await;
        } else {
            w.calls.gate.add_permits(1);
            w.calls.all_ended().await;
            assert_eq!(w.payment(&id).await.unwrap()["status"], "APPROVED", "{case}: the slow approval went through");
        }
        w.settle().await;
        let payment = w.payment(&id).await.expect("a payment record");
        // Charged late: refunded. Not yet charged: voided, so the late approval charges nothing
        // and no one is told of a refund that never was.
        let expected = if refund_first { "VOIDED" } else { "REFUNDED" };
        assert_eq!(payment["status"], expected, "{case}: {payment:?}");
    }
}

async fn the_breaker_opens_fails_fast_probes_once_and_closes(on: On) {
    let breaker = BreakerConfig { failure_threshold: 3, ..breaker_config() };
    let w = world(on, FaultConfig::default(), settings(2000), breaker).await;
    let room = w.room(2, 100_000).await;
    for i in 0..3 {
        let (status, _, _) = w.book("minho", &room, &day(40 + i), &day(41 + i), "tok_error").await;
        assert_eq!(status, 503);
    }
    assert_eq!(w.calls.started(), 3);
    // Open: no call is made, nothing is held, for this instance and another one.
    let other = deps_for(&w.rooms, &w.reservations, &w.payment_service, &w.calls, settings(2000), breaker, &w.clock);
    for deps in [&w.deps, &other] {
        let (status, problem, retry_after) = w.book_with(deps, "minho", &room, &day(50), &day(51), "tok_visa", None).await;
        assert_eq!(status, 503, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("breaker-open"));
        assert!(retry_after.is_some());
    }
    assert_eq!(w.calls.started(), 3, "fail fast: payment was not invoked");
    assert!(w.lock(&room, &day(50)).await.is_none());
    // After the cool-down exactly one caller becomes the probe.
    w.clock.advance(Duration::from_millis(1100));
    let a = CircuitBreaker::new(w.reservations.clone(), "payment", breaker, w.clock.clone());
    let b = CircuitBreaker::new(w.reservations.clone(), "payment", breaker, w.clock.clone());
    assert_eq!(a.acquire().await, Ok(Permit::Probe));
    assert!(b.acquire().await.is_err(), "a second instance does not probe at the same time");
    a.failed(Permit::Probe).await;
    assert!(b.acquire().await.is_err(), "a failed probe opens the breaker again");
    w.clock.advance(Duration::from_millis(1100));
    // The probe is a real booking; its success closes the breaker for everyone.
    assert_eq!(w.book_with(&other, "minho", &room, &day(50), &day(51), "tok_visa", None).await.0, 201);
    assert_eq!(w.book("minho", &room, &day(52), &day(53), "tok_visa").await.0, 201);
    assert_eq!(b.acquire().await, Ok(Permit::Closed));
}

async fn an_idempotency_key_replays_refuses_and_waits(on: On) {
    let faults = FaultConfig { latency: Duration::from_millis(300), ..FaultConfig::default() };
    let w = Arc::new(world(on, faults, settings(5000), breaker_config()).await);
    let room = w.room(2, 100_000).await;
    let (first_status, first, _) = w.book_with(&w.deps, "minho", &room, &day(60), &day(62), "tok_visa", Some("key-1")).await;
    assert_eq!(first_status, 201);
    let (again_status, again, _) = w.book_with(&w.deps, "minho", &room, &day(60), &day(62), "tok_visa", Some("key-1")).await;
    assert_eq!((again_status, &again), (201, &first), "the same answer");
    assert_eq!(w.calls.started(), 1, "paid once");
    let (status, problem, _) = w.book_with(&w.deps, "minho", &room, &day(63), &day(64), "tok_visa", Some("key-1")).await;
    assert_eq!((status, problem["errors"][0]["field"].clone()), (422, json!("Idempotency-Key")));
    // Another guest's key is theirs alone.
    assert_eq!(w.book_with(&w.deps, "jiwoo", &room, &day(65), &day(66), "tok_visa", Some("key-1")).await.0, 201);
    // Two at once with one key: one books, the other is told to wait.
    let (a, b) = {
        let (w1, w2, r1, r2) = (w.clone(), w.clone(), room.clone(), room.clone());
        tokio::join!(
            tokio::spawn(async move { w1.book_with(&w1.deps, "minho", &r1, &day(70), &day(71), "tok_visa", Some("key-2"),).await.0 }),
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                w2.book_with(&w2.deps, "minho", &r2, &day(70), &day(71), "tok_visa", Some("key-2")).await.0
            })
        )
    };
    assert_eq!((a.unwrap(), b.unwrap()), (201, 409));
    let (status, _, _) = w.book_with(&w.deps, "minho", &room, &day(70), &day(71), "tok_visa", Some("bad key with spaces")).await;
    assert_eq!(status, 400);
}

async fn a_cancellation_is_refunded_and_frees_the_nights(on: On) {
    let w = world(on, FaultConfig::default(), settings(5000), breaker_config()).await;
    let room = w.room(2, 100_000).await;
    let (_, booked, _) = w.book("minho", &room, &day(80), &day(82), "tok_visa").await;
    let id = booked["reservation"]["reservationId"].as_str().unwrap().to_owned();
    assert_eq!(w.book("jiwoo", &room, &day(81), &day(83), "tok_visa").await.0, 409);
    assert_eq!(w.cancel("jiwoo", &id).await.0, 404, "someone else's reservation is not found");
    let (status, cancelled) = w.cancel("minho", &id).await;
    assert_eq!((status, cancelled["status"].clone()), (200, json!("CANCELLED")));
    assert_eq!(w.cancel("minho", &id).await.0, 409, "already cancelled");
    w.settle().await;
    assert_eq!(w.payment(&id).await.unwrap()["status"], "REFUNDED");
    assert_eq!(w.book("jiwoo", &room, &day(81), &day(83), "tok_visa").await.0, 201, "the nights are bookable again");
    // A stay that has started cannot be cancelled.
    let (_, today, _) = w.book("minho", &room, &day(0), &day(1), "tok_visa").await;
    let (status, problem) = w.cancel("minho", today["reservation"]["reservationId"].as_str().unwrap()).await;
    assert_eq!(status, 409, "{problem}");
}

async fn a_deleted_rooms_future_stays_are_cancelled_and_refunded(on: On) {
    let w = world(on, FaultConfig::default(), settings(5000), breaker_config()).await;
    let room = w.room(2, 100_000).await;
    let mut ids = Vec::new();
    for (guest, from) in [("minho", 90), ("jiwoo", 95)] {
        let (status, booked, _) = w.book(guest, &room, &day(from), &day(from + 2), "tok_visa").await;
        assert_eq!(status, 201);
        ids.push(booked["reservation"]["reservationId"].as_str().unwrap().to_owned());
    }
    let path = format!("/rooms/{room}");
    let request = api_request("DELETE", "/rooms/{roomId}", &path, None, Some(claims("hana", "host")), &[]);
    let delete = TestResources::new(w.clock.clone()).table(ROOMS, w.rooms.clone()).http(&delete_room::FUNCTION);
    assert_eq!(answer(delete(request).await).0, 204);
    let events = w.settle().await;
    for id in &ids {
        let r = w.reservation(id).await;
        assert_eq!((r["status"].clone(), r["cancelledBy"].clone()), (json!("CANCELLED"), json!("room-deleted")));
        assert_eq!(w.payment(id).await.unwrap()["status"], "REFUNDED");
    }
    let cancelled = events.iter().filter(|e| e.event_type() == EventType::ReservationCancelled).count();
    assert_eq!(cancelled, 2);
    // A second RoomDeleted (a redelivery) cancels nothing more.
    let redelivered = events.iter().find(|e| e.event_type() == EventType::RoomDeleted).unwrap().clone();
    let fresh = Envelope { event_id: bnb_contexts::domain::EventId::generate(), ..redelivered };
    apply_once(&ReservationHandler::new(ReservationStore::new(w.reservations.clone(), bnb_contexts::clock::system())), &fresh).await.unwrap();
    assert!(w.settle().await.is_empty());
}

async fn a_randomized_run_keeps_invariants_one_and_two(on: On) {
    // moto copies whole tables on every transaction: fewer operations there, same mix.
    let operations = if on == On::Embedded { 300 } else { 120 };
    // Timings scale with the backend: a payment on moto makes several HTTP calls.
    let (timeout_ms, slow_ms) = if on == On::Embedded { (120, 250) } else { (1500, 2500) };
    let faults = FaultConfig { slow: Duration::from_millis(slow_ms), ..FaultConfig::default() };
    let breaker = BreakerConfig {
        failure_threshold: 8,
        window: Duration::from_secs(2),
        cool_down: Duration::from_millis(200),
        cache_ttl: Duration::from_millis(50),
        ..breaker_config()
    };
    let w = Arc::new(world(on, faults, settings(timeout_ms), breaker).await);
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(w.room(4, 50_000).await);
    }
    let rooms = Arc::new(rooms);
    let confirmed: Arc<tokio::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    for i in 0..operations {
        if std::time::Instant::now() > deadline {
            break;
        }
        let (w, rooms, confirmed, permit) = (w.clone(), rooms.clone(), confirmed.clone(), semaphore.clone().acquire_owned().await.unwrap());
        // A fixed, varied sequence: deterministic per i, so a failure replays.
        let r = (i * 7919) % 1000;
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let guest = format!("guest-{}", r % 17);
            if r % 7 == 0 {
                let target = confirmed.lock().await.pop();
                if let Some((owner, id)) = target {
                    let (status, body) = w.cancel(&owner, &id).await;
                    assert!(matches!(status, 200 | 409), "cancel: {status} {body}");
                }
                return;
            }
            let token = match r % 10 {
                1 => "tok_declined",
                3 => "tok_slow",
                7 => "tok_error",
                _ => "tok_visa",
            };
            let room = &rooms[r % 3];
            let start = 1 + (r % 25) as i64;
            let (status, body, _) = w.book(&guest, room, &day(start), &day(start + 1 + (r % 3) as i64), token).await;
            assert!(matches!(status, 201 | 402 | 409 | 503), "book: {status} {body}");
            if status == 201 {
                confirmed.lock().await.push((guest, body["reservation"]["reservationId"].as_str().unwrap().to_owned()));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Let late approvals land, let the saga settle, then reconcile what timeouts left uncertain.
    w.calls.all_ended().await;
    w.settle().await;
    let reconciled = w.reconcile().await;
    assert_eq!(reconciled.left, 0, "{reconciled:?}");

    let reservations = current_items(w.reservations.as_ref()).await;
    let payments = current_items(w.payments.as_ref()).await;
    let kind = |i: &Item, k: &str| i.get("kind").and_then(Value::as_str) == Some(k);
    let all: Vec<&Item> = reservations.values().filter(|i| kind(i, "reservation")).collect();
    let booked = all.iter().filter(|r| r["status"] == "CONFIRMED" || r["status"] == "CANCELLED").count();
    assert!(booked >= 5, "the run booked something: {booked}");
    assert!(all.iter().any(|r| r["status"] == "CANCELLED") && all.iter().any(|r| r["status"] == "REJECTED"), "and cancelled and rejected some");
    // Invariant 1: no two non-cancelled reservations of one room share a night.
    let mut taken: HashSet<(String, String)> = HashSet::new();
    for r in all.iter().filter(|r| r["status"] == "CONFIRMED") {
        let stay = bnb_contexts::domain::Stay::parse(r["checkIn"].as_str().unwrap(), r["checkOut"].as_str().unwrap()).unwrap();
        for night in stay.each_night() {
            let night = bnb_contexts::domain::stay::format_date(night);
            assert!(taken.insert((r["roomId"].as_str().unwrap().to_owned(), night.clone())), "night {night} booked twice");
            let lock = reservations.get(&Key::new(format!("NIGHT#{}#{night}", r["roomId"].as_str().unwrap()), "LOCK")).expect("a confirmed night is locked");
            assert_eq!(lock["reservationId"], r["reservationId"]);
        }
    }
    let locks = reservations.values().filter(|i| kind(i, "night-lock")).count();
    assert_eq!(locks, taken.len(), "no lock is left behind by a rejected, aborted or cancelled booking");
    // Invariant 2: each confirmed reservation has exactly one approved payment of its amount;
    // no other reservation keeps money.
    let by_reservation: HashMap<String, &Item> =
        payments.values().filter(|p| kind(p, "payment")).map(|p| (p["reservationId"].as_str().unwrap().to_owned(), p)).collect();
    for r in &all {
        let id = r["reservationId"].as_str().unwrap();
        let payment = by_reservation.get(id);
        if r["status"] == "CONFIRMED" {
            let p = payment.expect("a confirmed reservation has a payment");
            assert_eq!((p["status"].clone(), p["amount"].clone()), (json!("APPROVED"), r["amount"].clone()), "reservation {id}");
        } else if let Some(p) = payment {
            assert!(
                matches!(p["status"].as_str(), Some("REFUNDED") | Some("DECLINED") | Some("VOIDED")),
                "reservation {id} ({}) kept a payment: {p:?}",
                r["status"]
            );
        }
    }
    for p in by_reservation.values() {
        assert!(all.iter().any(|r| r["reservationId"] == p["reservationId"]), "a payment without a reservation");
    }
    // And at the provider (the sandbox's ledger): money is held only for confirmed stays.
    for charge in payments.values().filter(|p| kind(p, "sandbox-charge")) {
        let reservation = all.iter().find(|r| r["reservationId"] == charge["orderId"]).expect("a charge for a reservation");
        if charge["status"] == "DONE" {
            assert_eq!(reservation["status"], "CONFIRMED", "the provider holds money for {charge:?}");
        }
    }
}

on_both_backends!(
    fifty_concurrent_bookings_of_overlapping_nights_have_one_winner,
    a_declined_card_books_nothing,
    a_payment_slower_than_the_timeout_is_refunded_whichever_lands_first,
    the_breaker_opens_fails_fast_probes_once_and_closes,
    an_idempotency_key_replays_refuses_and_waits,
    a_cancellation_is_refunded_and_frees_the_nights,
    a_deleted_rooms_future_stays_are_cancelled_and_refunded,
    a_randomized_run_keeps_invariants_one_and_two,
);

/// Booking and paying with Toss Payments, end to end through the functions, against a local
/// server that keeps Toss's documented contract (tests/support/toss.rs names each document):
/// a booking confirms the authorized payment once, a decline books nothing and says why in
/// Toss's words, a cancel refunds through Toss under its own key, a charge that lands after its
/// booking gave up is refunded at once, and a timeout is settled by reconciliation.
mod toss {
    use super::*;
    use bnb_contexts::payments::PaymentProvider;
    use bnb_contexts::payments::ProviderError;
    use bnb_contexts::payments::ProviderKind;
    use bnb_contexts::secrets::{FixedSecret, Secret};
    use support::toss::{Scripted, TossServer, SECRET_KEY};

    const PRICE: i64 = 80_000;

    fn toss_settings(timeout_ms: u64) -> ReservationSettings {
        ReservationSettings { provider: ProviderKind::Toss, ..settings(timeout_ms) }
    }

    /// The adapter, with the test key; `call_timeout` is how long it waits for Toss.
    fn adapter(server: &TossServer, call_timeout: Duration) -> bnb_toss_payments::TossPayments {
        let secret = Arc::new(FixedSecret(Secret::new(SECRET_KEY)));
        bnb_toss_payments::TossPayments::new(bnb_toss_payments::TossSettings { endpoint: server.url.clone(), secret_key: secret })
            .unwrap()
            .with_timeout(call_timeout)
    }

    async fn toss_world(server: &TossServer, timeout_ms: u64, call_timeout: Duration) -> World {
        let provider: Arc<dyn PaymentProvider> = Arc::new(adapter(server, call_timeout));
        world_with(On::Embedded, toss_settings(timeout_ms), breaker_config(), move |payments, clock| {
            PaymentService::with_provider(payments, provider).with_clock(clock)
        })
        .await
    }

    /// The reservation whose stay starts on `check_in`.
    async fn reservation_on(w: &World, check_in: &str) -> Item {
        let items = current_items(w.reservations.as_ref()).await;
        items.into_values().find(|i| i.get("kind") == Some(&json!("reservation")) && i.get("checkIn") == Some(&json!(check_in))).expect("a reservation")
    }

    /// A payment authorized for one guest's order pays for that guest's bookings only: another
    /// guest who holds its paymentKey and order id (leaked from the success address) is refused
    /// before anything is held or confirmed, and the guest it was made for books with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_authorization_pays_only_for_the_guest_whose_order_it_is() {
        let server = TossServer::start().await;
        let w = toss_world(&server, 5000, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;
        let minhos = order("minho", "own");
        let key = server.authorize(&minhos, PRICE);
        let (status, problem, _) = w.book_paid("jiwoo", &room, &day(3), &day(4), paid(&key, &minhos, PRICE), None).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("payment.orderId")), "{problem}");
        let own = bnb_contexts::payments::provider::order_prefix("jiwoo");
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains(&own), "tells the caller what their orders start with: {problem}");
        assert!(w.lock(&room, &day(3)).await.is_none(), "nothing held");
        assert!(confirms(&server).is_empty(), "nothing confirmed");
        // An order id of nobody's (the prefix alone, or none) is refused the same way.
        for bare in [own.clone(), format!("bnb-{}", uuid::Uuid::now_v7().simple())] {
            let bare_key = server.authorize(&bare, PRICE);
            let (status, problem, _) = w.book_paid("jiwoo", &room, &day(3), &day(4), paid(&bare_key, &bare, PRICE), None).await;
            assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("payment.orderId")), "{bare}: {problem}");
        }
        let (status, placed, _) = w.book_paid("minho", &room, &day(3), &day(4), paid(&key, &minhos, PRICE), None).await;
        assert_eq!(status, 201, "{placed}");
        assert_eq!(server.payment_of_order(&minhos).unwrap().status, "DONE");
        assert_eq!(confirms(&server).len(), 1);
    }

    /// The `ReservationCancelled` the reservation's cancel published.
    async fn cancelled_event(w: &World, id: &str) -> Envelope {
        support::all_changes(w.reservations.as_ref())
            .await
            .into_iter()
            .filter_map(|c| c.new_image.as_ref().and_then(envelope_of).and_then(Result::ok))
            .find(|e| e.event_type() == EventType::ReservationCancelled && e.aggregate_id == id)
            .expect("ReservationCancelled")
    }

    /// An order id of `guest`'s, as the web app makes one.
    fn order(guest: &str, tag: &str) -> String {
        // Toss takes at most 64 characters: the prefix, the tag and a v7 uuid's last 20 (its random bits).
        format!("{}-{tag}-{}", bnb_contexts::payments::provider::order_prefix(guest), &uuid::Uuid::now_v7().simple().to_string()[12..])
    }

    fn paid(payment_key: &str, order_id: &str, amount: i64) -> Value {
        json!({"provider": "toss", "paymentKey": payment_key, "orderId": order_id, "amount": amount})
    }

    fn confirms(server: &TossServer) -> Vec<support::toss::Call> {
        server.calls().into_iter().filter(|c| c.path == "/v1/payments/confirm").collect()
    }

    fn cancels(server: &TossServer) -> Vec<support::toss::Call> {
        server.calls().into_iter().filter(|c| c.path.ends_with("/cancel")).collect()
    }

    /// The events the payments table published for one reservation, by type.
    async fn payment_events(w: &World, reservation: &str) -> Vec<EventType> {
        let mut out = Vec::new();
        for change in support::all_changes(w.payments.as_ref()).await {
            if let Some(Ok(envelope)) = change.new_image.as_ref().and_then(envelope_of) {
                if envelope.aggregate_id == reservation && change.kind == bnb_contexts::storage::ChangeKind::Insert {
                    out.push(envelope.event_type());
                }
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_booking_confirms_the_authorized_payment_once_for_the_price_bnb_computes() {
        let server = TossServer::start().await;
        let w = toss_world(&server, 5000, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;

        // The client's amount is not the price (2 nights): refused before anything is held or confirmed.
        let order_id = order("minho", "under");
        let key = server.authorize(&order_id, PRICE);
        let (status, problem, _) = w.book_paid("minho", &room, &day(3), &day(5), paid(&key, &order_id, PRICE), None).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "payment.amount", "{problem}");
        assert!(w.lock(&room, &day(3)).await.is_none(), "nothing held");
        assert!(confirms(&server).is_empty(), "nothing confirmed");
        // A card token does not pay where Toss is the provider.
        let (status, problem, _) = w.book("minho", &room, &day(3), &day(5), "tok_visa").await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("payment")), "{problem}");

        let order_id = order("minho", "stay");
        let key = server.authorize(&order_id, 2 * PRICE);
        let (status, placed, _) = w.book_paid("minho", &room, &day(3), &day(5), paid(&key, &order_id, 2 * PRICE), Some("book-1")).await;
        assert_eq!(status, 201, "{placed}");
        let id = placed["reservation"]["reservationId"].as_str().unwrap().to_owned();
        assert_eq!(placed["payment"]["status"], "APPROVED");
        assert_eq!((placed["payment"]["provider"].as_str(), placed["payment"]["paymentKey"].as_str()), (Some("toss"), Some(key.as_str())));
        assert_eq!(server.payment_of_order(&order_id).unwrap().status, "DONE", "charged at Toss");
        let confirm = &confirms(&server)[0];
        assert!(confirm.authorized, "Basic auth with the secret key");
        assert_eq!(confirm.idempotency_key.as_deref(), Some(id.as_str()), "Idempotency-Key = the reservation id");

        // The guest's retry: the same answer, and Toss is not asked again.
        let (again, replayed, _) = w.book_paid("minho", &room, &day(3), &day(5), paid(&key, &order_id, 2 * PRICE), Some("book-1")).await;
        assert_eq!((again, &replayed), (201, &placed));
        assert_eq!(confirms(&server).len(), 1, "confirmed once");
        // The nights are taken: another guest's authorized payment is never confirmed.
        let other = order("jiwoo", "taken");
        let other_key = server.authorize(&other, 2 * PRICE);
        let (status, _, _) = w.book_paid("jiwoo", &room, &day(3), &day(5), paid(&other_key, &other, 2 * PRICE), None).await;
        assert_eq!(status, 409);
        assert_eq!(server.payment_of_order(&other).unwrap().status, "READY", "taken nights: no confirm, no charge");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_decline_books_nothing_and_says_why_in_tosss_words() {
        let server = TossServer::start().await;
        let w = toss_world(&server, 5000, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;
        let order_id = order("minho", "declined");
        let words = "한도초과 혹은 잔액부족으로 결제에 실패했습니다.";
        let key = server.authorize_declined(&order_id, PRICE, "REJECT_CARD_PAYMENT", words);
        let (status, problem, _) = w.book_paid("minho", &room, &day(7), &day(8), paid(&key, &order_id, PRICE), None).await;
        assert_eq!(status, 402, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains(words), "{problem}");
        assert!(w.lock(&room, &day(7)).await.is_none(), "the night is free again");
        let reservation = reservation_on(&w, &day(7)).await;
        assert_eq!(reservation["status"], "REJECTED");
        let payment = w.payment(reservation["reservationId"].as_str().unwrap()).await.unwrap();
        assert_eq!((payment["status"].as_str(), payment["declineReason"].as_str()), (Some("DECLINED"), Some(words)));
        assert!(server.charged().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancel_refunds_through_toss_once_under_its_own_key_whatever_write_fails() {
        let server = TossServer::start().await;
        let w = toss_world(&server, 5000, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;
        let order_id = order("minho", "cancel");
        let key = server.authorize(&order_id, PRICE);
        let (status, placed, _) = w.book_paid("minho", &room, &day(10), &day(11), paid(&key, &order_id, PRICE), None).await;
        assert_eq!(status, 201, "{placed}");
        let id = placed["reservation"]["reservationId"].as_str().unwrap().to_owned();
        w.settle().await;
        assert_eq!(w.cancel("minho", &id).await.0, 200);
        // The refund's write fails once after Toss refunded (the handler's one transaction):
        // the redelivery asks Toss again under the same key, which answers as the first time.
        let cancelled = cancelled_event(&w, &id).await;
        let failing = support::faults::Process::new(support::faults::Fault::FailAt(1));
        let handler = PaymentHandler::new(w.payment_service.clone().with_table(failing.table(w.payments.clone())));
        assert!(apply_once(&handler, &cancelled).await.is_err(), "the write failed");
        assert_eq!(server.payment_of_order(&order_id).unwrap().status, "CANCELED", "Toss refunded before the write");
        w.settle().await;
        w.settle().await;
        let payment = w.payment(&id).await.unwrap();
        assert_eq!(payment["status"], "REFUNDED");
        assert_eq!(payment["refundReason"], "You cancelled the stay.", "the reason the guest is shown");
        let calls = cancels(&server);
        assert!(calls.iter().all(|c| c.idempotency_key.as_deref() == Some(&*format!("cancel-{id}"))), "{calls:?}");
        assert_eq!(calls.iter().filter(|c| !c.replayed).count(), 1, "refunded once at Toss: {calls:?}");
        assert_eq!(server.payment_of_order(&order_id).unwrap().cancels[0]["cancelReason"], "You cancelled the stay.");
        assert_eq!(payment_events(&w, &id).await.iter().filter(|t| **t == EventType::PaymentRefunded).count(), 1, "the guest hears of it once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_charge_that_lands_after_its_booking_gave_up_is_refunded_at_once() {
        let server = TossServer::start().await;
        // Toss answers in 800 ms; the booking waits 200 ms; the adapter waits 5 s.
        let w = toss_world(&server, 200, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;
        let order_id = order("minho", "late");
        let key = server.authorize(&order_id, PRICE);
        server.script(&[Scripted::TakeThenHang(Duration::from_millis(800))]);
        let (status, problem, _) = w.book_paid("minho", &room, &day(12), &day(13), paid(&key, &order_id, PRICE), None).await;
        assert_eq!(status, 503, "{problem}");
        // The abort reaches payment-handler while Toss is still answering: UNCERTAIN.
        w.settle().await;
        let id = reservation_on(&w, &day(12)).await["reservationId"].as_str().unwrap().to_owned();
        assert_eq!(w.payment(&id).await.unwrap()["status"], "UNCERTAIN");
        w.calls.all_ended().await;
        w.settle().await;
        let payment = w.payment(&id).await.unwrap();
        assert_eq!(payment["status"], "REFUNDED", "{payment:?}");
        assert_eq!(server.payment_of_order(&order_id).unwrap().status, "CANCELED");
        assert_eq!(cancels(&server)[0].idempotency_key.as_deref(), Some(&*format!("late-{id}")));
        assert_eq!(w.reconcile().await, bnb_contexts::payments::Reconciled::default(), "nothing left uncertain");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timeout_is_settled_by_reconciliation_once_whatever_write_fails() {
        let server = TossServer::start().await;
        // Toss takes the confirm and answers after 3 s; the adapter gives up after 400 ms, the
        // booking after 200 ms: nobody at bnb knows that Toss charged.
        let w = toss_world(&server, 200, Duration::from_millis(400)).await;
        let room = w.room(2, PRICE).await;
        let charged = order("minho", "charged");
        let charged_key = server.authorize(&charged, PRICE);
        server.script(&[Scripted::TakeThenHang(Duration::from_secs(3))]);
        assert_eq!(w.book_paid("minho", &room, &day(14), &day(15), paid(&charged_key, &charged, PRICE), None).await.0, 503);
        // And one that Toss never took (its 500): nothing charged.
        let failed = order("minho", "failed");
        let failed_key = server.authorize(&failed, PRICE);
        server.script(&[Scripted::Fail(500, "FAILED_INTERNAL_SYSTEM_PROCESSING")]);
        assert_eq!(w.book_paid("minho", &room, &day(16), &day(17), paid(&failed_key, &failed, PRICE), None).await.0, 503);
        w.calls.all_ended().await;
        w.settle().await;
        let charged_id = reservation_on(&w, &day(14)).await["reservationId"].as_str().unwrap().to_owned();
        let failed_id = reservation_on(&w, &day(16)).await["reservationId"].as_str().unwrap().to_owned();
        for id in [&charged_id, &failed_id] {
            assert_eq!(w.payment(id).await.unwrap()["status"], "UNCERTAIN", "{id}");
        }
        assert_eq!(server.payment_of_order(&charged).unwrap().status, "DONE", "Toss holds the guest's money");

        // Not yet a minute: reconciliation leaves them alone (a call might still be under way).
        let cause = bnb_contexts::events::Causation::request("reconcile-test");
        assert_eq!(w.payment_service.reconcile(100, &cause).await.unwrap(), bnb_contexts::payments::Reconciled::default());
        // A minute on, its first write fails after Toss refunded: the next run refunds nothing twice.
        w.clock.advance(bnb_contexts::payments::RECONCILE_AFTER + Duration::from_secs(1));
        let failing = support::faults::Process::new(support::faults::Fault::FailAt(1));
        let first = w.payment_service.clone().with_table(failing.table(w.payments.clone())).reconcile(100, &cause).await.unwrap();
        // The 5xx'd one is still authorized at Toss, not charged, not expired: it is left for later.
        assert_eq!((first.refunded, first.voided, first.left), (0, 0, 2), "{first:?}");
        // Both went to the back of the list: due again a minute later, not at once.
        assert_eq!(w.payment_service.reconcile(100, &cause).await.unwrap(), bnb_contexts::payments::Reconciled::default());
        w.clock.advance(bnb_contexts::payments::RECONCILE_AFTER + Duration::from_secs(1));
        let done = w.payment_service.reconcile(100, &cause).await.unwrap();
        assert_eq!((done.refunded, done.voided, done.left), (1, 0, 1), "{done:?}");
        assert_eq!(w.payment(&failed_id).await.unwrap()["status"], "UNCERTAIN", "Toss might still confirm it");
        // Its authorization runs out at Toss: now it is recorded as never charged.
        server.expire(&failed);
        w.clock.advance(bnb_contexts::payments::RECONCILE_AFTER + Duration::from_secs(1));
        let expired = w.payment_service.reconcile(100, &cause).await.unwrap();
        assert_eq!((expired.refunded, expired.voided, expired.left), (0, 1, 0), "{expired:?}");
        w.settle().await;
        let refunded = w.payment(&charged_id).await.unwrap();
        assert_eq!(
            (refunded["status"].as_str(), refunded["refundReason"].as_str()),
            (Some("REFUNDED"), Some("The booking did not go through; bnb found the charge and returned it."))
        );
        assert_eq!(w.payment(&failed_id).await.unwrap()["status"], "VOIDED", "recorded as never charged");
        assert_eq!(server.payment_of_order(&charged).unwrap().status, "CANCELED");
        assert!(server.charged().is_empty(), "Toss holds no money for a booking that did not happen");
        let calls = cancels(&server);
        assert!(calls.iter().all(|c| c.idempotency_key.as_deref() == Some(&*format!("reconcile-{charged_id}"))), "{calls:?}");
        assert_eq!(calls.iter().filter(|c| !c.replayed).count(), 1, "{calls:?}");
        assert_eq!(payment_events(&w, &charged_id).await.iter().filter(|t| **t == EventType::PaymentRefunded).count(), 1);
        assert!(w.payment_service.reconcile(100, &cause).await.unwrap() == bnb_contexts::payments::Reconciled::default(), "settled for good");
        // Every lookup went out with the key, never an idempotency key on a GET.
        assert!(server.calls().iter().filter(|c| c.method == "GET").all(|c| c.authorized && c.idempotency_key.is_none()));
    }

    /// One authorized payment pays for one booking: its order is claimed with the first
    /// confirm, so a second booking that brings it again is declined without asking Toss, and
    /// reconciliation of the first refunds only the first's own payment. A room priced in
    /// another currency than won is refused before anything is held; a payment Toss does not
    /// take at once (a virtual account) is closed at Toss and the booking declined.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_payment_pays_one_booking_in_won_and_only_when_paid_at_once() {
        let server = TossServer::start().await;
        let w = toss_world(&server, 5000, Duration::from_secs(5)).await;
        let room = w.room(2, PRICE).await;
        let order_id = order("minho", "reused");
        let key = server.authorize(&order_id, PRICE);
        server.script(&[Scripted::Fail(500, "FAILED_INTERNAL_SYSTEM_PROCESSING")]);
        assert_eq!(w.book_paid("minho", &room, &day(20), &day(21), paid(&key, &order_id, PRICE), None).await.0, 503);
        w.settle().await;
        let (status, problem, _) = w.book_paid("minho", &room, &day(22), &day(23), paid(&key, &order_id, PRICE), None).await;
        assert_eq!(status, 402, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("already used"), "{problem}");
        assert_eq!(confirms(&server).len(), 1, "the second booking never reached Toss");
        assert!(w.lock(&room, &day(22)).await.is_none());

        // Priced in dollars: not payable in won.
        let body = json!({"title": "Loft", "city": "Seoul", "address": "9 Itaewon-ro", "capacity": 2, "nightlyPrice": {"amount": 10_000, "currency": "USD"}});
        let request = api_request("POST", "/rooms", "/rooms", Some(&body.to_string()), Some(claims("hana", "host")), &[]);
        let (_, _, dollars) = answer(TestResources::new(w.clock.clone()).table(ROOMS, w.rooms.clone()).http(&register_room::FUNCTION)(request).await);
        let dollars = dollars["roomId"].as_str().unwrap().to_owned();
        let usd_order = order("minho", "usd");
        let usd_key = server.authorize(&usd_order, 10_000);
        let (status, problem, _) = w.book_paid("minho", &dollars, &day(3), &day(4), paid(&usd_key, &usd_order, 10_000), None).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("roomId")), "{problem}");
        assert!(w.lock(&dollars, &day(3)).await.is_none());

        // A virtual account: confirmed, it waits for a deposit; bnb closes it and declines.
        let va_order = order("minho", "va");
        let va_key = server.authorize_virtual_account(&va_order, PRICE);
        let (status, problem, _) = w.book_paid("minho", &room, &day(24), &day(25), paid(&va_key, &va_order, PRICE), None).await;
        assert_eq!(status, 402, "{problem}");
        assert_eq!(server.payment_of_order(&va_order).unwrap().status, "CANCELED", "closed at Toss");
        let va = reservation_on(&w, &day(24)).await;
        assert_eq!(cancels(&server).last().unwrap().idempotency_key, Some(format!("unpaid-{}", va["reservationId"].as_str().unwrap())));
        assert!(server.charged().is_empty());
    }

    /// A deployment that moved from the sandbox to Toss refunds a sandbox booking without asking
    /// Toss about it (the sandbox moved no money).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sandbox_booking_is_refunded_without_asking_toss_after_the_switch() {
        let server = TossServer::start().await;
        let w = world(On::Embedded, FaultConfig::default(), settings(5000), breaker_config()).await;
        let room = w.room(2, PRICE).await;
        let (status, placed, _) = w.book("minho", &room, &day(30), &day(31), "tok_visa").await;
        assert_eq!(status, 201, "{placed}");
        let id = placed["reservation"]["reservationId"].as_str().unwrap().to_owned();
        w.settle().await;
        assert_eq!(w.cancel("minho", &id).await.0, 200);
        let cancelled = cancelled_event(&w, &id).await;
        let toss: Arc<dyn PaymentProvider> = Arc::new(adapter(&server, Duration::from_secs(5)));
        let handler = PaymentHandler::new(PaymentService::with_provider(w.payments.clone(), toss));
        apply_once(&handler, &cancelled).await.unwrap();
        assert_eq!(w.payment(&id).await.unwrap()["status"], "REFUNDED");
        assert!(server.calls().is_empty(), "Toss was not asked about a sandbox payment");
    }

    /// The adapter alone, against the contract: Basic auth, replays answer the first response,
    /// a second confirm is ALREADY_PROCESSED_PAYMENT, 5xx and PROVIDER_ERROR are passing, a
    /// missing order is none, a wrong key is refused (and read again).
    #[tokio::test]
    async fn the_adapter_keeps_tosss_contract() {
        use bnb_contexts::payments::provider::{Cancel, Confirm, ProviderStatus};
        let server = TossServer::start().await;
        let toss = adapter(&server, Duration::from_secs(5));
        let order_id = order("minho", "adapter");
        let key = server.authorize(&order_id, PRICE);
        let confirm =
            Confirm { payment_key: key.clone(), order_id: order_id.clone(), amount: PRICE, idempotency_key: "res-1".into(), correlation_id: "c-1".into() };
        let first = toss.confirm(&confirm).await.unwrap();
        assert_eq!((first.status, first.total_amount), (ProviderStatus::Done, PRICE));
        assert_eq!(toss.confirm(&confirm).await.unwrap(), first, "a replay answers the first response");
        assert!(server.calls().last().unwrap().replayed);
        assert_eq!(toss.confirm(&Confirm { idempotency_key: "res-2".into(), ..confirm.clone() }).await, Err(ProviderError::AlreadyProcessed));
        assert_eq!(toss.find_order(&order_id).await.unwrap().map(|p| p.status), Some(ProviderStatus::Done));
        assert_eq!(toss.find_order("no-such-order").await.unwrap(), None);
        server.script(&[Scripted::Fail(500, "FAILED_INTERNAL_SYSTEM_PROCESSING"), Scripted::Fail(400, "PROVIDER_ERROR")]);
        let cancel =
            Cancel { payment_key: key.clone(), reason: "test".into(), amount: PRICE, idempotency_key: "cancel-res-1".into(), correlation_id: "c-2".into() };
        assert!(matches!(toss.cancel(&cancel).await, Err(ProviderError::Unavailable(_))), "5xx");
        assert!(matches!(toss.cancel(&cancel).await, Err(ProviderError::Unavailable(_))), "PROVIDER_ERROR");
        assert_eq!(toss.cancel(&cancel).await.unwrap().status, ProviderStatus::Canceled, "the same key, tried again");
        assert_eq!(toss.cancel(&Cancel { idempotency_key: "cancel-again".into(), ..cancel.clone() }).await, Err(ProviderError::AlreadyCanceled));
        // A declined card, in Toss's words.
        let declined = order("minho", "adapter-declined");
        let declined_key = server.authorize_declined(&declined, PRICE, "REJECT_CARD_COMPANY", "결제 승인이 거절되었습니다.");
        let refused = toss.confirm(&Confirm { payment_key: declined_key, order_id: declined, idempotency_key: "res-3".into(), ..confirm.clone() }).await;
        assert_eq!(refused, Err(ProviderError::Declined { code: "REJECT_CARD_COMPANY".into(), message: "결제 승인이 거절되었습니다.".into() }));
        // Every call carried the key as Toss wants it.
        assert!(server.calls().iter().all(|c| c.authorized));
        // A wrong key: refused, never taken for a decline.
        let wrong = bnb_toss_payments::TossPayments::new(bnb_toss_payments::TossSettings {
            endpoint: server.url.clone(),
            secret_key: Arc::new(FixedSecret(Secret::new("test_sk_wrong"))),
        })
        .unwrap();
        assert!(matches!(wrong.find_order(&order_id).await, Err(ProviderError::Unavailable(e)) if e.contains("UNAUTHORIZED_KEY")));
        assert_eq!(server.calls().last().unwrap().status, 401);
        // Not HTTPS, and not this machine: refused at start-up.
        let clear = bnb_toss_payments::TossPayments::new(bnb_toss_payments::TossSettings {
            endpoint: "http://api.tosspayments.com".into(),
            secret_key: Arc::new(FixedSecret(Secret::new(SECRET_KEY))),
        });
        assert!(clear.is_err());
    }
}
