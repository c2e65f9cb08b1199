//! `expire-holds`: on a schedule, releases holds whose booking function died mid-way and says
//! `ReservationAborted` (`hold-expired`), so any payment they made is refunded.

use bnb_contexts::events::Causation;
use bnb_contexts::reservations::{expire_holds, Expired, ReservationStore};
use bnb_contexts::tables::RESERVATIONS;
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

pub const NAME: &str = "expire-holds";

/// `expire-holds`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::Table(RESERVATIONS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let store = ReservationStore::new(r.table(RESERVATIONS)?, r.clock());
    Ok(Handler::invoke(move |_payload| {
        let store = store.clone();
        async move { handle(&store).await.and_then(|done| serde_json::to_value(done).map_err(|e| e.to_string())) }
    }))
}

pub async fn handle(store: &ReservationStore) -> Result<Expired, String> {
    let correlation_id = format!("expire-holds-{}", store.clock().now_ms());
    let span = tracing::info_span!("schedule", function = NAME, correlation_id = %correlation_id);
    async move {
        let done = expire_holds(store, &Causation::request(&correlation_id)).await.map_err(|e| e.to_string())?;
        if done.expired > 0 || done.failed > 0 {
            tracing::warn!(expired = done.expired, failed = done.failed, "expired holds released");
        }
        Ok(done)
    }
    .instrument(span)
    .await
}
