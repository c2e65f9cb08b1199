//! `republish-outbox`: on a schedule, publishes again every event whose outbox item is older
//! than a few minutes and still there — its publication was never confirmed (a long outage of
//! `publish-events`, or a stream record past its 24 hours) — then clears the item. Consumers are
//! idempotent by event id, so an event published twice changes nothing twice.

use std::sync::Arc;
use std::time::Duration;

use bnb::clock::Clock;
use bnb::messaging::Topic;
use bnb::outbox::republish_stale;
use bnb::storage::Table;
use tracing::Instrument;

pub const NAME: &str = "republish-outbox";

/// How old an outbox item must be before the sweep takes it: well past the time the stream
/// takes to hand a record to `publish-events`, so that the sweep rarely publishes twice.
pub const STALE_AFTER: Duration = Duration::from_secs(5 * 60);
/// At most this many events per table per run: a run stays bounded; the next one goes on.
pub const BUDGET: usize = 1000;

pub async fn handle(tables: &[Arc<dyn Table>], topic: &dyn Topic, clock: &dyn Clock) -> Result<usize, String> {
    let now = clock.now_ms();
    let correlation_id = format!("republish-outbox-{now}");
    let span = tracing::info_span!("schedule", function = NAME, correlation_id = %correlation_id);
    async move {
        let cutoff = now - STALE_AFTER.as_millis() as i64;
        let mut total = 0;
        let mut failed = Vec::new();
        for table in tables {
            match republish_stale(table.as_ref(), topic, cutoff, BUDGET).await {
                Ok(n) => total += n,
                // One table's trouble does not keep the others' events back.
                Err(e) => {
                    tracing::error!(table = table.name(), error = %e, "sweep failed; the next run tries again");
                    failed.push(table.name().to_owned());
                }
            }
        }
        if total > 0 {
            tracing::warn!(republished = total, "unpublished events swept");
        }
        match failed.is_empty() {
            true => Ok(total),
            false => Err(format!("could not sweep {}", failed.join(", "))),
        }
    }
    .instrument(span)
    .await
}
