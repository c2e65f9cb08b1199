//! The review context's domain.

use serde::{Deserialize, Serialize};

use super::{Invalid, ReservationId, ReviewId, RoomId, UserId};

pub const MAX_REVIEW_TEXT: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub review_id: ReviewId,
    pub room_id: RoomId,
    pub reservation_id: ReservationId,
    pub guest_id: UserId,
    pub rating: u8,
    pub text: String,
}

/// Checks a review's rating (1 to 5) and text (at most [`MAX_REVIEW_TEXT`] characters).
pub fn validate_review(rating: i64, text: &str) -> Result<(), Invalid> {
    let mut invalid = Invalid::default();
    if !(1..=5).contains(&rating) {
        invalid.push("rating", "must be a whole number from 1 to 5");
    }
    invalid.text("text", text, 0, MAX_REVIEW_TEXT);
    invalid.into_result()
}
