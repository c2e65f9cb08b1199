//! The consumer harness: the one wrapper every SQS-triggered handler runs in.
//!
//! For each message of a batch it decodes the envelope (SNS-wrapped or raw), skips an event
//! this consumer already applied, runs the consumer, and commits the consumer's writes together
//! with a processed-event record in one atomic write — so a redelivered event changes nothing.
//! It answers `batchItemFailures` naming exactly the messages that failed, to be retried (and
//! dead-lettered by the queue after its `maxReceiveCount`). A message that can never be applied
//! (it does not decode, or its event lacks what it must say) is sent straight to the queue's DLQ
//! with the reason, instead of five useless retries; never dropped.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::events::{Envelope, EventType};
use crate::messaging::{Attributes, MessagingError, Queue};
use crate::storage::{to_item, Condition, Item, Key, StorageError, Table, WriteOp};

/// Where a consumer's messages go that can never be applied: its queue's DLQ.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn dead_letter(&self, body: &str, attributes: &Attributes) -> Result<(), MessagingError>;
}

/// The attribute that says why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "deadLetterReason";

/// A queue as a dead-letter sink.
pub struct QueueDeadLetters(pub std::sync::Arc<dyn Queue>);

#[async_trait]
impl DeadLetters for QueueDeadLetters {
    async fn dead_letter(&self, body: &str, attributes: &Attributes) -> Result<(), MessagingError> {
        self.0.send(body, attributes).await.map(|_| ())
    }
}

/// How long a processed-event record is kept: longer than any queue retains a message.
pub const PROCESSED_TTL_SECONDS: i64 = 15 * 24 * 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Worth retrying later (a dependency is down, or a concurrent change won a race).
    #[error("transient failure: {0}")]
    Transient(String),
    /// The event needs something that is not there yet (another event still on its way):
    /// retried, and dead-lettered with this reason if it never comes.
    #[error("cannot apply yet: {0}")]
    NotYet(String),
    /// The event can never be applied (it does not say what it must): no retry helps.
    #[error("will never apply: {0}")]
    Rejected(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ConsumerError {
    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ConsumerError::Rejected(_))
    }
}

/// A consumer of domain events.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Names the consumer in processed-event records and logs.
    fn name(&self) -> &'static str;

    /// The table the consumer owns; its processed-event records live there too.
    fn table(&self) -> &dyn Table;

    /// What applying `event` writes to the consumer's table: the harness writes it in one
    /// transaction with the processed-event record, so the effect happens exactly once.
    ///
    /// A consumer decides itself, from what it reads, whether an event is older than what it
    /// holds (then it writes nothing for it). Its writes may carry conditions that guard what it
    /// read; a failed one means a concurrent change won, and the event is retried — never
    /// silently dropped. Effects outside the table must be idempotent by event id.
    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError>;

    /// What must happen outside the table once the event's writes are committed (sending a
    /// message). Runs after the commit and again on every redelivery of an event already
    /// applied, so a crash between commit and send loses nothing; it must skip what it already
    /// did.
    async fn after_commit(&self, _event: &Envelope) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    /// To be retried (and dead-lettered by the queue after its `maxReceiveCount`).
    Failed(String),
    /// Can never be applied: dead-lettered now, with the reason.
    Rejected(String),
}

/// Reads an envelope from an SQS message body: raw delivery, or an SNS notification around it.
pub fn decode(body: &str) -> Result<Envelope, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let inner = match (value.get("Type").and_then(Value::as_str), value.get("Message").and_then(Value::as_str)) {
        (Some("Notification"), Some(message)) => serde_json::from_str(message).map_err(|e| format!("SNS message is not JSON: {e}"))?,
        _ => value,
    };
    serde_json::from_value(inner).map_err(|e| format!("not an event envelope: {e}"))
}

pub fn processed_key(consumer: &str, event: &Envelope) -> Key {
    Key::new(format!("PROCESSED#{consumer}#{}", event.event_id), "PROCESSED")
}

/// The record that a consumer applied an event, written in the transaction that applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedMarker {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub event_type: EventType,
    pub correlation_id: String,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

fn processed_item(consumer: &str, event: &Envelope) -> Result<Item, StorageError> {
    let key = processed_key(consumer, event);
    to_item(&ProcessedMarker {
        pk: key.pk,
        sk: key.sk,
        kind: "processed".into(),
        event_type: event.event_type(),
        correlation_id: event.correlation_id.clone(),
        expires_at: OffsetDateTime::now_utc().unix_timestamp() + PROCESSED_TTL_SECONDS,
    })
}

/// Applies one event exactly once for this consumer.
pub async fn apply_once(consumer: &dyn Consumer, event: &Envelope) -> Result<Outcome, ConsumerError> {
    crate::metrics::event_age(consumer.name(), event.occurred_at);
    let outcome = commit_once(consumer, event).await?;
    consumer.after_commit(event).await?;
    Ok(outcome)
}

async fn commit_once(consumer: &dyn Consumer, event: &Envelope) -> Result<Outcome, ConsumerError> {
    let marker = processed_key(consumer.name(), event);
    if consumer.table().get(&marker).await?.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let mut ops = consumer.apply(event).await?;
    let marker_index = ops.len();
    ops.push(WriteOp::put_if(processed_item(consumer.name(), event)?, Condition::NotExists));
    match consumer.table().write(ops).await {
        Ok(()) => Ok(Outcome::Applied),
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&marker_index) => Ok(Outcome::Duplicate),
        // What the consumer read changed before it wrote: apply again from the new state.
        Err(StorageError::ConditionFailed { .. }) => Err(ConsumerError::Transient("a concurrent change won; retrying".into())),
        Err(e) => Err(e.into()),
    }
}
