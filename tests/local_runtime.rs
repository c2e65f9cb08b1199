//! `bnb-local up`, in process, over HTTP on 127.0.0.1: the routes, the JWT authorizer, and the
//! embedded store's durability across a restart.

mod support;

use bnb_local::auth::Authority;
use bnb_local::{start, LocalConfig};
use serde_json::{json, Value};

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
    let rooms = running.store.table(bnb::tables::rooms());
    use bnb::storage::Table;
    assert!(rooms.read_stream(&bnb::storage::StreamPosition::start(), 10).await.unwrap().records.is_empty());
    // Unknown routes and methods are problems too.
    let missing = http.get(format!("{}/nope", running.url())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    assert_eq!(http.delete(&url).send().await.unwrap().status(), 405);
    running.stop().await.unwrap();
}
