//! `application/problem+json` (RFC 9457). Each context's errors become HTTP statuses in that
//! context's own module here; this one knows only the document and storage's errors.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use bnb_contexts::storage::StorageError;
use bnb_domain::{FieldError, Invalid};

mod identity;
mod reservations;
mod reviews;
mod rooms;
mod views;

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
    /// The nights a booking could not have (`nights-taken`), `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nights: Vec<String>,
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
            nights: Vec::new(),
        }
    }

    pub fn invalid(invalid: Invalid) -> Self {
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        let mut p = Problem::new(StatusCode::BAD_REQUEST, "invalid-request", "The request is not valid", format!("Check these fields: {}.", fields.join(", ")));
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
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "The request is not valid",
                    "bnb could not carry out this request as given; check its paging cursor and sizes.",
                )
            }
            StorageError::ConditionFailed { .. } => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", "The item changed meanwhile; read it again."),
        }
    }
}
