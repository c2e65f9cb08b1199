//! The reservation item as stored: the reservation, what it keeps besides, and the index and
//! TTL attributes its status calls for.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::reservation::{CancelledBy, Reservation};

/// What a reservation item keeps besides the reservation, through every status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bookkeeping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    /// The `pk` of the idempotency record this booking is bound to, released on an abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<CancelledBy>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub cancelled_at: Option<OffsetDateTime>,
}

/// One item of the `reservations` table of kind `reservation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    #[serde(flatten)]
    pub reservation: Reservation,
    #[serde(flatten)]
    pub kept: Bookkeeping,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// While held: when the hold runs out, and the `gsi2` entry `expire-holds` finds it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_expires_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    /// While confirmed: the room's stays (`gsi1`) and the guest's stays in the room (`gsi3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    /// TTL (epoch seconds, as DynamoDB's TTL wants): holds and rejections are kept a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One night of a room, taken by one reservation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NightLock {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub reservation_id: String,
    pub night: String,
}
