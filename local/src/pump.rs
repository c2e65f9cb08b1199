//! The event-source mappings, run locally as Lambda runs them: each table's change stream feeds
//! its function in DynamoDB Stream batches (checkpointed, retried, poison records sent to the
//! failure destination), and each queue feeds its function in SQS batches (successes deleted,
//! failures left to reappear after the visibility timeout, and so to reach the DLQ).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use bnb_contexts::messaging::{Attributes, Queue, ReceivedMessage};
use bnb_contexts::storage::{StorageError, StreamPosition, StreamRecord, Table};
use bnb_embedded::EmbeddedStore;
use bnb_lambda::stream_event::stream_event;

use crate::event_filter::{admits, EventPattern};
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use tokio::sync::watch;
use tracing::Instrument;

use crate::functions::{SqsFunction, StreamFunction};
use crate::template::{ACCOUNT, REGION};

/// How long an idle poller waits before looking again, when nothing tells it of new work (an
/// AWS endpoint).
pub const IDLE_POLL: Duration = Duration::from_millis(25);
/// How long an idle poller that is woken on every commit waits at most: for what no commit
/// announces (a message whose visibility timeout ran out).
pub const IDLE_WAKEFUL: Duration = Duration::from_millis(200);
/// How many batches of a queue run at once when its mapping sets no
/// `ScalingConfig.MaximumConcurrency` (Lambda starts five pollers per queue).
pub const DEFAULT_QUEUE_CONCURRENCY: usize = 5;

/// What an idle poller waits on: a commit to what it reads (embedded backend), or time.
#[derive(Clone)]
pub struct Wake(Option<watch::Receiver<u64>>);

impl Wake {
    /// Polls every [`IDLE_POLL`].
    pub fn polling() -> Wake {
        Wake(None)
    }

    /// Wakes on every change of `signal`.
    pub fn on(signal: watch::Receiver<u64>) -> Wake {
        Wake(Some(signal))
    }

    /// Forgets the changes seen so far: call before reading, so a commit after the read wakes.
    fn seen(&mut self) {
        if let Some(signal) = &mut self.0 {
            signal.borrow_and_update();
        }
    }

    /// Waits for a change, `backoff` (if any), the idle bound, or `stop`.
    async fn idle(&mut self, backoff: Option<Duration>, stop: &mut watch::Receiver<bool>) {
        match (&mut self.0, backoff) {
            (Some(signal), None) => {
                tokio::select! {
                    _ = signal.changed() => {}
                    _ = tokio::time::sleep(IDLE_WAKEFUL) => {}
                    _ = stop.changed() => {}
                }
            }
            (_, backoff) => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff.unwrap_or(IDLE_POLL)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Where each stream reader stands, kept in the data folder's SQLite file.
#[derive(Clone)]
pub struct Checkpoints {
    store: EmbeddedStore,
}

impl Checkpoints {
    pub async fn open(store: EmbeddedStore) -> Result<Checkpoints, StorageError> {
        store
            .with_conn(|c| {
                c.execute_batch("CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position TEXT NOT NULL)")
                    .map_err(|e| StorageError::Unavailable(e.to_string()))
            })
            .await?;
        Ok(Checkpoints { store })
    }

    pub async fn load(&self, name: &str) -> Result<StreamPosition, StorageError> {
        let name = name.to_owned();
        self.store
            .with_conn_as("checkpoint load", move |c| {
                let position: Option<String> = c
                    .query_row("SELECT position FROM checkpoints WHERE name = ?1", [name], |r| r.get(0))
                    .optional()
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?;
                Ok(StreamPosition(position.unwrap_or_default()))
            })
            .await
    }

    pub async fn save(&self, name: &str, position: &StreamPosition) -> Result<(), StorageError> {
        let (name, position) = (name.to_owned(), position.0.clone());
        self.store
            .with_conn_as("checkpoint save", move |c| {
                c.execute(
                    "INSERT INTO checkpoints (name, position) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                    params![name, position],
                )
                .map(|_| ())
                .map_err(|e| StorageError::Unavailable(e.to_string()))
            })
            .await
    }
}

/// A DynamoDB Stream event-source mapping.
pub struct StreamPump {
    pub function: String,
    pub table: Arc<dyn Table>,
    pub handler: StreamFunction,
    pub batch_size: usize,
    pub maximum_retry_attempts: u32,
    pub on_failure: Option<Arc<dyn Queue>>,
    pub timeout: Duration,
    pub checkpoints: Checkpoints,
    /// The mapping's `FilterCriteria`: records none of them matches never reach the function.
    pub filters: Vec<EventPattern>,
    pub wake: Wake,
}

impl StreamPump {
    fn checkpoint_name(&self) -> String {
        format!("stream:{}:{}", self.table.name(), self.function)
    }

    fn stream_arn(&self) -> String {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}/stream/local", self.table.name())
    }

    /// Runs until `stop` turns true, finishing the batch in hand first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let span = tracing::info_span!("stream", function = %self.function, table = %self.table.name());
        bnb_embedded::as_background(
            async move {
                let name = self.checkpoint_name();
                let mut position = match self.checkpoints.load(&name).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the stream checkpoint; the stream does not run");
                        return;
                    }
                };
                let mut attempts = 0u32;
                let mut wake = self.wake.clone();
                while !*stop.borrow() {
                    wake.seen();
                    match self.step(&mut position, &mut attempts).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let backoff = (attempts > 0).then(|| Duration::from_millis(50 * 2u64.pow(attempts.min(6))));
                            wake.idle(backoff, &mut stop).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "stream poll failed; retrying");
                            wake.idle(Some(Duration::from_millis(500)), &mut stop).await;
                        }
                    }
                }
            }
            .instrument(span),
        )
        .await
    }

    /// One batch. `Ok(true)` when it made progress and should go on at once.
    async fn step(&self, position: &mut StreamPosition, attempts: &mut u32) -> Result<bool, StorageError> {
        let batch = self.table.read_stream(position, self.batch_size).await?;
        if batch.records.is_empty() {
            return Ok(false);
        }
        let mut event = stream_event(self.table.name(), &self.stream_arn(), &batch.records).map_err(|e| StorageError::Invalid(e.to_string()))?;
        // As Lambda does: what no filter matches is dropped before the function is invoked, and
        // a batch with nothing left invokes nothing.
        if !self.filters.is_empty() {
            event.records.retain(|record| admits(&self.filters, &serde_json::to_value(record).unwrap_or_default()));
        }
        let first_delivered =
            event.records.first().and_then(|r| batch.records.iter().position(|b| Some(&b.sequence_number) == r.change.sequence_number.as_ref()));
        let failed_at = if event.records.is_empty() {
            None
        } else {
            match run_guarded(self.timeout, (self.handler)(event)).await {
                Some(response) => response
                    .batch_item_failures
                    .iter()
                    .filter_map(|f| f.item_identifier.as_deref())
                    .filter_map(|seq| batch.records.iter().position(|r| r.sequence_number == seq))
                    .min(),
                None => Some(first_delivered.unwrap_or(0)),
            }
        };
        let Some(index) = failed_at else {
            *position = batch.next;
            *attempts = 0;
            self.checkpoints.save(&self.checkpoint_name(), position).await?;
            return Ok(true);
        };
        // Everything before the failed record is done: checkpoint it, as Lambda does.
        if index > 0 {
            *position = batch.records[index - 1].position.clone();
            *attempts = 0;
            self.checkpoints.save(&self.checkpoint_name(), position).await?;
        }
        *attempts += 1;
        let record = &batch.records[index];
        if *attempts > self.maximum_retry_attempts {
            tracing::error!(sequence_number = %record.sequence_number, attempts = *attempts, "retries exhausted; sending the record to the failure destination");
            self.send_to_failure_destination(record).await;
            *position = record.position.clone();
            *attempts = 0;
            self.checkpoints.save(&self.checkpoint_name(), position).await?;
            return Ok(true);
        }
        tracing::warn!(sequence_number = %record.sequence_number, attempt = *attempts, "record failed; retrying");
        Ok(false)
    }

    async fn send_to_failure_destination(&self, record: &StreamRecord) {
        let Some(queue) = &self.on_failure else {
            tracing::error!(sequence_number = %record.sequence_number, "no failure destination: the record is skipped");
            return;
        };
        // The shape Lambda sends to an on-failure destination for a stream source: the record's
        // coordinates only, never the record (as on AWS). What it carried is still in the table:
        // an outbox item stays until published, and republish-outbox sweeps it.
        let body = json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", self.function), "approximateInvokeCount": self.maximum_retry_attempts + 1},
            "DDBStreamBatchInfo": {"shardId": "local", "startSequenceNumber": record.sequence_number, "endSequenceNumber": record.sequence_number, "streamArn": self.stream_arn(), "batchSize": 1},
        });
        if let Err(e) = queue.send(&body.to_string(), &Attributes::new()).await {
            tracing::error!(error = %e, "could not write to the failure destination");
        }
    }
}

/// An SQS event-source mapping: `concurrency` batches in flight at once, as Lambda runs up to
/// `ScalingConfig.MaximumConcurrency` instances of the function on one queue. Each message is
/// received by one of them only (the queue's visibility timeout), so ordering is the queue's:
/// none, as in a standard SQS queue; consumers order by the versions the events carry.
pub struct QueuePump {
    pub function: String,
    pub queue: Arc<dyn Queue>,
    pub handler: SqsFunction,
    pub batch_size: usize,
    pub report_failures: bool,
    pub timeout: Duration,
    pub concurrency: usize,
    pub wake: Wake,
}

impl QueuePump {
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let span = tracing::info_span!("queue", function = %self.function, queue = %self.queue.name());
        let pump = Arc::new(self);
        let workers: Vec<_> = (0..pump.concurrency.max(1))
            .map(|_| {
                let (pump, mut stop) = (pump.clone(), stop.clone());
                tokio::spawn(bnb_embedded::as_background(
                    async move {
                        let mut wake = pump.wake.clone();
                        while !*stop.borrow() {
                            wake.seen();
                            match pump.step().await {
                                Ok(true) => {}
                                Ok(false) => wake.idle(None, &mut stop).await,
                                Err(e) => {
                                    tracing::warn!(error = %e, "queue poll failed; retrying");
                                    wake.idle(Some(Duration::from_millis(500)), &mut stop).await;
                                }
                            }
                        }
                    }
                    .instrument(span.clone()),
                ))
            })
            .collect();
        for worker in workers {
            let _ = worker.await;
        }
    }

    async fn step(&self) -> Result<bool, bnb_contexts::messaging::MessagingError> {
        let messages = self.queue.receive(self.batch_size).await?;
        if messages.is_empty() {
            return Ok(false);
        }
        let event = sqs_event(&self.queue.arn(), &messages);
        let Some(response) = run_guarded(self.timeout, (self.handler)(event)).await else {
            // The function failed as a whole: every message comes back after its timeout.
            return Ok(true);
        };
        let failed: HashSet<String> =
            if self.report_failures { response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect() } else { HashSet::new() };
        let done: Vec<String> = messages.iter().filter(|m| !failed.contains(&m.message_id)).map(|m| m.receipt_handle.clone()).collect();
        if !done.is_empty() {
            self.queue.delete_batch(&done).await?;
        }
        Ok(true)
    }
}

/// The SQS event Lambda hands a function for these messages.
pub fn sqs_event(queue_arn: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"})))
                .collect();
            json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent_at_ms.to_string(),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": m.sent_at_ms.to_string(),
                },
                "messageAttributes": attributes,
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}

/// Runs a function invocation under its timeout, on its own task so a panic is a failed
/// invocation, not a dead runtime. `None` when it failed as a whole.
async fn run_guarded<T: Send + 'static>(timeout: Duration, invocation: crate::functions::BoxFuture<T>) -> Option<T> {
    // The event-source mappings' work goes to the writer before requests (see as_background).
    let mut task = tokio::spawn(bnb_embedded::as_background(invocation));
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "function invocation failed");
            None
        }
        Err(_) => {
            // Lambda ends an invocation at its timeout; so does this runtime.
            task.abort();
            tracing::error!(timeout_ms = timeout.as_millis() as u64, "function timed out");
            None
        }
    }
}

/// An EventBridge schedule: invokes the function every `every`, the first time one period after
/// start-up.
pub async fn run_schedule(function: String, every: Duration, handler: crate::functions::InvokeFunction, timeout: Duration, mut stop: watch::Receiver<bool>) {
    let span = tracing::info_span!("schedule", function = %function);
    async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            let event = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT, "region": REGION, "detail": {}});
            match run_guarded(timeout, handler(event)).await {
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!(error = %e, "scheduled run failed"),
                None => {}
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle poller that watches a resource wakes as soon as something is committed to it,
    /// and otherwise only after its bound (time is the test runtime's, paused: nothing sleeps).
    #[tokio::test(start_paused = true)]
    async fn an_idle_poller_wakes_on_a_commit_and_not_before_its_bound_otherwise() {
        let (commits, signal) = watch::channel(0u64);
        let (_stop, mut stopped) = watch::channel(false);
        let mut wake = Wake::on(signal);
        let started = tokio::time::Instant::now();
        wake.seen();
        commits.send_modify(|n| *n += 1);
        wake.idle(None, &mut stopped).await;
        assert_eq!(started.elapsed(), Duration::ZERO, "woken by the commit, at once");
        wake.seen();
        wake.idle(None, &mut stopped).await;
        assert_eq!(started.elapsed(), IDLE_WAKEFUL, "with nothing committed, it looks again after its bound");
        let mut polling = Wake::polling();
        polling.idle(None, &mut stopped).await;
        assert_eq!(started.elapsed(), IDLE_WAKEFUL + IDLE_POLL, "without a signal it polls");
    }
}
