//! The views' rows: what the projector writes and what the queries answer, one type each. A
//! row is stored with its `kind` (and the keys and versions the projector keeps); what a caller
//! sees is the type itself, nothing of the bookkeeping.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::payment::PaymentStatus;
use crate::domain::reservation::{CancelledBy, ReservationStatus};
use crate::domain::room::RoomStatus;
use crate::domain::{Money, PaymentId, ReservationId, RoomId, UserId};
use crate::events::EventType;
use crate::rooms::{MoneyDocument, RatingDocument};

/// A row as written: its kind beside its fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored<'a, T> {
    pub kind: &'static str,
    #[serde(flatten)]
    pub row: &'a T,
}

/// A reservation as its guest and its room's host see it: `GET /reservations/{id}`,
/// `GET /me/reservations` and the dashboard's stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationView {
    pub reservation_id: ReservationId,
    pub room_id: RoomId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_title: Option<String>,
    pub guest_id: UserId,
    pub host_id: UserId,
    pub check_in: String,
    pub check_out: String,
    pub guests: u32,
    pub amount: Money,
    pub status: ReservationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<CancelledBy>,
    /// The event that last changed it, and when.
    pub last_change: EventType,
    #[serde(with = "time::serde::rfc3339")]
    pub last_change_at: OffsetDateTime,
    /// Kept by the payment's own events, on the reservation's status view only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// Why the guest got their money back, in the words the payment gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<String>,
}

/// A host's room, as the dashboard lists it (its rating is kept beside it, as sums).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRoomRow {
    pub room_id: String,
    pub title: String,
    pub city: String,
    pub capacity: u32,
    pub nightly_price: MoneyDocument,
    pub status: RoomStatus,
    pub last_event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The rating sums kept on a host's room row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingSums {
    #[serde(default)]
    pub rating_count: u32,
    #[serde(default)]
    pub rating_total: i64,
}

impl RatingSums {
    pub fn document(&self) -> RatingDocument {
        let average = (self.rating_count > 0).then(|| (self.rating_total as f64 / f64::from(self.rating_count) * 100.0).round() / 100.0);
        RatingDocument { count: self.rating_count, average }
    }
}

/// One of a host's latest bookings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestBooking {
    pub reservation_id: ReservationId,
    pub guest_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_title: Option<String>,
    pub check_in: String,
    pub check_out: String,
    #[serde(with = "time::serde::rfc3339")]
    pub booked_at: OffsetDateTime,
}

/// A host's takings in one currency, as sums the projector adds to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevenueRow {
    pub currency: String,
    #[serde(default)]
    pub confirmed: i64,
    #[serde(default)]
    pub refunded: i64,
}

/// A host's counts, kept as rooms come and go (`HOST#<hostId>` / `SUMMARY`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSummary {
    #[serde(default)]
    pub active_rooms: i64,
}

/// How many of a host's rooms are booked on one night (`HOST#<hostId>` / `NIGHT#<date>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostNight {
    pub night: String,
    #[serde(default)]
    pub booked: i64,
}

/// A payment's status on its reservation's view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOnView<'a> {
    pub payment_status: PaymentStatus,
    pub payment_id: &'a PaymentId,
    /// Why the guest got their money back (a refund only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<&'a str>,
}
