//! `GET /rooms/{roomId}/reviews?cursor=&limit=`: anyone reads a room's reviews, newest first.

use std::convert::Infallible;

use bnb::http::{json, path_param, query_param, serve};
use bnb::reviews::{list_reviews, ReviewError};
use bnb::storage::Table;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "list-reviews";

pub async fn handle(reviews: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let room_id = path_param(&request, "roomId").ok_or(ReviewError::RoomNotFound)?;
        let page = list_reviews(reviews, &room_id, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
