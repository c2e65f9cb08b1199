//! The review context's errors as problems.

use bnb_contexts::reviews::ReviewError;
use http::StatusCode;

use super::Problem;

impl From<ReviewError> for Problem {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Invalid(invalid) => Problem::invalid(invalid),
            ReviewError::RoomNotFound => Problem::not_found("room"),
            ReviewError::NoStay => Problem::forbidden(
                "Only a guest whose stay in this room has ended (check-out on or before today, Asia/Seoul) and was not cancelled may review it.",
            ),
            ReviewError::AlreadyReviewed => {
                Problem::new(StatusCode::CONFLICT, "already-reviewed", "Already reviewed", "Each stay gets one review, and yours is written.")
            }
            ReviewError::Storage(e) => Problem::from(e),
        }
    }
}
