//! `GET /host/dashboard?roomsCursor=&staysCursor=`: the host's active rooms (counted, and a
//! page of them), current and upcoming stays (a page), occupancy, revenue and latest bookings.

use std::convert::Infallible;

use bnb_contexts::clock::Clock;
use bnb_contexts::storage::Table;
use bnb_contexts::tables::VIEWS;
use bnb_contexts::views::{host_dashboard, DashboardCursors};
use bnb_lambda::http::{caller, json, query_param, serve, Problem};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "host-dashboard";

/// `host-dashboard`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(VIEWS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let (views, clock) = (r.table(VIEWS)?, r.clock());
    Ok(Handler::http(move |request| {
        let (views, clock) = (views.clone(), clock.clone());
        async move { handle(views.as_ref(), clock.as_ref(), request).await }
    }))
}

pub async fn handle(views: &dyn Table, clock: &dyn Clock, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = caller(&request)?;
        if !caller.is_host() {
            return Err(Problem::forbidden("The dashboard is for hosts: your account is not in the `host` group."));
        }
        let (rooms, stays) = (query_param(&request, "roomsCursor"), query_param(&request, "staysCursor"));
        let cursors = DashboardCursors { rooms: rooms.as_deref(), stays: stays.as_deref() };
        json(StatusCode::OK, &host_dashboard(views, &caller, clock.today(), cursors).await?)
    })
    .await
}
