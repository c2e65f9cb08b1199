//! `reservation-handler`: cancels the future stays of a deleted room.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::reservations::ReservationHandler;
use bnb_contexts::reservations::ReservationStore;
use bnb_contexts::tables::RESERVATIONS;
use bnb_lambda::sqs::handle_sqs_event;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use std::sync::Arc;

pub const NAME: &str = ReservationHandler::NAME;

/// `reservation-handler`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(RESERVATIONS), Need::DeadLetters], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let handler = Arc::new(ReservationHandler::new(ReservationStore::new(r.table(RESERVATIONS)?, r.clock())));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
        async move { handle(&handler, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(handler: &ReservationHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
