//! `view-projector`: keeps the CQRS read models of the `views` table from domain events.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::{handle_sqs_event, DeadLetters};
use bnb::views::ViewProjector;

pub const NAME: &str = ViewProjector::NAME;

pub async fn handle(projector: &ViewProjector, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(projector, dead_letters, event).await
}
