//! Reservations on the wire.

use serde::{Deserialize, Serialize};

use crate::domain::reservation::{Reservation, ReservationStatus};
use crate::payments::PaymentResult;
use crate::rooms::MoneyDocument;

/// `POST /reservations`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceReservationRequest {
    pub room_id: String,
    pub check_in: String,
    pub check_out: String,
    pub guests: i64,
    /// The sandbox's card, tokenised by the client (`tok_visa`; `tok_declined` declines).
    #[serde(default)]
    pub card_token: Option<String>,
    /// What the provider's payment form authorized (a deployment with a real provider).
    #[serde(default)]
    pub payment: Option<AuthorizedPayment>,
}

/// A payment the guest authorized in the provider's form (Toss Payments' widget): confirmed by
/// bnb only once the nights are held, for the price bnb computes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizedPayment {
    /// `toss`.
    pub provider: String,
    pub payment_key: String,
    /// The order id the client chose for it (6 to 64 of `A-Z a-z 0-9 - _`).
    pub order_id: String,
    /// What the guest was shown and authorized, in won: it must be the stay's price.
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationDocument {
    pub reservation_id: String,
    pub room_id: String,
    pub guest_id: String,
    pub host_id: String,
    pub check_in: String,
    pub check_out: String,
    pub nights: u32,
    pub guests: u32,
    pub amount: MoneyDocument,
    pub status: ReservationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub version: u64,
}

impl From<&Reservation> for ReservationDocument {
    fn from(r: &Reservation) -> Self {
        ReservationDocument {
            reservation_id: r.reservation_id.to_string(),
            room_id: r.room_id.to_string(),
            guest_id: r.guest_id.to_string(),
            host_id: r.host_id.to_string(),
            check_in: crate::domain::stay::format_date(r.stay.check_in),
            check_out: crate::domain::stay::format_date(r.stay.check_out),
            nights: r.stay.nights(),
            guests: r.guests,
            amount: (&r.amount).into(),
            status: r.status,
            payment_id: r.payment_id.as_ref().map(|p| p.to_string()),
            version: r.version,
        }
    }
}

/// `201` of `POST /reservations`: the confirmed reservation and its payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedDocument {
    pub reservation: ReservationDocument,
    pub payment: PaymentResult,
}
