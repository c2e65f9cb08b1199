//! `publish-events`: every table's DynamoDB Stream → the SNS topic `domain-events`.
//!
//! Forwards each outbox INSERT with the message attribute `eventType` and ignores every other
//! record. Records are published in stream order; on the first that fails, it reports that
//! record (and so everything after it) as failed: Lambda checkpoints everything before it, so
//! nothing published is replayed, and retries, bisects and finally sends the record's
//! coordinates to the failure destination. Once SNS has an event, its outbox item is deleted;
//! an item whose publication never succeeded stays, and `republish-outbox` sweeps it.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bnb_contexts::messaging::Topic;
use bnb_contexts::outbox::DOMAIN_EVENTS_TOPIC_ARN;
use bnb_contexts::outbox::{clear, envelope_of, publish, OutboxTables};
use bnb_contexts::tables::{PAYMENTS, RESERVATIONS, REVIEWS, ROOMS, WITH_OUTBOX};
use bnb_lambda::stream_event::new_image;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

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
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let Some(image) = new_image(record) else {
            continue;
        };
        let sequence = record.change.sequence_number.clone();
        let failed = match envelope_of(&image) {
            None => continue,
            Some(Err(e)) => {
                tracing::error!(function = NAME, sequence_number = ?sequence, error = %e, "outbox item holds no valid envelope");
                true
            }
            Some(Ok(envelope)) => {
                let span = tracing::info_span!("publish", function = NAME, correlation_id = %envelope.correlation_id, event_id = %envelope.event_id);
                async {
                    match publish(topic, &envelope).await {
                        Ok(message_id) => {
                            tracing::info!(event_type = %envelope.event_type(), message_id, "event published");
                            let table = record.event_source_arn.as_deref().and_then(|arn| outboxes.for_stream(arn));
                            let cleared = match table {
                                Some(table) => clear(table, &envelope.event_id.to_string()).await.map_err(|e| e.to_string()),
                                None => Err(format!("no outbox table for stream {:?}", record.event_source_arn)),
                            };
                            if let Err(e) = cleared {
                                // Published all the same; the sweep publishes it once more (consumers are idempotent).
                                tracing::warn!(error = %e, "the outbox item stays until republish-outbox sweeps it");
                            }
                            false
                        }
                        Err(e) => {
                            tracing::warn!(event_type = %envelope.event_type(), error = %e, "publish failed; the stream will retry");
                            true
                        }
                    }
                }
                .instrument(span)
                .await
            }
        };
        if failed {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
