//! `check-deliveries`: every minute, asks the KakaoTalk dealer what became of the AlimTalk it
//! took whose time to ask has come, and records each result on its notification (`DELIVERED`,
//! `FELL_BACK_TO_SMS` or `FAILED`, what `GET /me/notifications` shows).

use std::sync::Arc;

use bnb_contexts::clock::SharedClock;
use bnb_contexts::notifications::{check_deliveries, Checked, Dealer};
use bnb_contexts::storage::Table;
use bnb_contexts::tables::NOTIFICATIONS;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

pub const NAME: &str = "check-deliveries";

/// `check-deliveries`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::Table(NOTIFICATIONS), Need::Dealer], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let (table, dealer, clock) = (r.table(NOTIFICATIONS)?, r.dealer()?, r.clock());
    Ok(Handler::invoke(move |_payload| {
        let (table, dealer, clock) = (table.clone(), dealer.clone(), clock.clone());
        async move { handle(table, dealer, &clock).await.and_then(|done| serde_json::to_value(done).map_err(|e| e.to_string())) }
    }))
}

pub async fn handle(table: Arc<dyn Table>, dealer: Arc<dyn Dealer>, clock: &SharedClock) -> Result<Checked, String> {
    let correlation_id = format!("check-deliveries-{}", clock.now_ms());
    let span = tracing::info_span!("schedule", function = NAME, correlation_id = %correlation_id);
    async move {
        let checked = check_deliveries(table.as_ref(), dealer.as_ref(), clock).await.map_err(|e| e.to_string())?;
        if checked != Checked::default() {
            tracing::info!(
                delivered = checked.delivered,
                fell_back_to_sms = checked.fell_back_to_sms,
                failed = checked.failed,
                pending = checked.still_pending,
                unavailable = checked.unavailable,
                "deliveries checked"
            );
        }
        Ok(checked)
    }
    .instrument(span)
    .await
}
