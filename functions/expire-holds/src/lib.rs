//! `expire-holds`: on a schedule, releases holds whose booking function died mid-way and says
//! `ReservationAborted` (`hold-expired`), so any payment they made is refunded.

use bnb::events::Causation;
use bnb::reservations::{expire_holds, Expired, ReservationStore};
use tracing::Instrument;

pub const NAME: &str = "expire-holds";

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
