//! `expire-holds`: on a schedule, releases holds whose booking function died mid-way and says
//! `ReservationAborted` (`hold-expired`), so any payment they made is refunded.

use std::time::{SystemTime, UNIX_EPOCH};

use bnb::events::Causation;
use bnb::reservations::{expire_holds, ReservationStore};
use tracing::Instrument;

pub const NAME: &str = "expire-holds";

pub async fn handle(store: &ReservationStore) -> Result<usize, String> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let correlation_id = format!("expire-holds-{now_ms}");
    let span = tracing::info_span!("schedule", function = NAME, correlation_id = %correlation_id);
    async move {
        let expired = expire_holds(store, now_ms, &Causation::request(&correlation_id)).await.map_err(|e| e.to_string())?;
        if expired > 0 {
            tracing::warn!(expired, "expired holds released");
        }
        Ok(expired)
    }
    .instrument(span)
    .await
}
