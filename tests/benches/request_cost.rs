//! Benchmark: what each request costs with little and with much stored, over HTTP on the embedded
//! runtime: booking, cancel, search with dates, the host dashboard, my reservations and the
//! reservation status, p50 and p99, at 1,000 stored reservations (100 rooms) and at 100,000
//! (10,000 rooms in the searched city).
//!
//!     cargo run --profile measure -p bnb-tests --example request_cost [-- REQUESTS [SMALL LARGE]]
//!
//! Seeding runs the real code, in process: every room through `register_room`, every booking
//! through `PlaceReservation` (payment included), every event through the view projector and
//! the room handler; then the runtime starts on that data folder. The data is the worst case
//! for a read that grows with it: one host owns every room, every stay falls in the dashboard's
//! 30 days, the measured guest has 100 reservations at both sizes, and every room is taken on
//! the searched night (so a dated search examines its whole budget of candidates).
//! Bounded: REQUESTS (200 unless told) of each kind per size, sequential.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bnb_contexts::consumer::apply_once;
use bnb_contexts::domain::Actor;
use bnb_contexts::events::{Causation, EventType};
use bnb_contexts::outbox::envelope_of;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentService};
use bnb_contexts::reservations::{Attempt, PlaceReservation, PlaceReservationRequest, ReservationSettings, ReservationStore, StoredAnswer};
use bnb_contexts::rooms::{RoomHandler, RoomStore};
use bnb_contexts::storage::{ChangeKind, StreamPosition, Table};
use bnb_contexts::views::ViewProjector;
use bnb_embedded::EmbeddedStore;
use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

const GUEST_RESERVATIONS: usize = 100;
const NIGHTS_PER_ROOM: usize = 10;

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64() * 1e3
}

/// Seeds `reservations` bookings over `reservations / 10` rooms of one host in Seoul; returns
/// the room ids and one reservation id of the measured guest.
async fn seed(dir: &std::path::Path, reservations: usize) -> (Vec<String>, String) {
    let started = Instant::now();
    let store = EmbeddedStore::open(bnb_local::runtime::database_path(dir)).expect("store");
    let table = |spec| Arc::new(store.table(spec)) as Arc<dyn Table>;
    let (rooms_t, reservations_t, payments_t, views_t) = (
        table(bnb_contexts::tables::rooms()),
        table(bnb_contexts::tables::reservations()),
        table(bnb_contexts::tables::payments()),
        table(bnb_contexts::tables::views()),
    );
    let room_store = RoomStore::new(rooms_t.clone());
    let host = Actor::new(bnb_contexts::domain::UserId::new("bench-host"), vec!["host".into()]);
    let cause = Causation::request("seed");
    let mut rooms = Vec::new();
    for i in 0..reservations / NIGHTS_PER_ROOM {
        let input = bnb_contexts::domain::room::RoomInput {
            title: format!("Room {i}"),
            city: "Seoul".into(),
            address: "1".into(),
            capacity: 2,
            price_amount: 50_000,
            price_currency: "KRW".into(),
            ..Default::default()
        };
        rooms.push(bnb_contexts::rooms::register_room(&room_store, &host, input, &cause).await.expect("room").id.to_string());
    }
    let service = PaymentService::new(payments_t.clone(), FaultConfig::default());
    let invoker = InProcessInvoker::new(Arc::new(move |payload| {
        let service = service.clone();
        Box::pin(async move { process_payment::handle(&service, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())) })
    }));
    let place = PlaceReservation {
        reservations: ReservationStore::new(reservations_t.clone(), bnb_contexts::clock::system()),
        rooms: room_store,
        payments: Arc::new(invoker),
        breaker: Arc::new(CircuitBreaker::new(reservations_t.clone(), "payment", BreakerConfig::default(), bnb_contexts::clock::system())),
        settings: ReservationSettings::default(),
    };
    let render = |_: &Result<bnb_contexts::reservations::Placed, bnb_contexts::reservations::ReservationError>| StoredAnswer {
        status: 201,
        body: String::new(),
        headers: Default::default(),
    };
    let guests = reservations / GUEST_RESERVATIONS;
    let mut measured = String::new();
    for i in 0..reservations {
        // Room after room, then the next odd night: every room is taken on day 1, 3, 5, ...
        let (room, night) = (&rooms[i % rooms.len()], 1 + 2 * (i / rooms.len()) as i64);
        let guest = Actor::new(bnb_contexts::domain::UserId::new(format!("bench-guest-{}", i % guests)), vec!["guest".into()]);
        let request = PlaceReservationRequest {
            room_id: room.clone(),
            check_in: day(night),
            check_out: day(night + 1),
            guests: 1,
            card_token: Some("tok_visa".into()),
            payment: None,
        };
        let placed = place.place(&guest, &request, Attempt { cause: &cause, claim: None, render: &render }).await.expect("booked");
        if i % guests == 0 {
            measured = placed.reservation.reservation_id.to_string();
        }
    }
    // The event path, applied in process: the views and the rooms' calendars.
    let projector = ViewProjector::new(views_t.clone());
    let room_handler = RoomHandler::new(rooms_t.clone());
    for source in [&reservations_t, &payments_t, &rooms_t] {
        let mut position = StreamPosition::start();
        loop {
            let batch = source.read_stream(&position, 5000).await.expect("stream");
            if batch.records.is_empty() {
                break;
            }
            let mut done = Vec::new();
            for r in batch.records.iter().filter(|r| r.kind == ChangeKind::Insert) {
                if let Some(Ok(envelope)) = r.new_image.as_ref().and_then(envelope_of) {
                    apply_once(&projector, &envelope).await.expect("projected");
                    if envelope.event_type() == EventType::ReservationConfirmed {
                        apply_once(&room_handler, &envelope).await.expect("calendar");
                    }
                    done.push(bnb_contexts::outbox::outbox_key(&envelope.event_id.to_string()));
                }
            }
            source.delete_each(done).await.expect("outbox cleared");
            position = batch.next;
        }
    }
    // The runtime starts after all of it: its stream readers begin at the end.
    let checkpoints = bnb_local::pump::Checkpoints::open(store.clone()).await.expect("checkpoints");
    for source in [&reservations_t, &payments_t, &rooms_t, &table(bnb_contexts::tables::reviews())] {
        let mut position = StreamPosition::start();
        loop {
            let batch = source.read_stream(&position, 10_000).await.expect("stream");
            if batch.records.is_empty() {
                break;
            }
            position = batch.next;
        }
        checkpoints.save(&format!("stream:{}:publish-events", source.name()), &position).await.expect("checkpoint");
    }
    println!("  seeded {} rooms and {reservations} reservations in {:.0} s", rooms.len(), started.elapsed().as_secs_f64());
    (rooms, measured)
}

async fn measure(reservations: usize, requests: usize) -> Vec<(&'static str, f64, f64)> {
    let dir = tempfile::tempdir().expect("dir");
    let (rooms, seeded) = seed(dir.path(), reservations).await;
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let running = start(LocalConfig::new(dir.path(), template)).await.expect("start");
    let authority = Authority::load_or_create(dir.path()).expect("key");
    let guest = authority.mint("bench-guest-0", &["guest".into()], None, None, 3600).expect("token");
    let host = authority.mint("bench-host", &["host".into()], None, None, 3600).expect("token");
    let http = reqwest::Client::new();
    let url = running.url();
    let mut results = Vec::new();
    let mut timed = |name: &'static str, mut samples: Vec<Duration>| {
        results.push((name, pct(&mut samples, 0.5), pct(&mut samples, 0.99)));
    };
    let get = |path: String, token: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let t0 = Instant::now();
            let response = http.get(format!("{url}{path}")).bearer_auth(token).send().await.expect("get");
            assert_eq!(response.status(), 200, "{path}");
            let _: Value = response.json().await.expect("json");
            t0.elapsed()
        }
    };

    let mut booked = Vec::new();
    let mut samples = Vec::new();
    for k in 0..requests {
        let body =
            json!({"roomId": rooms[k % rooms.len()], "checkIn": day(400 + k as i64), "checkOut": day(401 + k as i64), "guests": 1, "cardToken": "tok_visa"});
        let t0 = Instant::now();
        let response = http.post(format!("{url}/reservations")).bearer_auth(&guest).json(&body).send().await.expect("post");
        assert_eq!(response.status(), 201);
        let v: Value = response.json().await.expect("json");
        samples.push(t0.elapsed());
        booked.push(v["reservation"]["reservationId"].as_str().expect("id").to_owned());
    }
    timed("booking", samples);
    let mut samples = Vec::new();
    for id in &booked {
        let t0 = Instant::now();
        let response = http.post(format!("{url}/reservations/{id}/cancel")).bearer_auth(&guest).send().await.expect("cancel");
        assert_eq!(response.status(), 200);
        samples.push(t0.elapsed());
    }
    timed("cancel", samples);
    // The reads are timed with the event path idle: what the bookings and cancels set off is
    // handled first (at most 60 s), so each read measures itself.
    let quiet = Instant::now() + Duration::from_secs(60);
    loop {
        let mut queued = 0;
        for q in running.wiring.queues.values() {
            let d = q.depth().await.expect("depth");
            queued += d.visible + d.in_flight;
        }
        if queued == 0 || Instant::now() > quiet {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut samples = Vec::new();
    for _ in 0..requests {
        samples.push(get(format!("/rooms?city=Seoul&guests=1&checkIn={}&checkOut={}", day(1), day(3)), guest.clone()).await);
    }
    timed("search with dates", samples);
    let mut samples = Vec::new();
    for _ in 0..requests {
        samples.push(get("/host/dashboard".into(), host.clone()).await);
    }
    timed("host dashboard", samples);
    let mut samples = Vec::new();
    for _ in 0..requests {
        samples.push(get("/me/reservations".into(), guest.clone()).await);
    }
    timed("my reservations", samples);
    let mut samples = Vec::new();
    for _ in 0..requests {
        samples.push(get(format!("/reservations/{seeded}"), guest.clone()).await);
    }
    timed("reservation status", samples);
    running.stop().await.expect("stop");
    results
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200).clamp(10, 5_000);
    let small: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(1_000).clamp(GUEST_RESERVATIONS * 10, 200_000);
    let large: usize = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(100_000).clamp(small, 200_000);
    println!("{small} reservations:");
    let a = measure(small, requests).await;
    println!("{large} reservations:");
    let b = measure(large, requests).await;
    println!("\n{requests} requests each, milliseconds        {small:>8} p50  p99     {large:>8} p50  p99     p50 ratio  p99 ratio");
    for ((name, a50, a99), (_, b50, b99)) in a.iter().zip(&b) {
        println!("  {name:<22} {a50:>14.2} {a99:>6.2} {b50:>16.2} {b99:>6.2} {:>10.2} {:>10.2}", b50 / a50, b99 / a99);
    }
}
