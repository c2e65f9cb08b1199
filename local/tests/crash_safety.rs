//! Crash safety of `bnb-local up` on the embedded store: under a bounded load of bookings the
//! process is killed with SIGKILL, started again, and left to drain; then invariants 1–3 of
//! design.md §7 are checked over the whole store. (Here, not in tests/, because it runs the
//! real binary, which Cargo hands only to this package's own tests.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bnb_contexts::messaging::FilterPolicy;
use bnb_contexts::outbox::envelope_of;
use bnb_contexts::storage::{Item, Key, StreamPosition, Table};
use bnb_embedded::EmbeddedStore;
use bnb_local::auth::Authority;
use bnb_local::template::Topology;
use serde_json::{json, Value};

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The template with a short idempotency lease, so that a retry after a crash resumes the dead
/// attempt's booking within a second rather than fifteen.
fn short_lease_template(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(template()).unwrap();
    let marker = "  IdempotencyLeaseMs:\n    Type: Number\n    Default: 15000\n";
    assert!(text.contains(marker), "template.yaml declares IdempotencyLeaseMs");
    let path = dir.join("template-short-lease.yaml");
    std::fs::write(&path, text.replace(marker, "  IdempotencyLeaseMs:\n    Type: Number\n    Default: 1000\n")).unwrap();
    // The stacks it nests, beside it as beside the real one.
    std::fs::create_dir_all(dir.join("stacks")).unwrap();
    for entry in std::fs::read_dir(template().with_file_name("stacks")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("stacks").join(entry.file_name())).unwrap();
    }
    path
}

fn spawn(dir: &Path, port: u16, log: &str) -> Child {
    let log = std::fs::File::create(dir.join(log)).expect("log file");
    let template = short_lease_template(dir);
    Command::new(env!("CARGO_BIN_EXE_bnb-local"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
            "up",
            "--port",
            &port.to_string(),
            "--log-format",
            "json",
            "--visibility-timeout",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start bnb-local")
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if reqwest::get(format!("{base}/rooms?city=x")).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bnb-local did not come up at {base}");
}

fn day(days: i64) -> String {
    bnb_contexts::domain::stay::format_date(bnb_contexts::clock::Clock::today(&bnb_contexts::clock::SystemClock) + time::Duration::days(days))
}

/// What a client was finally told for one key.
#[derive(Debug, Clone)]
struct Told {
    status: u16,
    body: Value,
}

/// One client's booking, as a real client makes it: one `Idempotency-Key`, asked again after
/// every answer that is not final (no answer, a 5xx, `409` in flight), across the crashes,
/// bounded in tries and time. A quarter of the confirmed ones are cancelled afterwards.
async fn book(http: reqwest::Client, base: String, token: String, key: String, body: Value) -> Option<Told> {
    let deadline = Instant::now() + Duration::from_secs(120);
    for _ in 0..400 {
        if Instant::now() > deadline {
            break;
        }
        let sent = http.post(format!("{base}/reservations")).bearer_auth(&token).header("idempotency-key", &key).json(&body).send().await;
        if let Ok(response) = sent {
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or_default();
            let in_flight = status == 409 && answer["type"].as_str().is_some_and(|t| t.ends_with("/in-flight"));
            if status < 500 && !in_flight {
                return Some(Told { status, body: answer });
            }
        }
        // A retry's pace, as a client's backoff: not a wait for business time to pass.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn cancel(http: &reqwest::Client, base: &str, token: &str, id: &str) {
    for _ in 0..400 {
        if let Ok(r) = http.post(format!("{base}/reservations/{id}/cancel")).bearer_auth(token).send().await {
            if r.status().as_u16() < 500 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `count` keyed bookings (and some cancellations), 8 clients at a time.
fn load(
    base: &str,
    authority: &Authority,
    rooms: &[String],
    count: usize,
    told: Arc<tokio::sync::Mutex<BTreeMap<String, Told>>>,
) -> tokio::task::JoinHandle<()> {
    let (base, authority, rooms) = (base.to_owned(), authority.clone(), rooms.to_vec());
    tokio::spawn(async move {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = Vec::new();
        for i in 0..count {
            let permit = semaphore.clone().acquire_owned().await.unwrap();
            let r = (i * 7919) % 1000;
            let guest = format!("guest-{}", r % 7);
            let token = authority.mint(&guest, &["guest".into()], None, None, 600).unwrap();
            let body = json!({"roomId": rooms[r % rooms.len()], "checkIn": day(1 + (r % 20) as i64), "checkOut": day(2 + (r % 20) as i64 + (r % 3) as i64), "guests": 1, "cardToken": if r % 9 == 0 { "tok_declined" } else { "tok_visa" }});
            let (http, base, told) = (http.clone(), base.clone(), told.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let key = format!("key-{i}");
                let Some(answer) = book(http.clone(), base.clone(), token.clone(), key.clone(), body).await else {
                    return;
                };
                if answer.status == 201 && r % 4 == 0 {
                    if let Some(id) = answer.body["reservation"]["reservationId"].as_str() {
                        cancel(&http, &base, &token, id).await;
                    }
                }
                told.lock().await.insert(key, answer);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    })
}

async fn items(table: &dyn Table) -> HashMap<Key, Item> {
    let mut out = HashMap::new();
    let mut position = StreamPosition::start();
    loop {
        let batch = table.read_stream(&position, 5000).await.unwrap();
        if batch.records.is_empty() {
            return out;
        }
        for r in batch.records {
            match r.new_image {
                Some(i) => out.insert(r.keys, i),
                None => out.remove(&r.keys),
            };
        }
        position = batch.next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_dash_nine_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::load_or_create(dir.path()).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(dir.path(), port, "first.log");
    wait_ready(&base).await;
    let http = reqwest::Client::new();
    let host = authority.mint("host-hana", &["host".into()], None, None, 600).unwrap();
    let mut rooms = Vec::new();
    for title in ["A", "B", "C"] {
        let room: Value = http
            .post(format!("{base}/rooms"))
            .bearer_auth(&host)
            .json(&json!({"title": title, "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 50000, "currency": "KRW"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rooms.push(room["roomId"].as_str().unwrap().to_owned());
    }
    // The load, with SIGKILL while requests and events are in flight: each time a sixth more
    // of the clients have their answer, the process dies and starts again on the same folder
    // and port, and the clients carry on with their keys.
    const BOOKINGS: usize = 180;
    const KILLS: usize = 4;
    let told = Arc::new(tokio::sync::Mutex::new(BTreeMap::new()));
    let clients = load(&base, &authority, &rooms, BOOKINGS, told.clone());
    let mut kills = 0;
    for (n, log) in ["second.log", "third.log", "fourth.log", "fifth.log"].into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(60);
        while told.lock().await.len() < (n + 1) * BOOKINGS / (KILLS + 2) && Instant::now() < deadline && !clients.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().expect("kill -9");
        let _ = child.wait();
        kills += 1;
        child = spawn(dir.path(), port, log);
        wait_ready(&base).await;
    }
    clients.await.unwrap();
    assert_eq!(kills, KILLS);
    let told = told.lock().await.clone();
    assert_eq!(told.len(), BOOKINGS, "every client got a final answer");
    child.kill().expect("kill -9 again");
    let _ = child.wait();

    // Holds whose booking died with the process expire (as expire-holds does a while later).
    let store = EmbeddedStore::open(bnb_local::runtime::database_path(dir.path())).unwrap();
    let reservations = store.table(bnb_contexts::tables::reservations());
    let a_day_later = bnb_contexts::clock::ManualClock::starting_now();
    a_day_later.advance(std::time::Duration::from_secs(86_400));
    bnb_contexts::reservations::expire_holds(
        &bnb_contexts::reservations::ReservationStore::new(Arc::new(reservations.clone()), a_day_later),
        &bnb_contexts::events::Causation::request("crash-test"),
    )
    .await
    .unwrap();
    drop(store);

    // A last start, in process, to drain every stream and queue.
    let running = bnb_local::start(bnb_local::LocalConfig::new(dir.path(), template())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut busy = false;
        for queue in running.wiring.queues.values() {
            let depth = queue.depth().await.unwrap();
            busy |= (depth.visible + depth.in_flight) > 0 && !queue.name().ends_with("-dlq");
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let still: u64 = {
                let mut n = 0;
                for q in running.wiring.queues.values() {
                    let d = q.depth().await.unwrap();
                    if !q.name().ends_with("-dlq") {
                        n += d.visible + d.in_flight;
                    }
                }
                n
            };
            if still == 0 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the queues did not drain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let topology: Topology = running.topology.clone();
    let table = |name: &str| running.wiring.table(name).unwrap();
    let all_reservations = items(table("reservations").as_ref()).await;
    let payments = items(table("payments").as_ref()).await;
    let kind = |i: &Item, k: &str| i.get("kind").and_then(Value::as_str) == Some(k);
    let bookings: Vec<&Item> = all_reservations.values().filter(|i| kind(i, "reservation")).collect();
    assert!(bookings.iter().filter(|r| r["status"] == "CONFIRMED" || r["status"] == "CANCELLED").count() >= 5, "the load booked something");
    assert!(bookings.iter().all(|r| r["status"] != "HELD"), "no hold is left behind");

    // Invariant 1.
    let mut taken: HashSet<(String, String)> = HashSet::new();
    for r in bookings.iter().filter(|r| r["status"] == "CONFIRMED") {
        let stay = bnb_contexts::domain::Stay::parse(r["checkIn"].as_str().unwrap(), r["checkOut"].as_str().unwrap()).unwrap();
        for night in stay.each_night() {
            assert!(taken.insert((r["roomId"].as_str().unwrap().to_owned(), bnb_contexts::domain::stay::format_date(night))), "a night booked twice");
        }
    }
    assert_eq!(all_reservations.values().filter(|i| kind(i, "night-lock")).count(), taken.len(), "locks match the confirmed nights exactly");
    // Invariant 2.
    let by_reservation: HashMap<&str, &Item> = payments.values().filter(|p| kind(p, "payment")).map(|p| (p["reservationId"].as_str().unwrap(), p)).collect();
    for r in &bookings {
        let payment = by_reservation.get(r["reservationId"].as_str().unwrap());
        match r["status"].as_str() {
            Some("CONFIRMED") => assert_eq!(payment.map(|p| (p["status"].clone(), p["amount"].clone())), Some((json!("APPROVED"), r["amount"].clone()))),
            _ => assert!(payment.is_none_or(|p| p["status"] == "REFUNDED" || p["status"] == "DECLINED" || p["status"] == "VOIDED"), "{r:?} kept {payment:?}"),
        }
    }
    // Invariant 3: every outbox event reached every consumer its subscription admits, once.
    let consumers: BTreeMap<String, (String, Option<FilterPolicy>)> = topology
        .subscriptions
        .iter()
        // The domain events' consumers; the alerts topic's sender is checked below.
        .filter(|s| s.topic == "domain-events")
        .filter_map(|s| {
            let function = topology
                .functions
                .iter()
                .find(|f| f.triggers.iter().any(|t| matches!(t, bnb_local::template::Trigger::Sqs { queue, .. } if queue == &s.queue)))?;
            let own = match function.binary.as_str() {
                "view-projector" => "views",
                "room-handler" => "rooms",
                "reservation-handler" => "reservations",
                "payment-handler" => "payments",
                "notification-handler" => "notifications",
                other => panic!("which table does {other} own?"),
            };
            Some((function.binary.clone(), (own.to_owned(), s.filter_policy.as_ref().map(|p| FilterPolicy::parse(p).unwrap()))))
        })
        .collect();
    let mut events = Vec::new();
    for name in ["rooms", "reservations", "payments", "reviews"] {
        let mut position = StreamPosition::start();
        loop {
            let batch = table(name).read_stream(&position, 5000).await.unwrap();
            if batch.records.is_empty() {
                break;
            }
            events.extend(batch.records.iter().filter_map(|r| r.new_image.as_ref().and_then(envelope_of)).filter_map(Result::ok));
            position = batch.next;
        }
    }
    assert!(events.len() > 20);
    for event in &events {
        let attributes = BTreeMap::from([("eventType".to_string(), event.event_type().to_string())]);
        for (consumer, (own, policy)) in &consumers {
            if policy.as_ref().is_none_or(|p| p.admits(&attributes)) {
                let marker = Key::new(format!("PROCESSED#{consumer}#{}", event.event_id), "PROCESSED");
                assert!(table(own).get(&marker).await.unwrap().is_some(), "{} {} never reached {consumer}", event.event_type(), event.event_id);
            }
        }
    }
    // And the views say what happened; revenue is confirmed minus refunded.
    let views = table("views");
    let mut held = 0;
    for r in bookings.iter().filter(|r| r["status"] == "CONFIRMED" || r["status"] == "CANCELLED") {
        let view = views.get(&Key::new(format!("RESERVATION#{}", r["reservationId"].as_str().unwrap()), "VIEW")).await.unwrap().expect("a view");
        assert_eq!(view["status"], r["status"]);
        if r["status"] == "CONFIRMED" {
            held += r["amount"]["amount"].as_i64().unwrap();
        }
    }
    let revenue = views.get(&Key::new("HOST#host-hana", "REVENUE#KRW")).await.unwrap().expect("revenue");
    assert_eq!(revenue["confirmed"].as_i64().unwrap() - revenue.get("refunded").and_then(Value::as_i64).unwrap_or(0), held, "revenue = confirmed − refunded");
    // Notifications: exactly one per event and recipient.
    let notifications: Vec<Item> = items(table("notifications").as_ref()).await.into_values().filter(|i| kind(i, "notification")).collect();
    let ids: HashSet<&str> = notifications.iter().map(|n| n["notificationId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), notifications.len(), "a notification stored twice");
    let expected: usize = events
        .iter()
        .map(|e| match e.event_type() {
            bnb_contexts::events::EventType::ReservationConfirmed | bnb_contexts::events::EventType::ReservationCancelled => 2,
            bnb_contexts::events::EventType::PaymentRefunded
            | bnb_contexts::events::EventType::ReservationAborted
            | bnb_contexts::events::EventType::RoomDeleted
            | bnb_contexts::events::EventType::ReviewWritten => 1,
            _ => 0,
        })
        .sum();
    assert_eq!(notifications.len(), expected, "one notification per event and recipient");
    // And each went through the AlimTalk sender to where it stays: no one here gave a phone.
    let unsettled: Vec<&Item> = notifications.iter().filter(|n| n["delivery"] != "IN_APP_ONLY").collect();
    assert!(unsettled.is_empty(), "notifications the sender never settled: {unsettled:?}");
    // Invariant 7: every booking that stands (or stood, and was cancelled) was answered 201 to
    // the client whose key made it, and every 201 is a booking that stands.
    let mut answered = 0;
    for r in bookings.iter().filter(|r| r["status"] == "CONFIRMED" || r["status"] == "CANCELLED") {
        let pk = r["idempotencyPk"].as_str().expect("every booking of this load has a key");
        let key = pk.splitn(3, '#').nth(2).unwrap();
        let answer = told.get(key).unwrap_or_else(|| panic!("{pk} ({key}) was never answered; {} keys told", told.len()));
        assert_eq!(
            (answer.status, answer.body["reservation"]["reservationId"].as_str()),
            (201, r["reservationId"].as_str()),
            "{key}: the client was told {answer:?} of its booking {r:?}"
        );
        answered += 1;
    }
    assert_eq!(told.values().filter(|t| t.status == 201).count(), answered, "every 201 is a booking");
    assert!(told.values().all(|t| [201, 402, 409].contains(&t.status)), "final answers: {:?}", told.values().map(|t| t.status).collect::<Vec<_>>());
    // Nothing was dead-lettered.
    for queue in running.wiring.queues.values().filter(|q| q.name().ends_with("-dlq")) {
        let depth = queue.depth().await.unwrap();
        assert_eq!(depth.visible + depth.in_flight, 0, "{} holds messages", queue.name());
    }
    println!(
        "crash safety: {BOOKINGS} keyed bookings, {kills} SIGKILLs, {} confirmed or cancelled, {} events, {} notifications checked",
        answered,
        events.len(),
        notifications.len()
    );
    running.stop().await.unwrap();
}
