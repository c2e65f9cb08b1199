//! `bnb-local`: run bnb on this machine.

use std::path::PathBuf;
use std::time::Duration;

use bnb_local::auth::Authority;
use bnb_local::runtime::database_path;
use bnb_local::template::Topology;
use bnb_local::wiring::{Backend, Wiring};
use bnb_local::{start, LocalConfig};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "bnb-local", version, about = "Run bnb's whole serverless topology on this machine: no AWS account, no Docker")]
struct Cli {
    /// The folder that holds the embedded store, the stream checkpoints and the local signing key.
    #[arg(long, global = true, default_value = ".bnb", env = "BNB_DATA_DIR")]
    data_dir: PathBuf,
    /// The SAM template that says what runs.
    #[arg(long, global = true, default_value = "template.yaml", env = "BNB_TEMPLATE")]
    template: PathBuf,
    /// Run on an AWS API endpoint (e.g. moto at http://127.0.0.1:5000) instead of the embedded store.
    #[arg(long, global = true, env = "BNB_ENDPOINT")]
    endpoint: Option<String>,
    /// With --endpoint: put this before every table, topic and queue name.
    #[arg(long, global = true, default_value = "", env = "BNB_PREFIX")]
    prefix: String,
    /// Override a parameter of the root template, as `sam deploy --parameter-overrides` does
    /// (e.g. `--parameter PaymentProvider=toss`); repeatable.
    #[arg(long = "parameter", global = true, value_name = "NAME=VALUE", value_parser = parameter)]
    parameters: Vec<(String, String)>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API on 127.0.0.1 and run every stream and queue trigger.
    Up {
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 3000, env = "BNB_PORT")]
        port: u16,
        #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
        log_format: LogFormat,
        /// Retry failed queue messages after this many seconds instead of each queue's
        /// VisibilityTimeout.
        #[arg(long)]
        visibility_timeout: Option<u64>,
        /// Do not run this function's triggers (a consumer that is down); repeatable.
        #[arg(long)]
        pause: Vec<String>,
        /// The web app's folder, served at `/` (default: `web/` beside the template).
        #[arg(long, env = "BNB_WEB")]
        web: Option<PathBuf>,
        /// Send AlimTalk through NHN Cloud KakaoTalk Bizmessage at this endpoint (e.g.
        /// https://kakaotalk-bizmessage.api.nhncloudservice.com) instead of the local mailbox.
        /// Reads BNB_ALIMTALK_APP_KEY, BNB_ALIMTALK_SENDER_KEY, BNB_ALIMTALK_FALLBACK_SEND_NO and
        /// the secret key BNB_ALIMTALK_SECRET_KEY from the environment.
        #[arg(long, env = "BNB_ALIMTALK_ENDPOINT")]
        alimtalk_endpoint: Option<String>,
        /// Take payments through Toss Payments at this endpoint (https://api.tosspayments.com,
        /// or a contract server) when the template's PaymentProvider is toss (`--parameter
        /// PaymentProvider=toss`). Reads the secret key BNB_TOSS_SECRET_KEY from the environment.
        #[arg(long, env = "BNB_TOSS_ENDPOINT")]
        toss_endpoint: Option<String>,
        /// The client key the web app's Toss Payments widget uses (test_gck_…; not a secret):
        /// the same as `--parameter TossClientKey=…`.
        #[arg(long, env = "BNB_TOSS_CLIENT_KEY")]
        toss_client_key: Option<String>,
        /// Run every function's clock this many days ahead (to see what happens after a stay:
        /// reviews, expired holds). Tokens keep real time.
        #[arg(long, default_value_t = 0)]
        days_ahead: u32,
    },
    /// Every SMS and KakaoTalk AlimTalk "sent" locally (the mailbox), oldest first.
    Messages,
    /// Create every resource (on --endpoint, with --prefix) and write the data the samples in
    /// events/ refer to, so `sam local invoke` answers as their names promise.
    Seed,
    /// Print the `--env-vars` file for `sam local invoke` (events/env.json): each function's
    /// environment, naming the resources `seed` creates.
    EnvJson {
        /// The endpoint as the function's container reaches it.
        #[arg(long, default_value = "http://host.docker.internal:5000")]
        container_endpoint: String,
    },
    /// Mint a bearer token the local API accepts.
    Token {
        /// The user id (the JWT `sub`).
        #[arg(long)]
        sub: String,
        /// Groups, comma-separated: `host`, `guest`.
        #[arg(long, value_delimiter = ',', default_value = "guest")]
        groups: Vec<String>,
        /// A phone number for SMS notifications, E.164 (`+821012345678`).
        #[arg(long)]
        phone: Option<String>,
        /// `ko` or `en`.
        #[arg(long)]
        locale: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl: i64,
    },
    /// Play the whole story against a fresh data folder, printing every call and answer.
    Demo,
    /// Queue and DLQ depths, stream lag, the payment breaker.
    Status,
    /// Look into and empty the dead-letter queues.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Every dead-letter queue, with how many messages it holds and where they came from.
    List,
    /// Print the messages of a dead-letter queue (they stay there).
    Show {
        queue: String,
        #[arg(long, default_value_t = 10)]
        max: usize,
    },
    /// Move every message of a dead-letter queue back to the queue it came from.
    Redrive { queue: String },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bnb-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn backend(cli: &Cli) -> Backend {
    match &cli.endpoint {
        Some(endpoint) => Backend::Aws { endpoint: endpoint.clone() },
        None => Backend::Embedded,
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Token { sub, groups, phone, locale, ttl } => {
            let authority = Authority::load_or_create(&cli.data_dir)?;
            println!("{}", authority.mint(sub, groups, phone.as_deref(), locale.as_deref(), *ttl)?);
            Ok(())
        }
        Command::Up { port, log_format, visibility_timeout, pause, web, alimtalk_endpoint, toss_endpoint, toss_client_key, days_ahead } => {
            match log_format {
                LogFormat::Pretty => bnb_lambda::telemetry::init_pretty(),
                LogFormat::Json => bnb_lambda::telemetry::init_json(),
            }
            let mut parameters: std::collections::BTreeMap<String, String> = cli.parameters.iter().cloned().collect();
            if let Some(key) = toss_client_key {
                parameters.insert("TossClientKey".into(), key.clone());
            }
            let config = LocalConfig {
                data_dir: cli.data_dir.clone(),
                template: cli.template.clone(),
                port: *port,
                backend: backend(&cli),
                visibility_override: visibility_timeout.map(Duration::from_secs),
                prefix: cli.prefix.clone(),
                paused: pause.clone(),
                clock: clock_days_ahead(*days_ahead),
                web: Some(web.clone().unwrap_or_else(|| cli.template.parent().unwrap_or(std::path::Path::new("")).join("web"))),
                dealer: alimtalk_endpoint.as_deref().map(real_dealer).transpose()?,
                parameters,
                payment_provider: toss_endpoint.as_deref().map(real_toss).transpose()?,
            };
            let running = start(config).await?;
            for w in &running.wired {
                tracing::info!(function = %w.function, trigger = %w.trigger, "wired");
            }
            let store = match &cli.endpoint {
                Some(endpoint) => format!("AWS endpoint {endpoint}"),
                None => running.store.path().display().to_string(),
            };
            tracing::info!(url = %running.url(), %store, "bnb is up; Ctrl-C stops it");
            shutdown_signal().await?;
            tracing::info!("stopping: finishing the work in hand");
            running.stop().await?;
            Ok(())
        }
        Command::Seed => {
            let topology = Topology::load_with(&cli.template, &cli.parameters.iter().cloned().collect())?;
            let store = bnb_embedded::EmbeddedStore::open(database_path(&cli.data_dir))?;
            let wiring = Wiring::build(&backend(&cli), &store, &topology, None, &cli.prefix, bnb_contexts::clock::system()).await?;
            bnb_local::samples::seed(&wiring).await?;
            let place = cli.endpoint.as_deref().map(|e| format!("{e} (prefix {:?})", cli.prefix)).unwrap_or_else(|| cli.data_dir.display().to_string());
            println!("seeded the samples' room ({}) and notification on {place}", bnb_local::samples::SAMPLE_ROOM);
            Ok(())
        }
        Command::EnvJson { container_endpoint } => {
            let topology = Topology::load_with(&cli.template, &cli.parameters.iter().cloned().collect())?;
            let at = bnb_local::samples::SamplesEndpoint {
                endpoint: container_endpoint.clone(),
                prefix: if cli.prefix.is_empty() { bnb_local::samples::SamplesEndpoint::default().prefix } else { cli.prefix.clone() },
                ..Default::default()
            };
            println!("{}", serde_json::to_string_pretty(&bnb_local::samples::env_json(&topology, &at))?);
            Ok(())
        }
        Command::Messages => {
            let store = bnb_embedded::EmbeddedStore::open(database_path(&cli.data_dir))?;
            let mailbox = bnb_embedded::EmbeddedMailbox::open(store).await?;
            let messages = mailbox.messages().await?;
            for m in &messages {
                let at = time::OffsetDateTime::from_unix_timestamp_nanos(m.sent_at_ms as i128 * 1_000_000)
                    .ok()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default();
                println!("{at}  {:<8} {:<15} {:<20} {}", m.channel, m.phone_number, m.template_code, m.text);
            }
            eprintln!("{} message(s) in the mailbox of {}", messages.len(), cli.data_dir.display());
            Ok(())
        }
        Command::Demo => {
            let data_dir = std::env::temp_dir().join(format!("bnb-demo-{}", uuid::Uuid::now_v7().simple()));
            let mut config = LocalConfig::new(&data_dir, &cli.template);
            config.backend = backend(&cli);
            if cli.endpoint.is_some() {
                config.prefix = format!("demo-{}-", &uuid::Uuid::now_v7().simple().to_string()[..8]);
            }
            println!("bnb demo: a fresh system in {}", data_dir.display());
            let result = bnb_local::demo::run(config, &mut |line| println!("{line}")).await;
            let _ = std::fs::remove_dir_all(&data_dir);
            result
        }
        Command::Status => {
            let topology = Topology::load_with(&cli.template, &cli.parameters.iter().cloned().collect())?;
            let store = bnb_embedded::EmbeddedStore::open(database_path(&cli.data_dir))?;
            let wiring = Wiring::build(&backend(&cli), &store, &topology, None, &cli.prefix, bnb_contexts::clock::system()).await?;
            let checkpoints = bnb_local::pump::Checkpoints::open(store.clone()).await?;
            println!("{:<36} {:>8} {:>9}", "queue", "messages", "in flight");
            for (name, queue) in &wiring.queues {
                let depth = queue.depth().await?;
                println!("{name:<36} {:>8} {:>9}", depth.visible, depth.in_flight);
            }
            println!("\n{:<36} {:>12}", "stream -> function", "behind");
            for f in &topology.functions {
                for t in &f.triggers {
                    if let bnb_local::template::Trigger::Stream { table, .. } = t {
                        let position = checkpoints.load(&format!("stream:{table}:{}", f.binary)).await?;
                        let behind = wiring.table(table)?.read_stream(&position, 10_000).await?.records.len();
                        let shown = if behind >= 10_000 { "10000+".to_string() } else { behind.to_string() };
                        println!("{:<36} {shown:>12}", format!("{table} -> {}", f.binary));
                    }
                }
            }
            if let Ok(reservations) = wiring.table("reservations") {
                let breaker = bnb_contexts::payments::CircuitBreaker::new(
                    reservations,
                    "payment",
                    bnb_contexts::payments::BreakerConfig::default(),
                    bnb_contexts::clock::system(),
                );
                let state = breaker.read().await?;
                println!("\npayment breaker: {:?} (failures in window: {})", state.state, state.failures);
            }
            Ok(())
        }
        Command::Dlq { command } => {
            let topology = Topology::load_with(&cli.template, &cli.parameters.iter().cloned().collect())?;
            let store = bnb_embedded::EmbeddedStore::open(database_path(&cli.data_dir))?;
            let wiring = Wiring::build(&backend(&cli), &store, &topology, None, &cli.prefix, bnb_contexts::clock::system()).await?;
            let dlqs = dead_letter_queues(&topology);
            match command {
                DlqCommand::List => {
                    println!("{:<36} {:>8} {:>9}  from", "queue", "messages", "in flight");
                    for (dlq, sources) in &dlqs {
                        let depth = wiring.queue(dlq)?.depth().await?;
                        println!("{dlq:<36} {:>8} {:>9}  {}", depth.visible, depth.in_flight, sources.join(", "));
                    }
                    Ok(())
                }
                DlqCommand::Show { queue, max } => {
                    let q = wiring.queue(queue)?;
                    let messages = q.receive(*max).await?;
                    for m in &messages {
                        q.release(&m.receipt_handle).await?;
                    }
                    for m in &messages {
                        println!("{}", serde_json::json!({"messageId": m.message_id, "sentAtMs": m.sent_at_ms, "attributes": m.attributes, "body": m.body}));
                    }
                    eprintln!("{} message(s) shown; they stay in {queue}", messages.len());
                    Ok(())
                }
                DlqCommand::Redrive { queue } => {
                    let sources = dlqs.iter().find(|(d, _)| d == queue).map(|(_, s)| s.clone()).ok_or_else(|| format!("{queue} is not a dead-letter queue"))?;
                    let [source] = sources.as_slice() else {
                        return Err(format!("{queue} takes messages from {sources:?}; redrive needs exactly one source queue").into());
                    };
                    let moved = bnb_contexts::messaging::redrive(wiring.queue(queue)?.as_ref(), wiring.queue(source)?.as_ref(), 100_000).await?;
                    println!("moved {moved} message(s) from {queue} back to {source}");
                    Ok(())
                }
            }
        }
    }
}

/// The system's clock, or one `days` ahead of it.
fn clock_days_ahead(days: u32) -> bnb_contexts::clock::SharedClock {
    if days == 0 {
        return bnb_contexts::clock::system();
    }
    let clock = bnb_contexts::clock::ShiftedClock::new();
    clock.advance(Duration::from_secs(u64::from(days) * 86_400));
    tracing::warn!(days, "every function's clock runs {days} days ahead");
    clock
}

/// The NHN Cloud dealer at `endpoint`, with its keys from the environment (never from a flag, so
/// the secret key stays out of shell history and process listings).
fn real_dealer(endpoint: &str) -> Result<bnb_local::runtime::RealDealer, Error> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| format!("--alimtalk-endpoint needs {name} in the environment"));
    let secret = bnb_contexts::secrets::Secret::new(var("BNB_ALIMTALK_SECRET_KEY")?);
    let dealer = bnb_nhn_bizmessage::NhnBizmessage::new(bnb_nhn_bizmessage::NhnSettings {
        endpoint: endpoint.to_owned(),
        app_key: var("BNB_ALIMTALK_APP_KEY")?,
        sender_key: var("BNB_ALIMTALK_SENDER_KEY")?,
        fallback_send_no: var("BNB_ALIMTALK_FALLBACK_SEND_NO")?,
        secret_key: std::sync::Arc::new(bnb_contexts::secrets::FixedSecret(secret)),
    })?;
    Ok(bnb_local::runtime::RealDealer(std::sync::Arc::new(dealer)))
}

/// Toss Payments at `endpoint`, with its secret key from the environment (never from a flag).
fn real_toss(endpoint: &str) -> Result<bnb_local::runtime::RealPaymentProvider, Error> {
    let secret = std::env::var("BNB_TOSS_SECRET_KEY").ok().filter(|v| !v.is_empty()).ok_or("--toss-endpoint needs BNB_TOSS_SECRET_KEY in the environment")?;
    let secret = std::sync::Arc::new(bnb_contexts::secrets::FixedSecret(bnb_contexts::secrets::Secret::new(secret)));
    Ok(bnb_local::runtime::RealPaymentProvider(bnb_toss_payments::provider(endpoint.to_owned(), secret)?))
}

/// `NAME=VALUE`.
fn parameter(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(n, v)| (n.trim().to_owned(), v.to_owned())).filter(|(n, _)| !n.is_empty()).ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}

/// Each queue that is some queue's DLQ or some stream's failure destination, with its sources.
fn dead_letter_queues(topology: &Topology) -> Vec<(String, Vec<String>)> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for q in &topology.queues {
        if let Some(dlq) = &q.dlq {
            out.entry(dlq.clone()).or_default().push(q.name.clone());
        }
    }
    for f in &topology.functions {
        for t in &f.triggers {
            if let bnb_local::template::Trigger::Stream { on_failure: Some(dest), table, .. } = t {
                out.entry(dest.clone()).or_default().push(format!("stream:{table}"));
            }
        }
    }
    out.into_iter().collect()
}

/// Ctrl-C, or SIGTERM (what `kill` and service managers send).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
