//! `GET /me/reservations?cursor=&limit=`: the caller's reservations, latest check-in first.

use std::convert::Infallible;

use bnb::http::{json, query_param, serve, Caller};
use bnb::storage::Table;
use bnb::views::my_reservations;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "my-reservations";

pub async fn handle(views: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = Caller::of(&request)?;
        let page = my_reservations(views, &caller, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
