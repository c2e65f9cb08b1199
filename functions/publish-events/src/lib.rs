//! `publish-events`: every table's DynamoDB Stream → the SNS topic `domain-events`.
//!
//! Forwards each outbox INSERT with the message attribute `eventType` and ignores every other
//! record. Records are published in stream order; on the first that fails, it reports that
//! record (and so everything after it) as failed: Lambda checkpoints everything before it, so
//! nothing published is replayed, and retries, bisects and finally sends a poison record to the
//! failure destination.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use bnb::messaging::{Attributes, Topic};
use bnb::outbox::envelope_of;
use bnb::storage::lambda_event::new_image;
use tracing::Instrument;

pub const NAME: &str = "publish-events";

pub async fn handle(topic: &dyn Topic, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let Some(image) = new_image(record) else { continue };
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
                    let attributes = Attributes::from([("eventType".to_string(), envelope.event_type.as_str().to_string())]);
                    let body = serde_json::to_string(&envelope).unwrap_or_default();
                    match topic.publish(&body, &attributes).await {
                        Ok(message_id) => {
                            tracing::info!(event_type = %envelope.event_type, message_id, "event published");
                            false
                        }
                        Err(e) => {
                            tracing::warn!(event_type = %envelope.event_type, error = %e, "publish failed; the stream will retry");
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
