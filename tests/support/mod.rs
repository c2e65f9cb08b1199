//! What the workspace tests share: the moto endpoint, fresh tables on both adapters, and
//! requests shaped like API Gateway's.
#![allow(dead_code)]

use std::sync::Arc;

use bnb_contexts::storage::{Table, TableSpec};
use bnb_embedded::EmbeddedStore;

pub mod faults;
pub mod linked;
pub mod nhn;
pub mod toss;

/// The moto server the test command started. Without it the AWS half of the suite cannot run,
/// and it fails rather than skip.
pub fn moto_url() -> String {
    match std::env::var("BNB_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "BNB_TEST_MOTO_URL is not set: the AWS adapter tests need a moto server. \
             Run the suite with `scripts/test.sh`, which installs and starts one."
        ),
    }
}

/// The workspace's `template.yaml`.
pub fn template_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// One of the stacks `template.yaml` nests (`stacks/<name>.yaml`).
pub fn stack_path(name: &str) -> std::path::PathBuf {
    template_path().with_file_name("stacks").join(format!("{name}.yaml"))
}

/// A copy of `template.yaml` and its `stacks/` in `dir`, each file's text passed through `edit`
/// (given its path relative to the workspace, e.g. `stacks/rooms.yaml`); returns the copied root.
pub fn templates_in(dir: &std::path::Path, edit: impl Fn(&str, String) -> String) -> std::path::PathBuf {
    let root = template_path();
    std::fs::create_dir_all(dir.join("stacks")).expect("stacks folder");
    let mut files = vec!["template.yaml".to_owned()];
    for entry in std::fs::read_dir(root.with_file_name("stacks")).expect("stacks/") {
        files.push(format!("stacks/{}", entry.expect("entry").file_name().to_string_lossy()));
    }
    for file in files {
        let text = std::fs::read_to_string(root.with_file_name(&file)).expect("template file");
        std::fs::write(dir.join(&file), edit(&file, text)).expect("write template copy");
    }
    dir.join("template.yaml")
}

/// A name no other test uses, so tests share one moto server and one machine safely.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A fresh embedded store in its own temporary folder (kept alive by the returned guard).
pub fn embedded_store() -> (EmbeddedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path().join("bnb.db")).expect("open store");
    (store, dir)
}

/// A fresh table on the embedded store.
pub fn embedded_table(spec: TableSpec) -> (Arc<dyn Table>, tempfile::TempDir) {
    let (store, dir) = embedded_store();
    (Arc::new(store.table(spec)), dir)
}

/// A fresh table on moto, created with its indexes and stream.
pub async fn moto_table(mut spec: TableSpec) -> Arc<dyn Table> {
    spec.name = unique(&spec.name);
    let config = bnb_lambda::aws::aws_sdk_config_for(&moto_url()).await;
    let table = bnb_aws_dynamodb_streams::streaming_table(&config, spec);
    table.ensure_exists().await.expect("create table on moto");
    Arc::new(table)
}

/// Claims as API Gateway's JWT authorizer passes them on.
pub fn claims(sub: &str, groups: &str) -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([("sub".to_string(), sub.to_string()), ("cognito:groups".to_string(), format!("[{groups}]"))])
}

/// A request exactly as lambda_http reads an API Gateway HTTP API event: built by the same
/// translator the local gateway uses.
pub fn api_request(
    method: &str,
    route_path: &str,
    path: &str,
    body: Option<&str>,
    claims: Option<std::collections::HashMap<String, String>>,
    headers: &[(&str, &str)],
) -> lambda_http::Request {
    use bnb_local::gateway::{api_gateway_event, Route};
    let method: http::Method = method.parse().expect("method");
    let route = Route::new(method.clone(), route_path, "test", claims.is_some());
    let mut params = std::collections::BTreeMap::new();
    for (want, got) in route_path.split('/').zip(path.split('/')) {
        if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            params.insert(name.to_string(), got.to_string());
        }
    }
    let mut header_map = http::HeaderMap::new();
    if body.is_some() {
        header_map.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    }
    for (name, value) in headers {
        header_map.insert(http::HeaderName::from_bytes(name.as_bytes()).expect("header"), http::HeaderValue::from_str(value).expect("value"));
    }
    let uri: http::Uri = path.parse().expect("uri");
    let event = api_gateway_event(&route, &params, &method, &uri, &header_map, body.unwrap_or("").as_bytes(), claims, "127.0.0.1:9".parse().expect("addr"));
    lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event")
}

/// Status, content type and JSON body of a function's answer.
pub fn answer(response: lambda_http::Response<lambda_http::Body>) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::String(t.clone())),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    (status, content_type, body)
}

/// Runs each `async fn case(On)` once on the embedded adapters and once on moto.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::support::On::Embedded).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::support::On::Moto).await;
                }
            )*
        }
    };
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Embedded,
    Moto,
}

/// `bnb-local` in process on a backend: the embedded store in `dir`, or moto with names no
/// other test uses. Queue retries come quickly (100 ms embedded, 1 s on moto).
pub fn local_config(on: On, dir: &std::path::Path) -> bnb_local::LocalConfig {
    let mut config = bnb_local::LocalConfig::new(dir, template_path());
    match on {
        On::Embedded => config.visibility_override = Some(std::time::Duration::from_millis(100)),
        On::Moto => {
            config.backend = bnb_local::wiring::Backend::Aws { endpoint: moto_url() };
            config.prefix = format!("{}-", unique("t"));
            config.visibility_override = Some(std::time::Duration::from_secs(1));
        }
    }
    config
}

/// Polls `check` until it holds or `seconds` pass; the deadline makes every wait bounded.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if check().await {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {seconds}s waiting for: {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Every item of one partition.
pub async fn partition(table: &dyn Table, pk: &str) -> Vec<bnb_contexts::storage::Item> {
    let mut out = Vec::new();
    let mut query = bnb_contexts::storage::Query::partition(pk).limit(500);
    for _ in 0..1000 {
        let page = table.query(&query).await.expect("query");
        out.extend(page.items);
        match page.next {
            Some(c) => query = query.after(Some(c)),
            None => break,
        }
    }
    out
}

/// Every record of a table's change stream.
pub async fn all_changes(table: &dyn Table) -> Vec<bnb_contexts::storage::StreamRecord> {
    let mut out = Vec::new();
    let mut position = bnb_contexts::storage::StreamPosition::start();
    for _ in 0..1000 {
        let batch = table.read_stream(&position, 1000).await.expect("read stream");
        if batch.records.is_empty() {
            break;
        }
        out.extend(batch.records);
        position = batch.next;
    }
    out
}

/// Waits (bounded) until every queue of a running system but the DLQs is empty: what was
/// delivered, duplicates included, has been applied.
pub async fn drained(running: &bnb_local::Running, seconds: u64) {
    eventually(seconds, "every queue drained", || async {
        let mut left = 0;
        for queue in running.wiring.queues.values().filter(|q| !q.name().ends_with("-dlq")) {
            let depth = queue.depth().await.unwrap();
            left += depth.visible + depth.in_flight;
        }
        left == 0
    })
    .await;
}
