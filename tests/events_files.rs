//! Every file in `events/` is a real event (valid for `sam local invoke`) and is fed here to its
//! function's handler, which must answer as the file's name promises.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use bnb_contexts::domain::room::{Room, RoomDetails, RoomInput};
use bnb_contexts::domain::{RoomId, UserId};
use bnb_contexts::messaging::Queue;
use bnb_contexts::notifications::NotificationHandler;
use bnb_contexts::payments::invoker::InProcessInvoker;
use bnb_contexts::payments::{BreakerConfig, CircuitBreaker, FaultConfig, PaymentHandler, PaymentService};
use bnb_contexts::reservations::{IdempotencyStore, PlaceReservation, ReservationHandler, ReservationSettings, ReservationStore};
use bnb_contexts::reviews::Reviews;
use bnb_contexts::rooms::{RoomHandler, RoomStore};
use bnb_contexts::storage::{Table, WriteOp};
use bnb_contexts::views::ViewProjector;
use bnb_embedded::{EmbeddedBus, QueueSettings};

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// What a file's handler must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An HTTP status.
    Status(u16),
    /// How many batch items fail (SQS and stream batches; 0 for a scheduled run that succeeds).
    Failures(usize),
    /// Nothing to retry: the message can never be applied and went straight to the DLQ.
    DeadLettered,
    /// The payment status process-payment answers.
    Payment(&'static str),
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
    ("room-handler-poison-message.json", Expect::DeadLettered),
    ("view-projector-room-registered.json", Expect::Failures(0)),
    ("publish-events-outbox-insert.json", Expect::Failures(0)),
    ("publish-events-malformed-outbox.json", Expect::Failures(1)),
    ("place-reservation-confirmed.json", Expect::Status(201)),
    ("place-reservation-declined.json", Expect::Status(402)),
    ("place-reservation-invalid.json", Expect::Status(400)),
    ("cancel-reservation-not-found.json", Expect::Status(404)),
    ("reservation-status-not-found.json", Expect::Status(404)),
    ("my-reservations-first-page.json", Expect::Status(200)),
    ("host-dashboard-host.json", Expect::Status(200)),
    ("host-dashboard-not-a-host.json", Expect::Status(403)),
    ("my-notifications-first-page.json", Expect::Status(200)),
    ("update-profile-updated.json", Expect::Status(200)),
    ("update-profile-invalid.json", Expect::Status(400)),
    ("write-review-no-stay.json", Expect::Status(403)),
    ("list-reviews-first-page.json", Expect::Status(200)),
    ("process-payment-approve.json", Expect::Payment("APPROVED")),
    ("process-payment-refund.json", Expect::Payment("REFUNDED")),
    ("payment-handler-reservation-cancelled.json", Expect::Failures(0)),
    ("reservation-handler-room-deleted.json", Expect::Failures(0)),
    ("notification-handler-reservation-confirmed.json", Expect::Failures(0)),
    ("expire-holds-scheduled.json", Expect::Failures(0)),
    ("republish-outbox-scheduled.json", Expect::Failures(0)),
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
        let function = bnb_local::functions::names().into_iter().filter(|f| file.starts_with(&format!("{f}-"))).max_by_key(|f| f.len());
        assert!(function.is_some(), "{file} is named <function>-<case>.json after a function bnb links");
    }
    for function in bnb_local::functions::names() {
        assert!(files.iter().any(|f| f.starts_with(&format!("{function}-"))), "{function} has an events/ file");
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
        let rooms: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::rooms()));
        let views: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::views()));
        let reservations: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::reservations()));
        let payments = PaymentService::new(Arc::new(store.table(bnb_contexts::tables::payments())), FaultConfig::default());
        let notifications: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::notifications()));
        let reviews: Arc<dyn Table> = Arc::new(store.table(bnb_contexts::tables::reviews()));
        let bus = EmbeddedBus::open(store.clone()).await.unwrap();
        let dlq_queue =
            Arc::new(bus.declare_queue(QueueSettings { name: "dlq".into(), visibility_timeout_ms: 1000, max_receive_count: None, dlq: None }).await.unwrap());
        let dlq = bnb_contexts::consumer::QueueDeadLetters(dlq_queue.clone());
        if !file.contains("not-found") {
            seed_room(rooms.as_ref()).await;
        }
        let room_store = RoomStore::new(rooms.clone());
        let http = |text: &str| lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{file} is not an API Gateway v2 event: {e}"));
        let sqs =
            |text: &str| serde_json::from_str::<aws_lambda_events::event::sqs::SqsEvent>(text).unwrap_or_else(|e| panic!("{file} is not an SQS event: {e}"));
        let function = bnb_local::functions::names().into_iter().filter(|f| file.starts_with(&format!("{f}-"))).max_by_key(|f| f.len()).unwrap_or_default();
        let (status, failures) = match function {
            "register-room" => (Some(register_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "get-room" => (Some(get_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "modify-room" => (Some(modify_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "delete-room" => (Some(delete_room::handle(&room_store, http(&text)).await.unwrap()), None),
            "search-rooms" => (Some(search_rooms::handle(&room_store, http(&text)).await.unwrap()), None),
            "room-handler" => (None, Some(room_handler::handle(&RoomHandler::new(rooms.clone()), &dlq, sqs(&text)).await.batch_item_failures.len())),
            "view-projector" => (None, Some(view_projector::handle(&ViewProjector::new(views.clone()), &dlq, sqs(&text)).await.batch_item_failures.len())),
            "place-reservation" => {
                let service = payments.clone();
                let invoker = InProcessInvoker::new(Arc::new(move |payload| {
                    let service = service.clone();
                    Box::pin(async move { process_payment::handle(&service, payload).await.and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string())) })
                }));
                let deps = place_reservation::Deps {
                    place: PlaceReservation {
                        reservations: ReservationStore::new(reservations.clone(), bnb_contexts::clock::system()),
                        rooms: RoomStore::new(rooms.clone()),
                        payments: Arc::new(invoker),
                        breaker: Arc::new(CircuitBreaker::new(reservations.clone(), "payment", BreakerConfig::default(), bnb_contexts::clock::system())),
                        settings: ReservationSettings::default(),
                    },
                    idempotency: IdempotencyStore::new(reservations.clone(), bnb_contexts::clock::system(), std::time::Duration::from_secs(15)),
                };
                (Some(place_reservation::handle(&deps, http(&text)).await.unwrap()), None)
            }
            "cancel-reservation" => (
                Some(cancel_reservation::handle(&ReservationStore::new(reservations.clone(), bnb_contexts::clock::system()), http(&text)).await.unwrap()),
                None,
            ),
            "reservation-status" => (Some(reservation_status::handle(views.as_ref(), http(&text)).await.unwrap()), None),
            "my-reservations" => (Some(my_reservations::handle(views.as_ref(), http(&text)).await.unwrap()), None),
            "host-dashboard" => (Some(host_dashboard::handle(views.as_ref(), &bnb_contexts::clock::SystemClock, http(&text)).await.unwrap()), None),
            "my-notifications" => (Some(my_notifications::handle(notifications.as_ref(), http(&text)).await.unwrap()), None),
            "update-profile" => (Some(update_profile::handle(notifications.as_ref(), http(&text)).await.unwrap()), None),
            "list-reviews" => (Some(list_reviews::handle(reviews.as_ref(), http(&text)).await.unwrap()), None),
            "write-review" => {
                let r = Reviews {
                    reviews: reviews.clone(),
                    rooms: RoomStore::new(rooms.clone()),
                    reservations: ReservationStore::new(reservations.clone(), bnb_contexts::clock::system()),
                };
                (Some(write_review::handle(&r, http(&text)).await.unwrap()), None)
            }
            "process-payment" => {
                if file.contains("refund") {
                    // What is refunded was approved first.
                    let mut approve: serde_json::Value = serde_json::from_str(&text).unwrap();
                    approve["action"] = "approve".into();
                    approve["cardToken"] = "tok_visa".into();
                    process_payment::handle(&payments, approve).await.unwrap();
                }
                let result = process_payment::handle(&payments, serde_json::from_str(&text).unwrap()).await.unwrap_or_else(|e| panic!("{file}: {e}"));
                let Expect::Payment(want) = expected else { panic!("{file}: expects a payment") };
                assert_eq!(serde_json::to_value(result.status).unwrap(), *want, "{file}");
                continue;
            }
            "payment-handler" => {
                (None, Some(payment_handler::handle(&PaymentHandler::new(payments.clone()), &dlq, sqs(&text)).await.batch_item_failures.len()))
            }
            "reservation-handler" => (
                None,
                Some(
                    reservation_handler::handle(
                        &ReservationHandler::new(ReservationStore::new(reservations.clone(), bnb_contexts::clock::system())),
                        &dlq,
                        sqs(&text),
                    )
                    .await
                    .batch_item_failures
                    .len(),
                ),
            ),
            "notification-handler" => {
                let handler = NotificationHandler::new(notifications.clone(), Arc::new(bus.sms()), Arc::new(bus.topic("alerts")));
                let failures = notification_handler::handle(&handler, &dlq, sqs(&text)).await.batch_item_failures.len();
                assert_eq!(bus.sent_sms().await.unwrap().len(), 0, "{file}: no profile, no SMS");
                (None, Some(failures))
            }
            "expire-holds" => {
                let _: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
                (None, Some(expire_holds::handle(&ReservationStore::new(reservations.clone(), bnb_contexts::clock::system())).await.map(|_| 0).unwrap_or(1)))
            }
            "republish-outbox" => {
                let _: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
                let tables: Vec<Arc<dyn Table>> =
                    vec![rooms.clone(), reservations.clone(), Arc::new(store.table(bnb_contexts::tables::payments())) as Arc<dyn Table>, reviews.clone()];
                (None, Some(republish_outbox::handle(&tables, &bus.topic("domain-events"), &bnb_contexts::clock::SystemClock).await.map(|_| 0).unwrap_or(1)))
            }
            "publish-events" => {
                let queue =
                    bus.declare_queue(QueueSettings { name: "all".into(), visibility_timeout_ms: 1000, max_receive_count: None, dlq: None }).await.unwrap();
                bus.subscribe("domain-events", "all", None, true).await.unwrap();
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not a DynamoDB stream event: {e}"));
                let outboxes = bnb_contexts::outbox::OutboxTables::new([
                    rooms.clone(),
                    reservations.clone(),
                    Arc::new(store.table(bnb_contexts::tables::payments())) as Arc<dyn Table>,
                    reviews.clone(),
                ]);
                let response = publish_events::handle(&bus.topic("domain-events"), &outboxes, event).await;
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
                let want_type = if status == 204 {
                    ""
                } else if status < 400 {
                    "application/json"
                } else {
                    "application/problem+json"
                };
                assert_eq!(content_type, want_type, "{file}");
                if file.starts_with("search-rooms-by") {
                    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{file}: the seeded room is free then");
                }
            }
            (Expect::Failures(want), _, Some(got)) => {
                assert_eq!(got, *want, "{file}");
                assert_eq!(dlq_queue.depth().await.unwrap().visible, 0, "{file}: nothing dead-lettered");
            }
            (Expect::DeadLettered, _, Some(got)) => {
                assert_eq!(got, 0, "{file}: nothing to retry");
                let dead = dlq_queue.receive(10).await.unwrap();
                assert_eq!(dead.len(), 1, "{file}: dead-lettered at once");
                assert!(dead[0].attributes.contains_key("deadLetterReason"), "{file}: with its reason");
            }
            (other, _, failures) => panic!("{file}: unexpected {other:?} / {failures:?}"),
        }
    }
}
