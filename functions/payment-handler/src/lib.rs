//! `payment-handler`: refunds cancelled reservations and aborted bookings.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::{handle_sqs_event, DeadLetters};
use bnb::payments::PaymentHandler;

pub const NAME: &str = PaymentHandler::NAME;

pub async fn handle(handler: &PaymentHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
