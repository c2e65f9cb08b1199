//! Anyone can sign up and use bnb with no administrator: a new user is a guest (the pool's
//! post-confirmation trigger, `enrol-guest`), and becomes a host in the app (`POST /me/host`,
//! `become-host`), their next token carrying it. On `bnb-local` the development sign-in mirrors
//! both, and the web app is served at `/`.

mod support;

use bnb_lambda::function::Handler;
use bnb_local::start;
use serde_json::{json, Value};

async fn call(url: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, String, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{url}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = response.text().await.unwrap();
    (status, content_type, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The status of a GET sent byte for byte as written.
async fn raw_get(addr: &std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn sign_in(url: &str, user: &str) -> (String, Value) {
    let (status, _, body) = call(url, "POST", "/_bnb/sign-in", None, Some(json!({"user": user}))).await;
    assert_eq!(status, 200, "{body}");
    (body["token"].as_str().unwrap().to_owned(), body["groups"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_is_a_guest_and_becomes_a_host_in_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::local_config(support::On::Embedded, dir.path());
    // The app's folder, beside a file it must not serve, with a dotfile and a link out of it.
    let site = tempfile::tempdir().unwrap();
    let web = site.path().join("web");
    std::fs::create_dir_all(web.join("i18n")).unwrap();
    std::fs::copy(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/index.html"), web.join("index.html")).unwrap();
    std::fs::write(site.path().join("outside.txt"), "not the app's").unwrap();
    std::fs::write(web.join(".secret"), "hidden").unwrap();
    std::os::unix::fs::symlink(site.path().join("outside.txt"), web.join("link.txt")).unwrap();
    config.web = Some(web);
    let running = start(config).await.unwrap();
    let url = running.url();

    // Signing up makes a guest, and only that.
    let (token, groups) = sign_in(&url, "mina").await;
    assert_eq!(groups, json!(["guest"]));
    let room =
        json!({"title": "Mina's loft", "city": "Busan", "address": "1 Haeundae-ro", "capacity": 2, "nightlyPrice": {"amount": 90000, "currency": "KRW"}});
    assert_eq!(call(&url, "POST", "/rooms", Some(&token), Some(room.clone())).await.0, 403, "a guest registers no room");

    // Becoming a host: the answer says this token does not carry it yet; the next one does.
    let (status, _, became) = call(&url, "POST", "/me/host", Some(&token), None).await;
    assert_eq!(status, 200, "{became}");
    assert_eq!(became, json!({"userId": "mina", "group": "host", "tokenIsCurrent": false}));
    assert_eq!(call(&url, "POST", "/rooms", Some(&token), Some(room.clone())).await.0, 403, "the old token still says guest");
    let (token, groups) = sign_in(&url, "mina").await;
    assert_eq!(groups, json!(["guest", "host"]));
    assert_eq!(call(&url, "POST", "/rooms", Some(&token), Some(room)).await.0, 201);
    let (_, _, again) = call(&url, "POST", "/me/host", Some(&token), None).await;
    assert_eq!(again["tokenIsCurrent"], true, "asking twice is asking once");
    assert_eq!(call(&url, "POST", "/me/host", None, None).await.0, 401, "no token, no group");

    // A sign-in that is not one is a 400 problem naming the field.
    let (status, content_type, problem) = call(&url, "POST", "/_bnb/sign-in", None, Some(json!({"user": "../etc"}))).await;
    assert_eq!((status, content_type.as_str()), (400, "application/problem+json"));
    assert!(problem["detail"].as_str().unwrap().contains("`user`"), "{problem}");

    // The web app, from bnb: its page, its settings, and nothing outside its folder.
    let (status, content_type, page) = call(&url, "GET", "/", None, None).await;
    assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.as_str().unwrap().contains("<html"), "{page}");
    let today = bnb_contexts::domain::stay::format_date(bnb_contexts::clock::system().today());
    assert_eq!(
        call(&url, "GET", "/config.json", None, None).await.2,
        json!({"signIn": "local", "apiBase": "", "today": today, "payment": {"provider": "sandbox"}})
    );
    // Raw requests (a client library would normalise the path first): nothing outside web/, no
    // dotfiles.
    for path in ["/../outside.txt", "/%2e%2e/outside.txt", "/..%2foutside.txt", "/i18n/../../outside.txt", "/.secret", "/link.txt"] {
        assert_eq!(raw_get(&running.addr, path).await, 404, "{path}");
    }
    assert_eq!(raw_get(&running.addr, "/index.html").await, 200);
    // The development sign-in answers only requests addressed to this machine (no DNS rebinding).
    let rebound = reqwest::Client::new().post(format!("{url}/_bnb/sign-in")).header("host", "evil.example").body(r#"{"user":"eve"}"#).send().await.unwrap();
    assert_eq!(rebound.status().as_u16(), 403);
    running.stop().await.unwrap();
}

/// The post-confirmation trigger, as bnb-local links it, with the sample Cognito sends: the user
/// joins `guest`, and Cognito gets its event back.
#[tokio::test]
async fn the_post_confirmation_trigger_enrols_the_new_user_as_a_guest() {
    let topology = bnb_local::template::Topology::load(&support::template_path()).unwrap();
    let (store, _dir) = support::embedded_store();
    let wiring =
        bnb_local::wiring::Wiring::build(&bnb_local::wiring::Backend::Embedded, &store, &topology, None, "", bnb_contexts::clock::system()).await.unwrap();
    let decl = topology.function("enrol-guest").unwrap();
    let Handler::Invoke(enrol) = bnb_local::functions::link(decl, &topology, &wiring).unwrap() else { panic!("enrol-guest is invoked") };
    let sample: Value =
        serde_json::from_str(&std::fs::read_to_string(support::template_path().with_file_name("events/enrol-guest-confirmed-sign-up.json")).unwrap()).unwrap();
    let user = sample["userName"].as_str().unwrap().to_owned();
    assert!(wiring.directory.groups(&user).await.unwrap().is_empty());
    assert_eq!(enrol(sample.clone()).await.unwrap(), sample, "Cognito wants its event back");
    assert_eq!(enrol(sample.clone()).await.unwrap(), sample, "a retry by Cognito changes nothing");
    assert_eq!(wiring.directory.groups(&user).await.unwrap(), ["guest"]);
    assert!(enrol(json!({"userName": "x"})).await.is_err(), "not a post-confirmation event");
}
