//! Every file in `events/` is a real event (valid for `sam local invoke`) and is fed here to its
//! function's handler, which must answer as the file's name promises.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use bnb::domain::room::{Room, RoomDetails, RoomInput};
use bnb::domain::{RoomId, UserId};
use bnb::messaging::embedded::{EmbeddedBus, QueueSettings};
use bnb::messaging::Queue;
use bnb::rooms::{RoomHandler, RoomStore};
use bnb::storage::{Table, WriteOp};
use bnb::views::ViewProjector;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// What a file's handler must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An HTTP status.
    Status(u16),
    /// How many batch items fail (SQS and stream batches).
    Failures(usize),
}

const EXPECTED: &[(&str, Expect)] = &[
    ("register-room-created.json", Expect::Status(201)),
    ("register-room-invalid.json", Expect::Status(400)),
    ("register-room-not-a-host.json", Expect::Status(403)),
    ("get-room-found.json", Expect::Status(200)),
    ("get-room-not-found.json", Expect::Status(404)),
    ("modify-room-updated.json", Expect::Status(200)),
    ("modify-room-stale-version.json", Expect::Status(409)),
    ("modify-room-not-owner.json", Expect::Status(403)),
    ("delete-room-deleted.json", Expect::Status(204)),
    ("delete-room-not-owner.json", Expect::Status(403)),
    ("search-rooms-by-city-and-dates.json", Expect::Status(200)),
    ("search-rooms-invalid.json", Expect::Status(400)),
    ("room-handler-reservation-confirmed.json", Expect::Failures(0)),
    ("room-handler-review-written.json", Expect::Failures(0)),
    ("room-handler-poison-message.json", Expect::Failures(1)),
    ("view-projector-room-registered.json", Expect::Failures(0)),
    ("publish-events-outbox-insert.json", Expect::Failures(0)),
    ("publish-events-malformed-outbox.json", Expect::Failures(1)),
];

#[test]
fn every_events_file_is_exercised() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every events/ file has an expected answer here, and every listed one exists");
    for file in &files {
        let function = bnb_local::functions::LINKED.iter().filter(|f| file.starts_with(&format!("{f}-"))).max_by_key(|f| f.len());
        assert!(function.is_some(), "{file} is named <function>-<case>.json after a function bnb links");
    }
}

/// The room every event about `01936f4e-7c1a-...` refers to: Hana's, in Seoul, version 1.
async fn seed_room(rooms: &dyn Table) {
    let mut room = Room::register(
        UserId::new("host-hana"),
        RoomDetails::validate(RoomInput {
            title: "Hanok".into(),
            city: "Seoul".into(),
            address: "1 Bukchon-ro".into(),
            capacity: 2,
            price_amount: 120_000,
            price_currency: "KRW".into(),
            ..Default::default()
        })
        .unwrap(),
        time::OffsetDateTime::now_utc(),
    );
    room.id = RoomId::parse("01936f4e-7c1a-7d3e-9b2f-4a5c6d7e8f90").unwrap();
    rooms.write(vec![WriteOp::put(RoomStore::to_item(&room).unwrap())]).await.unwrap();
}

#[tokio::test]
async fn events_files_get_the_answers_their_names_promise() {
    for (file, expected) in EXPECTED {
        let text = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let (store, _dir) = support::embedded_store();
        let rooms: Arc<dyn Table> = Arc::new(store.table(bnb::tables::rooms()));
        let views: Arc<dyn Table> = Arc::new(store.table(bnb::tables::views()));
        if !file.contains("not-found") {
            seed_room(rooms.as_ref()).await;
        }
        let room_store = RoomStore::new(rooms.clone());
        let http = |text: &str| lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{file} is not an API Gateway v2 event: {e}"));
        let sqs = |text: &str| serde_json::from_str::<aws_lambda_events::event::sqs::SqsEvent>(text).unwrap_or_else(|e| panic!("{file} is not an SQS event: {e}"));
        let function = bnb_local::functions::LINKED.iter().filter(|f| file.starts_with(&format!("{f}-"))).max_by_key(|f| f.len()).copied().unwrap_or_default();
        let (status, failures) = match function {
            "register-room" => (Some(register_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "get-room" => (Some(get_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "modify-room" => (Some(modify_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "delete-room" => (Some(delete_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "search-rooms" => (Some(search_rooms::handle(&room_store, http(&text)).await.unwrap()), None),
            "room-handler" => (None, Some(room_handler::handle(&RoomHandler::new(rooms.clone()), sqs(&text)).await.batch_item_failures.len())),
            "view-projector" => (None, Some(view_projector::handle(&ViewProjector::new(views.clone()), sqs(&text)).await.batch_item_failures.len())),
            "publish-events" => {
                let bus = EmbeddedBus::open(store.clone()).await.unwrap();
                let queue = bus.declare_queue(QueueSettings { name: "all".into(), visibility_timeout_ms: 1000, max_receive_count: None, dlq: None }).await.unwrap();
                bus.subscribe("domain-events", "all", None, true).await.unwrap();
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not a DynamoDB stream event: {e}"));
                let response = publish_events::handle(&bus.topic("domain-events"), event).await;
                let published = queue.receive(10).await.unwrap();
                let want_published = if file.contains("malformed") { 0 } else { 1 };
                assert_eq!(published.len(), want_published, "{file}: only outbox INSERTs are published, and nothing after a failed one");
                (None, Some(response.batch_item_failures.len()))
            }
            other => panic!("no handler for {other} ({file})"),
        };
        match (expected, status, failures) {
            (Expect::Status(want), Some(response), _) => {
                let (status, content_type, body) = support::answer(response);
                assert_eq!(status, *want, "{file}: {body}");
                let want_type = if status == 204 { "" } else if status < 400 { "application/json" } else { "application/problem+json" };
                assert_eq!(content_type, want_type, "{file}");
                if file.starts_with("search-rooms-by") {
                    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{file}: the seeded room is free then");
                }
            }
            (Expect::Failures(want), _, Some(got)) => assert_eq!(got, *want, "{file}"),
            other => panic!("{file}: unexpected {other:?}", other = (other.0, other.2)),
        }
    }
}
