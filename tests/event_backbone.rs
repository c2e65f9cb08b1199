//! The event backbone, on the embedded adapters and on moto: outbox → stream → publish-events →
//! topic → filtered queues → consumers, with idempotent consumers, DLQs and redrive, the
//! correlation id carried through every hop, and a pump that survives being stopped mid-stream.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lambda_events::event::sqs::SqsEvent;
use bnb_aws_sns::SnsTopic;
use bnb_aws_sqs::SqsQueue;
use bnb_contexts::consumer::decode;
use bnb_contexts::events::{Causation, Envelope, EventType};
use bnb_contexts::messaging::{Attributes, FilterPolicy, Queue, Topic};
use bnb_contexts::rooms::RoomStore;
use bnb_contexts::storage::{ChangeKind, Table};
use bnb_contexts::views::ViewProjector;
use bnb_embedded::{EmbeddedBus, QueueSettings};
use bnb_lambda::sqs::handle_sqs_event;
use bnb_local::pump::sqs_event;
use serde_json::{json, Value};
use support::{eventually, local_config, On};

fn room_body() -> String {
    json!({"title": "Hanok", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 120000, "currency": "KRW"}}).to_string()
}

async fn register_room_over_http(base: &str, host: &str, correlation_id: &str, data_dir: &std::path::Path) -> Value {
    let token = bnb_local::auth::Authority::load_or_create(data_dir).unwrap().mint(host, &["host".into()], None, None, 600).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{base}/rooms"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("x-correlation-id", correlation_id)
        .body(room_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn event_types(queue_messages: &[bnb_contexts::messaging::ReceivedMessage]) -> Vec<String> {
    let mut types: Vec<String> =
        queue_messages.iter().map(|m| decode(&m.body).map(|e| e.event_type().to_string()).unwrap_or_else(|e| format!("undecodable: {e}"))).collect();
    types.sort();
    types
}

async fn drain(queue: &dyn Queue) -> Vec<bnb_contexts::messaging::ReceivedMessage> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let batch = queue.receive(10).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in &batch {
            queue.delete(&m.receipt_handle).await.unwrap();
        }
        out.extend(batch);
    }
    out
}

/// How many distinct (row, event) writes a partition saw. Counting effects, not stream records:
/// moto reports an UpdateItem that creates an item as two INSERT records, DynamoDB as one.
fn written_by(changes: &[bnb_contexts::storage::StreamRecord], pk: &str) -> usize {
    changes
        .iter()
        .filter(|c| c.keys.pk == pk)
        .filter_map(|c| c.new_image.as_ref().and_then(|i| i.get("lastEventId")).map(|e| (c.keys.sk.clone(), e.to_string())))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn envelope(event_type: EventType, room: &str, version: u64, correlation_id: &str) -> Envelope {
    // A payload of the event type's own shape, about this room.
    let reservation = "01a20000-0000-7000-8000-0000000000e1";
    let amount = json!({"amount": 100000, "currency": "KRW"});
    let payload = match event_type {
        EventType::RoomRegistered | EventType::RoomModified | EventType::RoomDeleted => json!({
            "roomId": room, "hostId": "hana", "title": format!("Room {room}"), "description": "", "city": "Seoul", "address": "1 Jong-ro",
            "capacity": 2, "nightlyPrice": amount, "amenities": [], "status": if event_type == EventType::RoomDeleted { "DELETED" } else { "ACTIVE" },
            "version": version, "rating": {"count": 0, "average": null}, "createdAt": "2026-11-24T10:00:00Z", "updatedAt": "2026-11-24T10:00:00Z",
        }),
        EventType::PaymentApproved | EventType::PaymentDeclined | EventType::PaymentRefunded => json!({
            "paymentId": "01a20000-0000-7000-8000-0000000000e2", "reservationId": reservation, "amount": amount, "status": "DECLINED",
        }),
        _ => json!({
            "reservationId": reservation, "roomId": room, "guestId": "minho", "hostId": "hana", "checkIn": "2026-12-01", "checkOut": "2026-12-02",
            "guests": 1, "amount": amount, "status": "CONFIRMED", "version": version, "cancelledBy": "guest", "reason": "timeout",
        }),
    };
    Envelope::from_payload(event_type, room, version, &Causation::request(correlation_id), payload).unwrap()
}

// ---------------------------------------------------------------- filter policies

/// A topic with three filtered subscriptions (raw and SNS-wrapped) on one backend.
async fn filtered_fanout(on: On) -> (Arc<dyn Topic>, Vec<(Arc<dyn Queue>, Value)>, Option<tempfile::TempDir>) {
    let policies = vec![
        json!({"eventType": ["RoomDeleted", "PaymentRefunded"]}),
        json!({"eventType": [{"anything-but": ["PaymentDeclined"]}]}),
        json!({"eventType": [{"prefix": "Reservation"}]}),
    ];
    match on {
        On::Embedded => {
            let (store, dir) = support::embedded_store();
            let bus = EmbeddedBus::open(store).await.unwrap();
            let mut queues = Vec::new();
            for (i, policy) in policies.into_iter().enumerate() {
                let name = format!("q{i}");
                let q =
                    bus.declare_queue(QueueSettings { name: name.clone(), visibility_timeout_ms: 30_000, max_receive_count: None, dlq: None }).await.unwrap();
                bus.subscribe("events", &name, Some(&policy), i != 1).await.unwrap();
                queues.push((Arc::new(q) as Arc<dyn Queue>, policy));
            }
            (Arc::new(bus.topic("events")), queues, Some(dir))
        }
        On::Moto => {
            let config = bnb_lambda::aws::aws_sdk_config_for(&support::moto_url()).await;
            let topic = SnsTopic::ensure(&config, &support::unique("events")).await.unwrap();
            let mut queues = Vec::new();
            for (i, policy) in policies.into_iter().enumerate() {
                let q = SqsQueue::ensure(&config, &support::unique("q"), 30, None).await.unwrap();
                topic.subscribe_queue(&q.arn(), Some(&policy), i != 1).await.unwrap();
                queues.push((Arc::new(q) as Arc<dyn Queue>, policy));
            }
            (Arc::new(topic), queues, None)
        }
    }
}

async fn filter_policies_route_each_event_to_exactly_the_admitting_queues(on: On) {
    let (topic, queues, _dir) = filtered_fanout(on).await;
    let published = [EventType::RoomRegistered, EventType::PaymentDeclined, EventType::ReservationConfirmed, EventType::RoomDeleted];
    for t in published {
        let body = serde_json::to_string(&envelope(t, "r1", 1, "c1")).unwrap();
        topic.publish(&body, &Attributes::from([("eventType".to_string(), t.as_str().to_string())])).await.unwrap();
    }
    for (queue, policy) in &queues {
        let filter = FilterPolicy::parse(policy).unwrap();
        let mut expected: Vec<String> =
            published.iter().filter(|t| filter.admits(&BTreeMap::from([("eventType".to_string(), t.as_str().to_string())]))).map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(event_types(&drain(queue.as_ref()).await), expected, "queue with filter {policy}");
    }
}

// ---------------------------------------------------------------- the template's fan-out

/// A room registered over HTTP produces RoomRegistered on every queue of the template whose
/// filter admits it, and on no other.
async fn room_registered_reaches_the_template_queues_that_admit_it(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let config = local_config(on, dir.path());
    let topology = bnb_local::template::Topology::load(&config.template).unwrap();
    let store = bnb_embedded::EmbeddedStore::open(bnb_local::runtime::database_path(dir.path())).unwrap();
    let wiring = bnb_local::wiring::Wiring::build(&config.backend, &store, &topology, None, &config.prefix, bnb_contexts::clock::system()).await.unwrap();
    let rooms = wiring.table("rooms").unwrap();
    let request = support::api_request("POST", "/rooms", "/rooms", Some(&room_body()), Some(support::claims("hana", "host")), &[]);
    let (status, _, _) = support::answer(register_room::handle(&RoomStore::new(rooms.clone()), request).await.unwrap());
    assert_eq!(status, 201);
    // What Lambda's stream mapping would hand publish-events.
    let batch = rooms.read_stream(&bnb_contexts::storage::StreamPosition::start(), 100).await.unwrap();
    let stream_arn = format!("arn:aws:dynamodb:local:0:table/{}/stream/x", rooms.name());
    let event = bnb_lambda::stream_event::stream_event(rooms.name(), &stream_arn, &batch.records).unwrap();
    let outboxes = bnb_contexts::outbox::OutboxTables::new([rooms.clone()]);
    let response = publish_events::handle(wiring.topic("domain-events").unwrap().as_ref(), &outboxes, event).await;
    assert!(response.batch_item_failures.is_empty());
    // Published, so its outbox item is gone: nothing is left for the sweep.
    let published = batch.records.iter().filter_map(|r| r.new_image.as_ref().and_then(bnb_contexts::outbox::envelope_of)).next().unwrap().unwrap();
    assert!(
        rooms.get(&bnb_contexts::outbox::outbox_key(&published.event_id.to_string())).await.unwrap().is_none(),
        "a published event's outbox item is cleared"
    );
    let attributes = BTreeMap::from([("eventType".to_string(), "RoomRegistered".to_string())]);
    let mut admitting = 0;
    for subscription in &topology.subscriptions {
        let admits = subscription.filter_policy.as_ref().is_none_or(|p| FilterPolicy::parse(p).unwrap().admits(&attributes));
        let got = event_types(&drain(wiring.queue(&subscription.queue).unwrap().as_ref()).await);
        if admits {
            admitting += 1;
            assert_eq!(got, ["RoomRegistered"], "queue {}", subscription.queue);
        } else {
            assert!(got.is_empty(), "queue {} must not get RoomRegistered: {got:?}", subscription.queue);
        }
    }
    assert!(admitting >= 1, "the view projector at least takes RoomRegistered");
}

// ---------------------------------------------------------------- idempotent consumers

async fn the_same_message_twice_changes_a_consumer_once(on: On) {
    let (views, _dir): (Arc<dyn Table>, _) = match on {
        On::Embedded => {
            let (t, d) = support::embedded_table(bnb_contexts::tables::views());
            (t, Some(d))
        }
        On::Moto => (support::moto_table(bnb_contexts::tables::views()).await, None),
    };
    let projector = ViewProjector::new(views.clone());
    let (bus_store, _bus_dir) = support::embedded_store();
    let bus = EmbeddedBus::open(bus_store).await.unwrap();
    let dlq = bnb_contexts::consumer::QueueDeadLetters(Arc::new(
        bus.declare_queue(QueueSettings { name: "dlq".into(), visibility_timeout_ms: 1000, max_receive_count: None, dlq: None }).await.unwrap(),
    ));
    let e = envelope(EventType::RoomRegistered, "01a20000-0000-7000-8000-000000000001", 1, "c-dup");
    let body = serde_json::to_string(&e).unwrap();
    let message = |id: &str| bnb_contexts::messaging::ReceivedMessage {
        message_id: id.into(),
        receipt_handle: format!("rh-{id}"),
        body: body.clone(),
        attributes: Attributes::new(),
        receive_count: 1,
        sent_at_ms: 0,
    };
    // Twice in one batch, and once more in a later one.
    let first: SqsEvent = sqs_event("arn:aws:sqs:local:0:q", &[message("m1"), message("m2")]);
    assert!(handle_sqs_event(&projector, &dlq, first).await.batch_item_failures.is_empty());
    let again: SqsEvent = sqs_event("arn:aws:sqs:local:0:q", &[message("m3")]);
    assert!(handle_sqs_event(&projector, &dlq, again).await.batch_item_failures.is_empty());
    let changes = support::all_changes(views.as_ref()).await;
    assert_eq!(written_by(&changes, "HOST#hana"), 1, "one event changed the view, however often it came");
    assert!(changes.iter().filter(|c| c.keys.pk == "HOST#hana").all(|c| c.kind == ChangeKind::Insert));
    assert_eq!(changes.iter().filter(|c| c.keys.pk.starts_with("PROCESSED#")).count(), 1);
    // An older version arriving late changes nothing either.
    let newer = envelope(EventType::RoomModified, "01a20000-0000-7000-8000-000000000001", 3, "c-dup");
    let older = envelope(EventType::RoomModified, "01a20000-0000-7000-8000-000000000001", 2, "c-dup");
    for e in [&newer, &older] {
        let m = bnb_contexts::messaging::ReceivedMessage { body: serde_json::to_string(e).unwrap(), ..message("m4") };
        assert!(handle_sqs_event(&projector, &dlq, sqs_event("arn:aws:sqs:local:0:q", &[m])).await.batch_item_failures.is_empty());
    }
    let row = views.get(&bnb_contexts::storage::Key::new("HOST#hana", "ROOM#01a20000-0000-7000-8000-000000000001")).await.unwrap().unwrap();
    assert_eq!(row["version"], 3);
}

// ---------------------------------------------------------------- DLQ and redrive

async fn a_poison_message_reaches_the_dlq_while_its_batch_succeeds_and_redrive_brings_it_back(on: On) {
    let dir = tempfile::tempdir().unwrap();
    let running = bnb_local::start(local_config(on, dir.path())).await.unwrap();
    let queue = running.wiring.queue("view-projector-queue").unwrap();
    let dlq = running.wiring.queue("view-projector-dlq").unwrap();
    let views = running.wiring.table("views").unwrap();
    let good = ["01a20000-0000-7000-8000-00000000000a", "01a20000-0000-7000-8000-00000000000b"];
    queue.send(&serde_json::to_string(&envelope(EventType::RoomRegistered, good[0], 1, "c-p")).unwrap(), &Attributes::new()).await.unwrap();
    queue.send("this is not an event", &Attributes::new()).await.unwrap();
    // An event whose payload is not its type's: it does not say whose room it is, so it never reads.
    let mut hostless = serde_json::to_value(envelope(EventType::RoomRegistered, "01a20000-0000-7000-8000-00000000000c", 1, "c-p")).unwrap();
    hostless["payload"] = json!({"roomId": "01a20000-0000-7000-8000-00000000000c"});
    let hostless = hostless.to_string();
    queue.send(&hostless, &Attributes::new()).await.unwrap();
    queue.send(&serde_json::to_string(&envelope(EventType::RoomRegistered, good[1], 1, "c-p")).unwrap(), &Attributes::new()).await.unwrap();
    eventually(90, "both poison messages in the DLQ and both good events applied", || {
        let (dlq, views) = (dlq.clone(), views.clone());
        async move {
            let rooms = support::partition(views.as_ref(), "HOST#hana")
                .await
                .into_iter()
                .filter(|i| i["sk"].as_str().is_some_and(|sk| sk.starts_with("ROOM#")))
                .count();
            dlq.depth().await.unwrap().visible == 2 && rooms == 2
        }
    })
    .await;
    let wiring = running.wiring.clone();
    running.stop().await.unwrap();
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.visible, depth.in_flight), (0, 0), "nothing is left behind in the source queue");
    // Dead-lettered at once (no five retries), each with its reason.
    let dead = drain(dlq.as_ref()).await;
    let reason = |body: &str| dead.iter().find(|m| m.body == body).and_then(|m| m.attributes.get("deadLetterReason").cloned()).unwrap_or_default();
    assert!(reason("this is not an event").contains("not JSON"), "{dead:?}");
    assert!(reason(&hostless).contains("hostId"), "{dead:?}");
    for m in &dead {
        dlq.send(&m.body, &m.attributes).await.unwrap();
    }
    let moved = bnb_contexts::messaging::redrive(dlq.as_ref(), queue.as_ref(), 100).await.unwrap();
    assert_eq!(moved, 2);
    assert_eq!(dlq.depth().await.unwrap().visible, 0);
    let back = drain(wiring.queue("view-projector-queue").unwrap().as_ref()).await;
    let mut bodies: Vec<&str> = back.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    let mut expected = vec!["this is not an event", hostless.as_str()];
    expected.sort();
    assert_eq!(bodies, expected);
}

// ---------------------------------------------------------------- correlation id

/// Log lines written by every test of this binary, as JSON.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        // The format the functions log in (bnb_lambda::telemetry): every span's fields on the line.
        let _ = tracing_subscriber::fmt()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(bnb_lambda::telemetry::FlatJson)
            .with_writer(move || CaptureWriter(writer.clone()))
            .try_init();
        buffer
    })
    .clone()
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn the_correlation_id_of_the_request_reaches_the_consumer_and_its_logs(on: On) {
    let logs = captured_logs();
    let dir = tempfile::tempdir().unwrap();
    let running = bnb_local::start(local_config(on, dir.path())).await.unwrap();
    let correlation_id = format!("corr-{}", uuid::Uuid::now_v7().simple());
    let host = format!("host-{}", uuid::Uuid::now_v7().simple());
    let room = register_room_over_http(&running.url(), &host, &correlation_id, dir.path()).await;
    let views = running.wiring.table("views").unwrap();
    let pk = format!("HOST#{host}");
    eventually(60, "the view projector applied RoomRegistered", || {
        let (views, pk) = (views.clone(), pk.clone());
        async move { !support::partition(views.as_ref(), &pk).await.is_empty() }
    })
    .await;
    let row = &support::partition(views.as_ref(), &pk).await[0];
    assert_eq!(row["roomId"], room["roomId"]);
    // The consumer's processed-event record keeps the envelope's correlation id.
    let marker = views
        .get(&bnb_contexts::storage::Key::new(format!("PROCESSED#view-projector#{}", row["lastEventId"].as_str().unwrap()), "PROCESSED"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(marker["correlationId"], correlation_id.as_str());
    running.stop().await.unwrap();
    // And every hop logged it: the command, the publisher, the consumer.
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let lines: Vec<Value> = text.lines().filter(|l| l.contains(&correlation_id)).filter_map(|l| serde_json::from_str(l).ok()).collect();
    let said = |msg: &str| lines.iter().any(|l| l["message"] == msg);
    assert!(said("room registered"), "the command logged it");
    assert!(said("event published"), "publish-events logged it");
    assert!(lines.iter().any(|l| l["message"] == "event handled" && l["consumer"] == "view-projector"), "the consumer logged it");
    assert!(lines.iter().all(|l| l["correlation_id"] == correlation_id.as_str()), "the correlation id is a field of every line, flat");
}

// ---------------------------------------------------------------- stopping mid-stream

async fn stopping_the_pump_mid_stream_loses_no_event_and_duplicates_no_effect(on: On) {
    const ROOMS: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let config = local_config(on, dir.path());
    let running = bnb_local::start(config.clone()).await.unwrap();
    let host = format!("host-{}", uuid::Uuid::now_v7().simple());
    let base = running.url();
    let mut tasks = Vec::new();
    for i in 0..ROOMS {
        let (base, host, data) = (base.clone(), host.clone(), dir.path().to_path_buf());
        tasks.push(tokio::spawn(async move { register_room_over_http(&base, &host, &format!("stop-{i}"), &data).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Stop at once: some events are published and applied, some not yet.
    let views = running.wiring.table("views").unwrap();
    running.stop().await.unwrap();
    let running = bnb_local::start(config).await.unwrap();
    let pk = format!("HOST#{host}");
    let rooms_of = |items: Vec<bnb_contexts::storage::Item>| items.into_iter().filter(|i| i["sk"].as_str().is_some_and(|sk| sk.starts_with("ROOM#"))).count();
    eventually(120, "every room on the host's dashboard", || {
        let (views, pk) = (views.clone(), pk.clone());
        async move { rooms_of(support::partition(views.as_ref(), &pk).await) == ROOMS }
    })
    .await;
    // Every delivery, duplicates included, has been applied.
    support::drained(&running, 60).await;
    running.stop().await.unwrap();
    let changes = support::all_changes(views.as_ref()).await;
    assert_eq!(written_by(&changes, &pk), ROOMS, "each room's event applied once, none twice");
    let room_rows = || changes.iter().filter(|c| c.keys.pk == pk && c.keys.sk.starts_with("ROOM#"));
    assert!(room_rows().all(|c| c.kind == ChangeKind::Insert), "no row rewritten");
    let summary = support::partition(views.as_ref(), &pk).await.into_iter().find(|i| i["sk"] == "SUMMARY").expect("the host's summary");
    assert_eq!(summary["activeRooms"], json!(ROOMS), "each room counted once, however often its event came");
}

/// `publish_batch` publishes every message, in order, each filtered on its own attributes (past
/// one PublishBatch request's ten); `delete_batch` deletes exactly the receipts given (past one
/// DeleteMessageBatch request's ten).
async fn batches_publish_and_delete_like_single_calls(on: On) {
    let (topic, queues, _dir) = filtered_fanout(on).await;
    let types = [EventType::RoomRegistered, EventType::PaymentDeclined, EventType::ReservationConfirmed, EventType::RoomDeleted];
    let messages: Vec<(String, Attributes)> = (0..24)
        .map(|i| {
            let t = types[i % types.len()];
            (serde_json::to_string(&envelope(t, &format!("r{i}"), 1, "c1")).unwrap(), Attributes::from([("eventType".to_string(), t.as_str().to_string())]))
        })
        .collect();
    let ids = topic.publish_batch(&messages).await.unwrap();
    assert_eq!(ids.len(), 24);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 24, "one message id each");
    // The queue that admits all but PaymentDeclined: 18 of them.
    let (queue, _) = &queues[1];
    let mut received = Vec::new();
    for _ in 0..20 {
        received.extend(queue.receive(10).await.unwrap());
        if received.len() >= 18 {
            break;
        }
    }
    assert_eq!(received.len(), 18, "every admitted message arrived");
    let (gone, kept) = received.split_at(13);
    queue.delete_batch(&gone.iter().map(|m| m.receipt_handle.clone()).collect::<Vec<_>>()).await.unwrap();
    for m in kept {
        queue.release(&m.receipt_handle).await.unwrap();
    }
    let mut again = Vec::new();
    for _ in 0..20 {
        again.extend(queue.receive(10).await.unwrap());
        if again.len() >= 5 {
            break;
        }
    }
    let mut left: Vec<&str> = again.iter().map(|m| m.message_id.as_str()).collect();
    let mut expected: Vec<&str> = kept.iter().map(|m| m.message_id.as_str()).collect();
    left.sort();
    expected.sort();
    assert_eq!(left, expected, "only what was not deleted comes back");
}

on_both_backends!(
    batches_publish_and_delete_like_single_calls,
    filter_policies_route_each_event_to_exactly_the_admitting_queues,
    room_registered_reaches_the_template_queues_that_admit_it,
    the_same_message_twice_changes_a_consumer_once,
    a_poison_message_reaches_the_dlq_while_its_batch_succeeds_and_redrive_brings_it_back,
    the_correlation_id_of_the_request_reaches_the_consumer_and_its_logs,
    stopping_the_pump_mid_stream_loses_no_event_and_duplicates_no_effect,
);

// ---------------------------------------------------------------- stream filters

/// The template's `FilterCriteria` lets only outbox INSERTs invoke `publish-events`: the
/// reservations table's other writes (night locks, breaker state, idempotency records,
/// processed markers) and the outbox item's own clean-up never do. Real writes by the real
/// code, read by bnb-local's stream pump with the filters it reads from the template.
#[tokio::test]
async fn only_outbox_inserts_reach_publish_events() {
    use bnb_contexts::consumer::apply_once;
    use bnb_contexts::domain::reservation::{Reservation, ReservationStatus};
    use bnb_contexts::domain::{Money, ReservationId, RoomId, Stay, UserId};
    use bnb_contexts::events::{Event, ReservationConfirmed};
    use bnb_contexts::payments::{BreakerConfig, CircuitBreaker};
    use bnb_contexts::reservations::{IdempotencyStore, ReservationHandler, ReservationStore};
    use bnb_local::template::{Topology, Trigger};

    let topology = Topology::load(&support::template_path()).unwrap();
    let publish = topology.function("publish-events").unwrap();
    let filters = publish
        .triggers
        .iter()
        .find_map(|t| match t {
            Trigger::Stream { table, filters, .. } if table == "reservations" => Some(filters.clone()),
            _ => None,
        })
        .expect("publish-events reads the reservations stream");
    assert!(!filters.is_empty(), "the template filters the reservations stream");

    let (store, _dir) = support::embedded_store();
    let table: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::RESERVATIONS.spec()));
    let clock = bnb_contexts::clock::system();
    let reservations = ReservationStore::new(table.clone(), clock.clone());
    let stay = Stay::new(time::macros::date!(2030 - 12 - 24), time::macros::date!(2030 - 12 - 26)).unwrap();
    let reservation = Reservation {
        reservation_id: ReservationId::generate(),
        room_id: RoomId::generate(),
        guest_id: UserId::new("minho"),
        host_id: UserId::new("hana"),
        stay,
        guests: 2,
        amount: Money::new(240_000, "KRW").unwrap(),
        status: ReservationStatus::Confirmed,
        payment_id: None,
        version: 2,
    };
    // A night lock each, an idempotency record, the payment breaker's state, an event with its
    // outbox item, the processed marker of a consumer of it, and the outbox item's clean-up.
    table.write(ReservationStore::hold_nights(&reservation).unwrap()).await.unwrap();
    IdempotencyStore::new(table.clone(), clock.clone(), std::time::Duration::from_secs(15)).begin("minho", "key-1", "{}").await.unwrap();
    let breaker = CircuitBreaker::new(table.clone(), "payment", BreakerConfig { failure_threshold: 1, ..BreakerConfig::default() }, clock.clone());
    let permit = breaker.acquire().await.unwrap();
    breaker.failed(permit).await;
    let event = Envelope::new(
        Event::ReservationConfirmed(ReservationConfirmed { reservation: reservation.clone(), room_title: Some("Hanok".into()) }),
        reservation.reservation_id.to_string(),
        2,
        &Causation::request("c-filter"),
    );
    bnb_contexts::outbox::write_with_events(table.as_ref(), vec![], std::slice::from_ref(&event)).await.unwrap();
    apply_once(&ReservationHandler::new(reservations), &event).await.unwrap();
    bnb_contexts::outbox::clear(table.as_ref(), &event.event_id.to_string()).await.unwrap();
    let written: Vec<String> = support::all_changes(table.as_ref()).await.iter().map(|c| format!("{:?} {}", c.kind, c.keys.pk)).collect();
    for prefix in ["Insert NIGHT#", "Insert IDEMPOTENCY#", "BREAKER#", "Insert PROCESSED#", "Insert OUTBOX#", "Remove OUTBOX#"] {
        assert!(written.iter().any(|w| w.contains(prefix)), "the test wrote {prefix}...: {written:?}");
    }

    // bnb-local's pump, with the template's filters, in front of a function that notes what it gets.
    let delivered: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = delivered.clone();
    let handler: bnb_local::functions::StreamFunction = Arc::new(move |event: aws_lambda_events::event::dynamodb::Event| {
        let seen = seen.clone();
        Box::pin(async move {
            for r in &event.records {
                let pk: Option<String> = r.change.keys.get("pk").and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok());
                seen.lock().unwrap().push(format!("{} {}", r.event_name, pk.unwrap_or_default()));
            }
            aws_lambda_events::event::streams::DynamoDbEventResponse::default()
        })
    });
    let checkpoints = bnb_local::pump::Checkpoints::open(store.clone()).await.unwrap();
    let pump = bnb_local::pump::StreamPump {
        function: "publish-events".into(),
        table: table.clone(),
        handler,
        batch_size: 3,
        maximum_retry_attempts: 3,
        on_failure: None,
        timeout: std::time::Duration::from_secs(5),
        checkpoints: checkpoints.clone(),
        filters,
        wake: bnb_local::pump::Wake::on(store.watch("table:reservations").unwrap()),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(pump.run(stopped));
    let end = support::all_changes(table.as_ref()).await.last().unwrap().position.clone();
    eventually(30, "the pump read the whole stream", || {
        let (checkpoints, end) = (checkpoints.clone(), end.clone());
        async move { checkpoints.load("stream:reservations:publish-events").await.unwrap() == end }
    })
    .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered, vec![format!("INSERT OUTBOX#{}", event.event_id)], "only the outbox INSERT invoked the function; written: {written:?}");
}

// ---------------------------------------------------------------- queue concurrency

/// A queue's mapping runs up to its `MaximumConcurrency` batches at once: three invocations
/// meet at a barrier that only three concurrent invocations can pass (one at a time, the first
/// would wait there until its bound), and every message is deleted once handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_runs_its_batches_concurrently_up_to_its_maximum() {
    let (store, _dir) = support::embedded_store();
    let bus = EmbeddedBus::open(store.clone()).await.unwrap();
    let queue: Arc<dyn Queue> =
        Arc::new(bus.declare_queue(QueueSettings { name: "work".into(), visibility_timeout_ms: 30_000, max_receive_count: None, dlq: None }).await.unwrap());
    for i in 0..3 {
        queue.send(&format!("m{i}"), &Attributes::new()).await.unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let (in_flight, most) = (Arc::new(std::sync::atomic::AtomicUsize::new(0)), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    let met = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: bnb_local::functions::SqsFunction = {
        let (barrier, in_flight, most, met) = (barrier.clone(), in_flight.clone(), most.clone(), met.clone());
        Arc::new(move |_event: SqsEvent| {
            let (barrier, in_flight, most, met) = (barrier.clone(), in_flight.clone(), most.clone(), met.clone());
            Box::pin(async move {
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                if tokio::time::timeout(std::time::Duration::from_secs(10), barrier.wait()).await.is_ok() {
                    met.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                aws_lambda_events::event::sqs::SqsBatchResponse::default()
            })
        })
    };
    let pump = bnb_local::pump::QueuePump {
        function: "worker".into(),
        queue: queue.clone(),
        handler,
        batch_size: 1,
        report_failures: true,
        timeout: std::time::Duration::from_secs(30),
        concurrency: 3,
        wake: bnb_local::pump::Wake::on(store.watch("queue:work").unwrap()),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(pump.run(stopped));
    eventually(30, "every message handled and deleted", || {
        let queue = queue.clone();
        async move { queue.depth().await.unwrap() == Default::default() }
    })
    .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 3, "three batches ran at once");
    assert_eq!(met.load(std::sync::atomic::Ordering::SeqCst), 3, "all three met at the barrier");
}
