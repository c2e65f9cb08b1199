//! Topics and queues on the embedded store's SQLite file: durable, so a restart resumes every
//! queue with its in-flight messages.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::store::{exec, EmbeddedStore};
use bnb_contexts::messaging::{sns_wrap, Attributes, FilterPolicy, MessagingError, Queue, QueueDepth, ReceivedMessage, Topic};
use bnb_contexts::storage::StorageError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, visibility_timeout_ms INTEGER NOT NULL, max_receive_count INTEGER, dlq TEXT
);
CREATE TABLE IF NOT EXISTS subscriptions (
    topic TEXT NOT NULL, queue TEXT NOT NULL, filter_policy TEXT, raw INTEGER NOT NULL,
    PRIMARY KEY (topic, queue)
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL,
    sent_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, sent_at);
CREATE UNIQUE INDEX IF NOT EXISTS messages_receipt ON messages (receipt);
";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn err(e: StorageError) -> MessagingError {
    MessagingError::Unavailable(e.to_string())
}

fn sql(e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(format!("sqlite: {e}"))
}

/// A queue's settings, as `template.yaml` declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub name: String,
    pub visibility_timeout_ms: i64,
    /// With `dlq`: after this many receives a message moves there.
    pub max_receive_count: Option<u32>,
    pub dlq: Option<String>,
}

/// The embedded message bus: topics, subscriptions and queues.
#[derive(Clone)]
pub struct EmbeddedBus {
    store: EmbeddedStore,
}

impl EmbeddedBus {
    pub async fn open(store: EmbeddedStore) -> Result<EmbeddedBus, MessagingError> {
        store.with_conn(|conn| conn.execute_batch(SCHEMA).map_err(sql)).await.map_err(err)?;
        Ok(EmbeddedBus { store })
    }

    /// Creates or updates a queue.
    pub async fn declare_queue(&self, settings: QueueSettings) -> Result<EmbeddedQueue, MessagingError> {
        let s = settings.clone();
        self.store
            .with_conn(move |conn| {
                conn.execute(
                    "INSERT INTO queues (name, visibility_timeout_ms, max_receive_count, dlq) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET visibility_timeout_ms = excluded.visibility_timeout_ms,
                       max_receive_count = excluded.max_receive_count, dlq = excluded.dlq",
                    params![s.name, s.visibility_timeout_ms, s.max_receive_count, s.dlq],
                )
                .map_err(sql)
            })
            .await
            .map_err(err)?;
        Ok(self.queue(&settings.name))
    }

    /// Subscribes a queue to a topic, with an optional filter policy on message attributes.
    pub async fn subscribe(&self, topic: &str, queue: &str, filter_policy: Option<&Value>, raw: bool) -> Result<(), MessagingError> {
        if let Some(policy) = filter_policy {
            FilterPolicy::parse(policy).map_err(|e| MessagingError::Invalid(e.to_string()))?;
        }
        let (topic, queue, policy) = (topic.to_owned(), queue.to_owned(), filter_policy.map(Value::to_string));
        self.store
            .with_conn(move |conn| {
                conn.execute(
                    "INSERT INTO subscriptions (topic, queue, filter_policy, raw) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (topic, queue) DO UPDATE SET filter_policy = excluded.filter_policy, raw = excluded.raw",
                    params![topic, queue, policy, raw as i64],
                )
                .map_err(sql)
            })
            .await
            .map_err(err)?;
        Ok(())
    }

    pub fn topic(&self, name: &str) -> EmbeddedTopic {
        EmbeddedTopic { store: self.store.clone(), name: name.to_owned() }
    }

    pub fn queue(&self, name: &str) -> EmbeddedQueue {
        EmbeddedQueue { store: self.store.clone(), name: name.to_owned() }
    }

    /// Every declared queue.
    pub async fn queues(&self) -> Result<Vec<QueueSettings>, MessagingError> {
        self.store
            .with_conn(|conn| {
                let mut stmt = conn.prepare("SELECT name, visibility_timeout_ms, max_receive_count, dlq FROM queues ORDER BY name").map_err(sql)?;
                let rows = stmt
                    .query_map([], |r| Ok(QueueSettings { name: r.get(0)?, visibility_timeout_ms: r.get(1)?, max_receive_count: r.get(2)?, dlq: r.get(3)? }))
                    .map_err(sql)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql)
            })
            .await
            .map_err(err)
    }
}

fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:local:000000000000:{name}")
}

/// A topic on the embedded bus: publishing writes one message to every subscribed queue whose
/// filter admits it, in one transaction.
#[derive(Clone)]
pub struct EmbeddedTopic {
    store: EmbeddedStore,
    name: String,
}

#[async_trait]
impl Topic for EmbeddedTopic {
    async fn publish(&self, message: &str, attributes: &Attributes) -> Result<String, MessagingError> {
        let mut ids = self.publish_batch(&[(message.to_owned(), attributes.clone())]).await?;
        ids.pop().ok_or_else(|| MessagingError::Unavailable("publish returned no message id".into()))
    }

    /// Every message of the batch in one transaction: all are taken, or none.
    async fn publish_batch(&self, messages: &[(String, Attributes)]) -> Result<Vec<String>, MessagingError> {
        let (topic, messages) = (self.name.clone(), messages.to_vec());
        let (ids, touched) = self
            .store
            .with_conn_as("topic publish", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
                let subscriptions: Vec<(String, Option<FilterPolicy>, bool)> = {
                    let mut stmt = tx.prepare_cached("SELECT queue, filter_policy, raw FROM subscriptions WHERE topic = ?1").map_err(sql)?;
                    let rows = stmt.query_map([&topic], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, i64>(2)? != 0))).map_err(sql)?;
                    let rows: Vec<(String, Option<String>, bool)> = rows.collect::<Result<_, _>>().map_err(sql)?;
                    let mut parsed = Vec::with_capacity(rows.len());
                    for (queue, policy, raw) in rows {
                        let policy = match policy {
                            Some(text) => {
                                let value: Value = serde_json::from_str(&text).map_err(|e| StorageError::Invalid(e.to_string()))?;
                                Some(FilterPolicy::parse(&value).map_err(|e| StorageError::Invalid(e.to_string()))?)
                            }
                            None => None,
                        };
                        parsed.push((queue, policy, raw));
                    }
                    parsed
                };
                let now = now_ms();
                let mut ids = Vec::with_capacity(messages.len());
                let mut touched = std::collections::BTreeSet::new();
                for (message, attributes) in &messages {
                    let message_id = uuid::Uuid::now_v7().to_string();
                    for (queue, policy, raw) in &subscriptions {
                        if policy.as_ref().is_some_and(|p| !p.admits(attributes)) {
                            continue;
                        }
                        let (body, attrs) = if *raw {
                            (message.clone(), attributes.clone())
                        } else {
                            (sns_wrap(&topic_arn(&topic), &message_id, message, attributes), Attributes::new())
                        };
                        insert_message(&tx, queue, &body, &attrs, now)?;
                        touched.insert(queue.clone());
                    }
                    ids.push(message_id);
                }
                tx.commit().map_err(sql)?;
                Ok((ids, touched))
            })
            .await
            .map_err(err)?;
        for queue in touched {
            self.store.signal(&format!("queue:{queue}"));
        }
        Ok(ids)
    }
}

fn insert_message(conn: &Connection, queue: &str, body: &str, attributes: &Attributes, now: i64) -> Result<String, StorageError> {
    let id = uuid::Uuid::now_v7().to_string();
    let attrs = serde_json::to_string(attributes).map_err(|e| StorageError::Invalid(e.to_string()))?;
    exec(
        conn,
        "INSERT INTO messages (id, queue, body, attributes, sent_at, visible_at, receive_count) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)",
        params![id, queue, body, attrs, now],
    )
    .map_err(sql)?;
    Ok(id)
}

/// A queue on the embedded bus.
#[derive(Clone)]
pub struct EmbeddedQueue {
    store: EmbeddedStore,
    name: String,
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn arn(&self) -> String {
        format!("arn:aws:sqs:local:000000000000:{}", self.name)
    }

    async fn send(&self, body: &str, attributes: &Attributes) -> Result<String, MessagingError> {
        let (queue, body, attributes) = (self.name.clone(), body.to_owned(), attributes.clone());
        let id = self.store.with_conn_as("queue send", move |conn| insert_message(conn, &queue, &body, &attributes, now_ms())).await.map_err(err)?;
        self.store.signal(&format!("queue:{}", self.name));
        Ok(id)
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, MessagingError> {
        let queue = self.name.clone();
        let max = max.clamp(1, 10_000) as i64;
        let result = self
            .store
            .with_conn_as("queue receive", move |conn| {
                // Deferred: a receive that finds nothing writes nothing (idle pollers are many).
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(sql)?;
                let settings: Option<(i64, Option<u32>, Option<String>)> = tx
                    .prepare_cached("SELECT visibility_timeout_ms, max_receive_count, dlq FROM queues WHERE name = ?1")
                    .map_err(sql)?
                    .query_row([&queue], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
                    .map_err(sql)?;
                let Some((visibility, max_receives, dlq)) = settings else {
                    return Ok(Err(MessagingError::NotFound(queue.clone())));
                };
                let now = now_ms();
                let mut out = Vec::new();
                let mut dead_lettered = false;
                // Look a little past `max`: messages that move to the DLQ are not returned.
                let candidates: Vec<(String, String, String, i64, i64)> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT id, body, attributes, receive_count, sent_at FROM messages
                             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY sent_at, id LIMIT ?3",
                        )
                        .map_err(sql)?;
                    let rows = stmt.query_map(params![queue, now, max * 2], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).map_err(sql)?;
                    rows.collect::<Result<_, _>>().map_err(sql)?
                };
                for (id, body, attributes, count, sent_at) in candidates {
                    if out.len() as i64 >= max {
                        break;
                    }
                    let count = count + 1;
                    if let (Some(limit), Some(dlq)) = (max_receives, dlq.as_ref()) {
                        if count > limit as i64 {
                            dead_lettered = true;
                            exec(
                                &tx,
                                "UPDATE messages SET queue = ?2, receive_count = 0, visible_at = ?3, receipt = NULL WHERE id = ?1",
                                params![id, dlq, now],
                            )
                            .map_err(sql)?;
                            continue;
                        }
                    }
                    let receipt = uuid::Uuid::new_v4().to_string();
                    exec(
                        &tx,
                        "UPDATE messages SET receive_count = ?2, visible_at = ?3, receipt = ?4 WHERE id = ?1",
                        params![id, count, now + visibility, receipt],
                    )
                    .map_err(sql)?;
                    out.push(ReceivedMessage {
                        message_id: id,
                        receipt_handle: receipt,
                        body,
                        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                        receive_count: count as u32,
                        sent_at_ms: sent_at,
                    });
                }
                tx.commit().map_err(sql)?;
                Ok(Ok((out, dead_lettered.then_some(dlq).flatten())))
            })
            .await
            .map_err(err)?;
        let (out, dlq) = result?;
        if let Some(dlq) = dlq {
            self.store.signal(&format!("queue:{dlq}"));
        }
        Ok(out)
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), MessagingError> {
        self.delete_batch(&[receipt_handle.to_owned()]).await
    }

    /// One transaction for the whole batch.
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<(), MessagingError> {
        let receipts = receipt_handles.to_vec();
        self.store
            .with_conn_as("queue delete", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
                {
                    let mut stmt = tx.prepare_cached("DELETE FROM messages WHERE receipt = ?1").map_err(sql)?;
                    for receipt in &receipts {
                        stmt.execute([receipt]).map_err(sql)?;
                    }
                }
                tx.commit().map_err(sql)
            })
            .await
            .map_err(err)
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), MessagingError> {
        let receipt = receipt_handle.to_owned();
        self.store
            .with_conn_as("queue release", move |conn| {
                conn.execute("UPDATE messages SET visible_at = ?2 WHERE receipt = ?1", params![receipt, now_ms()]).map(|_| ()).map_err(sql)
            })
            .await
            .map_err(err)?;
        self.store.signal(&format!("queue:{}", self.name));
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, MessagingError> {
        let queue = self.name.clone();
        self.store
            .with_reader_as("queue depth", move |conn| {
                conn.query_row(
                    "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0) FROM messages WHERE queue = ?1",
                    params![queue, now_ms()],
                    |r| Ok(QueueDepth { visible: r.get::<_, i64>(0)? as u64, in_flight: r.get::<_, i64>(1)? as u64 }),
                )
                .map_err(sql)
            })
            .await
            .map_err(err)
    }
}
