//! `PUT /me/profile`: how the caller wants to be told — a phone number for SMS, `ko` or `en`.

use std::convert::Infallible;

use bnb::http::{json, json_body, serve, Caller};
use bnb::notifications::{update_profile, ProfileRequest};
use bnb::storage::Table;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "update-profile";

pub async fn handle(notifications: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = Caller::of(&request)?;
        let body: ProfileRequest = json_body(&request)?;
        let profile = update_profile(notifications, &caller, body).await?;
        json(StatusCode::OK, &profile)
    })
    .await
}
