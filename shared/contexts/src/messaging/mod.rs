//! The messaging ports: a topic to publish to (and SMS), and queues the runtime reads from.
//! The AWS adapters speak SNS and SQS; the embedded ones keep topics, filtered subscriptions
//! and queues (visibility timeout, receive count, DLQ) in the same SQLite file as the tables.

pub mod filter;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use filter::FilterPolicy;

/// Message attributes (all of type `String` in bnb).
pub type Attributes = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum MessagingError {
    #[error("no such queue or topic: {0}")]
    NotFound(String),
    #[error("invalid message request: {0}")]
    Invalid(String),
    #[error("messaging unavailable: {0}")]
    Unavailable(String),
}

/// A topic: publish a message with attributes that subscriptions filter on.
#[async_trait]
pub trait Topic: Send + Sync {
    /// Publishes and returns the message id.
    async fn publish(&self, message: &str, attributes: &Attributes) -> Result<String, MessagingError>;

    /// Publishes several messages, in order, and returns their ids; an error means some may
    /// have been published (publishing again is safe: consumers are idempotent by event id).
    /// The adapters make it cheaper than one call each (SNS `PublishBatch`, one transaction).
    async fn publish_batch(&self, messages: &[(String, Attributes)]) -> Result<Vec<String>, MessagingError> {
        let mut ids = Vec::with_capacity(messages.len());
        for (message, attributes) in messages {
            ids.push(self.publish(message, attributes).await?);
        }
        Ok(ids)
    }
}

/// A message taken from a queue; invisible to others until deleted, released or timed out.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub attributes: Attributes,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// When it was first sent, in milliseconds since the epoch.
    pub sent_at_ms: i64,
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

/// A queue, as the runtime's pollers and the DLQ tools use it.
#[async_trait]
pub trait Queue: Send + Sync {
    fn name(&self) -> &str;
    /// The queue's ARN, as Lambda names the event source.
    fn arn(&self) -> String;
    async fn send(&self, body: &str, attributes: &Attributes) -> Result<String, MessagingError>;
    /// Takes up to `max` visible messages. A message received more often than the queue's
    /// `maxReceiveCount` moves to its DLQ instead of being returned.
    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, MessagingError>;
    async fn delete(&self, receipt_handle: &str) -> Result<(), MessagingError>;
    /// Deletes several received messages (SQS `DeleteMessageBatch`, one transaction locally).
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<(), MessagingError> {
        for receipt in receipt_handles {
            self.delete(receipt).await?;
        }
        Ok(())
    }
    /// Makes a received message visible again at once.
    async fn release(&self, receipt_handle: &str) -> Result<(), MessagingError>;
    async fn depth(&self) -> Result<QueueDepth, MessagingError>;
}

/// Moves every message of `dlq` back to `source` (what SQS calls a redrive). Returns how many.
pub async fn redrive(dlq: &dyn Queue, source: &dyn Queue, limit: usize) -> Result<usize, MessagingError> {
    let mut moved = 0;
    while moved < limit {
        let batch = dlq.receive(10.min(limit - moved)).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            source.send(&message.body, &message.attributes).await?;
            dlq.delete(&message.receipt_handle).await?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// The SNS envelope a subscription without raw delivery puts around a message.
pub fn sns_wrap(topic_arn: &str, message_id: &str, message: &str, attributes: &Attributes) -> String {
    let attrs: serde_json::Map<String, serde_json::Value> =
        attributes.iter().map(|(k, v)| (k.clone(), serde_json::json!({"Type": "String", "Value": v}))).collect();
    serde_json::json!({
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
        "MessageAttributes": attrs,
    })
    .to_string()
}
