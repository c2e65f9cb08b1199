//! `view-projector`: keeps the CQRS read models of the `views` table from domain events.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::tables::VIEWS;
use bnb_contexts::views::ViewProjector;
use bnb_lambda::sqs::handle_sqs_event;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use std::sync::Arc;

pub const NAME: &str = ViewProjector::NAME;

/// `view-projector`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(VIEWS), Need::DeadLetters], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let projector = Arc::new(ViewProjector::new(r.table(VIEWS)?));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (projector, dead_letters) = (projector.clone(), dead_letters.clone());
        async move { handle(&projector, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(projector: &ViewProjector, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(projector, dead_letters, event).await
}
