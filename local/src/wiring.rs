//! The resources `template.yaml` declares, made real on a backend: the embedded SQLite store
//! (default) or an AWS API endpoint (moto, or AWS itself), where missing ones are created.

use std::collections::BTreeMap;
use std::sync::Arc;

use bnb_aws_sns::SnsTopic;
use bnb_aws_sqs::SqsQueue;
use bnb_contexts::messaging::{Queue, Topic};
use bnb_contexts::notifications::Dealer;
use bnb_contexts::storage::{Table, TableSpec};
use bnb_embedded::EmbeddedStore;
use bnb_embedded::{EmbeddedBus, EmbeddedDirectory, EmbeddedMailbox, QueueSettings};

use crate::template::Topology;

/// Where the resources live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The SQLite store in the data folder.
    Embedded,
    /// An AWS API endpoint, e.g. `http://127.0.0.1:5000` for moto.
    Aws { endpoint: String },
}

/// Every declared resource, by its local name, behind the ports the functions use.
#[derive(Clone)]
pub struct Wiring {
    pub tables: BTreeMap<String, Arc<dyn Table>>,
    pub topics: BTreeMap<String, Arc<dyn Topic>>,
    pub queues: BTreeMap<String, Arc<dyn Queue>>,
    /// The KakaoTalk dealer: the local mailbox unless `bnb-local up --alimtalk-endpoint` names a
    /// real one.
    pub dealer: Arc<dyn Dealer>,
    /// What every phone received, locally (`bnb-local messages`).
    pub mailbox: EmbeddedMailbox,
    /// The embedded bus, when that is the backend.
    pub bus: Option<EmbeddedBus>,
    /// Every function's clock.
    pub clock: bnb_contexts::clock::SharedClock,
    /// The user pool's groups: always the local one (the local sign-in is not Cognito's), on
    /// either backend.
    pub directory: EmbeddedDirectory,
    /// Each function with reserved concurrency (by logical id): its executions, shared by every
    /// caller, as Lambda counts them.
    pub executions: BTreeMap<String, Arc<tokio::sync::Semaphore>>,
    /// The real payment provider `bnb-local up --toss-endpoint` names (none: only the sandbox).
    pub payment_provider: Option<Arc<dyn bnb_contexts::payments::PaymentProvider>>,
}

pub type WiringError = Box<dyn std::error::Error + Send + Sync>;

impl Wiring {
    /// Opens or creates every table, topic, queue and subscription of `topology`.
    /// `visibility_override` shortens every queue's visibility timeout (tests, demos);
    /// `prefix` goes before every name on an AWS endpoint, so several systems can share one.
    pub async fn build(
        backend: &Backend,
        store: &EmbeddedStore,
        topology: &Topology,
        visibility_override: Option<std::time::Duration>,
        prefix: &str,
        clock: bnb_contexts::clock::SharedClock,
    ) -> Result<Wiring, WiringError> {
        let spec = |name: &str, indexes: &[String]| indexes.iter().fold(TableSpec::new(name), |s, i| s.with_index(i));
        let visibility = |seconds: u32| visibility_override.map(|d| d.as_millis() as i64).unwrap_or(seconds as i64 * 1000);
        // DLQs before the queues that point at them.
        let mut queues = topology.queues.clone();
        queues.sort_by_key(|q| q.dlq.is_some());
        let directory = EmbeddedDirectory::open(store.clone()).await?;
        let mailbox = EmbeddedMailbox::open(store.clone()).await?;
        let executions: BTreeMap<String, Arc<tokio::sync::Semaphore>> = topology
            .functions
            .iter()
            .filter_map(|f| f.reserved_concurrency.map(|n| (f.logical_id.clone(), Arc::new(tokio::sync::Semaphore::new(n as usize)))))
            .collect();
        match backend {
            Backend::Embedded => {
                let bus = EmbeddedBus::open(store.clone()).await?;
                let mut wiring = Wiring {
                    tables: BTreeMap::new(),
                    topics: BTreeMap::new(),
                    queues: BTreeMap::new(),
                    dealer: Arc::new(mailbox.clone()),
                    payment_provider: None,
                    mailbox,
                    bus: Some(bus.clone()),
                    clock: clock.clone(),
                    directory,
                    executions,
                };
                for t in &topology.tables {
                    wiring.tables.insert(t.name.clone(), Arc::new(store.table(spec(&t.name, &t.indexes))));
                }
                for t in &topology.topics {
                    wiring.topics.insert(t.name.clone(), Arc::new(bus.topic(&t.name)));
                }
                for q in &queues {
                    let queue = bus
                        .declare_queue(QueueSettings {
                            name: q.name.clone(),
                            visibility_timeout_ms: visibility(q.visibility_timeout_seconds),
                            max_receive_count: q.max_receive_count,
                            dlq: q.dlq.clone(),
                        })
                        .await?;
                    wiring.queues.insert(q.name.clone(), Arc::new(queue));
                }
                for s in &topology.subscriptions {
                    bus.subscribe(&s.topic, &s.queue, s.filter_policy.as_ref(), s.raw).await?;
                }
                Ok(wiring)
            }
            Backend::Aws { endpoint } => {
                let config = bnb_lambda::aws::aws_sdk_config_for(endpoint).await;
                let mut wiring = Wiring {
                    tables: BTreeMap::new(),
                    topics: BTreeMap::new(),
                    queues: BTreeMap::new(),
                    dealer: Arc::new(mailbox.clone()),
                    payment_provider: None,
                    mailbox,
                    bus: None,
                    clock: clock.clone(),
                    directory,
                    executions,
                };
                for t in &topology.tables {
                    let table = bnb_aws_dynamodb_streams::streaming_table(&config, spec(&format!("{prefix}{}", t.name), &t.indexes));
                    table.ensure_exists().await?;
                    wiring.tables.insert(t.name.clone(), Arc::new(table));
                }
                let mut sns = BTreeMap::new();
                for t in &topology.topics {
                    let topic = SnsTopic::ensure(&config, &format!("{prefix}{}", t.name)).await?;
                    sns.insert(t.name.clone(), topic.clone());
                    wiring.topics.insert(t.name.clone(), Arc::new(topic));
                }
                let mut sqs: BTreeMap<String, SqsQueue> = BTreeMap::new();
                for q in &queues {
                    let seconds = visibility_override.map(|d| d.as_secs().max(1) as u32).unwrap_or(q.visibility_timeout_seconds);
                    let redrive = match (&q.dlq, q.max_receive_count) {
                        (Some(dlq), Some(count)) => {
                            Some((sqs.get(dlq).ok_or_else(|| format!("queue {} names DLQ {dlq}, which is not declared", q.name))?, count))
                        }
                        _ => None,
                    };
                    let queue = SqsQueue::ensure(&config, &format!("{prefix}{}", q.name), seconds, redrive).await?;
                    sqs.insert(q.name.clone(), queue.clone());
                    wiring.queues.insert(q.name.clone(), Arc::new(queue));
                }
                for s in &topology.subscriptions {
                    let topic = sns.get(&s.topic).ok_or_else(|| format!("a subscription names topic {}, which is not declared", s.topic))?;
                    let queue = sqs.get(&s.queue).ok_or_else(|| format!("a subscription names queue {}, which is not declared", s.queue))?;
                    topic.subscribe_queue(&queue.arn(), s.filter_policy.as_ref(), s.raw).await?;
                }
                Ok(wiring)
            }
        }
    }

    pub fn table(&self, name: &str) -> Result<Arc<dyn Table>, WiringError> {
        self.tables.get(name).cloned().ok_or_else(|| format!("no table {name} is declared").into())
    }

    pub fn topic(&self, name: &str) -> Result<Arc<dyn Topic>, WiringError> {
        self.topics.get(name).cloned().ok_or_else(|| format!("no topic {name} is declared").into())
    }

    pub fn queue(&self, name: &str) -> Result<Arc<dyn Queue>, WiringError> {
        self.queues.get(name).cloned().ok_or_else(|| format!("no queue {name} is declared").into())
    }
}
