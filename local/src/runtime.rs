//! Starting and stopping the local system: read the template, make its resources real on the
//! chosen backend, link every function, and run the API and every trigger.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bnb_embedded::EmbeddedStore;
use http::Method;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::Authority;
use crate::functions::{link, Handler};
use crate::gateway::{Gateway, Route};
use crate::pump::{Checkpoints, QueuePump, StreamPump, Wake, DEFAULT_QUEUE_CONCURRENCY};
use crate::template::{Topology, Trigger};
use crate::wiring::{Backend, Wiring};

/// Where the local system keeps its state, what it runs and where it listens.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    pub template: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    pub backend: Backend,
    /// Shortens every queue's visibility timeout (tests and demos want retries in seconds).
    pub visibility_override: Option<Duration>,
    /// Goes before every resource name on an AWS endpoint.
    pub prefix: String,
    /// Functions (by binary) whose stream, queue and schedule triggers do not run: a consumer
    /// that is down. Their messages wait in their queues.
    pub paused: Vec<String>,
    /// Where every function's time comes from (the system's; a demo may move it ahead).
    pub clock: bnb_contexts::clock::SharedClock,
    /// The web app's folder, served at `/` (none: the API alone).
    pub web: Option<PathBuf>,
    /// A real KakaoTalk dealer instead of the local mailbox.
    pub dealer: Option<RealDealer>,
    /// The root template's parameters, overridden (`--parameter PaymentProvider=toss`).
    pub parameters: std::collections::BTreeMap<String, String>,
    /// The real payment provider the functions take when `PaymentProvider` names one.
    pub payment_provider: Option<RealPaymentProvider>,
}

/// A payment provider `bnb-local up --toss-endpoint` points at.
#[derive(Clone)]
pub struct RealPaymentProvider(pub Arc<dyn bnb_contexts::payments::PaymentProvider>);

impl std::fmt::Debug for RealPaymentProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RealPaymentProvider")
    }
}

/// A dealer `bnb-local up --alimtalk-endpoint` points at.
#[derive(Clone)]
pub struct RealDealer(pub Arc<dyn bnb_contexts::notifications::Dealer>);

impl std::fmt::Debug for RealDealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RealDealer")
    }
}

impl LocalConfig {
    /// Embedded backend, a free port.
    pub fn new(data_dir: impl Into<PathBuf>, template: impl Into<PathBuf>) -> Self {
        LocalConfig {
            data_dir: data_dir.into(),
            template: template.into(),
            port: 0,
            backend: Backend::Embedded,
            visibility_override: None,
            prefix: String::new(),
            paused: Vec::new(),
            clock: bnb_contexts::clock::system(),
            web: None,
            dealer: None,
            parameters: Default::default(),
            payment_provider: None,
        }
    }
}

/// The database file inside a data folder.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bnb.db")
}

/// What runs: one line per route and trigger, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wired {
    pub function: String,
    pub trigger: String,
}

/// A running local system.
pub struct Running {
    pub addr: SocketAddr,
    pub routes: Vec<Route>,
    pub wired: Vec<Wired>,
    pub store: EmbeddedStore,
    pub wiring: Wiring,
    pub topology: Topology,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    pumps: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops taking requests and polling, lets the work in hand finish, and returns.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        for pump in self.pumps {
            let _ = pump.await;
        }
        self.server.await.map_err(std::io::Error::other)?
    }
}

pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Starts everything `template.yaml` declares. A function or trigger the runtime cannot run is
/// an error naming it, before anything starts.
pub async fn start(config: LocalConfig) -> Result<Running, StartError> {
    let topology = Topology::load_with(&config.template, &config.parameters)?;
    let store = EmbeddedStore::open(database_path(&config.data_dir))?;
    let authority = Authority::load_or_create(&config.data_dir)?;
    let mut wiring = Wiring::build(&config.backend, &store, &topology, config.visibility_override, &config.prefix, config.clock.clone()).await?;
    if let Some(RealDealer(dealer)) = &config.dealer {
        wiring.dealer = dealer.clone();
    }
    wiring.payment_provider = config.payment_provider.as_ref().map(|RealPaymentProvider(p)| p.clone());
    let checkpoints = Checkpoints::open(store.clone()).await?;
    // On the embedded backend a poller wakes when what it reads is committed to; on an AWS
    // endpoint it polls.
    let wake_on = |resource: &str| match (&config.backend, store.watch(resource)) {
        (Backend::Embedded, Some(signal)) => Wake::on(signal),
        _ => Wake::polling(),
    };

    let mut routes = Vec::new();
    let mut http_functions = std::collections::BTreeMap::new();
    let mut stream_pumps = Vec::new();
    let mut queue_pumps = Vec::new();
    let mut wired = Vec::new();
    let mut schedules = Vec::new();
    for decl in &topology.functions {
        let handler = link(decl, &topology, &wiring)?;
        let paused = config.paused.contains(&decl.binary);
        let timeout = Duration::from_secs(decl.timeout_seconds.max(1) as u64);
        for trigger in &decl.triggers {
            let mismatch = || format!("function {} cannot take its {trigger:?} trigger", decl.logical_id);
            match (trigger, &handler) {
                (Trigger::Http { method, path, authorized }, Handler::Http(f)) => {
                    let method: Method = method.parse().map_err(|_| format!("function {}: bad method {method}", decl.logical_id))?;
                    routes.push(Route::new(method, path, &decl.logical_id, *authorized));
                    http_functions.insert(decl.logical_id.clone(), f.clone());
                    wired.push(Wired {
                        function: decl.binary.clone(),
                        trigger: format!(
                            "HTTP {} {path}{}",
                            routes.last().map(|r| r.method.to_string()).unwrap_or_default(),
                            if *authorized { "" } else { " (no auth)" }
                        ),
                    });
                }
                (Trigger::Stream { .. } | Trigger::Sqs { .. } | Trigger::Schedule { .. }, _) if paused => {
                    wired.push(Wired { function: decl.binary.clone(), trigger: "paused".into() });
                }
                (Trigger::Stream { table, batch_size, maximum_retry_attempts, on_failure, filters, .. }, Handler::Stream(f)) => {
                    stream_pumps.push(StreamPump {
                        function: decl.binary.clone(),
                        table: wiring.table(table).map_err(|e| format!("function {}: {e}", decl.logical_id))?,
                        handler: f.clone(),
                        batch_size: *batch_size,
                        maximum_retry_attempts: *maximum_retry_attempts,
                        on_failure: on_failure.as_deref().map(|q| wiring.queue(q)).transpose()?,
                        timeout,
                        filters: filters.clone(),
                        checkpoints: checkpoints.clone(),
                        wake: wake_on(&format!("table:{}", table)),
                    });
                    wired.push(Wired { function: decl.binary.clone(), trigger: format!("stream of table {table}, batches of {batch_size}") });
                }
                (Trigger::Sqs { queue, batch_size, report_failures, maximum_concurrency }, Handler::Sqs(f)) => {
                    let concurrency = maximum_concurrency.unwrap_or(DEFAULT_QUEUE_CONCURRENCY);
                    queue_pumps.push(QueuePump {
                        function: decl.binary.clone(),
                        queue: wiring.queue(queue).map_err(|e| format!("function {}: {e}", decl.logical_id))?,
                        handler: f.clone(),
                        batch_size: *batch_size,
                        report_failures: *report_failures,
                        timeout,
                        concurrency,
                        wake: wake_on(&format!("queue:{queue}")),
                    });
                    wired.push(Wired { function: decl.binary.clone(), trigger: format!("queue {queue}, batches of {batch_size}, {concurrency} at once") });
                }
                (Trigger::Schedule { every }, Handler::Invoke(f)) => {
                    schedules.push((decl.binary.clone(), *every, f.clone(), timeout));
                    wired.push(Wired { function: decl.binary.clone(), trigger: format!("every {} s", every.as_secs()) });
                }
                _ => return Err(mismatch().into()),
            }
        }
    }

    let web = config.web.clone().map(|dir| crate::web::WebApp {
        dir,
        directory: wiring.directory.clone(),
        authority: authority.clone(),
        clock: config.clock.clone(),
        payment: crate::web::PaymentConfig {
            // What place-reservation takes is what the booking screen offers.
            provider: topology
                .function("place-reservation")
                .and_then(|f| f.environment.get(bnb_contexts::payments::provider::PAYMENT_PROVIDER).cloned())
                .unwrap_or_else(|| "sandbox".into()),
            // The widget's key is the root's TossClientKey, as scripts/deploy-web.sh reads it from
            // a deployed stack's outputs.
            client_key: config.parameters.get("TossClientKey").filter(|k| !k.is_empty()).cloned(),
        },
    });
    let ops = crate::ops::OpsPages::new(dead_letter_queues(&topology, &wiring), openapi_beside(&config.template)?);
    let gateway = Arc::new(Gateway { routes: routes.clone(), functions: http_functions, authority, web, ops });
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let app = gateway.router().into_make_service_with_connect_info::<SocketAddr>();
    let mut server_stop = stopped.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|s| *s).await;
            })
            .await
    });
    let mut pumps = Vec::new();
    for pump in stream_pumps {
        pumps.push(tokio::spawn(pump.run(stopped.clone())));
    }
    for pump in queue_pumps {
        pumps.push(tokio::spawn(pump.run(stopped.clone())));
    }
    for (function, every, handler, timeout) in schedules {
        pumps.push(tokio::spawn(crate::pump::run_schedule(function, every, handler, timeout, stopped.clone())));
    }
    Ok(Running { addr, routes, wired, store, wiring, topology, stop, server, pumps })
}

/// Every queue some queue sends its failures to, or that a function's failures go to (the DLQs).
fn dead_letter_queues(topology: &Topology, wiring: &Wiring) -> Vec<Arc<dyn bnb_contexts::messaging::Queue>> {
    topology
        .queues
        .iter()
        .filter(|q| q.logical_id.ends_with("DLQ") || topology.queues.iter().any(|other| other.dlq.as_deref() == Some(q.name.as_str())))
        .filter_map(|q| wiring.queue(&q.name).ok())
        .collect()
}

/// `docs/openapi.yaml` beside the template, as JSON (none when there is no such file).
fn openapi_beside(template: &Path) -> Result<Option<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>> {
    let path = template.parent().unwrap_or(Path::new(".")).join("docs/openapi.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let document: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(serde_json::to_vec(&document)?))
}
