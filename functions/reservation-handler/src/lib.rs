//! `reservation-handler`: cancels the future stays of a deleted room.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::handle_sqs_event;
use bnb::reservations::ReservationHandler;

pub const NAME: &str = ReservationHandler::NAME;

pub async fn handle(handler: &ReservationHandler, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, event).await
}
