use serde_json::json;

use super::place_reservation::abort_hold;
use super::{ReservationError, ReservationStore};
use crate::domain::reservation::AbortReason;
use crate::events::Causation;
use crate::storage::{Query, SortKey};

/// Releases every hold whose time is up (its function died mid-booking) and says
/// `ReservationAborted` (reason `hold-expired`), so any payment it made is refunded. One index
/// query of the holds that are due: the work grows with expired holds, not with the data.
pub async fn expire_holds(store: &ReservationStore, now_ms: i64, cause: &Causation) -> Result<usize, ReservationError> {
    let mut expired = 0;
    let query = Query::on_index("gsi2", "HELD").sort(SortKey::LessThan(format!("{now_ms:015}#"))).limit(100);
    let page = store.table().query(&query).await?;
    for item in page.items {
        let held = ReservationStore::from_item(&item)?;
        let extra = json!({"roomTitle": item.get("roomTitle")});
        abort_hold(store, &held, &extra, AbortReason::HoldExpired, cause).await?;
        expired += 1;
    }
    Ok(expired)
}
