//! The reservation context's errors as problems.

use bnb_contexts::reservations::ReservationError;
use bnb_domain::FieldError;
use http::StatusCode;

use super::Problem;

impl From<ReservationError> for Problem {
    fn from(e: ReservationError) -> Self {
        match e {
            ReservationError::Invalid(invalid) => Problem::invalid(invalid),
            ReservationError::NotGuest => Problem::forbidden("Only guests book rooms: your account is not in the `guest` group."),
            ReservationError::OwnRoom => Problem::forbidden("You host this room; hosts do not book their own rooms."),
            ReservationError::RoomNotFound => Problem::not_found("room to book"),
            ReservationError::NotFound => Problem::not_found("reservation"),
            ReservationError::NightsTaken(nights) => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "nights-taken",
                    "Those nights are taken",
                    format!("The room is already booked on {}. Choose other dates.", nights.join(", ")),
                );
                p.errors = nights.iter().map(|n| FieldError { field: "checkIn".into(), message: format!("{n} is taken") }).collect();
                p.nights = nights;
                p
            }
            ReservationError::Declined(reason) => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
                format!("The payment was declined: {reason} (nothing was booked or charged)."),
            ),
            ReservationError::PaymentUnavailable { reason, retry_after_seconds } => {
                let mut p = Problem::unavailable(
                    format!("Payment is busy right now ({reason}), so nothing was booked or charged. Please try again in {retry_after_seconds} seconds."),
                    retry_after_seconds,
                );
                p.title = "Payment is busy, try again shortly".into();
                p.kind = "https://bnb.dev/problems/payment-unavailable".into();
                p
            }
            ReservationError::AlreadyCancelled => {
                Problem::new(StatusCode::CONFLICT, "already-cancelled", "Already cancelled", "This reservation is already cancelled.")
            }
            ReservationError::AlreadyStarted => {
                Problem::new(StatusCode::CONFLICT, "stay-started", "The stay has started", "A reservation can be cancelled only before its check-in day.")
            }
            ReservationError::IdempotencyMismatch => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "This Idempotency-Key was first sent with another body. Use a new key for a new booking.",
                );
                p.errors = vec![FieldError { field: "Idempotency-Key".into(), message: "was used with another body".into() }];
                p
            }
            ReservationError::InFlight => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "in-flight",
                    "Still working on it",
                    "The first request with this Idempotency-Key is still running; ask again in a moment.",
                );
                p.retry_after = Some(1);
                p
            }
            ReservationError::Storage(e) => Problem::from(e),
        }
    }
}
