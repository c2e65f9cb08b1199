//! `room-handler`: keeps the room context's occupancy calendar (reservation events) and ratings
//! (reviews).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::{handle_sqs_event, DeadLetters};
use bnb::rooms::RoomHandler;

pub const NAME: &str = RoomHandler::NAME;

pub async fn handle(handler: &RoomHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
