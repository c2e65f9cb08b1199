//! `GET /me/notifications?cursor=&limit=`: what the caller was told, newest first.

use std::convert::Infallible;

use bnb::http::{json, query_param, serve, Caller};
use bnb::notifications::my_notifications;
use bnb::storage::Table;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "my-notifications";

pub async fn handle(notifications: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = Caller::of(&request)?;
        let page = my_notifications(notifications, &caller, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
