//! `reconcile-payments`: on a schedule, settles every payment a timeout left uncertain for more
//! than a minute (its booking gave up before the provider answered): asks the provider about
//! its order, refunds what was charged for a booking that did not happen, and records what was
//! not charged. Each refund under its own idempotency key, each record written once.

use bnb_contexts::events::Causation;
use bnb_contexts::payments::{PaymentService, Reconciled};
use bnb_contexts::tables::PAYMENTS;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

pub const NAME: &str = "reconcile-payments";

/// How many uncertain payments one run settles at most (the rest are due again a minute later).
pub const PER_RUN: usize = 100;

/// `reconcile-payments`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::Table(PAYMENTS), Need::PaymentProvider], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let clock = r.clock();
    let payments = PaymentService::with_provider(r.table(PAYMENTS)?, bnb_lambda::payment_provider(r)?).with_clock(clock.clone());
    Ok(Handler::invoke(move |_payload| {
        let (payments, clock) = (payments.clone(), clock.clone());
        async move {
            let correlation_id = format!("reconcile-payments-{}", clock.now_ms());
            handle(&payments, &correlation_id).await.and_then(|done| serde_json::to_value(done).map_err(|e| e.to_string()))
        }
    }))
}

pub async fn handle(payments: &PaymentService, correlation_id: &str) -> Result<Reconciled, String> {
    let span = tracing::info_span!("schedule", function = NAME, correlation_id = %correlation_id);
    async move {
        let done = payments.reconcile(PER_RUN, &Causation::request(correlation_id)).await.map_err(|e| e.to_string())?;
        if done.refunded > 0 || done.voided > 0 || done.left > 0 {
            tracing::warn!(refunded = done.refunded, voided = done.voided, left = done.left, "uncertain payments reconciled");
        }
        Ok(done)
    }
    .instrument(span)
    .await
}
