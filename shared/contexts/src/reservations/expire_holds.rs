use serde::Serialize;

use super::place_reservation::{abort_hold, KeyOnAbort};
use super::store::HOLD_SHARDS;
use super::{ReservationError, ReservationStore};
use crate::domain::reservation::AbortReason;
use crate::events::Causation;
use crate::storage::{Query, SortKey};

/// What one run of `expire-holds` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Expired {
    /// Holds released and aborted.
    pub expired: usize,
    /// Holds that could not be settled this time (they are due again on the next run).
    pub failed: usize,
}

/// Releases every hold whose time is up (its function died mid-booking) and says
/// `ReservationAborted` (reason `hold-expired`), so any payment it made is refunded. Index
/// queries of the holds that are due, shard by shard and page by page: the work grows with
/// expired holds, not with the data. One hold that cannot be settled does not stop the others.
pub async fn expire_holds(store: &ReservationStore, cause: &Causation) -> Result<Expired, ReservationError> {
    let now_ms = store.clock().now_ms();
    let mut done = Expired::default();
    let mut unreadable = None;
    for shard in 0..HOLD_SHARDS {
        let mut query = Query::on_index("gsi2", format!("HELD#{shard}")).sort(SortKey::LessThan(format!("{now_ms:015}#"))).limit(100);
        loop {
            let page = match store.table().query(&query).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(shard, error = %e, "could not read due holds; the next run tries again");
                    unreadable = Some(e);
                    break;
                }
            };
            for item in &page.items {
                let settled = match ReservationStore::from_item(item) {
                    Ok((held, kept)) => abort_hold(store, &held, &kept, AbortReason::HoldExpired, cause, KeyOnAbort::Release).await.map(|_| held),
                    Err(e) => Err(e.into()),
                };
                match settled {
                    Ok(held) => {
                        tracing::warn!(reservation_id = %held.reservation_id, "expired hold released");
                        done.expired += 1;
                    }
                    Err(e) => {
                        tracing::error!(pk = ?item.get("pk"), error = %e, "could not release an expired hold; the next run tries again");
                        done.failed += 1;
                    }
                }
            }
            match page.next {
                Some(next) => query = query.after(Some(next)),
                None => break,
            }
        }
    }
    // Nothing at all could be read: that is an outage, not a quiet night.
    match unreadable {
        Some(e) if done.expired == 0 && done.failed == 0 => Err(e.into()),
        _ => Ok(done),
    }
}
