//! `POST /rooms` and `GET /rooms/{roomId}` through their real handlers, on the embedded store
//! and on moto: what a host registers reads back, and every bad request gets a 4xx problem
//! document naming what is wrong, with nothing written.

mod support;

use std::sync::Arc;

use bnb_contexts::consumer::apply_once;
use bnb_contexts::events::{Causation, Envelope, EventType};
use bnb_contexts::rooms::{RoomHandler, RoomStore};
use bnb_contexts::storage::{StreamPosition, Table};
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
    let (status, content_type, room) = register(&store, &valid_room().to_string(), Some(("hana", "host")), &[("x-correlation-id", "corr-42")]).await;
    assert_eq!((status, content_type.as_str()), (201, "application/json"), "{room}");
    assert_eq!(room["hostId"], "hana", "the owner is the caller from the token");
    assert_eq!((room["status"].clone(), room["version"].clone()), (json!("ACTIVE"), json!(1)));
    let id = room["roomId"].as_str().unwrap().to_owned();
    let (status, _, read) = get(&store, &id).await;
    assert_eq!(status, 200);
    assert_eq!(read, room);
    // The room and its RoomRegistered event were written together.
    let changes = table.read_stream(&StreamPosition::start(), 10).await.unwrap();
    let outbox: Vec<&bnb_contexts::storage::Item> =
        changes.records.iter().filter_map(|r| r.new_image.as_ref()).filter(|i| i["pk"].as_str().unwrap_or("").starts_with("OUTBOX#")).collect();
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

// ---------------------------------------------------------------- modify, delete, search

/// Calls one room endpoint as API Gateway would.
async fn call(store: &RoomStore, method: &str, path: &str, body: Option<&str>, who: Option<(&str, &str)>, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let route = if path == "/rooms" || path.starts_with("/rooms?") { "/rooms" } else { "/rooms/{roomId}" };
    let request = api_request(method, route, path, body, who.map(|(s, g)| claims(s, g)), headers);
    let response = match (method, route) {
        ("POST", "/rooms") => register_room::handle(store, request).await,
        ("GET", "/rooms") => search_rooms::handle(store, request).await,
        ("GET", _) => get_room::handle(store, request).await,
        ("PUT", _) => modify_room::handle(store, request).await,
        ("DELETE", _) => delete_room::handle(store, request).await,
        other => panic!("no route {other:?}"),
    };
    answer(response.unwrap())
}

const HANA: Option<(&str, &str)> = Some(("hana", "host"));
const OTHER_HOST: Option<(&str, &str)> = Some(("jisoo", "host"));
const GUEST: Option<(&str, &str)> = Some(("minho", "guest"));

fn room_with(title: &str, city: &str, capacity: i64) -> String {
    let mut room = valid_room();
    room["title"] = json!(title);
    room["city"] = json!(city);
    room["capacity"] = json!(capacity);
    room.to_string()
}

async fn new_room(store: &RoomStore, title: &str, city: &str, capacity: i64) -> String {
    let (status, _, room) = call(store, "POST", "/rooms", Some(&room_with(title, city, capacity)), HANA, &[]).await;
    assert_eq!(status, 201, "{room}");
    room["roomId"].as_str().unwrap().to_owned()
}

async fn search(store: &RoomStore, query: &str) -> (u16, Value) {
    let (status, _, body) = call(store, "GET", &format!("/rooms?{query}"), None, None, &[]).await;
    (status, body)
}

fn titles(page: &Value) -> Vec<String> {
    let mut t: Vec<String> = page["items"].as_array().map(|a| a.iter().map(|r| r["title"].as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default();
    t.sort();
    t
}

async fn modify_needs_the_current_version_and_the_owner(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let id = new_room(&store, "Before", "Seoul", 2).await;
    let path = format!("/rooms/{id}");
    let (status, _, read) = call(&store, "GET", &path, None, None, &[]).await;
    assert_eq!((status, read["version"].clone()), (200, json!(1)));
    let after = room_with("After", "Seoul", 3);
    // The owner, at the version read: 200, version 2.
    let (status, _, room) = call(&store, "PUT", &path, Some(&after), HANA, &[("if-match", "\"1\"")]).await;
    assert_eq!((status, room["version"].clone(), room["title"].clone()), (200, json!(2), json!("After")), "{room}");
    // Again at version 1: stale, 409 naming the version; the room keeps version 2.
    let (status, content_type, problem) = call(&store, "PUT", &path, Some(&after), HANA, &[("if-match", "1")]).await;
    assert_eq!((status, content_type.as_str()), (409, "application/problem+json"));
    assert_eq!(problem["errors"][0]["field"], "version");
    // The version in the body works as well as If-Match.
    let mut with_version: Value = serde_json::from_str(&after).unwrap();
    with_version["version"] = json!(2);
    with_version["title"] = json!("Third");
    let (status, _, room) = call(&store, "PUT", &path, Some(&with_version.to_string()), HANA, &[]).await;
    assert_eq!((status, room["version"].clone()), (200, json!(3)));
    // No version at all: 428.
    let (status, _, _) = call(&store, "PUT", &path, Some(&after), HANA, &[]).await;
    assert_eq!(status, 428);
    let (status, _, _) = call(&store, "PUT", &path, Some(&after), HANA, &[("if-match", "soon")]).await;
    assert_eq!(status, 400);
    // Not the owner.
    for who in [OTHER_HOST, GUEST] {
        let (status, _, _) = call(&store, "PUT", &path, Some(&after), who, &[("if-match", "3")]).await;
        assert_eq!(status, 403);
    }
    let (status, _, _) = call(&store, "PUT", &path, Some(&after), None, &[("if-match", "3")]).await;
    assert_eq!(status, 401);
    // Bad details are named, and change nothing.
    let mut bad: Value = serde_json::from_str(&after).unwrap();
    bad["capacity"] = json!(0);
    let (status, _, problem) = call(&store, "PUT", &path, Some(&bad.to_string()), HANA, &[("if-match", "3")]).await;
    assert_eq!((status, problem["errors"][0]["field"].clone()), (400, json!("capacity")));
    let (status, _, _) = call(&store, "PUT", "/rooms/01936f4e-0000-7000-8000-000000000000", Some(&after), HANA, &[("if-match", "1")]).await;
    assert_eq!(status, 404);
    let (_, _, read) = call(&store, "GET", &path, None, None, &[]).await;
    assert_eq!((read["version"].clone(), read["title"].clone(), read["capacity"].clone()), (json!(3), json!("Third"), json!(3)));
    // Every accepted change went out as an event, in version order.
    let events: Vec<(String, u64)> = support::all_changes(table.as_ref())
        .await
        .iter()
        .filter_map(|c| c.new_image.as_ref())
        .filter(|i| i["pk"].as_str().unwrap_or("").starts_with("OUTBOX#"))
        .map(|i| (i["eventType"].as_str().unwrap_or("").to_owned(), i["envelope"]["version"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(events, [("RoomRegistered".to_string(), 1), ("RoomModified".to_string(), 2), ("RoomModified".to_string(), 3)]);
}

async fn a_deleted_room_is_gone_from_reads_and_search(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let id = new_room(&store, "Doomed", "Jeju", 2).await;
    new_room(&store, "Stays", "Jeju", 2).await;
    let path = format!("/rooms/{id}");
    for (who, status) in [(None, 401), (GUEST, 403), (OTHER_HOST, 403)] {
        assert_eq!(call(&store, "DELETE", &path, None, who, &[]).await.0, status);
    }
    assert_eq!(titles(&search(&store, "city=jeju").await.1), ["Doomed", "Stays"]);
    let (status, _, _) = call(&store, "DELETE", &path, None, HANA, &[]).await;
    assert_eq!(status, 204);
    assert_eq!(call(&store, "GET", &path, None, None, &[]).await.0, 404);
    assert_eq!(titles(&search(&store, "city=jeju").await.1), ["Stays"]);
    assert_eq!(call(&store, "DELETE", &path, None, HANA, &[]).await.0, 404);
    assert_eq!(call(&store, "PUT", &path, Some(&room_with("Back", "Jeju", 2)), HANA, &[("if-match", "2")]).await.0, 404);
    let deleted: Vec<Value> = support::all_changes(table.as_ref())
        .await
        .iter()
        .filter_map(|c| c.new_image.clone())
        .filter(|i| i.get("eventType") == Some(&json!("RoomDeleted")))
        .map(|i| i["envelope"].clone())
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!((deleted[0]["payload"]["roomId"].clone(), deleted[0]["payload"]["hostId"].clone()), (json!(id), json!("hana")));
}

async fn search_finds_rooms_by_city_and_guests_page_by_page(table: Arc<dyn Table>) {
    let store = RoomStore::new(table);
    for (title, city, capacity) in [("S2", "Seoul", 2), ("S4", "seoul", 4), ("S6", " SEOUL ", 6), ("B4", "Busan", 4)] {
        new_room(&store, title, city, capacity).await;
    }
    assert_eq!(titles(&search(&store, "city=Seoul").await.1), ["S2", "S4", "S6"]);
    assert_eq!(titles(&search(&store, "city=seoul&guests=3").await.1), ["S4", "S6"]);
    assert_eq!(titles(&search(&store, "city=seoul&guests=6").await.1), ["S6"]);
    assert!(titles(&search(&store, "city=seoul&guests=7").await.1).is_empty());
    assert!(titles(&search(&store, "city=Daegu").await.1).is_empty());
    // Page by page with the cursor.
    let mut seen = Vec::new();
    let mut query = "city=seoul&limit=1".to_string();
    for _ in 0..10 {
        let (status, page) = search(&store, &query).await;
        assert_eq!(status, 200);
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(titles(&page));
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("city=seoul&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["S2", "S4", "S6"]);
}

async fn bad_search_parameters_are_named(table: Arc<dyn Table>) {
    let store = RoomStore::new(table);
    for (query, field) in [
        ("guests=2", "city"),
        ("city=seoul&guests=0", "guests"),
        ("city=seoul&guests=x", "guests"),
        ("city=seoul&guests=51", "guests"),
        ("city=seoul&limit=500", "limit"),
        ("city=seoul&checkIn=2026-12-01", "checkOut"),
        ("city=seoul&checkOut=2026-12-01", "checkIn"),
        ("city=seoul&checkIn=2026-12-05&checkOut=2026-12-01", "checkOut"),
        ("city=seoul&checkIn=tomorrow&checkOut=2026-12-01", "checkIn"),
        ("city=seoul&cursor=not-a-cursor", "cursor"),
        ("city=seoul&gusts=2", "gusts"),
    ] {
        let (status, content_type, problem) = call(&store, "GET", &format!("/rooms?{query}"), None, None, &[]).await;
        assert_eq!((status, content_type.as_str()), (400, "application/problem+json"), "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
}

// ---------------------------------------------------------------- the room handler

fn reservation_event(event_type: EventType, room: &str, reservation: &str, check_in: &str, check_out: &str, version: u64) -> Envelope {
    let status = if event_type == EventType::ReservationConfirmed { "CONFIRMED" } else { "CANCELLED" };
    Envelope::from_payload(
        event_type,
        reservation,
        version,
        &Causation::request("c-room-handler"),
        json!({
            "reservationId": reservation, "roomId": room, "guestId": "minho", "hostId": "hana",
            "checkIn": check_in, "checkOut": check_out, "guests": 2,
            "amount": {"amount": 240000, "currency": "KRW"}, "status": status, "version": version,
            "paymentId": "01a20000-0000-7000-8000-0000000000ff", "cancelledBy": "guest"
        }),
    )
    .unwrap()
}

async fn deliver(handler: &RoomHandler, events: &[&Envelope]) {
    for e in events {
        assert_eq!(apply_once(handler, e).await.map(|_| ()).map_err(|e| e.to_string()), Ok(()));
    }
}

async fn stays_take_nights_out_of_search_and_cancellations_free_them(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let handler = RoomHandler::new(table.clone());
    let a = new_room(&store, "A", "Busan", 2).await;
    new_room(&store, "B", "Busan", 2).await;
    let r1 = "01a20000-0000-7000-8000-000000000101";
    let confirmed = reservation_event(EventType::ReservationConfirmed, &a, r1, "2026-12-01", "2026-12-03", 2);
    let free = |q: &str| format!("city=busan&{q}");
    deliver(&handler, &[&confirmed, &confirmed]).await;
    assert_eq!(titles(&search(&store, &free("checkIn=2026-12-02&checkOut=2026-12-04")).await.1), ["B"]);
    assert_eq!(titles(&search(&store, &free("checkIn=2026-11-28&checkOut=2026-12-02")).await.1), ["B"]);
    assert_eq!(titles(&search(&store, &free("checkIn=2026-12-03&checkOut=2026-12-05")).await.1), ["A", "B"], "check-out day is free");
    assert_eq!(titles(&search(&store, &free("checkIn=2026-11-20&checkOut=2026-12-01")).await.1), ["A", "B"]);
    let cancelled = reservation_event(EventType::ReservationCancelled, &a, r1, "2026-12-01", "2026-12-03", 3);
    deliver(&handler, &[&cancelled]).await;
    assert_eq!(titles(&search(&store, &free("checkIn=2026-12-02&checkOut=2026-12-04")).await.1), ["A", "B"]);
    // Out of order: the cancellation first, the confirmation late. The nights stay free.
    let r2 = "01a20000-0000-7000-8000-000000000102";
    let late_confirmed = reservation_event(EventType::ReservationConfirmed, &a, r2, "2026-12-10", "2026-12-12", 2);
    let early_cancelled = reservation_event(EventType::ReservationCancelled, &a, r2, "2026-12-10", "2026-12-12", 3);
    deliver(&handler, &[&early_cancelled, &late_confirmed]).await;
    assert_eq!(titles(&search(&store, &free("checkIn=2026-12-10&checkOut=2026-12-11")).await.1), ["A", "B"]);
}

/// Counts what a search asks of the table.
struct Counted {
    inner: Arc<dyn Table>,
    calls: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Table for Counted {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn get(&self, key: &bnb_contexts::storage::Key) -> Result<Option<bnb_contexts::storage::Item>, bnb_contexts::storage::StorageError> {
        self.calls.lock().unwrap().push("get".into());
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[bnb_contexts::storage::Key]) -> Result<Vec<Option<bnb_contexts::storage::Item>>, bnb_contexts::storage::StorageError> {
        self.calls.lock().unwrap().push(format!("get_many {}", keys.len()));
        self.inner.get_many(keys).await
    }
    async fn query(&self, query: &bnb_contexts::storage::Query) -> Result<bnb_contexts::storage::Page, bnb_contexts::storage::StorageError> {
        self.calls.lock().unwrap().push("query".into());
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<bnb_contexts::storage::WriteOp>) -> Result<(), bnb_contexts::storage::StorageError> {
        self.inner.write(ops).await
    }
    async fn read_stream(&self, from: &StreamPosition, limit: usize) -> Result<bnb_contexts::storage::StreamBatch, bnb_contexts::storage::StorageError> {
        self.inner.read_stream(from, limit).await
    }
}

/// A dated search costs a bounded number of calls whatever the rooms: 30 rooms, 24 of them taken
/// for the stay. A page of 2 reads one lot of 25 candidates (one query, one BatchGetItem of
/// their 2 nights each), and the cursors walk every free room exactly once.
async fn a_dated_search_reads_nights_by_key_a_lot_at_a_time(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let handler = RoomHandler::new(table.clone());
    let mut free = Vec::new();
    for i in 0..30 {
        let title = format!("R{i:02}");
        let id = new_room(&store, &title, "Sokcho", 2).await;
        if i % 5 == 4 {
            free.push(title);
        } else {
            let reservation = format!("01a20000-0000-7000-8000-{:012}", 300 + i);
            deliver(&handler, &[&reservation_event(EventType::ReservationConfirmed, &id, &reservation, "2026-12-20", "2026-12-22", 2)]).await;
        }
    }
    let counted = Arc::new(Counted { inner: table.clone(), calls: Default::default() });
    let counted_store = RoomStore::new(counted.clone());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = format!("city=sokcho&checkIn=2026-12-20&checkOut=2026-12-22&limit=2{}", cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default());
        let (status, page) = search(&counted_store, &q).await;
        assert_eq!(status, 200, "{page}");
        let calls = std::mem::take(&mut *counted.calls.lock().unwrap());
        assert!(calls.iter().filter(|c| *c == "query").count() <= 2 && calls.iter().filter(|c| c.starts_with("get_many")).count() <= 2, "{calls:?}");
        assert!(!calls.iter().any(|c| c == "get"), "no night is read on its own: {calls:?}");
        let keys = |c: &String| c.strip_prefix("get_many ").and_then(|n| n.parse::<usize>().ok());
        assert!(calls.iter().filter_map(keys).all(|n| n <= 25 * 2), "a lot's nights, no more: {calls:?}");
        seen.extend(titles(&page));
        pages += 1;
        match page["nextCursor"].as_str() {
            Some(next) if pages < 20 => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    seen.sort();
    assert_eq!(seen, free, "every free room once, no taken room");
}

async fn reviews_move_the_rating_once_each(table: Arc<dyn Table>) {
    let store = RoomStore::new(table.clone());
    let handler = RoomHandler::new(table.clone());
    let a = new_room(&store, "Rated", "Gangneung", 2).await;
    let review = |rating: u8, reservation: &str| {
        Envelope::from_payload(
            EventType::ReviewWritten,
            reservation,
            1,
            &Causation::request("c-review"),
            json!({"reviewId": uuid::Uuid::now_v7().to_string(), "roomId": a, "reservationId": reservation, "guestId": "minho", "hostId": "hana", "rating": rating, "text": "Lovely", "createdAt": "2026-12-05T01:00:00Z"}),
        )
        .unwrap()
    };
    let four = review(4, "01a20000-0000-7000-8000-000000000201");
    let five = review(5, "01a20000-0000-7000-8000-000000000202");
    deliver(&handler, &[&four, &four, &five, &four]).await;
    let (_, _, room) = call(&store, "GET", &format!("/rooms/{a}"), None, None, &[]).await;
    assert_eq!(room["rating"], json!({"count": 2, "average": 4.5}));
    assert_eq!(room["version"], 1, "a rating is not a host's change: If-Match still works");
}

async fn every_endpoint_checks_who_calls(table: Arc<dyn Table>) {
    let store = RoomStore::new(table);
    let id = new_room(&store, "Owned", "Suwon", 2).await;
    let path = format!("/rooms/{id}");
    let body = room_with("Owned", "Suwon", 2);
    // (method, path, body, headers, [anonymous, guest, other host, owning host])
    type Case<'a> = (&'a str, String, Option<&'a str>, Vec<(&'a str, &'a str)>, [u16; 4]);
    let cases: Vec<Case> = vec![
        ("POST", "/rooms".into(), Some(&body), vec![], [401, 403, 201, 201]),
        ("GET", path.clone(), None, vec![], [200, 200, 200, 200]),
        ("GET", "/rooms?city=suwon".into(), None, vec![], [200, 200, 200, 200]),
        ("PUT", path.clone(), Some(&body), vec![("if-match", "1")], [401, 403, 403, 200]),
        ("DELETE", path.clone(), None, vec![], [401, 403, 403, 204]),
    ];
    for (method, path, body, headers, expected) in cases {
        for (who, want) in [None, GUEST, OTHER_HOST, HANA].into_iter().zip(expected) {
            let (status, _, answer) = call(&store, method, &path, body, who, &headers).await;
            assert_eq!(status, want, "{method} {path} as {who:?}: {answer}");
        }
    }
}

macro_rules! on_both_adapters {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let (table, _dir) = super::support::embedded_table(bnb_contexts::tables::rooms());
                    super::$case(table).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::support::moto_table(bnb_contexts::tables::rooms()).await).await;
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
    modify_needs_the_current_version_and_the_owner,
    a_deleted_room_is_gone_from_reads_and_search,
    search_finds_rooms_by_city_and_guests_page_by_page,
    bad_search_parameters_are_named,
    stays_take_nights_out_of_search_and_cancellations_free_them,
    a_dated_search_reads_nights_by_key_a_lot_at_a_time,
    reviews_move_the_rating_once_each,
    every_endpoint_checks_who_calls,
);
