//! `GET /reservations/{reservationId}`: its guest or the room's host reads its status (room,
//! dates, amount, reservation and payment status, last change) from the view — never from the
//! reservation service. Anyone else: 404.

use std::convert::Infallible;

use bnb::http::{json, path_param, serve, Caller};
use bnb::storage::Table;
use bnb::views::{reservation_status, ViewError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "reservation-status";

pub async fn handle(views: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = Caller::of(&request)?;
        let id = path_param(&request, "reservationId").ok_or(ViewError::NotFound)?;
        json(StatusCode::OK, &reservation_status(views, &caller, &id).await?)
    })
    .await
}
