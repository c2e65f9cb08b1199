//! Every file in `events/` is a real event (valid for `sam local invoke`) and is fed here to its
//! function's handler, which must answer as the file's name promises.

mod support;

use std::path::PathBuf;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use bnb_contexts::domain::RoomId;
use bnb_contexts::rooms::RoomStore;
use bnb_lambda::function::{Handler, DEAD_LETTER_QUEUE_URL};
use bnb_local::template::Topology;
use bnb_local::wiring::{Backend, Wiring};

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
    ("my-profile-defaults.json", Expect::Status(200)),
    ("write-review-no-stay.json", Expect::Status(403)),
    ("list-reviews-first-page.json", Expect::Status(200)),
    ("process-payment-approve.json", Expect::Payment("APPROVED")),
    ("process-payment-refund.json", Expect::Payment("REFUNDED")),
    ("payment-handler-reservation-cancelled.json", Expect::Failures(0)),
    ("reservation-handler-room-deleted.json", Expect::Failures(0)),
    ("notification-handler-reservation-confirmed.json", Expect::Failures(0)),
    ("expire-holds-scheduled.json", Expect::Failures(0)),
    ("reconcile-payments-scheduled.json", Expect::Failures(0)),
    ("republish-outbox-scheduled.json", Expect::Failures(0)),
    ("alimtalk-sender-reservation-confirmed.json", Expect::Failures(0)),
    ("alimtalk-sender-poison-message.json", Expect::DeadLettered),
    ("check-deliveries-scheduled.json", Expect::Failures(0)),
    ("become-host-guest.json", Expect::Status(200)),
    ("enrol-guest-confirmed-sign-up.json", Expect::Failures(0)),
];

#[test]
fn every_events_file_is_exercised() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "env.json")
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

/// The name of the queue a URL (as the template passes it) points at.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

/// Each file goes to its function as `bnb-local` builds it (the registry's declaration, linked
/// with the template's environment over the embedded adapters): the same wiring the Lambda
/// mains and the local runtime use, none written here.
#[tokio::test]
async fn events_files_get_the_answers_their_names_promise() {
    let topology = Topology::load(&support::template_path()).unwrap();
    for (file, expected) in EXPECTED {
        let text = std::fs::read_to_string(events_dir().join(file)).unwrap();
        let (store, _dir) = support::embedded_store();
        let wiring = Wiring::build(&Backend::Embedded, &store, &topology, None, "", bnb_contexts::clock::system()).await.unwrap();
        if !file.contains("not-found") {
            bnb_local::samples::seed(&wiring).await.unwrap();
        }
        let function = bnb_local::functions::names().into_iter().filter(|f| file.starts_with(&format!("{f}-"))).max_by_key(|f| f.len()).unwrap_or_default();
        let decl = topology.function(function).unwrap_or_else(|| panic!("{function} is not in template.yaml"));
        let handler = bnb_local::functions::link(decl, &topology, &wiring).unwrap_or_else(|e| panic!("{function} does not link: {e}"));
        let dlq = decl.environment.get(DEAD_LETTER_QUEUE_URL).map(|url| wiring.queue(queue_name(url)).unwrap());
        let (status, failures) = match handler {
            Handler::Http(f) => {
                let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file} is not an API Gateway v2 event: {e}"));
                (Some(f(request).await), None)
            }
            Handler::Sqs(f) => {
                let event = serde_json::from_str::<SqsEvent>(&text).unwrap_or_else(|e| panic!("{file} is not an SQS event: {e}"));
                let failures = f(event).await.batch_item_failures.len();
                if function == "alimtalk-sender" {
                    let sent = wiring.mailbox.messages().await.unwrap();
                    let want = if file.contains("poison") { 0 } else { 1 };
                    assert_eq!(sent.len(), want, "{file}: what reached the phone: {sent:?}");
                }
                (None, Some(failures))
            }
            Handler::Stream(f) => {
                let event = serde_json::from_str::<StreamEvent>(&text).unwrap_or_else(|e| panic!("{file} is not a DynamoDB stream event: {e}"));
                let failures = f(event).await.batch_item_failures.len();
                // The sample's outbox event is a RoomRegistered, which the view projector hears.
                let published = wiring.queue("view-projector-queue").unwrap().depth().await.unwrap().visible;
                let want_published = if file.contains("malformed") { 0 } else { 1 };
                assert_eq!(published, want_published, "{file}: only outbox INSERTs are published, and nothing after a failed one");
                (None, Some(failures))
            }
            Handler::Invoke(f) => {
                let payload: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
                if let Expect::Payment(want) = expected {
                    if file.contains("refund") {
                        // What is refunded was approved first.
                        let mut approve = payload.clone();
                        approve["action"] = "approve".into();
                        approve["cardToken"] = "tok_visa".into();
                        f(approve).await.unwrap();
                    }
                    let result = f(payload).await.unwrap_or_else(|e| panic!("{file}: {e}"));
                    assert_eq!(result["status"], *want, "{file}");
                    continue;
                }
                (None, Some(f(payload).await.map(|_| 0).unwrap_or(1)))
            }
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
                if let Some(dlq) = &dlq {
                    assert_eq!(dlq.depth().await.unwrap().visible, 0, "{file}: nothing dead-lettered");
                }
            }
            (Expect::DeadLettered, _, Some(got)) => {
                assert_eq!(got, 0, "{file}: nothing to retry");
                let dead = dlq.as_ref().unwrap_or_else(|| panic!("{file}: {function} has a DLQ")).receive(10).await.unwrap();
                assert_eq!(dead.len(), 1, "{file}: dead-lettered at once");
                assert!(dead[0].attributes.contains_key("deadLetterReason"), "{file}: with its reason");
            }
            (other, _, failures) => panic!("{file}: unexpected {other:?} / {failures:?}"),
        }
    }
}

/// Every envelope the `events/` files carry: (file, envelope JSON). SQS bodies (raw or in an SNS
/// notification) and the `envelope` attribute of outbox stream images.
fn sample_envelopes() -> Vec<(String, serde_json::Value)> {
    use serde_json::Value;
    // DynamoDB JSON (`{"S": ..}`, `{"N": ..}`, ...) as plain JSON.
    fn plain(v: &Value) -> Value {
        let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else { return Value::Null };
        match kind.as_str() {
            "S" => inner.clone(),
            "N" => inner.as_str().and_then(|n| serde_json::from_str(n).ok()).unwrap_or(Value::Null),
            "BOOL" => inner.clone(),
            "L" => Value::Array(inner.as_array().into_iter().flatten().map(plain).collect()),
            "M" => Value::Object(inner.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), plain(v))).collect()),
            _ => Value::Null,
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("env.json") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // The alerts topic carries alerts, not domain events (read below).
        if file.starts_with("alimtalk-sender-") {
            continue;
        }
        for record in event["Records"].as_array().into_iter().flatten() {
            if let Some(body) = record["body"].as_str() {
                let Ok(mut body) = serde_json::from_str::<Value>(body) else { continue };
                if body["Type"] == "Notification" {
                    body = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
                }
                found.push((file.clone(), body));
            } else if let Some(envelope) = record["dynamodb"]["NewImage"].get("envelope") {
                found.push((file.clone(), plain(envelope)));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Every SQS sample is what the deployed subscriptions send: raw delivery (the body is the
/// message itself, the SNS attributes are the SQS message's), not an SNS envelope.
#[test]
fn every_sqs_sample_is_raw_as_the_subscriptions_deliver() {
    let mut seen = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("env.json") {
            continue;
        }
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for record in event["Records"].as_array().into_iter().flatten().filter(|r| r["eventSource"] == "aws:sqs") {
            seen += 1;
            let body = record["body"].as_str().unwrap();
            let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
            assert!(parsed.as_ref().is_none_or(|b| b["Type"] != "Notification"), "{}: an SNS envelope, not raw delivery", path.display());
            if parsed.is_some_and(|b| b.get("eventType").is_some()) {
                assert!(
                    record["messageAttributes"]["eventType"]["stringValue"].is_string(),
                    "{}: the eventType attribute the filter policy reads",
                    path.display()
                );
            }
        }
    }
    assert!(seen >= 9, "{seen} SQS samples");
}

/// An alert, as the alerts topic delivers it raw to the sender's queue, reads as an `Alert`, and
/// still does with a field added by a newer notification handler.
#[test]
fn the_alert_samples_read_as_alerts_raw_and_with_fields_added() {
    let text = std::fs::read_to_string(events_dir().join("alimtalk-sender-reservation-confirmed.json")).unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let body = event.records[0].body.clone().unwrap();
    let alert = bnb_contexts::notifications::alimtalk::decode_alert(&body).unwrap();
    assert_eq!(alert.recipient, "guest-minho");
    assert_eq!(event.records[0].message_attributes["channel"].string_value.as_deref(), Some("kakao"), "raw delivery: the SNS attributes are the message's");
    let mut newer: serde_json::Value = serde_json::from_str(&body).unwrap();
    newer["addedLater"] = true.into();
    assert_eq!(bnb_contexts::notifications::alimtalk::decode_alert(&newer.to_string()).unwrap(), alert);
}

/// Events are versioned: a producer may add fields to the envelope and to any payload, and a
/// consumer built before reads the event as it did. Proved on every event the samples carry.
#[test]
fn every_sample_event_reads_as_its_type_and_still_does_with_fields_added() {
    use bnb_contexts::events::{Envelope, EventType};
    let samples = sample_envelopes();
    let mut types = std::collections::HashSet::new();
    for (file, json) in &samples {
        let read = serde_json::from_value::<Envelope>(json.clone());
        // The poison and malformed samples are there to be refused.
        if (file.contains("poison") || file.contains("malformed")) && read.is_err() {
            continue;
        }
        let envelope = read.unwrap_or_else(|e| panic!("{file}: the sample event does not read: {e}"));
        types.insert(envelope.event_type());
        // What a newer producer might send: a new envelope field, a new payload field, a new
        // field in a nested payload object.
        let mut newer = json.clone();
        newer["schemaVersion"] = 2.into();
        newer["payload"]["addedLater"] = serde_json::json!({"any": ["shape", 1]});
        if newer["payload"]["amount"].is_object() {
            newer["payload"]["amount"]["addedLater"] = true.into();
        }
        let newer = serde_json::from_value::<Envelope>(newer).unwrap_or_else(|e| panic!("{file}: a field added to the event makes it unreadable: {e}"));
        assert_eq!(newer, envelope, "{file}: the added fields change nothing");
        // And what it writes back out is what the sample said (nothing dropped or renamed).
        let mut written = serde_json::to_value(&envelope).unwrap();
        let mut original = json.clone();
        for v in [&mut written, &mut original] {
            // Optional fields a sample leaves out are written as null or left out: compare what is there.
            strip_nulls(v);
        }
        assert_eq!(written, original, "{file}: the event writes back as it was read");
    }
    for t in [EventType::RoomRegistered, EventType::RoomDeleted, EventType::ReservationConfirmed, EventType::ReservationCancelled, EventType::ReviewWritten] {
        assert!(types.contains(&t), "the samples carry a {t} event");
    }
}

fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(o) => {
            o.retain(|_, v| !v.is_null());
            o.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// `events/env.json` (for `sam local invoke --env-vars`) is what `bnb-local env-json` makes of
/// the template: every function, every variable, each resource named as `bnb-local seed` creates
/// it. Regenerate it with `cargo run -p bnb-local -- env-json > events/env.json`.
#[test]
fn env_json_gives_every_function_its_environment_as_the_template_does() {
    let topology = Topology::load(&support::template_path()).unwrap();
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(events_dir().join("env.json")).unwrap()).unwrap();
    let wanted = bnb_local::samples::env_json(&topology, &bnb_local::samples::SamplesEndpoint::default());
    assert_eq!(written, wanted, "events/env.json is out of date: cargo run -p bnb-local -- env-json > events/env.json");
    for f in &topology.functions {
        let vars = written[&f.logical_id].as_object().unwrap_or_else(|| panic!("{} has no entry", f.logical_id));
        assert_eq!(vars.len(), f.environment.len(), "{}", f.logical_id);
    }
    assert_eq!(written["RoomHandlerFunction"]["ROOMS_TABLE"], "bnb-local-rooms");
}

/// `bnb-local seed` on an AWS endpoint (moto) creates every resource under its prefix and writes
/// what the samples refer to: the room `get-room-found.json` reads is there.
#[tokio::test]
async fn seed_writes_what_the_samples_refer_to_on_an_aws_endpoint() {
    let topology = Topology::load(&support::template_path()).unwrap();
    let (store, _dir) = support::embedded_store();
    let prefix = format!("{}-", support::unique("seed"));
    let backend = Backend::Aws { endpoint: support::moto_url() };
    let wiring = Wiring::build(&backend, &store, &topology, None, &prefix, bnb_contexts::clock::system()).await.unwrap();
    bnb_local::samples::seed(&wiring).await.unwrap();
    let rooms = wiring.table("rooms").unwrap();
    assert!(rooms.name().starts_with(&prefix), "{}", rooms.name());
    let id = RoomId::parse(bnb_local::samples::SAMPLE_ROOM).unwrap();
    let room = rooms.get(&RoomStore::key(&id)).await.unwrap();
    assert!(room.is_some(), "the sample room is on the endpoint");
}
