//! The room context's errors as problems.

use bnb_contexts::rooms::RoomError;
use bnb_domain::FieldError;
use http::StatusCode;

use super::Problem;

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
