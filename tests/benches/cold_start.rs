//! Cold starts, measured as Lambda meets them: each function's release binary is started again
//! and again under a minimal Lambda Runtime API on 127.0.0.1, with the variables Lambda sets and its
//! AWS endpoint pointed at moto, and timed from `exec` to its first `GET /runtime/invocation/next`
//! (init), then over its first invocation and a warm one. A hello-world `lambda_http` binary, built
//! the same way, is measured in the same run as the baseline.
//!
//!     scripts/cold-start.sh            # builds the release binaries, starts moto, runs this
//!     cargo run -p bnb-tests --example cold_start -- --bin-dir target/release --moto http://127.0.0.1:5999 [--starts 20] [function ...]
//!
//! Each function gets the first `events/<function>-*.json` sample for both invocations. An API
//! function warms its connections in init (one cheap read per table, logged as `warm_up_ms`):
//! the table gives init with it, and compares init without it with the hello-world's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use bnb_local::template::{name_from_arn, Topology};
use bnb_local::wiring::{Backend, Wiring};
use tokio::sync::{mpsc, Mutex};

const RUNTIME: &str = "/2018-06-01/runtime";
/// How long one start may take at each step before the run gives up on it.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// One start's timings.
#[derive(Debug, Clone, Copy)]
struct Start {
    init: Duration,
    /// Of `init`, what warming the connections took (the function logs it).
    warm_up: Duration,
    first: Duration,
    warm: Duration,
}

/// What the runtime API tells the harness.
enum Seen {
    /// The function asked for its next invocation.
    Next,
    /// It answered an invocation (`ok` = a response, not an error).
    Done { ok: bool },
    /// It could not start.
    InitError(String),
}

struct Api {
    seen: mpsc::UnboundedSender<(Instant, Seen)>,
    events: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
}

async fn next(State(api): State<Arc<Api>>) -> (HeaderMap, String) {
    let _ = api.seen.send((Instant::now(), Seen::Next));
    let mut events = api.events.lock().await;
    let (id, body) = events.recv().await.unwrap_or_default();
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
    headers.insert("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:cold-start".parse().unwrap());
    headers.insert("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".parse().unwrap());
    (headers, body)
}

async fn response(State(api): State<Arc<Api>>, UrlPath(_id): UrlPath<String>) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::Done { ok: true }));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Arc<Api>>, UrlPath(_id): UrlPath<String>) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::Done { ok: false }));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<Api>>, body: String) -> StatusCode {
    let _ = api.seen.send((Instant::now(), Seen::InitError(body)));
    StatusCode::ACCEPTED
}

/// The next thing the runtime API saw, if it is `what` ("next" or "done"), with when and whether
/// it was a success.
async fn wait(seen: &mut mpsc::UnboundedReceiver<(Instant, Seen)>, what: &str) -> Result<(Instant, bool), String> {
    match tokio::time::timeout(STEP_TIMEOUT, seen.recv()).await {
        Ok(Some((_, Seen::InitError(body)))) => Err(format!("init failed: {body}")),
        Ok(Some((at, Seen::Next))) if what == "next" => Ok((at, true)),
        Ok(Some((at, Seen::Done { ok }))) if what == "done" => Ok((at, ok)),
        Ok(Some(_)) => Err(format!("expected {what}, got something else")),
        Ok(None) | Err(_) => Err(format!("no {what} within {STEP_TIMEOUT:?}")),
    }
}

/// Starts `binary` once under a fresh runtime API and times it.
async fn start_once(binary: &Path, env: &BTreeMap<String, String>, event: &str) -> Result<Start, String> {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (events, events_rx) = mpsc::unbounded_channel();
    let api = Arc::new(Api { seen: seen_tx, events: Mutex::new(events_rx) });
    let app = Router::new()
        .route(&format!("{RUNTIME}/invocation/next"), get(next))
        .route(&format!("{RUNTIME}/invocation/{{id}}/response"), post(response))
        .route(&format!("{RUNTIME}/invocation/{{id}}/error"), post(error))
        .route(&format!("{RUNTIME}/init/error"), post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let exec = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let result = async {
        let (ready, _) = wait(&mut seen, "next").await?;
        let handed = Instant::now();
        events.send(("first".into(), event.to_owned())).map_err(|e| e.to_string())?;
        let (answered, ok) = wait(&mut seen, "done").await?;
        if !ok {
            // Still a whole invocation (a sample that asks for an error, e.g. a missing room).
            tracing::debug!("the first invocation answered an error");
        }
        wait(&mut seen, "next").await?;
        let warm_handed = Instant::now();
        events.send(("warm".into(), event.to_owned())).map_err(|e| e.to_string())?;
        let (warm_answered, _) = wait(&mut seen, "done").await?;
        Ok(Start { init: ready - exec, warm_up: Duration::ZERO, first: answered - handed, warm: warm_answered - warm_handed })
    }
    .await;
    let _ = child.kill().await;
    let mut logs = String::new();
    if let Some(mut out) = child.stdout.take() {
        use tokio::io::AsyncReadExt;
        let _ = tokio::time::timeout(STEP_TIMEOUT, out.read_to_string(&mut logs)).await;
    }
    let warmed = logs.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find_map(|l| l["warm_up_ms"].as_f64());
    let result = result.map(|s| Start { warm_up: Duration::from_secs_f64(warmed.unwrap_or(0.0) / 1000.0), ..s });
    server.abort();
    result
}

/// The environment Lambda gives `function`, with its template variables made real on moto.
fn environment(topology: &Topology, function: &str, prefix: &str, moto: &str, topic_arns: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cold-start"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_ENDPOINT_URL", moto),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(decl) = topology.function(function) {
        for (key, value) in &decl.environment {
            let value = if key.ends_with("_TABLE") {
                format!("{prefix}{value}")
            } else if key.ends_with("_TOPIC_ARN") {
                topic_arns.get(&name_from_arn(value)).cloned().unwrap_or_default()
            } else if key == "DEAD_LETTER_QUEUE_URL" {
                format!("{moto}/123456789012/{prefix}{}", value.rsplit('/').next().unwrap_or_default())
            } else {
                value.clone()
            };
            env.insert(key.clone(), value);
        }
    }
    env
}

fn sample_event(function: &str) -> String {
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&events)
        .expect("events/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{function}-"))))
        .collect();
    files.sort();
    // The hello-world answers any API Gateway event.
    let file = files.first().cloned().unwrap_or_else(|| events.join("get-room-not-found.json"));
    std::fs::read_to_string(file).expect("sample event")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut bin_dir, mut moto, mut starts, mut only) = (PathBuf::from("target/release"), None, 20usize, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bin-dir" => bin_dir = PathBuf::from(args.next().ok_or("--bin-dir needs a folder")?),
            "--moto" => moto = Some(args.next().ok_or("--moto needs a URL")?),
            "--starts" => starts = args.next().ok_or("--starts needs a number")?.parse()?,
            other => only.push(other.to_owned()),
        }
    }
    let moto = moto.ok_or("--moto <url> is required (scripts/cold-start.sh starts one)")?;
    let topology = Topology::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))?;
    let prefix = format!("cold-{}-", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    // Every table, topic and queue of the template, on moto.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let dir = tempfile::tempdir()?;
    let store = bnb_embedded::EmbeddedStore::open(dir.path().join("unused.db"))?;
    Wiring::build(&Backend::Aws { endpoint: moto.clone() }, &store, &topology, None, &prefix, bnb_contexts::clock::system())
        .await
        .map_err(|e| e.to_string())?;
    let config = bnb_lambda::aws::aws_sdk_config_for(&moto).await;
    let mut topic_arns = BTreeMap::new();
    for topic in &topology.topics {
        topic_arns.insert(topic.name.clone(), bnb_aws_sns::SnsTopic::ensure(&config, &format!("{prefix}{}", topic.name)).await?.arn().to_owned());
    }

    let mut functions: Vec<String> = vec!["hello-lambda".into()];
    functions.extend(bnb_local::functions::names().into_iter().map(str::to_owned).filter(|f| only.is_empty() || only.contains(f)));
    println!("{starts} starts each; binaries from {}; moto at {moto}\n", bin_dir.display());
    println!("| function | binary (MiB) | init p50 (ms) | init p95 | of which warm-up p50 | init − warm-up ÷ hello | first invocation p50 | p95 | warm invocation p50 | p95 |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut hello_init = None;
    for function in functions {
        let binary = bin_dir.join(&function);
        let Ok(meta) = std::fs::metadata(&binary) else {
            eprintln!("{function}: no binary at {} (build it with --release)", binary.display());
            continue;
        };
        let env = environment(&topology, &function, &prefix, &moto, &topic_arns);
        let event = sample_event(&function);
        let mut runs = Vec::new();
        for _ in 0..starts {
            match start_once(&binary, &env, &event).await {
                Ok(start) => runs.push(start),
                Err(e) => eprintln!("{function}: {e}"),
            }
        }
        if runs.is_empty() {
            continue;
        }
        let sorted = |f: fn(&Start) -> Duration| {
            let mut v: Vec<Duration> = runs.iter().map(f).collect();
            v.sort();
            v
        };
        let (init, first, warm, warm_up) = (sorted(|s| s.init), sorted(|s| s.first), sorted(|s| s.warm), sorted(|s| s.warm_up));
        let cold = sorted(|s| s.init.saturating_sub(s.warm_up));
        let init_p50 = percentile(&cold, 0.5);
        if function == "hello-lambda" {
            hello_init = Some(init_p50);
        }
        let hello = hello_init.unwrap_or(init_p50);
        println!(
            "| `{function}` | {:.1} | {} | {} | {} | {:.2} | {} | {} | {} | {} |{}",
            meta.len() as f64 / (1024.0 * 1024.0),
            ms(percentile(&init, 0.5)),
            ms(percentile(&init, 0.95)),
            ms(percentile(&warm_up, 0.5)),
            init_p50.as_secs_f64() / hello.as_secs_f64(),
            ms(percentile(&first, 0.5)),
            ms(percentile(&first, 0.95)),
            ms(percentile(&warm, 0.5)),
            ms(percentile(&warm, 0.95)),
            if runs.len() < starts { format!(" ({} of {starts} starts)", runs.len()) } else { String::new() }
        );
    }
    Ok(())
}
