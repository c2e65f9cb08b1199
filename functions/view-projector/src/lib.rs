//! `view-projector`: keeps the CQRS read models of the `views` table from domain events.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::handle_sqs_event;
use bnb::views::ViewProjector;

pub const NAME: &str = ViewProjector::NAME;

pub async fn handle(projector: &ViewProjector, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(projector, event).await
}
