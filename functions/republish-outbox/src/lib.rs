//! `republish-outbox`: on a schedule, publishes again every event whose outbox item is older
//! than a few minutes and still there — its publication was never confirmed (a long outage of
//! `publish-events`, or a stream record past its 24 hours) — then clears the item. Consumers are
//! idempotent by event id, so an event published twice changes nothing twice.

use std::sync::Arc;
use std::time::Duration;

use bnb_contexts::clock::Clock;
use bnb_contexts::messaging::Topic;
use bnb_contexts::outbox::republish_stale;
use bnb_contexts::outbox::DOMAIN_EVENTS_TOPIC_ARN;
use bnb_contexts::storage::Table;
use bnb_contexts::tables::{PAYMENTS, RESERVATIONS, REVIEWS, ROOMS, WITH_OUTBOX};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use tracing::Instrument;

pub const NAME: &str = "republish-outbox";

/// `republish-outbox`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function {
    name: NAME,
    trigger: Trigger::Invoke,
    needs: &[Need::Table(ROOMS), Need::Table(RESERVATIONS), Need::Table(PAYMENTS), Need::Table(REVIEWS), Need::Topic(DOMAIN_EVENTS_TOPIC_ARN)],
    link,
};

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let tables = Arc::new(WITH_OUTBOX.iter().map(|kind| r.table(*kind)).collect::<Result<Vec<_>, _>>()?);
    let topic = r.topic(DOMAIN_EVENTS_TOPIC_ARN)?;
    let clock = r.clock();
    Ok(Handler::invoke(move |_payload| {
        let (tables, topic, clock) = (tables.clone(), topic.clone(), clock.clone());
        async move { handle(&tables, topic.as_ref(), clock.as_ref()).await.map(|n| serde_json::json!({ "republished": n })) }
    }))
}

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
