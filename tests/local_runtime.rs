//! `bnb-local up`, in process, over HTTP on 127.0.0.1: the routes, the JWT authorizer, and the
//! embedded store's durability across a restart.

mod support;

use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

/// Tokens for Hana, a host, and Minho, a guest, from the data folder's signing key.
fn host_and_guest(dir: &std::path::Path) -> (String, String) {
    let authority = Authority::load_or_create(dir).unwrap();
    (authority.mint("hana", &["host".into()], None, None, 600).unwrap(), authority.mint("minho", &["guest".into()], None, None, 600).unwrap())
}

fn room() -> Value {
    json!({"title": "Hanok", "city": "Seoul", "address": "1 Bukchon-ro", "capacity": 2, "nightlyPrice": {"amount": 120000, "currency": "KRW"}})
}

#[tokio::test]
async fn a_host_registers_a_room_and_anyone_reads_it_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = LocalConfig::new(dir.path(), support::template_path());
    let running = start(config.clone()).await.unwrap();
    let base = running.url();
    let token = Authority::load_or_create(dir.path()).unwrap().mint("hana", &["host".into()], None, None, 600).unwrap();
    let http = reqwest::Client::new();

    let created = http.post(format!("{base}/rooms")).bearer_auth(&token).header("x-correlation-id", "e2e-1").json(&room()).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-correlation-id"], "e2e-1");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = created.json().await.unwrap();
    assert_eq!(location, format!("/rooms/{}", body["roomId"].as_str().unwrap()));

    let read: Value = http.get(format!("{base}{location}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(read, body);
    running.stop().await.unwrap();

    // Everything is in the data folder: a new process serves the same room.
    let running = start(config).await.unwrap();
    let again = http.get(format!("{}{location}", running.url())).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), body);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_authorizer_turns_away_bad_tokens_before_any_function_runs() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let url = format!("{}/rooms", running.url());
    let http = reqwest::Client::new();
    let authority = Authority::load_or_create(dir.path()).unwrap();
    let expired = authority.mint("hana", &["host".into()], None, None, -60).unwrap();
    let foreign = Authority::from_secret(b"some-other-key-some-other-key-0123").mint("hana", &["host".into()], None, None, 600).unwrap();
    for (case, token) in [("none", None), ("expired", Some(expired)), ("wrong key", Some(foreign)), ("garbage", Some("abc.def.ghi".to_string()))] {
        let mut request = http.post(&url).json(&room());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{case}");
    }
    // A valid token but the wrong group reaches the function, which refuses it.
    let guest = authority.mint("minho", &["guest".into()], None, None, 600).unwrap();
    assert_eq!(http.post(&url).bearer_auth(guest).json(&room()).send().await.unwrap().status(), 403);
    // Nothing was written by any of them.
    let rooms = running.store.table(bnb_contexts::tables::rooms());
    use bnb_contexts::storage::Table;
    assert!(rooms.read_stream(&bnb_contexts::storage::StreamPosition::start(), 10).await.unwrap().records.is_empty());
    // Unknown routes and methods are problems too.
    let missing = http.get(format!("{}/nope", running.url())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 405);
    running.stop().await.unwrap();
}

/// The room story as a new user tries it against `bnb-local up`, on both backends: register,
/// search by city and dates, modify with a stale version (409), delete, gone from search.
async fn a_host_manages_rooms_over_http(on: support::On) {
    let dir = tempfile::tempdir().unwrap();
    let running = start(support::local_config(on, dir.path())).await.unwrap();
    let base = running.url();
    let http = reqwest::Client::new();
    let authority = Authority::load_or_create(dir.path()).unwrap();
    let host = authority.mint("hana", &["host".into()], None, None, 600).unwrap();
    let city = format!("City-{}", uuid::Uuid::now_v7().simple());
    let mut ids = Vec::new();
    for title in ["Hanok", "Loft"] {
        let mut body = room();
        body["title"] = json!(title);
        body["city"] = json!(city);
        let created = http.post(format!("{base}/rooms")).bearer_auth(&host).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
        ids.push(created.json::<Value>().await.unwrap()["roomId"].as_str().unwrap().to_owned());
    }
    let search = |query: String| {
        let http = http.clone();
        let url = format!("{base}/rooms?{query}");
        async move {
            let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            let mut titles: Vec<String> = page["items"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect();
            titles.sort();
            titles
        }
    };
    assert_eq!(search(format!("city={city}&guests=2&checkIn=2026-12-24&checkOut=2026-12-27")).await, ["Hanok", "Loft"]);
    // Modify at a stale version: 409; at the ETag GET gives: 200.
    let mut changed = room();
    changed["title"] = json!("Hanok with garden");
    changed["city"] = json!(city);
    let stale = http.put(format!("{base}/rooms/{}", ids[0])).bearer_auth(&host).header("if-match", "\"7\"").json(&changed).send().await.unwrap();
    assert_eq!(stale.status(), 409);
    assert_eq!(stale.headers()["content-type"], "application/problem+json");
    let etag = http.get(format!("{base}/rooms/{}", ids[0])).send().await.unwrap().headers()["etag"].to_str().unwrap().to_owned();
    let ok = http.put(format!("{base}/rooms/{}", ids[0])).bearer_auth(&host).header("if-match", etag).json(&changed).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["etag"], "\"2\"");
    // Delete: gone from reads and search.
    let deleted = http.delete(format!("{base}/rooms/{}", ids[1])).bearer_auth(&host).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(http.get(format!("{base}/rooms/{}", ids[1])).send().await.unwrap().status(), 404);
    assert_eq!(search(format!("city={city}")).await, ["Hanok with garden"]);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_manages_rooms_over_http_embedded() {
    a_host_manages_rooms_over_http(support::On::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_manages_rooms_over_http_on_moto() {
    a_host_manages_rooms_over_http(support::On::Moto).await;
}

#[tokio::test]
async fn every_function_the_workspace_builds_is_in_the_template_and_linked() {
    let topology = bnb_local::template::Topology::load(&support::template_path()).unwrap();
    let mut in_template: Vec<&str> = topology.functions.iter().map(|f| f.binary.as_str()).collect();
    in_template.sort();
    let mut workspace: Vec<String> = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    workspace.sort();
    assert_eq!(in_template, workspace, "functions/ and template.yaml name the same functions");
    let mut linked: Vec<&str> = bnb_local::functions::names();
    linked.sort();
    assert_eq!(linked, workspace, "bnb-local links every function");
}

#[tokio::test]
async fn a_function_the_runtime_cannot_run_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let function = "  ChargeCardFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: charge-card\n    Properties:\n      CodeUri: ..\n\nOutputs:";
    // In a nested stack, as a context's new function would be.
    let path =
        support::templates_in(
            dir.path(),
            |file, text| if file == "stacks/reservations.yaml" { text.replacen("\nOutputs:", &format!("\n{function}"), 1) } else { text },
        );
    let error = match start(LocalConfig::new(dir.path(), &path)).await {
        Ok(_) => panic!("a template with a function bnb-local cannot run must not start"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("ChargeCardFunction") && error.contains("charge-card"), "{error}");
}

/// `bnb-local demo`, the whole story, asserted step by step, on both backends.
async fn the_demo_story_holds(on: support::On) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::local_config(on, dir.path());
    config.visibility_override = None;
    let mut transcript = Vec::new();
    let result = bnb_local::demo::run(config, &mut |line| transcript.push(line)).await;
    assert!(result.is_ok(), "{:?}\n{}", result.err(), transcript.join("\n"));
    assert!(transcript.last().is_some_and(|l| l.contains("The whole story held")));
    assert!(transcript.iter().any(|l| l.contains("-> 503")) && transcript.iter().any(|l| l.contains("-> 409")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_story_holds_embedded() {
    the_demo_story_holds(support::On::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_story_holds_on_moto() {
    the_demo_story_holds(support::On::Moto).await;
}

/// `bnb-local` honours `ReservedConcurrentExecutions` as Lambda does: with every execution the
/// template reserves for `process-payment` busy, a booking's payment call is throttled at once
/// (503, "throttled", nothing kept), instead of waiting out its timeout; with one free, it books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_beyond_its_reserved_concurrency_is_throttled_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let base = running.url();
    let (host, guest) = host_and_guest(dir.path());
    let http = reqwest::Client::new();
    let room: Value = http.post(format!("{base}/rooms")).bearer_auth(&host).json(&room()).send().await.unwrap().json().await.unwrap();
    let executions = running.wiring.executions["ProcessPaymentFunction"].clone();
    assert_eq!(executions.available_permits(), 20, "the template's ReservedConcurrentExecutions");
    let busy = executions.clone().acquire_many_owned(20).await.unwrap();
    let book = |key: &'static str| {
        let body = json!({"roomId": room["roomId"], "checkIn": "2030-12-24", "checkOut": "2030-12-26", "guests": 2, "cardToken": "tok_visa"});
        http.post(format!("{base}/reservations")).bearer_auth(&guest).header("idempotency-key", key).json(&body).send()
    };
    let throttled = book("throttled-1").await.unwrap();
    assert_eq!(throttled.status(), 503);
    assert!(throttled.headers().contains_key("retry-after"));
    let problem: Value = throttled.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("throttled"), "{problem}");
    drop(busy);
    assert_eq!(book("after-1").await.unwrap().status(), 201, "an execution is free again");
    running.stop().await.unwrap();
}

/// `bnb-local` gives each function only what its `Policies` grant on each table, as IAM does: with
/// `dynamodb:GetItem` taken from `get-room`'s grant, reading a room fails as it would on AWS (503,
/// the function cannot read its table), while registering one still works; with the template as
/// it is, the same read answers 200. So the whole suite, which runs every function this way,
/// fails when the template forgets an action a function takes.
#[tokio::test]
async fn a_function_may_do_only_what_its_template_policies_grant() {
    let granted = "              Action: [dynamodb:GetItem]\n              Resource: !GetAtt RoomsTable.Arn\n";
    let rooms = std::fs::read_to_string(support::stack_path("rooms")).unwrap();
    let (_, get_room) = rooms.split_once("\n  GetRoomFunction:\n").expect("GetRoomFunction");
    let own = get_room.find("\n\n  ").expect("the next resource");
    assert!(get_room.find(granted).is_some_and(|at| at < own), "get-room's grant, as this test expects it");
    for (taken, expected) in [(false, 200), (true, 503)] {
        let dir = tempfile::tempdir().unwrap();
        let path = support::templates_in(dir.path(), |file, text| match (file, taken) {
            ("stacks/rooms.yaml", true) => {
                let (before, get_room) = text.split_once("\n  GetRoomFunction:\n").expect("GetRoomFunction");
                format!("{before}\n  GetRoomFunction:\n{}", get_room.replacen(granted, &granted.replace("dynamodb:GetItem", "dynamodb:DescribeTable"), 1))
            }
            _ => text,
        });
        let running = start(LocalConfig::new(dir.path(), &path)).await.unwrap();
        let base = running.url();
        let token = Authority::load_or_create(dir.path()).unwrap().mint("hana", &["host".into()], None, None, 600).unwrap();
        let http = reqwest::Client::new();
        let created = http.post(format!("{base}/rooms")).bearer_auth(&token).json(&room()).send().await.unwrap();
        assert_eq!(created.status(), 201);
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let read = http.get(format!("{base}{location}")).send().await.unwrap();
        assert_eq!(read.status(), expected, "GetItem {}", if taken { "not granted" } else { "granted" });
        running.stop().await.unwrap();
    }
}

/// The sum of a metric's samples on a `/metrics` page whose labels include every one of `labels`
/// (a summary's `_sum`/`_count` lines are their own metrics).
fn sample(page: &str, metric: &str, labels: &[&str]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(name, _)| name.split('{').next() == Some(metric) && labels.iter().all(|label| name.contains(label)))
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}

/// `/metrics` shows what the functions counted, under the names they write as CloudWatch EMF on
/// AWS: a confirmed and a declined booking, bookings aborted because payment was throttled, the
/// breaker opening, the payment calls' latency, how old events were when each consumer took
/// them, and every dead-letter queue's depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_bookings_payment_latency_event_age_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let base = running.url();
    let (host, guest) = host_and_guest(dir.path());
    let http = reqwest::Client::new();
    let page = || async { http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap() };
    // The recorder is the process's: other tests count into it too, so this one reads changes.
    let before = page().await;
    let room: Value = http.post(format!("{base}/rooms")).bearer_auth(&host).json(&room()).send().await.unwrap().json().await.unwrap();
    for (nights, card, status) in [(("2030-12-24", "2030-12-26"), "tok_visa", 201), (("2030-12-27", "2030-12-28"), "tok_declined", 402)] {
        let body = json!({"roomId": room["roomId"], "checkIn": nights.0, "checkOut": nights.1, "guests": 2, "cardToken": card});
        assert_eq!(http.post(format!("{base}/reservations")).bearer_auth(&guest).json(&body).send().await.unwrap().status(), status);
    }
    // Every payment execution busy: each booking is throttled (aborted), and the fifth failure
    // in the window opens the breaker (the template's BreakerFailureThreshold).
    let busy = running.wiring.executions["ProcessPaymentFunction"].clone().acquire_many_owned(20).await.unwrap();
    for day in 1..=5 {
        let body = json!({"roomId": room["roomId"], "checkIn": format!("2031-01-{day:02}"), "checkOut": format!("2031-01-{:02}", day + 1), "guests": 2, "cardToken": "tok_visa"});
        assert_eq!(http.post(format!("{base}/reservations")).bearer_auth(&guest).json(&body).send().await.unwrap().status(), 503);
    }
    drop(busy);
    let mut after = page().await;
    for _ in 0..100 {
        if sample(&after, "EventAge_count", &["consumer=\"view-projector\""]) > sample(&before, "EventAge_count", &["consumer=\"view-projector\""]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = page().await;
    }
    let grew = |metric: &str, labels: &[&str]| sample(&after, metric, labels) - sample(&before, metric, labels);
    assert!(grew("BookingsConfirmed", &[]) >= 1.0, "{after}");
    assert!(grew("BookingsRejected", &["reason=\"declined\""]) >= 1.0, "{after}");
    assert!(grew("PaymentLatency_count", &[]) >= 2.0, "{after}");
    assert!(grew("BookingsAborted", &["reason=\"throttled\""]) >= 5.0, "{after}");
    assert!(grew("BreakerOpens", &[]) >= 1.0, "{after}");
    assert!(grew("EventAge_count", &["consumer=\"view-projector\""]) >= 1.0, "{after}");
    assert!(after.contains("DeadLetters{queue=\"view-projector-dlq\"} 0"), "{after}");
    assert!(after.contains("DeadLetters{queue=\"expire-holds-dlq\"}"), "{after}");
    running.stop().await.unwrap();
}

/// `bnb-local` serves the API's contract at `/openapi.json`: `docs/openapi.yaml`, as JSON.
#[tokio::test]
async fn the_api_contract_is_served_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let answer = reqwest::get(format!("{}/openapi.json", running.url())).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let served: Value = answer.json().await.unwrap();
    let file: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(support::template_path().with_file_name("docs/openapi.yaml")).unwrap()).unwrap();
    assert_eq!(served, file);
    assert!(served["paths"]["/reservations"]["post"]["responses"]["402"].is_object(), "a declined card is part of the contract");
    running.stop().await.unwrap();
}

/// A room's reviews page exists while the room does: 200 for a room, 404 once it is deleted, as
/// for a room that never was (what schemathesis' use-after-free check holds the API to).
#[tokio::test]
async fn a_deleted_room_has_no_reviews_page() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let base = running.url();
    let host = Authority::load_or_create(dir.path()).unwrap().mint("hana", &["host".into()], None, None, 600).unwrap();
    let http = reqwest::Client::new();
    let room: Value = http.post(format!("{base}/rooms")).bearer_auth(&host).json(&room()).send().await.unwrap().json().await.unwrap();
    let reviews = format!("{base}/rooms/{}/reviews", room["roomId"].as_str().unwrap());
    let page = http.get(&reviews).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.json::<Value>().await.unwrap()["items"], json!([]));
    assert_eq!(http.delete(format!("{base}/rooms/{}", room["roomId"].as_str().unwrap())).bearer_auth(&host).send().await.unwrap().status(), 204);
    let gone = http.get(&reviews).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
    let never = http.get(format!("{base}/rooms/01936f4e-0000-7000-8000-00000000abcd/reviews")).send().await.unwrap();
    assert_eq!(never.status(), 404);
    running.stop().await.unwrap();
}

/// A method a route does not take is 405 with `Allow` naming the ones it does (RFC 9110), as a
/// problem document.
#[tokio::test]
async fn a_method_not_allowed_names_the_methods_that_are() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(LocalConfig::new(dir.path(), support::template_path())).await.unwrap();
    let answer = reqwest::Client::new().patch(format!("{}/rooms", running.url())).send().await.unwrap();
    assert_eq!(answer.status(), 405);
    assert_eq!(answer.headers()["allow"], "GET, POST");
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    running.stop().await.unwrap();
}

/// With `--parameter PaymentProvider=toss` and Toss Payments at its contract server
/// (tests/support/toss.rs), the template's wiring takes a booking through Toss end to end:
/// place-reservation wants a Toss payment (a card token is refused), process-payment confirms
/// it, and the guest's cancel is refunded through Toss by payment-handler. A parameter the
/// template does not declare, or one its rules refuse, stops start-up, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_toss_as_the_provider_a_booking_and_its_refund_go_through_toss() {
    use bnb_contexts::secrets::{FixedSecret, Secret};
    let toss = support::toss::TossServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(dir.path(), support::template_path());
    config.parameters.insert("PaymentProvider".into(), "toss".into());
    config.parameters.insert("TossClientKey".into(), "test_gck_bnbContractServer".into());
    config.web = Some(support::template_path().parent().unwrap().join("web"));
    let secret = std::sync::Arc::new(FixedSecret(Secret::new(support::toss::SECRET_KEY)));
    config.payment_provider = Some(bnb_local::runtime::RealPaymentProvider(bnb_toss_payments::provider(toss.url.clone(), secret).unwrap()));
    let running = start(config.clone()).await.unwrap();
    let base = running.url();
    let (host, guest) = host_and_guest(dir.path());
    let http = reqwest::Client::new();
    // The booking screen offers Toss's widget, with the root's TossClientKey.
    let app: Value = http.get(format!("{base}/config.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(app["payment"], json!({"provider": "toss", "clientKey": "test_gck_bnbContractServer"}));
    let room: Value = http.post(format!("{base}/rooms")).bearer_auth(&host).json(&room()).send().await.unwrap().json().await.unwrap();
    let stay = json!({"roomId": room["roomId"], "checkIn": "2030-11-10", "checkOut": "2030-11-12", "guests": 2});
    let mut with_card = stay.clone();
    with_card["cardToken"] = json!("tok_visa");
    let refused = http.post(format!("{base}/reservations")).bearer_auth(&guest).json(&with_card).send().await.unwrap();
    assert_eq!(refused.status(), 400, "a card token does not pay where Toss is the provider");
    let order_id = format!("{}-{}", bnb_contexts::payments::provider::order_prefix("minho"), uuid::Uuid::now_v7().simple());
    let payment_key = toss.authorize(&order_id, 240_000);
    let mut paid = stay.clone();
    paid["payment"] = json!({"provider": "toss", "paymentKey": payment_key, "orderId": order_id, "amount": 240_000});
    let booked = http.post(format!("{base}/reservations")).bearer_auth(&guest).json(&paid).send().await.unwrap();
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(toss.payment_of_order(&order_id).unwrap().status, "DONE");
    let id = booked["reservation"]["reservationId"].as_str().unwrap().to_owned();
    let cancelled = http.post(format!("{base}/reservations/{id}/cancel")).bearer_auth(&guest).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    support::eventually(30, "Toss refunded the cancelled stay", || async { toss.payment_of_order(&order_id).is_some_and(|p| p.status == "CANCELED") }).await;
    let cancel = toss.calls().into_iter().find(|c| c.path.ends_with("/cancel")).unwrap();
    assert_eq!(cancel.idempotency_key, Some(format!("cancel-{id}")));
    // The guest sees why the money came back, on the reservation's status.
    let status_of = || async { http.get(format!("{base}/reservations/{id}")).bearer_auth(&guest).send().await.unwrap().json::<Value>().await.unwrap() };
    support::eventually(30, "the status view shows the refund", || async { status_of().await["paymentStatus"] == "REFUNDED" }).await;
    assert_eq!(status_of().await["refundReason"], "You cancelled the stay.");
    running.stop().await.unwrap();

    // The template's rules hold here as on AWS: Toss without the widget's key does not start.
    let mut keyless = config.clone();
    keyless.parameters.remove("TossClientKey");
    let error = match start(keyless).await {
        Ok(_) => panic!("Toss without its client key must not start"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("TossNeedsItsClientKey"), "{error}");

    let mut typo = config;
    typo.parameters = [("PaymentProvder".to_string(), "toss".to_string())].into();
    let error = match start(typo).await {
        Ok(_) => panic!("an undeclared parameter must not start"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("PaymentProvder"), "{error}");
}
