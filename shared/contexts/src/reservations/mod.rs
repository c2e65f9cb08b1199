//! The reservation context: guests book (holding the nights, paying synchronously behind a
//! timeout and a shared circuit breaker, then confirming or releasing) and cancel; holds that
//! outlive their function are expired and compensated; a deleted room's future stays are
//! cancelled.

mod cancel_reservation;
mod document;
mod expire_holds;
mod handler;
mod idempotency;
mod item;
mod place_reservation;
mod store;

pub use cancel_reservation::cancel_reservation;
pub use document::{AuthorizedPayment, PlaceReservationRequest, PlacedDocument, ReservationDocument};
pub use expire_holds::{expire_holds, Expired};
pub use handler::ReservationHandler;
pub use idempotency::{Begin, Claim, IdempotencyStore, StoredAnswer};
pub use item::{Bookkeeping, NightLock, ReservationItem};
pub use place_reservation::{Attempt, PlaceReservation, Placed, Render, ReservationSettings};
pub use store::ReservationStore;

use crate::domain::Invalid;
use crate::storage::StorageError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReservationError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the caller is not a guest")]
    NotGuest,
    #[error("hosts do not book their own rooms")]
    OwnRoom,
    #[error("no such room")]
    RoomNotFound,
    #[error("no such reservation")]
    NotFound,
    #[error("nights already taken: {0:?}")]
    NightsTaken(Vec<String>),
    #[error("payment declined: {0}")]
    Declined(String),
    #[error("payment unavailable ({reason}); retry after {retry_after_seconds} s")]
    PaymentUnavailable { reason: String, retry_after_seconds: u32 },
    #[error("already cancelled")]
    AlreadyCancelled,
    #[error("the stay has started")]
    AlreadyStarted,
    #[error("this Idempotency-Key was used with another body")]
    IdempotencyMismatch,
    #[error("a request with this Idempotency-Key is still in flight")]
    InFlight,
    #[error(transparent)]
    Storage(#[from] StorageError),
}
