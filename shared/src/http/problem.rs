//! `application/problem+json` (RFC 9457), and the one place where every context's errors
//! become HTTP statuses.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::{FieldError, Invalid};
use crate::reservations::ReservationError;
use crate::reviews::ReviewError;
use crate::views::ViewError;
use crate::rooms::RoomError;
use crate::storage::StorageError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Seconds to wait before trying again (sent as `Retry-After` too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("https://bnb.dev/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            correlation_id: None,
            retry_after: None,
        }
    }

    pub fn invalid(invalid: Invalid) -> Self {
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        let mut p = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is not valid",
            format!("Check these fields: {}.", fields.join(", ")),
        );
        p.errors = invalid.0;
        p
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        Problem::invalid(Invalid::field(field, message))
    }

    pub fn unauthorized() -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Sign in first", "This request needs a valid bearer token.")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("No {what} here."))
    }

    pub fn unavailable(detail: impl Into<String>, retry_after: u32) -> Self {
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Try again shortly", detail);
        p.retry_after = Some(retry_after);
        p
    }

    pub fn internal() -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong", "bnb could not answer; the error is logged.")
    }

    pub fn with_correlation_id(mut self, id: &str) -> Self {
        self.correlation_id = Some(id.to_owned());
        self
    }

    pub fn to_response(&self) -> Response<Body> {
        let body = serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"));
        let mut builder = Response::builder().status(self.status).header(http::header::CONTENT_TYPE, CONTENT_TYPE);
        if let Some(seconds) = self.retry_after {
            builder = builder.header(http::header::RETRY_AFTER, seconds.to_string());
        }
        builder.body(Body::from(body)).unwrap_or_else(|_| Response::new(Body::from("{}")))
    }
}

impl From<Invalid> for Problem {
    fn from(invalid: Invalid) -> Self {
        Problem::invalid(invalid)
    }
}

impl From<StorageError> for Problem {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(_) | StorageError::Conflict => {
                tracing::error!(error = %e, "storage failed");
                Problem::unavailable("bnb's storage is busy; try again shortly.", 1)
            }
            // A request storage refuses (a forged cursor, an item too large): the client's to
            // change, but storage's own words stay in the log, never in the answer.
            StorageError::Invalid(detail) => {
                tracing::warn!(%detail, "storage refused the request");
                Problem::new(StatusCode::BAD_REQUEST, "invalid-request", "The request is not valid", "bnb could not carry out this request as given; check its paging cursor and sizes.")
            }
            StorageError::ConditionFailed { .. } => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", "The item changed meanwhile; read it again."),
        }
    }
}

impl From<RoomError> for Problem {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::Invalid(invalid) => Problem::invalid(invalid),
            RoomError::NotHost => Problem::forbidden("Only hosts register rooms: your account is not in the `host` group."),
            RoomError::NotOwner => Problem::forbidden("Only the host who owns this room may change it."),
            RoomError::NotFound => Problem::not_found("room"),
            RoomError::StaleVersion { current } => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "stale-version",
                    "The room changed meanwhile",
                    format!("You sent an older version; the room is at version {current}. Read it again and retry."),
                );
                p.errors = vec![FieldError { field: "version".into(), message: format!("is stale; current is {current}") }];
                p
            }
            RoomError::VersionRequired => {
                let mut p = Problem::new(
                    StatusCode::PRECONDITION_REQUIRED,
                    "version-required",
                    "Say which version you changed",
                    "Send the version you read, as `If-Match` or as `version` in the body, so a change made meanwhile is not overwritten.",
                );
                p.errors = vec![FieldError { field: "version".into(), message: "is required".into() }];
                p
            }
            RoomError::Storage(e) => Problem::from(e),
        }
    }
}

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
                p
            }
            ReservationError::Declined(reason) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "payment-declined", "Payment declined", format!("The card was declined ({reason}); nothing was booked or charged."))
            }
            ReservationError::PaymentUnavailable { reason, retry_after_seconds } => {
                let mut p = Problem::unavailable(
                    format!("Payment is busy right now ({reason}), so nothing was booked or charged. Please try again in {retry_after_seconds} seconds."),
                    retry_after_seconds,
                );
                p.title = "Payment is busy, try again shortly".into();
                p.kind = "https://bnb.dev/problems/payment-unavailable".into();
                p
            }
            ReservationError::AlreadyCancelled => Problem::new(StatusCode::CONFLICT, "already-cancelled", "Already cancelled", "This reservation is already cancelled."),
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
                let mut p = Problem::new(StatusCode::CONFLICT, "in-flight", "Still working on it", "The first request with this Idempotency-Key is still running; ask again in a moment.");
                p.retry_after = Some(1);
                p
            }
            ReservationError::Storage(e) => Problem::from(e),
        }
    }
}

impl From<ViewError> for Problem {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::Invalid(invalid) => Problem::invalid(invalid),
            ViewError::NotFound => Problem::not_found("reservation"),
            ViewError::Storage(e) => Problem::from(e),
        }
    }
}

impl From<ReviewError> for Problem {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid(invalid) => Problem::invalid(invalid),
            ReviewError::RoomNotFound => Problem::not_found("room"),
            ReviewError::NoStay => Problem::forbidden("Only a guest whose stay in this room has ended (check-out on or before today, Asia/Seoul) and was not cancelled may review it."),
            ReviewError::AlreadyReviewed => Problem::new(StatusCode::CONFLICT, "already-reviewed", "Already reviewed", "Each stay gets one review, and yours is written."),
            ReviewError::Storage(e) => Problem::from(e),
        }
    }
}
