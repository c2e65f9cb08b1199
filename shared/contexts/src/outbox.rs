//! The transactional outbox: a command's state change and its event, in one atomic write.
//!
//! A command builds its [`WriteOp`]s and hands them to [`write_with_events`], which appends one
//! outbox item per event. The table's stream carries the outbox INSERT to `publish-events`, so
//! there is no event without its state change and no state change without its event.
//!
//! An outbox item stays until it is known to be published: `publish-events` deletes it once SNS
//! has taken the event. What a long outage left behind (the stream keeps records 24 hours, and
//! its failure destination gets only their coordinates) is swept by `republish-outbox`: every
//! outbox item older than a few minutes is published again from the `outbox` index, then
//! deleted. Consumers are idempotent by event id, so a second publication changes nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{Envelope, EventType};
use crate::messaging::{Attributes, MessagingError, Topic};
use crate::storage::{to_item, Item, Key, Query, SortKey, StorageError, Table, WriteOp};

/// The sparse index of unpublished outbox items (`outboxpk` = `OUTBOX#<shard>`, `outboxsk` =
/// `<occurredAtMs>#<eventId>`), on every table with an outbox.
pub const OUTBOX_INDEX: &str = "outbox";
/// How many partitions of that index the items are spread over.
pub const OUTBOX_SHARDS: u32 = 4;

/// The key of the outbox item that carries event `event_id`.
pub fn outbox_key(event_id: &str) -> Key {
    Key::new(format!("OUTBOX#{event_id}"), "OUTBOX")
}

fn shard(event_id: &str) -> u32 {
    // FNV-1a: stable across builds and machines.
    event_id.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193)) % OUTBOX_SHARDS
}

/// One unpublished event, as stored next to the change that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    /// Beside the envelope too, so a stream filter can see it.
    pub event_type: EventType,
    pub envelope: Envelope,
    /// The `outbox` index: shard, then time, for the sweep of what was never published.
    pub outboxpk: String,
    pub outboxsk: String,
}

/// The outbox item that carries `envelope`.
pub fn outbox_item(envelope: &Envelope) -> Result<Item, StorageError> {
    let id = envelope.event_id.to_string();
    let at_ms = (envelope.occurred_at.unix_timestamp_nanos() / 1_000_000) as i64;
    let key = outbox_key(&id);
    to_item(&OutboxItem {
        pk: key.pk,
        sk: key.sk,
        kind: "outbox".into(),
        event_type: envelope.event_type(),
        envelope: envelope.clone(),
        outboxpk: format!("OUTBOX#{}", shard(&id)),
        outboxsk: format!("{at_ms:015}#{id}"),
    })
}

/// Reads the envelope back out of an outbox item (what the stream publisher does).
pub fn envelope_of(item: &Item) -> Option<Result<Envelope, serde_json::Error>> {
    if !item.get("pk").and_then(Value::as_str).is_some_and(|pk| pk.starts_with("OUTBOX#")) {
        return None;
    }
    item.get("envelope").map(|e| serde_json::from_value(e.clone()))
}

/// Writes `ops` and one outbox item per event, all or nothing.
pub async fn write_with_events(table: &dyn Table, mut ops: Vec<WriteOp>, events: &[Envelope]) -> Result<(), StorageError> {
    for envelope in events {
        ops.push(WriteOp::put_if(outbox_item(envelope)?, crate::storage::Condition::NotExists));
    }
    table.write(ops).await
}

/// Publishes an event to the `domain-events` topic, with the attribute subscriptions filter on.
pub async fn publish(topic: &dyn Topic, envelope: &Envelope) -> Result<String, MessagingError> {
    let attributes = Attributes::from([("eventType".to_string(), envelope.event_type().as_str().to_string())]);
    let body = serde_json::to_string(envelope).map_err(|e| MessagingError::Invalid(e.to_string()))?;
    topic.publish(&body, &attributes).await
}

/// Forgets a published event's outbox item. The delete is unconditional: the item is never
/// written again, and a second delete is harmless.
pub async fn clear(table: &dyn Table, event_id: &str) -> Result<(), StorageError> {
    table.write(vec![WriteOp::delete(outbox_key(event_id))]).await
}

/// The tables whose published outbox items `publish-events` clears, by the name their stream
/// ARN carries (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`).
#[derive(Clone, Default)]
pub struct OutboxTables(std::collections::BTreeMap<String, std::sync::Arc<dyn Table>>);

impl OutboxTables {
    pub fn new(tables: impl IntoIterator<Item = std::sync::Arc<dyn Table>>) -> Self {
        OutboxTables(tables.into_iter().map(|t| (t.name().to_owned(), t)).collect())
    }

    /// A table by its name.
    pub fn by_name(&self, name: &str) -> Option<&dyn Table> {
        self.0.get(name).map(|t| t.as_ref())
    }

    /// The table a stream record came from.
    pub fn for_stream(&self, stream_arn: &str) -> Option<&dyn Table> {
        let name = stream_arn.split_once(":table/").and_then(|(_, rest)| rest.split('/').next())?;
        self.0.get(name).map(|t| t.as_ref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepublishError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Messaging(#[from] MessagingError),
}

/// Publishes again, oldest first, every outbox item of `table` written before `cutoff_ms` and
/// still there (its publication never confirmed), then clears it; at most `budget` items per
/// call, so that one run stays bounded. Returns how many.
pub async fn republish_stale(table: &dyn Table, topic: &dyn Topic, cutoff_ms: i64, budget: usize) -> Result<usize, RepublishError> {
    let mut done = 0;
    for s in 0..OUTBOX_SHARDS {
        let mut query = Query::on_index(OUTBOX_INDEX, format!("OUTBOX#{s}")).sort(SortKey::LessThan(format!("{cutoff_ms:015}#"))).limit(100);
        loop {
            if done >= budget {
                return Ok(done);
            }
            let page = table.query(&query).await?;
            for item in &page.items {
                let envelope = match envelope_of(item) {
                    Some(Ok(envelope)) => envelope,
                    _ => {
                        tracing::error!(table = table.name(), pk = ?item.get("pk"), "outbox item holds no valid envelope; left for an operator");
                        continue;
                    }
                };
                publish(topic, &envelope).await?;
                clear(table, &envelope.event_id.to_string()).await?;
                tracing::warn!(table = table.name(), event_id = %envelope.event_id, event_type = %envelope.event_type(), correlation_id = %envelope.correlation_id, "unpublished event swept and published");
                done += 1;
            }
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
    }
    Ok(done)
}

/// The variable that holds the domain-events topic's ARN (`template.yaml` sets it).
pub const DOMAIN_EVENTS_TOPIC_ARN: &str = "DOMAIN_EVENTS_TOPIC_ARN";
