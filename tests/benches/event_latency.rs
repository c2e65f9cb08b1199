//! Benchmark: time from a command (`POST /rooms` over HTTP) to its consumer (the view
//! projector's write), through outbox → stream → publish-events → topic → queue, on the
//! embedded runtime. Bounded: N events, a deadline.
//!
//!     cargo run --profile measure -p bnb-tests --example event_latency [-- N [PER_SECOND]]
//!
//! Requests are paced (100 a second unless told): back to back, they measure the queue
//! they build up, not the path.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bnb_contexts::storage::StreamPosition;
use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let per_second: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / per_second.max(1)));
    let dir = tempfile::tempdir().expect("temp dir");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let running = start(LocalConfig::new(dir.path(), template)).await.expect("start");
    let token = Authority::load_or_create(dir.path()).expect("key").mint("bench-host", &["host".into()], None, None, 3600).expect("token");
    let views = running.wiring.table("views").expect("views");

    // Watch the view table's change log: when did each room's dashboard row appear?
    let watcher = tokio::spawn(async move {
        let mut seen: HashMap<String, Instant> = HashMap::new();
        let mut position = StreamPosition::start();
        let deadline = Instant::now() + Duration::from_secs(300);
        while seen.len() < n && Instant::now() < deadline {
            let batch = views.read_stream(&position, 1000).await.expect("read");
            let now = Instant::now();
            for r in &batch.records {
                if let Some(id) = r.new_image.as_ref().filter(|i| i["pk"] == "HOST#bench-host").and_then(|i| i["roomId"].as_str()) {
                    seen.entry(id.to_owned()).or_insert(now);
                }
            }
            position = batch.next;
            if batch.records.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        seen
    });

    let http = reqwest::Client::new();
    let body = json!({"title": "Bench room", "city": "Seoul", "address": "1 Bench-ro", "capacity": 2, "nightlyPrice": {"amount": 50000, "currency": "KRW"}});
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let started = Instant::now();
    for _ in 0..n {
        pace.tick().await;
        let t0 = Instant::now();
        let room: Value = http.post(format!("{}/rooms", running.url())).bearer_auth(&token).json(&body).send().await.expect("post").json().await.expect("json");
        sent.insert(room["roomId"].as_str().expect("roomId").to_owned(), t0);
    }
    let seen = watcher.await.expect("watcher");
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = sent.iter().filter_map(|(id, t0)| seen.get(id).map(|t1| t1.duration_since(*t0))).collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!("events: {n} sent at {per_second}/s, {} reached the consumer, in {:.1} s", latencies.len(), elapsed.as_secs_f64());
    println!(
        "command -> consumer: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    running.stop().await.expect("stop");
    assert_eq!(latencies.len(), n, "every event reached the consumer");
}
