//! Benchmark: `GET /rooms` over HTTP against the embedded runtime, with 100 and with 10,000
//! active rooms in the searched city. A search is one index query (plus one calendar query per
//! candidate when dates are given), so its cost must not grow with the rooms stored.
//!
//!     cargo run --profile measure -p bnb-tests --example search_latency [-- REQUESTS]

use std::time::{Duration, Instant};

use bnb_contexts::domain::room::{Room, RoomDetails, RoomInput};
use bnb_contexts::domain::UserId;
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::{Table, WriteOp};
use bnb_local::{start, LocalConfig};

async fn seed(rooms: &dyn Table, city: &str, n: usize) {
    let mut batch = Vec::new();
    for i in 0..n {
        let details = RoomDetails::validate(RoomInput {
            title: format!("Room {i}"),
            city: city.into(),
            address: format!("{i} Bench-ro"),
            capacity: 1 + (i % 6) as i64,
            price_amount: 50_000,
            price_currency: "KRW".into(),
            ..Default::default()
        })
        .expect("valid");
        let room = Room::register(UserId::new(format!("host-{}", i % 50)), details, time::OffsetDateTime::now_utc());
        batch.push(WriteOp::put(RoomStore::to_item(&room).expect("item")));
        if batch.len() == 100 {
            rooms.write(std::mem::take(&mut batch)).await.expect("seed");
        }
    }
    if !batch.is_empty() {
        rooms.write(batch).await.expect("seed");
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    println!("{:>7}  {:<28} {:>9} {:>9}", "rooms", "query", "p50 ms", "p99 ms");
    for n in [100usize, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let running = start(LocalConfig::new(dir.path(), &template)).await.expect("start");
        let city = format!("Bench{n}");
        seed(running.wiring.table("rooms").expect("rooms").as_ref(), &city, n).await;
        // Let the stream pump read past the seeded items first: measure search, not the pump.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let http = reqwest::Client::new();
        for (label, query) in [
            ("city + guests", format!("city={city}&guests=2")),
            ("city + guests + dates", format!("city={city}&guests=2&checkIn=2026-12-24&checkOut=2026-12-27")),
        ] {
            let url = format!("{}/rooms?{query}", running.url());
            let mut samples = Vec::with_capacity(requests);
            for _ in 0..requests {
                let t0 = Instant::now();
                let response = http.get(&url).send().await.expect("get");
                assert_eq!(response.status(), 200);
                let body: serde_json::Value = response.json().await.expect("json");
                assert_eq!(body["items"].as_array().map(Vec::len), Some(20));
                samples.push(t0.elapsed());
            }
            let (p50, p99) = percentiles(samples);
            println!("{n:>7}  {label:<28} {p50:>9.2} {p99:>9.2}");
        }
        running.stop().await.expect("stop");
    }
}
