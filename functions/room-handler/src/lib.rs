//! `room-handler`: keeps the room context's occupancy calendar (reservation events) and ratings
//! (reviews).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::rooms::RoomHandler;
use bnb_contexts::tables::ROOMS;
use bnb_lambda::sqs::handle_sqs_event;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use std::sync::Arc;

pub const NAME: &str = RoomHandler::NAME;

/// `room-handler`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(ROOMS), Need::DeadLetters], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let handler = Arc::new(RoomHandler::new(r.table(ROOMS)?));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
        async move { handle(&handler, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(handler: &RoomHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
