//! The consumer harness: the one wrapper every SQS-triggered handler runs in.
//!
//! For each message of a batch it decodes the envelope (SNS-wrapped or raw), skips an event
//! this consumer already applied, runs the consumer, and commits the consumer's writes together
//! with a processed-event record in one atomic write — so a redelivered event changes nothing.
//! It answers `batchItemFailures` naming exactly the messages that failed; a message that cannot
//! be decoded is one of them (it reaches the DLQ), never dropped.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::events::Envelope;
use crate::storage::{Condition, Item, Key, StorageError, Table, WriteOp};

/// How long a processed-event record is kept: longer than any queue retains a message.
pub const PROCESSED_TTL_SECONDS: i64 = 15 * 24 * 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Worth retrying later (a dependency is down).
    #[error("transient failure: {0}")]
    Transient(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A consumer of domain events.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Names the consumer in processed-event records and logs.
    fn name(&self) -> &'static str;

    /// The table the consumer owns; its processed-event records live there too.
    fn table(&self) -> &dyn Table;

    /// What applying `event` writes to the consumer's table. Side effects outside the table must
    /// be idempotent by event id. A failed condition among the writes means the consumer holds
    /// something newer already: the event is then recorded as processed and skipped.
    async fn apply(&self, event: &Envelope) -> Result<Vec<WriteOp>, ConsumerError>;
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Stale,
    Failed(String),
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

fn processed_item(consumer: &str, event: &Envelope) -> Item {
    let key = processed_key(consumer, event);
    let mut item = key.to_item();
    let extra = json!({
        "kind": "processed",
        "eventType": event.event_type.as_str(),
        "correlationId": event.correlation_id,
        "expiresAt": OffsetDateTime::now_utc().unix_timestamp() + PROCESSED_TTL_SECONDS,
    });
    if let Value::Object(extra) = extra {
        item.extend(extra);
    }
    item
}

/// Applies one event exactly once for this consumer.
pub async fn apply_once(consumer: &dyn Consumer, event: &Envelope) -> Result<Outcome, ConsumerError> {
    let marker = processed_key(consumer.name(), event);
    if consumer.table().get(&marker).await?.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let mut ops = consumer.apply(event).await?;
    let marker_index = ops.len();
    ops.push(WriteOp::put_if(processed_item(consumer.name(), event), Condition::NotExists));
    match consumer.table().write(ops).await {
        Ok(()) => Ok(Outcome::Applied),
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&marker_index) => Ok(Outcome::Duplicate),
        Err(StorageError::ConditionFailed { .. }) => {
            // Older than what the consumer holds: remember it as processed, change nothing else.
            match consumer.table().write(vec![WriteOp::put_if(processed_item(consumer.name(), event), Condition::NotExists)]).await {
                Ok(()) | Err(StorageError::ConditionFailed { .. }) => Ok(Outcome::Stale),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs a consumer over an SQS batch and reports the messages that failed.
pub async fn handle_sqs_event(consumer: &dyn Consumer, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        if let Outcome::Failed(_) = handle_message(consumer, &message).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn handle_message(consumer: &dyn Consumer, message: &SqsMessage) -> Outcome {
    let id = message.message_id.as_deref().unwrap_or_default();
    let receive_count = message.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("1");
    let event = match decode(message.body.as_deref().unwrap_or_default()) {
        Ok(event) => event,
        Err(reason) => {
            tracing::error!(consumer = consumer.name(), message_id = id, receive_count, %reason, "undecodable message; it will reach the DLQ");
            return Outcome::Failed(reason);
        }
    };
    let span = tracing::info_span!(
        "event",
        consumer = consumer.name(),
        correlation_id = %event.correlation_id,
        event_id = %event.event_id,
        event_type = %event.event_type,
    );
    async {
        match apply_once(consumer, &event).await {
            Ok(outcome) => {
                tracing::info!(message_id = id, receive_count, outcome = ?outcome, "event handled");
                outcome
            }
            Err(e) => {
                tracing::warn!(message_id = id, receive_count, error = %e, "event failed; it will be retried");
                Outcome::Failed(e.to_string())
            }
        }
    }
    .instrument(span)
    .await
}
