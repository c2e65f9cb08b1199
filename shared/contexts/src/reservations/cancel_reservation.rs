use super::{Bookkeeping, ReservationError, ReservationStore};
use crate::domain::reservation::{CancelledBy, Reservation, ReservationStatus};
use crate::domain::{ReservationId, UserId};
use crate::events::{Causation, Envelope, Event, ReservationCancelled};
use crate::outbox::write_with_events;
use crate::storage::{Condition, StorageError, WriteOp};

/// Cancels a confirmed reservation before its check-in: `CANCELLED`, nights released,
/// `ReservationCancelled` (the payment handler refunds it). `guest` is the caller for a guest's
/// own cancellation (anyone else's reservation is not found); `None` when bnb cancels it.
pub async fn cancel_reservation(
    store: &ReservationStore,
    id: &str,
    guest: Option<&UserId>,
    by: CancelledBy,
    cause: &Causation,
) -> Result<Reservation, ReservationError> {
    let id = ReservationId::parse(id).ok_or(ReservationError::NotFound)?;
    let (current, kept) = store.get(&id).await?.ok_or(ReservationError::NotFound)?;
    if guest.is_some_and(|g| g != &current.guest_id) {
        return Err(ReservationError::NotFound);
    }
    match current.status {
        ReservationStatus::Confirmed => {}
        ReservationStatus::Cancelled => return Err(ReservationError::AlreadyCancelled),
        // A hold or a rejected booking was never a reservation to anyone.
        ReservationStatus::Held | ReservationStatus::Rejected => return Err(ReservationError::NotFound),
    }
    if current.stay.check_in <= store.clock().today() {
        return Err(ReservationError::AlreadyStarted);
    }
    let cancelled = Reservation { status: ReservationStatus::Cancelled, version: current.version + 1, ..current.clone() };
    let event = Event::ReservationCancelled(ReservationCancelled { reservation: cancelled.clone(), cancelled_by: by, room_title: kept.room_title.clone() });
    let event = Envelope::new(event, id.to_string(), cancelled.version, cause);
    // What the item carried besides the reservation (its room's title, when it was made, its
    // idempotency key) stays; the cancellation adds who and when.
    let extra = Bookkeeping { cancelled_by: Some(by), cancelled_at: Some(store.clock().now_utc()), ..kept };
    let guard = Condition::equals("status", "CONFIRMED").and(Condition::equals("version", current.version));
    let mut ops = vec![WriteOp::put_if(store.to_item(&cancelled, None, extra)?, guard)];
    ops.extend(ReservationStore::release_nights(&current));
    match write_with_events(store.table(), ops, &[event]).await {
        Ok(()) => {
            tracing::info!(reservation_id = %id, cancelled_by = ?by, "reservation cancelled; nights released");
            Ok(cancelled)
        }
        Err(StorageError::ConditionFailed { failed }) if failed.contains(&0) => Err(ReservationError::AlreadyCancelled),
        Err(e) => Err(e.into()),
    }
}
