//! `notification-handler`: every status change worth telling a person, stored and published to
//! `alerts`, where `alimtalk-sender` takes it to their phone.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::notifications::NotificationHandler;
use bnb_contexts::notifications::ALERTS_TOPIC_ARN;
use bnb_contexts::tables::NOTIFICATIONS;
use bnb_lambda::sqs::handle_sqs_event;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use std::sync::Arc;

pub const NAME: &str = NotificationHandler::NAME;

/// `notification-handler`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function =
    Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(NOTIFICATIONS), Need::Topic(ALERTS_TOPIC_ARN), Need::DeadLetters], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let handler = Arc::new(NotificationHandler::new(r.table(NOTIFICATIONS)?, r.topic(ALERTS_TOPIC_ARN)?));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
        async move { handle(&handler, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(handler: &NotificationHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
