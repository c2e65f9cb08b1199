//! `POST /reservations/{reservationId}/cancel`: a guest cancels their reservation before check-in.

use std::convert::Infallible;

use bnb::domain::reservation::CancelledBy;
use bnb::events::Causation;
use bnb::http::{json, path_param, serve, Caller};
use bnb::reservations::{cancel_reservation, ReservationDocument, ReservationError, ReservationStore};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "cancel-reservation";

pub async fn handle(store: &ReservationStore, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let id = path_param(&request, "reservationId").ok_or(ReservationError::NotFound)?;
        let cancelled = cancel_reservation(store, &id, Some(&caller.user_id), CancelledBy::Guest, &Causation::request(&meta.correlation_id)).await?;
        json(StatusCode::OK, &ReservationDocument::from(&cancelled))
    })
    .await
}
