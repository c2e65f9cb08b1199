//! `payment-handler`: refunds cancelled reservations and aborted bookings.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::handle_sqs_event;
use bnb::payments::PaymentHandler;

pub const NAME: &str = PaymentHandler::NAME;

pub async fn handle(handler: &PaymentHandler, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, event).await
}
