//! SQS-triggered functions: a consumer over one batch, answering `batchItemFailures` with exactly
//! the messages to retry (see `bnb_contexts::consumer` for what runs per message).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bnb_contexts::consumer::{apply_once, decode, Consumer, DeadLetters, Outcome, DEAD_LETTER_REASON};
use bnb_contexts::messaging::Attributes;
use tracing::Instrument;

/// Runs a consumer over an SQS batch and reports the messages to retry.
pub async fn handle_sqs_event(consumer: &dyn Consumer, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    for_each_message(consumer.name(), dead_letters, event, |message| async move { handle_message(consumer, &message).await }).await
}

/// Runs `handle` over each message of an SQS batch: a message it applied (or had applied) is
/// done, one that failed is retried (reported in `batchItemFailures`), and one it rejects goes to
/// the dead-letter queue at once, with the reason as an attribute.
pub async fn for_each_message<F, Fut>(name: &str, dead_letters: &dyn DeadLetters, event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let retry = match handle(message.clone()).await {
            Outcome::Applied | Outcome::Duplicate => false,
            Outcome::Failed(_) => true,
            Outcome::Rejected(reason) => {
                let mut attributes: Attributes =
                    message.message_attributes.iter().filter_map(|(k, v)| v.string_value.clone().map(|s| (k.clone(), s))).collect();
                attributes.insert(DEAD_LETTER_REASON.into(), reason.chars().take(256).collect());
                match dead_letters.dead_letter(message.body.as_deref().unwrap_or_default(), &attributes).await {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::error!(consumer = name, message_id = %id, error = %e, "could not dead-letter a message; it will be retried");
                        true
                    }
                }
            }
        };
        if retry {
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
            tracing::error!(consumer = consumer.name(), message_id = id, receive_count, %reason, "undecodable message; dead-lettered");
            return Outcome::Rejected(reason);
        }
    };
    let span = tracing::info_span!(
        "event",
        consumer = consumer.name(),
        correlation_id = %event.correlation_id,
        event_id = %event.event_id,
        event_type = %event.event_type(),
    );
    async {
        match apply_once(consumer, &event).await {
            Ok(outcome) => {
                tracing::info!(message_id = id, receive_count, outcome = ?outcome, "event handled");
                outcome
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(message_id = id, receive_count, error = %e, "event failed; it will be retried");
                Outcome::Failed(e.to_string())
            }
            Err(e) => {
                tracing::error!(message_id = id, receive_count, error = %e, "event can never be applied; dead-lettered");
                Outcome::Rejected(e.to_string())
            }
        }
    }
    .instrument(span)
    .await
}
