//! `GET /host/dashboard`: the host's rooms, stays, occupancy, revenue and latest bookings.

use std::convert::Infallible;

use bnb::clock::Clock;
use bnb::http::{json, serve, Caller, Problem};
use bnb::storage::Table;
use bnb::views::host_dashboard;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "host-dashboard";

pub async fn handle(views: &dyn Table, clock: &dyn Clock, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = Caller::of(&request)?;
        if !caller.is_host() {
            return Err(Problem::forbidden("The dashboard is for hosts: your account is not in the `host` group."));
        }
        json(StatusCode::OK, &host_dashboard(views, &caller, clock.today()).await?)
    })
    .await
}
