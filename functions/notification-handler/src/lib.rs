//! `notification-handler`: every status change worth telling a person, stored, sent by SMS and
//! published to `alerts` for KakaoTalk.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb::consumer::{handle_sqs_event, DeadLetters};
use bnb::notifications::NotificationHandler;

pub const NAME: &str = NotificationHandler::NAME;

pub async fn handle(handler: &NotificationHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
