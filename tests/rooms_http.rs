//! `POST /rooms` and `GET /rooms/{roomId}` through their real handlers, on the embedded store
//! and on moto: what a host registers reads back, and every bad request gets a 4xx problem
//! document naming what is wrong, with nothing written.

mod support;

use std::sync::Arc;

use bnb::rooms::RoomStore;
use bnb::storage::{StreamPosition, Table};
use serde_json::{json, Value};
use support::{answer, api_request, claims};

fn valid_room() -> Value {
    json!({
        "title": "Hanok stay", "description": "Quiet", "city": "Seoul", "address": "12 Bukchon-ro",
        "capacity": 2, "nightlyPrice": {"amount": 120000, "currency": "KRW"}, "amenities": ["wifi"]
    })
}

async fn register(store: &RoomStore, body: &str, who: Option<(&str, &str)>, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let request = api_request("POST", "/rooms", "/rooms", Some(body), who.map(|(s, g)| claims(s, g)), headers);
    answer(register_room::handle(store, request).await.unwrap())
}

async fn get(store: &RoomStore, id: &str) -> (u16, String, Value) {
    let path = format!("/rooms/{id}");
    answer(get_room::handle(store, api_request("GET", "/rooms/{roomId}", &path, None, None, &[])).await.unwrap())
}

async fn nothing_written(table: &dyn Table) {
    let changes = table.read_stream(&StreamPosition::start(), 10).await.unwrap();
    assert!(changes.records.is_empty(), "a refused request wrote {:?}", changes.records);
}

async fn registered_room_reads_back(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let (status, content_type, room) =
        register(&store, &valid_room().to_string(), Some(("hana", "host")), &[("x-correlation-id", "corr-42")]).await;
    assert_eq!((status, content_type.as_str()), (201, "application/json"), "{room}");
    assert_eq!(room["hostId"], "hana", "the owner is the caller from the token");
    assert_eq!((room["status"].clone(), room["version"].clone()), (json!("ACTIVE"), json!(1)));
    let id = room["roomId"].as_str().unwrap().to_owned();
    let (status, _, read) = get(&store, &id).await;
    assert_eq!(status, 200);
    assert_eq!(read, room);
    // The room and its RoomRegistered event were written together.
    let changes = table.read_stream(&StreamPosition::start(), 10).await.unwrap();
    let outbox: Vec<&bnb::storage::Item> = changes.records.iter().filter_map(|r| r.new_image.as_ref()).filter(|i| i["pk"].as_str().unwrap_or("").starts_with("OUTBOX#")).collect();
    assert_eq!(outbox.len(), 1);
    let envelope = &outbox[0]["envelope"];
    assert_eq!(envelope["eventType"], "RoomRegistered");
    assert_eq!(envelope["aggregateId"], id.as_str());
    assert_eq!(envelope["correlationId"], "corr-42");
    assert_eq!(envelope["payload"]["title"], "Hanok stay");
}

async fn unknown_and_malformed_room_ids_are_not_found(table: Arc<dyn Table>) {
    let store = RoomStore::new(table);
    for id in ["01936f4e-0000-7000-8000-000000000000", "not-a-uuid", "%27%20OR%201%3D1"] {
        let (status, content_type, problem) = get(&store, id).await;
        assert_eq!((status, content_type.as_str()), (404, "application/problem+json"), "{id}: {problem}");
        assert_eq!(problem["status"], 404);
    }
}

/// (what is wrong, body, the field the problem must name)
fn bad_bodies() -> Vec<(&'static str, String, &'static str)> {
    let with = |field: &str, value: Value| {
        let mut room = valid_room();
        room[field] = value;
        room.to_string()
    };
    let without = |field: &str| {
        let mut room = valid_room();
        room.as_object_mut().unwrap().remove(field);
        room.to_string()
    };
    vec![
        ("malformed JSON", "{\"title\": ".to_string(), "body"),
        ("not an object", "[1, 2]".to_string(), "body"),
        ("empty body", String::new(), "body"),
        ("missing title", without("title"), "title"),
        ("missing price", without("nightlyPrice"), "nightlyPrice"),
        ("capacity is text", with("capacity", json!("two")), "capacity"),
        ("capacity 0", with("capacity", json!(0)), "capacity"),
        ("capacity 1000", with("capacity", json!(1000)), "capacity"),
        ("capacity fractional", with("capacity", json!(1.5)), "capacity"),
        ("negative price", with("nightlyPrice", json!({"amount": -100, "currency": "KRW"})), "nightlyPrice.amount"),
        ("zero price", with("nightlyPrice", json!({"amount": 0, "currency": "KRW"})), "nightlyPrice.amount"),
        ("price is text", with("nightlyPrice", json!({"amount": "100", "currency": "KRW"})), "nightlyPrice.amount"),
        ("unknown currency", with("nightlyPrice", json!({"amount": 100, "currency": "DOGE"})), "nightlyPrice.currency"),
        ("10,000-character title", with("title", json!("가".repeat(10_000))), "title"),
        ("blank title", with("title", json!("   ")), "title"),
        ("title with control characters", with("title", json!("a\u{0000}b")), "title"),
        ("blank city", with("city", json!("")), "city"),
        ("unknown field", with("hostId", json!("someone-else")), "hostId"),
        ("too many amenities", with("amenities", json!(vec!["wifi"; 51])), "amenities"),
        ("empty amenity", with("amenities", json!(["wifi", ""])), "amenities[1]"),
    ]
}

async fn bad_bodies_get_a_problem_naming_the_field(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    for (case, body, field) in bad_bodies() {
        let (status, content_type, problem) = register(&store, &body, Some(("hana", "host")), &[]).await;
        assert_eq!((status, content_type.as_str()), (400, "application/problem+json"), "{case}: {problem}");
        let fields: Vec<&str> = problem["errors"].as_array().map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect()).unwrap_or_default();
        assert!(fields.contains(&field), "{case}: expected {field} in {fields:?}");
        assert!(problem["detail"].as_str().unwrap_or("").contains(field), "{case}: the detail names the field: {problem}");
    }
    nothing_written(table.as_ref()).await;
}

async fn identity_and_media_are_checked_first(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let body = valid_room().to_string();
    // No authorizer claims at all: 401, whatever the body says.
    let (status, content_type, _) = register(&store, &body, None, &[]).await;
    assert_eq!((status, content_type.as_str()), (401, "application/problem+json"));
    // A subject that is blank is no identity.
    let (status, _, _) = register(&store, &body, Some(("  ", "host")), &[]).await;
    assert_eq!(status, 401);
    // A guest is not a host.
    let (status, _, problem) = register(&store, &body, Some(("minho", "guest")), &[]).await;
    assert_eq!(status, 403, "{problem}");
    // Not JSON.
    let (status, _, _) = register(&store, &body, Some(("hana", "host")), &[("content-type", "text/plain")]).await;
    assert_eq!(status, 415);
    // Over the body limit.
    let mut huge = valid_room();
    huge["description"] = json!("x".repeat(70 * 1024));
    let (status, content_type, _) = register(&store, &huge.to_string(), Some(("hana", "host")), &[]).await;
    assert_eq!((status, content_type.as_str()), (413, "application/problem+json"));
    nothing_written(table.as_ref()).await;
}

macro_rules! on_both_adapters {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let (table, _dir) = super::support::embedded_table(bnb::tables::rooms());
                    super::$case(table).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::support::moto_table(bnb::tables::rooms()).await).await;
                }
            )*
        }
    };
}

on_both_adapters!(
    registered_room_reads_back,
    unknown_and_malformed_room_ids_are_not_found,
    bad_bodies_get_a_problem_naming_the_field,
    identity_and_media_are_checked_first,
);
