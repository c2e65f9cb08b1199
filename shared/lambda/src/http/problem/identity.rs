//! The identity context's errors as problems.

use bnb_contexts::identity::DirectoryError;
use http::StatusCode;

use super::Problem;

impl From<DirectoryError> for Problem {
    fn from(e: DirectoryError) -> Self {
        match e {
            // The token is valid but its user is gone (deleted since it was issued).
            DirectoryError::NoSuchUser(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "no-such-user",
                "No such user",
                "The user pool no longer has the user this token was issued to; sign in again.",
            ),
            DirectoryError::Unavailable(reason) => {
                tracing::error!(%reason, "the user pool failed");
                Problem::unavailable("The user pool is busy; try again shortly.", 1)
            }
        }
    }
}
