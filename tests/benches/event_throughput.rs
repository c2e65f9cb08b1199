//! Benchmark: the command path at full rate and whether the event path keeps up with it, on the
//! embedded runtime (`bnb-local`'s, in this process), as a new user would drive it.
//!
//!     cargo run --profile measure -p bnb-tests --example event_throughput [-- CLIENTS SECONDS [commands-only]]
//!
//! CLIENTS keep-alive clients (16 unless told) book one night each, nights no one else wants,
//! back to back for SECONDS (15 unless told; at most 40,000 bookings). Measured:
//! - bookings/s, and `POST /reservations` p50/p99;
//! - booking → host dashboard (its `host-latest` row in `views`) and booking → guest
//!   notification, p50/p99/max, from the moment the booking was sent;
//! - what the queues held when the load stopped, and how long after that until every booking
//!   was on the dashboard and notified and every queue was empty (at most 120 s);
//! - SQLite transactions (commits) per booking, end to end, against what this SQLite commits
//!   per second (three items and their change rows a transaction, measured first): the rate
//!   that count allows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bnb_contexts::storage::{Item, StreamPosition, Table, WriteOp};
use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort();
    samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1].as_secs_f64() * 1e3
}

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

/// Small transactions a second on this machine: three items (and their change rows) each, for
/// about two seconds.
async fn sqlite_commits_per_second() -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let store = bnb_embedded::EmbeddedStore::open(dir.path().join("bnb.db")).expect("store");
    let table = store.table(bnb_contexts::storage::TableSpec::new("bench"));
    let started = Instant::now();
    let mut n = 0u64;
    while n < 100_000 && started.elapsed() < Duration::from_secs(2) {
        let ops = (0..3)
            .map(|i| {
                let mut item = Item::new();
                item.insert("pk".into(), json!(format!("P#{n}")));
                item.insert("sk".into(), json!(format!("S#{i}")));
                item.insert("body".into(), json!("x".repeat(200)));
                WriteOp::put(item)
            })
            .collect();
        table.write(ops).await.expect("write");
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// CPU time this process has used (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields 14 and 15 (utime, stime) in clock ticks, after the command name's closing paren.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

/// When each id first appeared in `table`'s change log, in rows of `kind` under partitions
/// starting with `pk`; until `done` is set and the log is read to its end, or the deadline.
fn watch(
    table: Arc<dyn Table>,
    done: Arc<std::sync::atomic::AtomicBool>,
    field: &'static str,
    kind: &'static str,
    pk: &'static str,
    deadline: Instant,
    count: Arc<std::sync::atomic::AtomicUsize>,
) -> tokio::task::JoinHandle<HashMap<String, Instant>> {
    tokio::spawn(async move {
        let mut seen: HashMap<String, Instant> = HashMap::new();
        let mut position = StreamPosition::start();
        while Instant::now() < deadline {
            let finishing = done.load(std::sync::atomic::Ordering::SeqCst);
            let batch = table.read_stream(&position, 5000).await.expect("read");
            let now = Instant::now();
            for r in &batch.records {
                let wanted =
                    |i: &&Item| i.get("kind").and_then(Value::as_str) == Some(kind) && i.get("pk").and_then(Value::as_str).is_some_and(|p| p.starts_with(pk));
                if let Some(image) = r.new_image.as_ref().filter(wanted) {
                    if let Some(id) = image.get(field).and_then(Value::as_str) {
                        seen.entry(id.to_owned()).or_insert(now);
                    }
                }
            }
            count.store(seen.len(), std::sync::atomic::Ordering::SeqCst);
            position = batch.next;
            if batch.records.is_empty() {
                if finishing {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        seen
    })
}

#[tokio::main(worker_threads = 4)]
async fn main() {
    let clients: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(16).clamp(1, 256);
    let seconds: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(15).clamp(1, 120);
    // `commands-only`: no event is published (publish-events paused): the command path alone.
    let commands_only = std::env::args().nth(3).as_deref() == Some("commands-only");
    const MAX_BOOKINGS: usize = 40_000;
    const ROOMS_PER_CLIENT: usize = 4;

    let capacity = sqlite_commits_per_second().await;
    println!("SQLite here: {capacity:.0} transactions/s (3 items and their change rows each)");

    let dir = tempfile::tempdir().expect("dir");
    let template = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let mut config = LocalConfig::new(dir.path(), template);
    if commands_only {
        config.paused = vec!["publish-events".into()];
    }
    let running = start(config).await.expect("start");
    let authority = Authority::load_or_create(dir.path()).expect("key");
    let host = authority.mint("bench-host", &["host".into()], None, None, 3600).expect("token");
    let http = reqwest::Client::new();
    let mut rooms = Vec::new();
    for i in 0..clients * ROOMS_PER_CLIENT {
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
    let queues: Vec<_> = running.wiring.queues.values().cloned().collect();
    let backlog = |queues: Vec<Arc<dyn bnb_contexts::messaging::Queue>>| async move {
        let mut total = 0;
        let mut each = Vec::new();
        for q in &queues {
            let d = q.depth().await.expect("depth");
            total += d.visible + d.in_flight;
            if d.visible + d.in_flight > 0 {
                each.push(format!("{} {}", q.name(), d.visible + d.in_flight));
            }
        }
        (total, each)
    };
    // Let the rooms' own events settle before the clock starts.
    let settle = Instant::now() + Duration::from_secs(30);
    while backlog(queues.clone()).await.0 > 0 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let deadline = Instant::now() + Duration::from_secs(seconds + 150);
    let views = running.wiring.table("views").expect("views");
    let notifications = running.wiring.table("notifications").expect("notifications");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (on_dashboard, notified) = (Arc::new(std::sync::atomic::AtomicUsize::new(0)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    let dashboard = watch(views, done.clone(), "reservationId", "host-latest", "HOST#bench-host", deadline, on_dashboard.clone());
    let told = watch(notifications, done.clone(), "aggregateId", "notification", "USER#bench-guest-", deadline, notified.clone());
    let cpu_before = cpu_time();

    let before = running.store.stats();
    let started = Instant::now();
    let load_ends = started + Duration::from_secs(seconds);
    let per_client = MAX_BOOKINGS / clients;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url) = (http.clone(), running.url());
        let token = authority.mint(&format!("bench-guest-{c}"), &["guest".into()], None, None, 3600).expect("token");
        let mine: Vec<String> = rooms[c * ROOMS_PER_CLIENT..(c + 1) * ROOMS_PER_CLIENT].to_vec();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            for k in 0..per_client {
                if Instant::now() >= load_ends {
                    break;
                }
                let (room, night) = (&mine[k % ROOMS_PER_CLIENT], 1 + (k / ROOMS_PER_CLIENT) as i64);
                let body = json!({"roomId": room, "checkIn": day(night), "checkOut": day(night + 1), "guests": 1, "cardToken": "tok_visa"});
                let t0 = Instant::now();
                let response = http.post(format!("{url}/reservations")).bearer_auth(&token).json(&body).send().await.expect("post");
                let status = response.status();
                let v: Value = response.json().await.unwrap_or_default();
                latencies.push(t0.elapsed());
                match v["reservation"]["reservationId"].as_str() {
                    Some(id) if status == 201 => sent.push((id.to_owned(), t0)),
                    _ => refused += 1,
                }
            }
            (sent, latencies, refused)
        }));
    }
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let mut latencies = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (s, l, r) = task.await.expect("client");
        sent.extend(s);
        latencies.extend(l);
        refused += r;
    }
    let load_time = started.elapsed();
    let cpu_load = cpu_time() - cpu_before;
    let (at_end, at_end_each) = backlog(queues.clone()).await;
    let stopped = Instant::now();
    // Drained: every booking on the dashboard and notified, every queue empty.
    let n = sent.len();
    let drained = loop {
        let (total, _) = backlog(queues.clone()).await;
        let reflected =
            commands_only || (on_dashboard.load(std::sync::atomic::Ordering::SeqCst) >= n && notified.load(std::sync::atomic::Ordering::SeqCst) >= n);
        if (total == 0 && reflected) || Instant::now() > deadline {
            break stopped.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let after = running.store.stats();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let dashboard = dashboard.await.expect("watch");
    let told = told.await.expect("watch");
    let last_seen = sent.iter().filter_map(|(id, _)| dashboard.get(id).into_iter().chain(told.get(id)).max()).max().copied();
    let reflected = last_seen.map(|t| t.saturating_duration_since(stopped)).unwrap_or_default();
    let mut to_dashboard: Vec<Duration> = sent.iter().filter_map(|(id, t0)| dashboard.get(id).map(|t| t.duration_since(*t0))).collect();
    let mut to_notification: Vec<Duration> = sent.iter().filter_map(|(id, t0)| told.get(id).map(|t| t.duration_since(*t0))).collect();
    let spent = after.since(&before);
    let commits = spent.commits;
    let per_booking = commits as f64 / n.max(1) as f64;

    println!(
        "\n{clients} clients, {:.1} s: {n} bookings confirmed ({refused} refused), {:.0} bookings/s",
        load_time.as_secs_f64(),
        n as f64 / load_time.as_secs_f64()
    );
    println!("  CPU while loading: {:.0}% of one core (2 cores: 200%)", cpu_load.as_secs_f64() / load_time.as_secs_f64() * 100.0);
    println!("  POST /reservations       p50 {:>8.1} ms  p99 {:>8.1} ms", pct(&mut latencies, 0.5), pct(&mut latencies, 0.99));
    println!(
        "  booking -> dashboard     p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  ({} of {n})",
        pct(&mut to_dashboard, 0.5),
        pct(&mut to_dashboard, 0.99),
        to_dashboard.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN),
        to_dashboard.len()
    );
    println!(
        "  booking -> notification  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  ({} of {n})",
        pct(&mut to_notification, 0.5),
        pct(&mut to_notification, 0.99),
        to_notification.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN),
        to_notification.len()
    );
    println!("  queued when the load stopped: {at_end} [{}]", at_end_each.join(", "));
    println!("  queues empty {:.2} s after the load stopped; last booking reflected {:.2} s after", drained.as_secs_f64(), reflected.as_secs_f64());
    println!(
        "  SQLite: {commits} transactions, {per_booking:.1} per booking, {:.1} connection uses per booking; bound {:.0} bookings/s at {capacity:.0} transactions/s",
        spent.calls as f64 / n.max(1) as f64,
        capacity / per_booking
    );
    println!("  per booking, by operation:        uses  transactions  µs held  (share of the load's time)");
    for (operation, o) in spent.by_operation.iter().filter(|(_, o)| o.calls > 0) {
        println!(
            "    {operation:<24} {:>8.2} {:>8.2} {:>12.0}  ({:.0}%)",
            o.calls as f64 / n.max(1) as f64,
            o.commits as f64 / n.max(1) as f64,
            o.held_us as f64 / n.max(1) as f64,
            o.held_us as f64 / 1e6 / (load_time.as_secs_f64() + drained.as_secs_f64()) * 100.0
        );
    }
    running.stop().await.expect("stop");
    if !commands_only {
        assert_eq!(to_dashboard.len(), n, "every booking reached the dashboard");
        assert_eq!(to_notification.len(), n, "every booking reached the guest's notifications");
    }
}
