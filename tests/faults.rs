//! The fault suite: every step that writes can crash after any write, and a retry or a
//! redelivery must finish the job exactly once. Each test injects the fault (a table that fails
//! or crashes at its k-th write, see `support/faults.rs`), restarts, retries as a client or a
//! queue would, lets the saga settle, and then checks the invariants of design.md §7 over the
//! whole store. Time is a manual clock: nothing here sleeps to let time pass. A property test
//! then redelivers and reorders every event to every projection and compares the result with
//! one in-order application.

#[macro_use]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bnb_contexts::clock::ManualClock;
use bnb_contexts::consumer::{apply_once, processed_key, Consumer};
use bnb_contexts::events::{Envelope, EventType};
use bnb_contexts::messaging::FilterPolicy;
use bnb_contexts::notifications::NotificationHandler;
use bnb_contexts::outbox::envelope_of;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentHandler, PaymentService};
use bnb_contexts::payments::{InvokeError, Invoker};
use bnb_contexts::reservations::{IdempotencyStore, PlaceReservation, ReservationHandler, ReservationSettings, ReservationStore};
use bnb_contexts::rooms::{RoomHandler, RoomStore};
use bnb_contexts::storage::{ChangeKind, Item, Key, StreamPosition, Table};
use bnb_contexts::views::ViewProjector;
use bnb_embedded::EmbeddedBus;
use bnb_embedded::EmbeddedStore;
use serde_json::{json, Value};
use support::faults::{Fault, Process};
use support::{answer, api_request, claims};
use tokio::sync::Mutex;

/// The consumers, by the binary name the template gives them.
const CONSUMERS: [&str; 5] = ["payment-handler", "reservation-handler", "room-handler", "view-projector", "notification-handler"];
/// The tables whose outbox items `publish-events` publishes.
const COMMAND_TABLES: [&str; 4] = ["rooms", "reservations", "payments", "reviews"];

fn settings() -> ReservationSettings {
    ReservationSettings {
        payment_timeout: Duration::from_secs(5),
        hold: Duration::from_secs(120),
        lease: Duration::from_secs(15),
        ..ReservationSettings::default()
    }
}

/// An answer as a client sees it.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Value,
    text: String,
    headers: BTreeMap<String, String>,
}

impl Answer {
    fn of(response: lambda_http::Response<lambda_http::Body>) -> Answer {
        let headers = response.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned())).collect();
        let text = match response.body() {
            lambda_http::Body::Text(t) => t.clone(),
            lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let (status, _, body) = answer(response);
        Answer { status, body, text, headers }
    }

    fn problem(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default()
    }
}

/// One bnb on one embedded store, with a clock that moves only when told, and the event path
/// run by hand: new outbox events go to every consumer the template subscribes to them, and a
/// delivery that fails is retried, as SQS would.
struct World {
    clock: Arc<ManualClock>,
    tables: BTreeMap<&'static str, Arc<dyn Table>>,
    payment_service: PaymentService,
    bus: EmbeddedBus,
    filters: BTreeMap<String, Option<FilterPolicy>>,
    positions: Mutex<BTreeMap<&'static str, StreamPosition>>,
    /// Every event published so far, in order.
    published: Mutex<Vec<Envelope>>,
    /// Deliveries that failed and wait for their retry.
    pending: Mutex<Vec<(String, Envelope)>>,
    /// The first delivery of an event of this type to this consumer runs with this fault.
    inject: Mutex<Option<(&'static str, EventType, Fault)>>,
    fired: std::sync::atomic::AtomicBool,
    _dir: tempfile::TempDir,
}

fn today() -> time::Date {
    time::macros::date!(2030 - 03 - 02)
}

fn day(n: i64) -> String {
    bnb_contexts::domain::stay::format_date(today() + time::Duration::days(n))
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("bnb.db")).unwrap();
        let mut tables: BTreeMap<&'static str, Arc<dyn Table>> = BTreeMap::new();
        for kind in bnb_contexts::tables::ALL {
            tables.insert(kind.default_name, Arc::new(store.table(kind.spec())));
        }
        let topology = bnb_local::template::Topology::load(&support::template_path()).unwrap();
        let mut filters = BTreeMap::new();
        for s in &topology.subscriptions {
            let Some(function) = topology
                .functions
                .iter()
                .find(|f| f.triggers.iter().any(|t| matches!(t, bnb_local::template::Trigger::Sqs { queue, .. } if queue == &s.queue)))
            else {
                continue;
            };
            filters.insert(function.binary.clone(), s.filter_policy.as_ref().map(|p| FilterPolicy::parse(p).unwrap()));
        }
        for consumer in CONSUMERS {
            assert!(filters.contains_key(consumer), "template.yaml subscribes {consumer}");
        }
        let payment_service = PaymentService::new(tables["payments"].clone(), FaultConfig::default());
        World {
            clock: ManualClock::at_seoul(today(), 10, 0),
            bus: EmbeddedBus::open(store.clone()).await.unwrap(),
            tables,
            payment_service,
            filters,
            positions: Mutex::new(BTreeMap::new()),
            published: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            inject: Mutex::new(None),
            fired: std::sync::atomic::AtomicBool::new(false),
            _dir: dir,
        }
    }

    fn table(&self, name: &str) -> Arc<dyn Table> {
        self.tables[name].clone()
    }

    fn reservation_store(&self, process: &Arc<Process>) -> ReservationStore {
        ReservationStore::new(process.table(self.table("reservations")), self.clock.clone())
    }

    /// `place-reservation` as one process sees it (the payment function is another process).
    fn place(&self, process: &Arc<Process>) -> place_reservation::Deps {
        let service = self.payment_service.clone();
        let invoker = InProcessInvoker::new(Arc::new(move |payload| {
            let service = service.clone();
            Box::pin(async move { process_payment::handle(&service, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())) })
        }));
        self.place_with(process, Arc::new(invoker))
    }

    fn place_with(&self, process: &Arc<Process>, invoker: Arc<dyn Invoker>) -> place_reservation::Deps {
        let reservations = process.table(self.table("reservations"));
        let breaker = BreakerConfig {
            failure_threshold: 1000,
            window: Duration::from_secs(60),
            cool_down: Duration::from_millis(500),
            probe_timeout: Duration::from_secs(5),
            cache_ttl: Duration::ZERO,
        };
        place_reservation::Deps {
            place: PlaceReservation {
                reservations: ReservationStore::new(reservations.clone(), self.clock.clone()),
                rooms: RoomStore::new(process.table(self.table("rooms"))),
                payments: invoker,
                breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", breaker, self.clock.clone())),
                settings: settings(),
            },
            idempotency: IdempotencyStore::new(reservations, self.clock.clone(), settings().lease),
        }
    }

    fn consumer(&self, name: &str, process: &Arc<Process>) -> Box<dyn Consumer> {
        match name {
            "payment-handler" => Box::new(PaymentHandler::new(PaymentService::new(process.table(self.table("payments")), FaultConfig::default()))),
            "reservation-handler" => Box::new(ReservationHandler::new(self.reservation_store(process))),
            "room-handler" => Box::new(RoomHandler::new(process.table(self.table("rooms")))),
            "view-projector" => Box::new(ViewProjector::new(process.table(self.table("views")))),
            "notification-handler" => Box::new(NotificationHandler::new(process.table(self.table("notifications")), Arc::new(self.bus.topic("alerts")))),
            other => panic!("no consumer {other}"),
        }
    }

    async fn room(&self, host: &str) -> String {
        let body = json!({"title": "Hanok", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 100000, "currency": "KRW"}});
        let request = api_request("POST", "/rooms", "/rooms", Some(&body.to_string()), Some(claims(host, "host")), &[]);
        let a = Answer::of(register_room::handle(&RoomStore::new(self.table("rooms")), request).await.unwrap());
        assert_eq!(a.status, 201, "{a:?}");
        a.body["roomId"].as_str().unwrap().to_owned()
    }

    async fn book(&self, process: &Arc<Process>, guest: &str, room: &str, nights: (i64, i64), token: &str, key: Option<&str>) -> Answer {
        self.book_with(&self.place(process), guest, room, nights, token, key).await
    }

    async fn book_with(&self, deps: &place_reservation::Deps, guest: &str, room: &str, nights: (i64, i64), token: &str, key: Option<&str>) -> Answer {
        let body = json!({"roomId": room, "checkIn": day(nights.0), "checkOut": day(nights.1), "guests": 1, "cardToken": token}).to_string();
        let headers: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
        let request = api_request("POST", "/reservations", "/reservations", Some(&body), Some(claims(guest, "guest")), &headers);
        Answer::of(place_reservation::handle(deps, request).await.unwrap())
    }

    /// A client that retries, with the same key, every answer that is not final: a 5xx, or
    /// `409` while the first attempt's lease runs (time passes between the client's tries).
    async fn book_until_final(&self, guest: &str, room: &str, nights: (i64, i64), token: &str, key: &str) -> Answer {
        for _ in 0..6 {
            let a = self.book(&Process::new(Fault::Never), guest, room, nights, token, Some(key)).await;
            if a.status >= 500 || a.problem() == "in-flight" {
                self.clock.advance(settings().lease + Duration::from_secs(1));
                continue;
            }
            return a;
        }
        panic!("no final answer for key {key}");
    }

    async fn cancel(&self, process: &Arc<Process>, guest: &str, id: &str) -> Answer {
        let path = format!("/reservations/{id}/cancel");
        let request = api_request("POST", "/reservations/{reservationId}/cancel", &path, None, Some(claims(guest, "guest")), &[]);
        Answer::of(cancel_reservation::handle(&self.reservation_store(process), request).await.unwrap())
    }

    async fn delete_room(&self, process: &Arc<Process>, host: &str, room: &str) -> Answer {
        let path = format!("/rooms/{room}");
        let request = api_request("DELETE", "/rooms/{roomId}", &path, None, Some(claims(host, "host")), &[]);
        Answer::of(delete_room::handle(&RoomStore::new(process.table(self.table("rooms"))), request).await.unwrap())
    }

    async fn review(&self, guest: &str, room: &str) -> Answer {
        let path = format!("/rooms/{room}/reviews");
        let body = json!({"rating": 4, "text": "Quiet and warm"}).to_string();
        let request = api_request("POST", "/rooms/{roomId}/reviews", &path, Some(&body), Some(claims(guest, "guest")), &[]);
        let reviews = bnb_contexts::reviews::Reviews {
            reviews: self.table("reviews"),
            rooms: RoomStore::new(self.table("rooms")),
            reservations: self.reservation_store(&Process::new(Fault::Never)),
        };
        Answer::of(write_review::handle(&reviews, request).await.unwrap())
    }

    /// What `publish-events` would publish now: the outbox INSERTs since the last look.
    async fn new_events(&self) -> Vec<Envelope> {
        let mut positions = self.positions.lock().await;
        let mut out = Vec::new();
        for name in COMMAND_TABLES {
            let position = positions.entry(name).or_insert_with(StreamPosition::start);
            loop {
                let batch = self.table(name).read_stream(position, 1000).await.unwrap();
                if batch.records.is_empty() {
                    break;
                }
                for r in &batch.records {
                    if r.kind == ChangeKind::Insert {
                        if let Some(envelope) = r.new_image.as_ref().and_then(envelope_of) {
                            out.push(envelope.unwrap());
                        }
                    }
                }
                *position = batch.next;
            }
        }
        self.published.lock().await.extend(out.iter().cloned());
        out
    }

    fn admits(&self, consumer: &str, event: &Envelope) -> bool {
        let attributes = BTreeMap::from([("eventType".to_string(), event.event_type().to_string())]);
        self.filters[consumer].as_ref().is_none_or(|p| p.admits(&attributes))
    }

    /// Delivers every event to every consumer its subscription admits until nothing is left
    /// (running the fault of `inject` once, when its delivery comes).
    async fn settle(&self) {
        for _round in 0..30 {
            let mut work: Vec<(String, Envelope)> = std::mem::take(&mut *self.pending.lock().await);
            for event in self.new_events().await {
                for consumer in CONSUMERS {
                    if self.admits(consumer, &event) {
                        work.push((consumer.to_owned(), event.clone()));
                    }
                }
            }
            if work.is_empty() {
                return;
            }
            for (name, event) in work {
                let fault = {
                    let mut inject = self.inject.lock().await;
                    match *inject {
                        Some((c, t, f)) if c == name && t == event.event_type() => {
                            *inject = None;
                            f
                        }
                        _ => Fault::Never,
                    }
                };
                let process = Process::new(fault);
                let consumer = self.consumer(&name, &process);
                let outcome = apply_once(consumer.as_ref(), &event).await;
                if process.crashed() || matches!(fault, Fault::FailAt(k) if process.writes() >= k) {
                    self.fired.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if let Err(e) = outcome {
                    assert!(e.is_retryable(), "{name} refuses {} for good: {e}", event.event_type());
                    self.pending.lock().await.push((name, event));
                }
            }
            // What failed comes back after its queue's visibility timeout (60 s): time passes.
            if !self.pending.lock().await.is_empty() {
                self.clock.advance(Duration::from_secs(60));
            }
        }
        panic!("the event path did not settle: {:?}", self.pending.lock().await.iter().map(|(c, e)| format!("{c} {}", e.event_type())).collect::<Vec<_>>());
    }

    /// Lets every hold run out (a dead booking's hold), runs `expire-holds`, and settles.
    async fn expire_holds(&self) {
        self.clock.advance(settings().hold + Duration::from_secs(1));
        let done = expire_holds::handle(&self.reservation_store(&Process::new(Fault::Never))).await.unwrap();
        assert_eq!(done.failed, 0);
        self.settle().await;
    }

    /// What the table holds now, from its change stream.
    async fn items(&self, table: &str) -> HashMap<Key, Item> {
        let mut out = HashMap::new();
        for r in support::all_changes(self.table(table).as_ref()).await {
            match r.new_image {
                Some(i) => out.insert(r.keys, i),
                None => out.remove(&r.keys),
            };
        }
        out
    }

    async fn of_kind(&self, table: &str, kind: &str) -> Vec<Item> {
        self.items(table).await.into_values().filter(|i| i.get("kind").and_then(Value::as_str) == Some(kind)).collect()
    }

    /// design.md §7, over the whole store, once the event path has settled.
    async fn assert_invariants(&self) {
        let reservations = self.of_kind("reservations", "reservation").await;
        let payments: HashMap<String, Item> =
            self.of_kind("payments", "payment").await.into_iter().map(|p| (p["reservationId"].as_str().unwrap().to_owned(), p)).collect();
        let published = self.published.lock().await.clone();
        assert!(reservations.iter().all(|r| r["status"] != "HELD"), "a hold was left behind");

        // 1. No night is taken twice, and the locks are exactly the confirmed nights.
        let mut taken = HashSet::new();
        for r in reservations.iter().filter(|r| r["status"] == "CONFIRMED") {
            let stay = bnb_contexts::domain::Stay::parse(r["checkIn"].as_str().unwrap(), r["checkOut"].as_str().unwrap()).unwrap();
            for night in stay.each_night() {
                assert!(taken.insert((r["roomId"].clone(), night)), "a night booked twice: {r:?}");
            }
        }
        let locks = self.of_kind("reservations", "night-lock").await;
        assert_eq!(locks.len(), taken.len(), "the night locks are exactly the confirmed nights");

        // 2. Confirmed ⇔ exactly one approved payment of its amount; nothing else keeps money.
        for r in &reservations {
            let payment = payments.get(r["reservationId"].as_str().unwrap());
            match r["status"].as_str() {
                Some("CONFIRMED") => {
                    assert_eq!(payment.map(|p| (p["status"].clone(), p["amount"].clone())), Some((json!("APPROVED"), r["amount"].clone())), "{r:?}")
                }
                _ => assert!(payment.is_none_or(|p| ["REFUNDED", "DECLINED", "VOIDED"].contains(&p["status"].as_str().unwrap())), "{r:?} kept {payment:?}"),
            }
        }
        // The saga tells the truth: a refund only of what was charged, once.
        let count = |t: EventType, id: &str| published.iter().filter(|e| e.event_type() == t && e.aggregate_id == id).count();
        for id in payments.keys() {
            let (approved, refunded) = (count(EventType::PaymentApproved, id), count(EventType::PaymentRefunded, id));
            assert!(approved <= 1 && refunded <= approved, "reservation {id}: {approved} approvals, {refunded} refunds");
            assert_eq!(refunded == 1, payments[id]["status"] == "REFUNDED", "reservation {id}: a refund event iff refunded");
        }
        for r in &reservations {
            let id = r["reservationId"].as_str().unwrap();
            assert!(count(EventType::ReservationConfirmed, id) <= 1 && count(EventType::ReservationCancelled, id) <= 1, "{id} changed twice");
        }

        // 3. Every event reached every consumer its subscription admits, and once.
        let owned = |consumer: &str| match consumer {
            "payment-handler" => "payments",
            "reservation-handler" => "reservations",
            "room-handler" => "rooms",
            "view-projector" => "views",
            _ => "notifications",
        };
        for event in &published {
            for consumer in CONSUMERS.iter().filter(|c| self.admits(c, event)) {
                let marker = processed_key(consumer, event);
                assert!(self.table(owned(consumer)).get(&marker).await.unwrap().is_some(), "{} never reached {consumer}", event.event_type());
            }
        }
        // Views: each stay as it stands; revenue = confirmed − refunded, per host.
        let views = self.items("views").await;
        let mut net: HashMap<String, i64> = HashMap::new();
        for r in reservations.iter().filter(|r| r["status"] == "CONFIRMED" || r["status"] == "CANCELLED") {
            let view = &views[&Key::new(format!("RESERVATION#{}", r["reservationId"].as_str().unwrap()), "VIEW")];
            assert_eq!(view["status"], r["status"], "the status view of {r:?}");
            let delta = if r["status"] == "CONFIRMED" { r["amount"]["amount"].as_i64().unwrap() } else { 0 };
            *net.entry(r["hostId"].as_str().unwrap().to_owned()).or_default() += delta;
        }
        for (host, amount) in net {
            let revenue = &views[&Key::new(format!("HOST#{host}"), "REVENUE#KRW")];
            let held = revenue["confirmed"].as_i64().unwrap_or(0) - revenue.get("refunded").and_then(Value::as_i64).unwrap_or(0);
            assert_eq!(held, amount, "{host}'s revenue");
        }
        // Notifications: one per (event, recipient), each published for the AlimTalk sender
        // (whose own exactly-once is tests/alimtalk.rs's).
        let notifications = self.of_kind("notifications", "notification").await;
        let ids: HashSet<&str> = notifications.iter().map(|n| n["notificationId"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), notifications.len(), "a notification stored twice");
        let expected: usize = published
            .iter()
            .map(|e| match e.event_type() {
                EventType::ReservationConfirmed | EventType::ReservationCancelled => 2,
                EventType::PaymentRefunded | EventType::ReservationAborted | EventType::RoomDeleted | EventType::ReviewWritten => 1,
                _ => 0,
            })
            .sum();
        assert_eq!(notifications.len(), expected, "one notification per event and recipient");
        assert!(notifications.iter().all(|n| n["alerted"] == true), "every notification was published to alerts");
    }

    async fn confirmed_of(&self, guest: &str) -> Vec<String> {
        self.of_kind("reservations", "reservation")
            .await
            .iter()
            .filter(|r| r["guestId"] == guest && r["status"] == "CONFIRMED")
            .map(|r| r["reservationId"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn faults_up_to(writes: usize) -> Vec<Fault> {
    (1..=writes).flat_map(|k| [Fault::CrashAfter(k), Fault::FailAt(k)]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_finishes_exactly_once_whatever_write_it_crashes_after() {
    // How many writes one keyed booking makes, start to end.
    let w = World::new().await;
    let room = w.room("hana").await;
    let clean = Process::new(Fault::Never);
    assert_eq!(w.book(&clean, "minho", &room, (10, 12), "tok_visa", Some("key-1")).await.status, 201);
    let writes = clean.writes();
    assert!(writes >= 3, "claim, hold, confirm: {writes}");
    println!("fault suite: a keyed booking makes {writes} writes; {} faults injected", 2 * writes);

    for fault in faults_up_to(writes) {
        let w = World::new().await;
        let room = w.room("hana").await;
        let first = w.book(&Process::new(fault), "minho", &room, (10, 12), "tok_visa", Some("key-1")).await;
        // The client never saw a final answer, or did: either way it asks again with its key.
        let last = w.book_until_final("minho", &room, (10, 12), "tok_visa", "key-1").await;
        assert_eq!(last.status, 201, "{fault:?}: first {} then {:?}", first.status, last.body);
        let id = last.body["reservation"]["reservationId"].as_str().unwrap().to_owned();
        assert_eq!(last.headers.get("location"), Some(&format!("/reservations/{id}")), "{fault:?}");
        if first.status == 201 {
            assert_eq!(first.body, last.body, "{fault:?}: the same booking, answered the same");
        }
        // A replay is the first answer again, headers and all.
        let replay = w.book(&Process::new(Fault::Never), "minho", &room, (10, 12), "tok_visa", Some("key-1")).await;
        assert_eq!((replay.status, &replay.text, replay.headers.get("location")), (201, &last.text, last.headers.get("location")), "{fault:?}");
        assert_eq!(replay.headers.get("idempotent-replayed").map(String::as_str), Some("true"));
        w.settle().await;
        w.expire_holds().await;
        assert_eq!(w.confirmed_of("minho").await, vec![id], "{fault:?}: exactly the booking answered");
        w.assert_invariants().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_booking_is_declined_once_whatever_write_it_crashes_after() {
    let w = World::new().await;
    let room = w.room("hana").await;
    let clean = Process::new(Fault::Never);
    assert_eq!(w.book(&clean, "minho", &room, (10, 12), "tok_declined", Some("key-1")).await.status, 402);
    for fault in faults_up_to(clean.writes()) {
        let w = World::new().await;
        let room = w.room("hana").await;
        w.book(&Process::new(fault), "minho", &room, (10, 12), "tok_declined", Some("key-1")).await;
        let last = w.book_until_final("minho", &room, (10, 12), "tok_declined", "key-1").await;
        assert_eq!((last.status, last.problem()), (402, "payment-declined"), "{fault:?}: {:?}", last.body);
        w.settle().await;
        w.expire_holds().await;
        assert!(w.confirmed_of("minho").await.is_empty());
        w.assert_invariants().await;
        // The nights are free again.
        assert_eq!(w.book(&Process::new(Fault::Never), "jisu", &room, (10, 12), "tok_visa", None).await.status, 201, "{fault:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_refunds_once_whatever_write_it_crashes_after() {
    let setup = || async {
        let w = World::new().await;
        let room = w.room("hana").await;
        let booked = w.book(&Process::new(Fault::Never), "minho", &room, (10, 12), "tok_visa", Some("k")).await;
        assert_eq!(booked.status, 201);
        w.settle().await;
        let id = booked.body["reservation"]["reservationId"].as_str().unwrap().to_owned();
        (w, id)
    };
    let (w, id) = setup().await;
    let clean = Process::new(Fault::Never);
    assert_eq!(w.cancel(&clean, "minho", &id).await.status, 200);
    println!("fault suite: a cancellation makes {} writes; {} faults injected", clean.writes(), 2 * clean.writes());
    for fault in faults_up_to(clean.writes()) {
        let (w, id) = setup().await;
        let first = w.cancel(&Process::new(fault), "minho", &id).await;
        let again = w.cancel(&Process::new(Fault::Never), "minho", &id).await;
        assert!(
            again.status == 200 || (again.status == 409 && again.problem() == "already-cancelled"),
            "{fault:?}: first {}, then {:?}",
            first.status,
            again.body
        );
        w.settle().await;
        let payment = w.payment_service.get(&bnb_contexts::domain::ReservationId::parse(&id).unwrap()).await.unwrap().unwrap();
        assert_eq!(payment.status, bnb_contexts::domain::payment::PaymentStatus::Refunded, "{fault:?}");
        w.assert_invariants().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_room_cancels_its_stays_once_whatever_write_it_crashes_after() {
    let setup = || async {
        let w = World::new().await;
        let room = w.room("hana").await;
        for (guest, nights) in [("minho", (10, 12)), ("jisu", (20, 21))] {
            assert_eq!(w.book(&Process::new(Fault::Never), guest, &room, nights, "tok_visa", None).await.status, 201);
        }
        w.settle().await;
        (w, room)
    };
    let (w, room) = setup().await;
    let clean = Process::new(Fault::Never);
    assert_eq!(w.delete_room(&clean, "hana", &room).await.status, 204);
    println!("fault suite: a room deletion makes {} writes; {} faults injected", clean.writes(), 2 * clean.writes());
    for fault in faults_up_to(clean.writes()) {
        let (w, room) = setup().await;
        let first = w.delete_room(&Process::new(fault), "hana", &room).await;
        let again = w.delete_room(&Process::new(Fault::Never), "hana", &room).await;
        assert!(again.status == 204 || again.status == 404, "{fault:?}: first {}, then {:?}", first.status, again.body);
        w.settle().await;
        assert!(w.confirmed_of("minho").await.is_empty() && w.confirmed_of("jisu").await.is_empty(), "{fault:?}: the stays are cancelled");
        w.assert_invariants().await;
    }
}

/// The whole story: rooms, bookings, a decline, a cancellation, a hold that dies, a review after
/// the stay, a room deleted with a stay ahead, a room modified.
async fn story(w: &World) {
    let (a, b) = (w.room("hana").await, w.room("hana").await);
    let ok = Process::new(Fault::Never);
    assert_eq!(w.book(&ok, "minho", &a, (0, 1), "tok_visa", None).await.status, 201);
    assert_eq!(w.book(&ok, "minho", &a, (10, 12), "tok_visa", Some("m-2")).await.status, 201);
    assert_eq!(w.book(&ok, "jisu", &b, (3, 4), "tok_declined", None).await.status, 402);
    let jisu = w.book(&ok, "jisu", &b, (5, 6), "tok_visa", None).await;
    w.settle().await;
    assert_eq!(w.cancel(&ok, "jisu", jisu.body["reservation"]["reservationId"].as_str().unwrap()).await.status, 200);
    // A booking whose function dies right after its hold, and whose payment never answered.
    w.book(&Process::new(Fault::CrashAfter(1)), "yuna", &b, (7, 8), "tok_error", None).await;
    w.settle().await;
    w.expire_holds().await;
    // Two days on, minho's first stay is over: he reviews it. Then hana deletes the room.
    w.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(w.review("minho", &a).await.status, 201);
    w.settle().await;
    assert_eq!(w.delete_room(&ok, "hana", &a).await.status, 204);
    let modify = json!({"title": "Hanok, renewed", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 110000, "currency": "KRW"}, "version": 1});
    let request = api_request("PUT", "/rooms/{roomId}", &format!("/rooms/{b}"), Some(&modify.to_string()), Some(claims("hana", "host")), &[]);
    assert_eq!(answer(modify_room::handle(&RoomStore::new(w.table("rooms")), request).await.unwrap()).0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_consumer_applies_every_event_once_whatever_write_it_crashes_after() {
    // Which event types each consumer takes in the story.
    let w = World::new().await;
    story(&w).await;
    w.settle().await;
    w.assert_invariants().await;
    let published = w.published.lock().await.clone();
    let types: HashSet<EventType> = published.iter().map(|e| e.event_type()).collect();
    for t in [
        EventType::RoomRegistered,
        EventType::RoomModified,
        EventType::RoomDeleted,
        EventType::ReservationConfirmed,
        EventType::ReservationCancelled,
        EventType::ReservationAborted,
        EventType::PaymentApproved,
        EventType::PaymentDeclined,
        EventType::PaymentRefunded,
        EventType::ReviewWritten,
    ] {
        assert!(types.contains(&t), "the story publishes {t}");
    }
    let mut trials = 0;
    for consumer in CONSUMERS {
        for event_type in EventType::ALL.into_iter().filter(|t| types.contains(t)) {
            let probe = published.iter().find(|e| e.event_type() == event_type).unwrap();
            if !w.admits(consumer, probe) {
                continue;
            }
            for k in 1..=4 {
                let mut went_off = false;
                for fault in [Fault::CrashAfter(k), Fault::FailAt(k)] {
                    let w = World::new().await;
                    *w.inject.lock().await = Some((consumer, event_type, fault));
                    story(&w).await;
                    w.settle().await;
                    let fired = w.fired.load(std::sync::atomic::Ordering::SeqCst);
                    w.assert_invariants().await;
                    went_off |= fired;
                    trials += 1;
                }
                if !went_off {
                    break;
                }
            }
        }
    }
    assert!(trials > 20, "{trials} trials");
    println!("fault suite: {trials} consumer deliveries crashed or failed, each followed by the invariant check");
}

/// The payment function, with the interleaving in the test's hands.
struct GatedPayment {
    service: PaymentService,
    /// Told when a booking reaches its payment call.
    reached: Arc<tokio::sync::Notify>,
    /// The payment goes ahead when told.
    go: Arc<tokio::sync::Notify>,
    /// Answer "timed out" at once, and let the call run on (as a Lambda does) when told.
    time_out: bool,
    late: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl GatedPayment {
    fn new(w: &World, time_out: bool) -> Arc<GatedPayment> {
        Arc::new(GatedPayment { service: w.payment_service.clone(), reached: Default::default(), go: Default::default(), time_out, late: Default::default() })
    }

    /// Waits until every payment call that ran on after its timeout has finished.
    async fn finished(&self) {
        for handle in self.late.lock().await.drain(..) {
            handle.await.unwrap();
        }
    }
}

#[async_trait::async_trait]
impl Invoker for GatedPayment {
    async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        self.reached.notify_one();
        let (service, go, payload) = (self.service.clone(), self.go.clone(), payload.clone());
        let call = async move {
            go.notified().await;
            process_payment::handle(&service, payload).await
        };
        if self.time_out {
            self.late.lock().await.push(tokio::spawn(async move {
                let _ = call.await;
            }));
            return Err(InvokeError::Timeout(timeout));
        }
        call.await.map_err(InvokeError::Failed).and_then(|r| serde_json::to_value(r).map_err(|e| InvokeError::Failed(e.to_string())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_racing_its_rooms_deletion_never_survives_it() {
    // The deletion is heard of while the booking pays (its confirmation checks for it), or only
    // after the booking is confirmed (the reservation handler cancels it).
    for heard_before_confirm in [true, false] {
        let w = Arc::new(World::new().await);
        let room = w.room("hana").await;
        let payment = GatedPayment::new(&w, false);
        let deps = Arc::new(w.place_with(&Process::new(Fault::Never), payment.clone()));
        let booking = {
            let (w, deps, room) = (w.clone(), deps.clone(), room.clone());
            tokio::spawn(async move { w.book_with(&deps, "minho", &room, (10, 12), "tok_visa", Some("k")).await })
        };
        payment.reached.notified().await;
        // The nights are held and the payment is on its way: the host deletes the room.
        assert_eq!(w.delete_room(&Process::new(Fault::Never), "hana", &room).await.status, 204);
        if heard_before_confirm {
            w.settle().await;
        }
        payment.go.notify_one();
        let answer = booking.await.unwrap();
        if heard_before_confirm {
            assert_eq!(answer.status, 404, "the room went while paying: {:?}", answer.body);
        } else {
            assert_eq!(answer.status, 201, "confirmed before the deletion was heard of");
        }
        w.settle().await;
        w.expire_holds().await;
        assert!(w.confirmed_of("minho").await.is_empty(), "heard before confirm: {heard_before_confirm}: no stay survives its room");
        w.assert_invariants().await;
        // The same key now tells the truth about it.
        let replay = w.book(&Process::new(Fault::Never), "minho", &room, (10, 12), "tok_visa", Some("k")).await;
        assert_eq!(replay.status, if heard_before_confirm { 404 } else { 201 });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_approval_racing_the_refund_of_its_aborted_hold_keeps_nothing() {
    // A booking times out at payment and is aborted; its payment call runs on. The abort's
    // refund comes before the late approval (a void: nothing charged, no refund announced), or
    // after it (a refund).
    for refund_first in [true, false] {
        let w = World::new().await;
        let room = w.room("hana").await;
        let payment = GatedPayment::new(&w, true);
        let deps = w.place_with(&Process::new(Fault::Never), payment.clone());
        let answer = w.book_with(&deps, "minho", &room, (10, 12), "tok_visa", Some("k")).await;
        assert_eq!(answer.status, 503, "{:?}", answer.body);
        if refund_first {
            w.settle().await;
            payment.go.notify_one();
            payment.finished().await;
        } else {
            payment.go.notify_one();
            payment.finished().await;
            w.settle().await;
        }
        w.settle().await;
        w.assert_invariants().await;
        let published = w.published.lock().await.clone();
        let refunds = published.iter().filter(|e| e.event_type() == EventType::PaymentRefunded).count();
        assert_eq!(refunds, usize::from(!refund_first), "refund first: {refund_first}: a refund is announced only of what was charged");
        // The guest may try again with the same key: the nights are free, and it books.
        let again = w.book(&Process::new(Fault::Never), "minho", &room, (10, 12), "tok_visa", Some("k")).await;
        assert_eq!(again.status, 201, "{:?}", again.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stay_is_cancelled_before_it_starts_or_reviewed_after_it_ends_never_both() {
    let w = World::new().await;
    let room = w.room("hana").await;
    let ok = Process::new(Fault::Never);
    // Two stays of two nights from day 1: one is cancelled the day before, one is kept.
    let kept = w.book(&ok, "minho", &room, (1, 3), "tok_visa", None).await;
    let dropped = w.book(&ok, "jisu", &room, (3, 5), "tok_visa", None).await;
    assert_eq!((kept.status, dropped.status), (201, 201));
    let id = |a: &Answer| a.body["reservation"]["reservationId"].as_str().unwrap().to_owned();
    assert_eq!(w.review("minho", &room).await.status, 403, "not before the stay");
    assert_eq!(w.cancel(&ok, "jisu", &id(&dropped)).await.status, 200);
    w.settle().await;
    // Day by day (Asia/Seoul), from the check-in of the kept stay to after its check-out: at no
    // moment may it be both cancelled and reviewed.
    for step in 1..=4 {
        w.clock.advance(Duration::from_secs(86_400));
        let cancel = w.cancel(&ok, "minho", &id(&kept)).await.status;
        let review = w.review("minho", &room).await.status;
        assert_eq!(cancel, 409, "day {step}: the stay has started");
        // Reviewable from the check-out day (day 3) on, once.
        let expected = match step {
            1 | 2 => 403,
            3 => 201,
            _ => 409,
        };
        assert_eq!(review, expected, "day {step}");
    }
    // The cancelled stay is over too, but cancelled: no review.
    assert_eq!(w.review("jisu", &room).await.status, 403);
    w.settle().await;
    w.assert_invariants().await;
}

// ---------------------------------------------------------------- redelivery and reordering

/// What a table holds, without what legitimately differs between two runs: when things were
/// written, TTLs, generated payment ids, and outbox items' own ids (kept as a multiset of what
/// they announce).
async fn normalized(w: &World, table: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut outbox: BTreeMap<String, usize> = BTreeMap::new();
    for (key, mut item) in w.items(table).await {
        if key.pk.starts_with("OUTBOX#") {
            *outbox.entry(format!("{} {} {}", item["eventType"], item["envelope"]["aggregateId"], item["envelope"]["payload"]["status"])).or_default() += 1;
            continue;
        }
        for volatile in ["expiresAt", "updatedAt", "createdAt", "paymentId", "claimedUntil"] {
            item.remove(volatile);
        }
        out.insert(format!("{} {}", key.pk, key.sk), Value::Object(item));
    }
    out.insert("outbox".into(), json!(outbox));
    out
}

/// The state a consumer starts from, as the command side left it before the events came: the
/// rooms (without ratings) for the room handler, the approvals for the payment handler.
async fn seed(source: &World, target: &World, consumer: &str) {
    match consumer {
        "room-handler" => {
            for mut room in source.of_kind("rooms", "room").await {
                room.insert("ratingCount".into(), json!(0));
                room.insert("ratingTotal".into(), json!(0));
                target.table("rooms").write(vec![bnb_contexts::storage::WriteOp::put(room)]).await.unwrap();
            }
        }
        "payment-handler" => {
            for e in source.published.lock().await.iter().filter(|e| e.event_type() == EventType::PaymentApproved) {
                let request = json!({"action": "approve", "reservationId": e.payload()["reservationId"], "amount": e.payload()["amount"], "cardToken": "tok_visa", "guestId": e.payload()["guestId"], "correlationId": "seed"});
                process_payment::handle(&target.payment_service, request).await.unwrap();
            }
        }
        _ => {}
    }
}

/// Delivers `order` (indexes into `events`) to `consumer` on `target`; a delivery that cannot
/// apply yet is retried after the others, as a queue would.
async fn deliver(target: &World, consumer: &str, events: &[Envelope], order: &[usize]) {
    let mut queue: Vec<usize> = order.to_vec();
    for _round in 0..10 {
        let mut again = Vec::new();
        for i in queue {
            let c = target.consumer(consumer, &Process::new(Fault::Never));
            if let Err(e) = apply_once(c.as_ref(), &events[i]).await {
                assert!(e.is_retryable(), "{consumer}: {e}");
                again.push(i);
            }
        }
        if again.is_empty() {
            return;
        }
        queue = again;
    }
    panic!("{consumer} never applied some events");
}

#[test]
fn redelivered_and_reordered_events_project_as_one_in_order_application() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let source = rt.block_on(async {
        let w = World::new().await;
        story(&w).await;
        w.settle().await;
        w
    });
    let published = rt.block_on(async { source.published.lock().await.clone() });
    for (consumer, table) in
        [("view-projector", "views"), ("room-handler", "rooms"), ("notification-handler", "notifications"), ("payment-handler", "payments")]
    {
        let events: Vec<Envelope> = published.iter().filter(|e| source.admits(consumer, e)).cloned().collect();
        assert!(events.len() >= 3, "{consumer} takes {} events of the story", events.len());
        let reference = rt.block_on(async {
            let w = World::new().await;
            seed(&source, &w, consumer).await;
            deliver(&w, consumer, &events, &(0..events.len()).collect::<Vec<_>>()).await;
            normalized(&w, table).await
        });
        let n = events.len();
        let orders = proptest::collection::vec(0..n, 0..=n).prop_flat_map(move |repeats| {
            let mut all: Vec<usize> = (0..n).collect();
            all.extend(repeats);
            Just(all).prop_shuffle()
        });
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() });
        runner
            .run(&orders, |order| {
                let got = rt.block_on(async {
                    let w = World::new().await;
                    seed(&source, &w, consumer).await;
                    deliver(&w, consumer, &events, &order).await;
                    normalized(&w, table).await
                });
                prop_assert_eq!(&got, &reference, "{} with the order {:?}", consumer, order);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

// ---------------------------------------------------------------- the outbox outlives an outage

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_long_outage_left_unpublished_is_swept_published_and_applied_once() {
    use bnb_contexts::messaging::Queue;
    use bnb_embedded::QueueSettings;
    let w = World::new().await;
    let room = w.room("hana").await;
    assert_eq!(w.book(&Process::new(Fault::Never), "minho", &room, (10, 12), "tok_visa", Some("k")).await.status, 201);
    // publish-events is down: nothing is published, and the outbox items stay, with no TTL.
    let tables: Vec<Arc<dyn Table>> = COMMAND_TABLES.iter().map(|t| w.table(t)).collect();
    let mut unpublished = 0;
    for t in COMMAND_TABLES {
        let outbox = w.of_kind(t, "outbox").await;
        assert!(outbox.iter().all(|i| !i.contains_key("expiresAt")), "an outbox item does not expire");
        unpublished += outbox.len();
    }
    assert_eq!(unpublished, 3, "RoomRegistered, PaymentApproved, ReservationConfirmed");
    let seen = w.bus.declare_queue(QueueSettings { name: "all".into(), visibility_timeout_ms: 60_000, max_receive_count: None, dlq: None }).await.unwrap();
    w.bus.subscribe("domain-events", "all", None, true).await.unwrap();
    let topic = w.bus.topic("domain-events");
    // Minutes later, the sweep: not before its items are five minutes old.
    let clock = ManualClock::starting_now();
    assert_eq!(republish_outbox::handle(&tables, &topic, clock.as_ref()).await.unwrap(), 0, "too fresh to sweep");
    clock.advance(republish_outbox::STALE_AFTER + Duration::from_secs(60));
    assert_eq!(republish_outbox::handle(&tables, &topic, clock.as_ref()).await.unwrap(), 3);
    assert_eq!(republish_outbox::handle(&tables, &topic, clock.as_ref()).await.unwrap(), 0, "swept once");
    let messages = seen.receive(10).await.unwrap();
    let mut types: Vec<String> = messages.iter().map(|m| m.attributes["eventType"].clone()).collect();
    types.sort();
    assert_eq!(types, ["PaymentApproved", "ReservationConfirmed", "RoomRegistered"]);
    for t in COMMAND_TABLES {
        assert!(w.of_kind(t, "outbox").await.is_empty(), "{t}: published, so cleared");
    }
    // The consumers take them (and, here, the stream's own copies too): applied once.
    for m in &messages {
        let event = bnb_contexts::consumer::decode(&m.body).unwrap();
        for consumer in CONSUMERS.iter().filter(|c| w.admits(c, &event)) {
            apply_once(w.consumer(consumer, &Process::new(Fault::Never)).as_ref(), &event).await.unwrap();
        }
    }
    w.settle().await;
    w.assert_invariants().await;
}

// ---------------------------------------------------------------- expire-holds drains what is due

async fn held(w: &World) -> usize {
    w.of_kind("reservations", "reservation").await.into_iter().filter(|r| r["status"] == "HELD").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_holds_drains_every_due_hold_past_pages_shards_and_a_bad_one() {
    let w = World::new().await;
    let room = w.room("hana").await;
    // 230 bookings whose function died right after holding (more than two pages of one shard's
    // index partition would hold if they were all on one).
    const HOLDS: i64 = 230;
    for n in 0..HOLDS {
        w.book(&Process::new(Fault::CrashAfter(1)), "minho", &room, (1 + n, 2 + n), "tok_visa", None).await;
    }
    assert_eq!(held(&w).await, HOLDS as usize);
    // And one hold whose item no longer reads as a reservation: it must not stop the others.
    let mut broken = Key::new("RESERVATION#broken", "RESERVATION").to_item();
    broken.insert("kind".into(), json!("reservation"));
    broken.insert("status".into(), json!("HELD"));
    broken.insert("gsi2pk".into(), json!("HELD#0"));
    broken.insert("gsi2sk".into(), json!(format!("{:015}#broken", 1)));
    w.table("reservations").write(vec![bnb_contexts::storage::WriteOp::put(broken)]).await.unwrap();
    // Not yet due: nothing happens.
    let store = w.reservation_store(&Process::new(Fault::Never));
    let early = bnb_contexts::reservations::expire_holds(&store, &bnb_contexts::events::Causation::request("t")).await.unwrap();
    assert_eq!((early.expired, early.failed), (0, 1), "only the broken one is due (its time is long past)");
    w.clock.advance(settings().hold + Duration::from_secs(1));
    let done = bnb_contexts::reservations::expire_holds(&store, &bnb_contexts::events::Causation::request("t")).await.unwrap();
    assert_eq!((done.expired, done.failed), (HOLDS as usize, 1), "every due hold in one run, past the bad one");
    assert_eq!(held(&w).await, 1, "only the broken item is left");
    let shards: HashSet<String> =
        w.of_kind("reservations", "reservation").await.iter().filter_map(|r| r.get("gsi2pk").and_then(Value::as_str).map(str::to_owned)).collect();
    assert_eq!(shards, HashSet::from(["HELD#0".to_string()]), "released holds leave the index");
}

// ---------------------------------------------------------------- an outage is a 503, never a 400

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outages_answer_503_with_retry_after_and_no_storage_words() {
    let w = World::new().await;
    let room = w.room("hana").await;
    // A profile update whose write fails.
    let request =
        api_request("PUT", "/me/profile", "/me/profile", Some(r#"{"phoneNumber":"+821012345678","locale":"ko"}"#), Some(claims("minho", "guest")), &[]);
    let a = Answer::of(update_profile::handle(Process::new(Fault::FailAt(1)).table(w.table("notifications")).as_ref(), request).await.unwrap());
    assert_eq!((a.status, a.headers.contains_key("retry-after")), (503, true), "{:?}", a.body);
    // A booking whose hold fails.
    let a = w.book(&Process::new(Fault::FailAt(1)), "minho", &room, (3, 4), "tok_visa", None).await;
    assert_eq!((a.status, a.headers.contains_key("retry-after")), (503, true), "{:?}", a.body);
    let text = &a.text;
    assert!(!text.contains("injected") && !text.to_lowercase().contains("sqlite") && !text.contains("storage unavailable"), "{text}");
}

// ---------------------------------------------------------------- no lost update on a room

/// A table that writes `first` just before the first write it is asked for: another writer
/// landing between a read and a write.
struct WritesFirst {
    inner: Arc<dyn Table>,
    first: Mutex<Option<Vec<bnb_contexts::storage::WriteOp>>>,
}

#[async_trait::async_trait]
impl Table for WritesFirst {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, bnb_contexts::storage::StorageError> {
        self.inner.get(key).await
    }
    async fn query(&self, query: &bnb_contexts::storage::Query) -> Result<bnb_contexts::storage::Page, bnb_contexts::storage::StorageError> {
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<bnb_contexts::storage::WriteOp>) -> Result<(), bnb_contexts::storage::StorageError> {
        if let Some(first) = self.first.lock().await.take() {
            self.inner.write(first).await?;
        }
        self.inner.write(ops).await
    }
    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<bnb_contexts::storage::StreamBatch, bnb_contexts::storage::StorageError> {
        self.inner.read_stream(from, limit).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rating_that_lands_while_the_host_modifies_the_room_is_kept() {
    let w = World::new().await;
    let room = w.room("hana").await;
    assert_eq!(w.book(&Process::new(Fault::Never), "minho", &room, (0, 1), "tok_visa", None).await.status, 201);
    w.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(w.review("minho", &room).await.status, 201);
    let review = w.new_events().await.into_iter().find(|e| e.event_type() == EventType::ReviewWritten).unwrap();
    // The room handler's rating update lands after the host's modify read the room (version 1)
    // and before it writes.
    let rating = RoomHandler::new(w.table("rooms")).apply(&review).await.unwrap();
    let rooms: Arc<dyn Table> = Arc::new(WritesFirst { inner: w.table("rooms"), first: Mutex::new(Some(rating)) });
    let modify = json!({"title": "Hanok, renewed", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 110000, "currency": "KRW"}, "version": 1});
    let request = api_request("PUT", "/rooms/{roomId}", &format!("/rooms/{room}"), Some(&modify.to_string()), Some(claims("hana", "host")), &[]);
    assert_eq!(answer(modify_room::handle(&RoomStore::new(rooms), request).await.unwrap()).0, 200);
    let request = api_request("GET", "/rooms/{roomId}", &format!("/rooms/{room}"), None, None, &[]);
    let (_, _, got) = answer(get_room::handle(&RoomStore::new(w.table("rooms")), request).await.unwrap());
    assert_eq!((got["title"].clone(), got["rating"]["count"].clone()), (json!("Hanok, renewed"), json!(1)), "{got}");
}
