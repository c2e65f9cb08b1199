//! `POST /rooms/{roomId}/reviews`: a guest with a confirmed stay reviews the room, once per stay.

use std::convert::Infallible;

use bnb::events::Causation;
use bnb::http::{json, json_body, path_param, serve, Caller};
use bnb::reviews::{ReviewError, Reviews, WriteReviewRequest};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "write-review";

pub async fn handle(reviews: &Reviews, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, meta| async move {
        let caller = Caller::of(&request)?;
        let room_id = path_param(&request, "roomId").ok_or(ReviewError::RoomNotFound)?;
        let body: WriteReviewRequest = json_body(&request)?;
        let review = reviews.write(&caller, &room_id, body, &Causation::request(&meta.correlation_id)).await?;
        json(StatusCode::CREATED, &review)
    })
    .await
}
