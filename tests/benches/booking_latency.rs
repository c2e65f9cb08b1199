//! Benchmark: `POST /reservations` over HTTP on the embedded runtime (p50/p99), the lag from a
//! booking to the host's dashboard and to the guest's notification (p50/p99), and what one
//! booking costs in table reads and writes (counted by a wrapper around the table port).
//!
//!     cargo run --profile measure -p bnb-tests --example booking_latency [-- BOOKINGS [PER_SECOND]]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bnb_contexts::domain::Actor;
use bnb_contexts::events::Causation;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentService};
use bnb_contexts::reservations::{PlaceReservation, PlaceReservationRequest, ReservationSettings, ReservationStore};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::{Item, Key, Page, Query, StorageError, StreamBatch, StreamPosition, Table, WriteOp};
use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64() * 1e3
}

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

/// Counts what passes through the table port.
struct Counting {
    inner: Arc<dyn Table>,
    gets: AtomicUsize,
    queries: AtomicUsize,
    writes: AtomicUsize,
    items: AtomicUsize,
}

#[async_trait]
impl Table for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get(&self, key: &Key) -> Result<Option<Item>, StorageError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StorageError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.items.fetch_add(ops.len(), Ordering::SeqCst);
        self.inner.write(ops).await
    }
    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<StreamBatch, StorageError> {
        self.inner.read_stream(from, limit).await
    }
}

fn counting(inner: Arc<dyn Table>) -> Arc<Counting> {
    Arc::new(Counting { inner, gets: 0.into(), queries: 0.into(), writes: 0.into(), items: 0.into() })
}

async fn cost_of_one_booking() {
    let dir = tempfile::tempdir().expect("dir");
    let store = bnb_embedded::EmbeddedStore::open(dir.path().join("bnb.db")).expect("store");
    let rooms = counting(Arc::new(store.table(bnb_contexts::tables::rooms())));
    let reservations = counting(Arc::new(store.table(bnb_contexts::tables::reservations())));
    let payments = counting(Arc::new(store.table(bnb_contexts::tables::payments())));
    let room_store = RoomStore::new(rooms.clone());
    let host = Actor::new(bnb_contexts::domain::UserId::new("hana"), vec!["host".into()]);
    let input = bnb_contexts::domain::room::RoomInput {
        title: "Hanok".into(),
        city: "Seoul".into(),
        address: "1".into(),
        capacity: 2,
        price_amount: 100_000,
        price_currency: "KRW".into(),
        ..Default::default()
    };
    let room = bnb_contexts::rooms::register_room(&room_store, &host, input, &Causation::request("bench")).await.expect("room");
    let service = PaymentService::new(payments.clone(), FaultConfig::default());
    let invoker = InProcessInvoker::new(Arc::new(move |payload| {
        let service = service.clone();
        Box::pin(async move { process_payment::handle(&service, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())) })
    }));
    let place = PlaceReservation {
        reservations: ReservationStore::new(reservations.clone(), bnb_contexts::clock::system()),
        rooms: room_store,
        payments: Arc::new(invoker),
        breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", BreakerConfig::default(), bnb_contexts::clock::system())),
        settings: ReservationSettings::default(),
    };
    let guest = Actor::new(bnb_contexts::domain::UserId::new("minho"), vec!["guest".into()]);
    // Warm the breaker's cache as a running instance has it, then count one 2-night booking.
    let _ = place.breaker.acquire_peek().await;
    for t in [&rooms, &reservations, &payments] {
        for c in [&t.gets, &t.queries, &t.writes, &t.items] {
            c.store(0, Ordering::SeqCst);
        }
    }
    let request = PlaceReservationRequest {
        room_id: room.id.to_string(),
        check_in: day(5),
        check_out: day(7),
        guests: 1,
        card_token: Some("tok_visa".into()),
        payment: None,
    };
    let render = |_: &Result<bnb_contexts::reservations::Placed, bnb_contexts::reservations::ReservationError>| bnb_contexts::reservations::StoredAnswer {
        status: 201,
        body: String::new(),
        headers: Default::default(),
    };
    place
        .place(&guest, &request, bnb_contexts::reservations::Attempt { cause: &Causation::request("bench"), claim: None, render: &render })
        .await
        .expect("booked");
    println!("one booking of 2 nights (breaker state cached), table port calls:");
    for (name, t) in [("rooms", &rooms), ("reservations", &reservations), ("payments", &payments)] {
        println!(
            "  {name:<13} gets {}  queries {}  writes {} ({} items)",
            t.gets.load(Ordering::SeqCst),
            t.queries.load(Ordering::SeqCst),
            t.writes.load(Ordering::SeqCst),
            t.items.load(Ordering::SeqCst)
        );
    }
}

#[tokio::main]
async fn main() {
    let bookings: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let per_second: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / per_second.max(1)));
    cost_of_one_booking().await;

    let dir = tempfile::tempdir().expect("dir");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let running = start(LocalConfig::new(dir.path(), template)).await.expect("start");
    let authority = Authority::load_or_create(dir.path()).expect("key");
    let host = authority.mint("bench-host", &["host".into()], None, None, 3600).expect("token");
    let guest = authority.mint("bench-guest", &["guest".into()], None, None, 3600).expect("token");
    let http = reqwest::Client::new();
    let mut rooms = Vec::new();
    for i in 0..bookings.div_ceil(100) {
        let room: Value = http
            .post(format!("{}/rooms", running.url()))
            .bearer_auth(&host)
            .json(&json!({"title": format!("Room {i}"), "city": "Seoul", "address": "1", "capacity": 2, "nightlyPrice": {"amount": 50000, "currency": "KRW"}}))
            .send()
            .await
            .expect("room")
            .json()
            .await
            .expect("json");
        rooms.push(room["roomId"].as_str().expect("id").to_owned());
    }
    let views = running.wiring.table("views").expect("views");
    let notifications = running.wiring.table("notifications").expect("notifications");
    // Watch both read models' change logs for each reservation's first appearance.
    let watch = |table: Arc<dyn Table>, n: usize, field: &'static str, kind: &'static str, pk: &'static str| {
        tokio::spawn(async move {
            let mut seen: HashMap<String, Instant> = HashMap::new();
            let mut position = StreamPosition::start();
            let deadline = Instant::now() + Duration::from_secs(300);
            while seen.len() < n && Instant::now() < deadline {
                let batch = table.read_stream(&position, 1000).await.expect("read");
                let now = Instant::now();
                for r in &batch.records {
                    let wanted = |i: &&Item| {
                        i.get("kind").and_then(Value::as_str) == Some(kind) && i.get("pk").and_then(Value::as_str).is_some_and(|p| p.starts_with(pk))
                    };
                    if let Some(image) = r.new_image.as_ref().filter(wanted) {
                        let id = image.get(field).map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_default();
                        seen.entry(id).or_insert(now);
                    }
                }
                position = batch.next;
                if batch.records.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            seen
        })
    };
    let dashboard = watch(views.clone(), bookings, "reservationId", "host-latest", "HOST#");
    let told = watch(notifications.clone(), bookings, "aggregateId", "notification", "USER#bench-guest");
    let mut sent = HashMap::new();
    let mut latencies = Vec::new();
    for i in 0..bookings {
        pace.tick().await;
        let body = json!({"roomId": rooms[i / 100], "checkIn": day(1 + (i % 100) as i64 * 2), "checkOut": day(2 + (i % 100) as i64 * 2), "guests": 1, "cardToken": "tok_visa"});
        let t0 = Instant::now();
        let response = http.post(format!("{}/reservations", running.url())).bearer_auth(&guest).json(&body).send().await.expect("post");
        let elapsed = t0.elapsed();
        assert_eq!(response.status(), 201);
        let v: Value = response.json().await.expect("json");
        sent.insert(v["reservation"]["reservationId"].as_str().expect("id").to_owned(), t0);
        latencies.push(elapsed);
    }
    let dashboard = dashboard.await.expect("watch");
    let told = told.await.expect("watch");
    let mut to_dashboard: Vec<Duration> = sent.iter().filter_map(|(id, t0)| dashboard.get(id).map(|t| t.duration_since(*t0))).collect();
    let mut to_notification: Vec<Duration> = sent.iter().filter_map(|(id, t0)| told.get(id).map(|t| t.duration_since(*t0))).collect();
    println!("\n{bookings} bookings over HTTP, {per_second} a second:");
    println!("  POST /reservations      p50 {:>7.2} ms   p99 {:>7.2} ms", pct(&mut latencies, 0.5), pct(&mut latencies, 0.99));
    println!(
        "  booking -> dashboard    p50 {:>7.2} ms   p99 {:>7.2} ms   ({} seen)",
        pct(&mut to_dashboard, 0.5),
        pct(&mut to_dashboard, 0.99),
        to_dashboard.len()
    );
    println!(
        "  booking -> notification p50 {:>7.2} ms   p99 {:>7.2} ms   ({} seen)",
        pct(&mut to_notification, 0.5),
        pct(&mut to_notification, 0.99),
        to_notification.len()
    );
    running.stop().await.expect("stop");
}
