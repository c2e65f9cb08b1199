//! `publish-events`: every table's DynamoDB Stream → the SNS topic `domain-events`.
//!
//! Forwards each outbox INSERT with the message attribute `eventType` (the stream's filter lets
//! nothing else through, and the function ignores anything else that comes). Records are
//! published in stream order, ten a request (`PublishBatch`); from the first request that fails,
//! it reports that request's first record (and so everything after it) as failed: Lambda
//! checkpoints everything before it, so nothing published is replayed, and retries, bisects and
//! finally sends the record's coordinates to the failure destination. Once SNS has the events,
//! their outbox items are deleted in batches (`BatchWriteItem`); an item whose publication never
//! succeeded stays, and `republish-outbox` sweeps it.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bnb_contexts::events::Envelope;
use bnb_contexts::messaging::{Attributes, Topic};
use bnb_contexts::outbox::DOMAIN_EVENTS_TOPIC_ARN;
use bnb_contexts::outbox::{envelope_of, outbox_key, OutboxTables};
use bnb_contexts::storage::Key;
use bnb_contexts::tables::{PAYMENTS, RESERVATIONS, REVIEWS, ROOMS, WITH_OUTBOX};
use bnb_lambda::stream_event::new_image;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};

pub const NAME: &str = "publish-events";

/// `publish-events`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function {
    name: NAME,
    trigger: Trigger::Stream,
    needs: &[Need::Table(ROOMS), Need::Table(RESERVATIONS), Need::Table(PAYMENTS), Need::Table(REVIEWS), Need::Topic(DOMAIN_EVENTS_TOPIC_ARN)],
    link,
};

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let outboxes = OutboxTables::new(WITH_OUTBOX.iter().map(|kind| r.table(*kind)).collect::<Result<Vec<_>, _>>()?);
    let topic = r.topic(DOMAIN_EVENTS_TOPIC_ARN)?;
    Ok(Handler::stream(move |event| {
        let (topic, outboxes) = (topic.clone(), outboxes.clone());
        async move { handle(topic.as_ref(), &outboxes, event).await }
    }))
}

pub async fn handle(topic: &dyn Topic, outboxes: &OutboxTables, event: Event) -> DynamoDbEventResponse {
    // The batch's events, in stream order, up to the first record that holds no valid envelope
    // (reported failed: everything before it is published, and Lambda checkpoints that).
    let mut ready: Vec<(Option<String>, Option<String>, Envelope)> = Vec::new();
    let mut failed_at: Option<Option<String>> = None;
    for record in &event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let Some(image) = new_image(record) else {
            continue;
        };
        let sequence = record.change.sequence_number.clone();
        match envelope_of(&image) {
            None => continue,
            Some(Err(e)) => {
                tracing::error!(function = NAME, sequence_number = ?sequence, error = %e, "outbox item holds no valid envelope");
                failed_at = Some(sequence);
                break;
            }
            Some(Ok(envelope)) => ready.push((sequence, record.event_source_arn.clone(), envelope)),
        }
    }
    // Ten a request (SNS PublishBatch); the first chunk that fails is reported from its first
    // record, so what SNS took is never replayed and what it did not is retried.
    let mut published: Vec<(Option<String>, Envelope)> = Vec::with_capacity(ready.len());
    for chunk in ready.chunks(10) {
        let messages = match chunk.iter().map(|(_, _, envelope)| message(envelope)).collect::<Result<Vec<_>, _>>() {
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(function = NAME, error = %e, "event does not serialize");
                failed_at = Some(chunk[0].0.clone());
                break;
            }
        };
        match topic.publish_batch(&messages).await {
            Ok(ids) => {
                for ((_, arn, envelope), message_id) in chunk.iter().zip(ids) {
                    tracing::info!(function = NAME, correlation_id = %envelope.correlation_id, event_id = %envelope.event_id, event_type = %envelope.event_type(), message_id, "event published");
                    published.push((arn.clone(), envelope.clone()));
                }
            }
            Err(e) => {
                let (sequence, _, envelope) = &chunk[0];
                tracing::warn!(function = NAME, correlation_id = %envelope.correlation_id, error = %e, "publish failed; the stream will retry from this record");
                failed_at = Some(sequence.clone());
                break;
            }
        }
    }
    clear_published(outboxes, &published).await;
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence) = failed_at {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence;
        response.batch_item_failures.push(failure);
    }
    response
}

fn message(envelope: &Envelope) -> Result<(String, Attributes), serde_json::Error> {
    let attributes = Attributes::from([("eventType".to_string(), envelope.event_type().as_str().to_string())]);
    Ok((serde_json::to_string(envelope)?, attributes))
}

/// Deletes the outbox items of what SNS took, a batch per table. One that stays is published once
/// more by the sweep, and consumers are idempotent by event id.
async fn clear_published(outboxes: &OutboxTables, published: &[(Option<String>, Envelope)]) {
    let mut by_table: std::collections::BTreeMap<&str, Vec<Key>> = std::collections::BTreeMap::new();
    for (arn, envelope) in published {
        match arn.as_deref().and_then(|arn| outboxes.for_stream(arn)) {
            Some(table) => by_table.entry(table.name()).or_default().push(outbox_key(&envelope.event_id.to_string())),
            None => {
                tracing::warn!(function = NAME, event_id = %envelope.event_id, stream = ?arn, "no outbox table for this stream; the item stays until republish-outbox sweeps it")
            }
        }
    }
    for (name, keys) in by_table {
        let Some(table) = outboxes.by_name(name) else { continue };
        let count = keys.len();
        if let Err(e) = table.delete_each(keys).await {
            tracing::warn!(function = NAME, table = name, count, error = %e, "published, but outbox items stay until republish-outbox sweeps them");
        }
    }
}
