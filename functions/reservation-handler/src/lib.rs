//! `reservation-handler`: cancels the future stays of a deleted room.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::{handle_sqs_event, DeadLetters};
use bnb::reservations::ReservationHandler;

pub const NAME: &str = ReservationHandler::NAME;

pub async fn handle(handler: &ReservationHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
