//! The reservation context's domain.

use serde::{Deserialize, Serialize};

use super::{Money, PaymentId, ReservationId, RoomId, Stay, UserId};

/// A reservation's life: `HELD` while payment runs (never shown as a reservation), then
/// `CONFIRMED` or `REJECTED`; a confirmed one may end `CANCELLED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReservationStatus {
    Held,
    Confirmed,
    Rejected,
    Cancelled,
}

/// Who cancelled a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelledBy {
    Guest,
    RoomDeleted,
}

/// Why a booking was aborted after its nights were held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AbortReason {
    Timeout,
    BreakerOpen,
    HoldExpired,
    PaymentFailed,
    /// The room was deleted while the booking was paid for.
    RoomDeleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub room_id: RoomId,
    pub guest_id: UserId,
    pub host_id: UserId,
    #[serde(flatten)]
    pub stay: Stay,
    pub guests: u32,
    pub amount: Money,
    pub status: ReservationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    pub version: u64,
}
