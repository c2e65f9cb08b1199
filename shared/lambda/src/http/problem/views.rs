//! The views' errors as problems.

use bnb_contexts::views::ViewError;

use super::Problem;

impl From<ViewError> for Problem {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::Invalid(invalid) => Problem::invalid(invalid),
            ViewError::NotFound => Problem::not_found("reservation"),
            ViewError::Storage(e) => Problem::from(e),
        }
    }
}
