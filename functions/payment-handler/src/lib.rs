//! `payment-handler`: refunds cancelled reservations and aborted bookings through the payment
//! provider (one idempotency key per saga path), and marks a payment still being confirmed when
//! its booking gave up as uncertain, for the confirm's end or reconciliation to settle.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bnb_contexts::consumer::DeadLetters;
use bnb_contexts::payments::PaymentHandler;
use bnb_contexts::payments::PaymentService;
use bnb_contexts::tables::PAYMENTS;
use bnb_lambda::sqs::handle_sqs_event;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use std::sync::Arc;

pub const NAME: &str = PaymentHandler::NAME;

/// `payment-handler`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Sqs, needs: &[Need::Table(PAYMENTS), Need::DeadLetters, Need::PaymentProvider], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let payments = PaymentService::with_provider(r.table(PAYMENTS)?, bnb_lambda::payment_provider(r)?).with_clock(r.clock());
    let handler = Arc::new(PaymentHandler::new(payments));
    let dead_letters = r.dead_letters()?;
    Ok(Handler::sqs(move |event| {
        let (handler, dead_letters) = (handler.clone(), dead_letters.clone());
        async move { handle(&handler, dead_letters.as_ref(), event).await }
    }))
}

pub async fn handle(handler: &PaymentHandler, dead_letters: &dyn DeadLetters, event: SqsEvent) -> SqsBatchResponse {
    handle_sqs_event(handler, dead_letters, event).await
}
