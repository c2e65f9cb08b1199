//! `GET /reservations/{reservationId}`: its guest or the room's host reads its status (room,
//! dates, amount, reservation and payment status, last change) from the view — never from the
//! reservation service. Anyone else: 404.

use std::convert::Infallible;

use bnb_contexts::storage::Table;
use bnb_contexts::tables::VIEWS;
use bnb_contexts::views::{reservation_status, ViewError};
use bnb_lambda::http::{caller, json, path_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "reservation-status";

/// `reservation-status`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(VIEWS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let views = r.table(VIEWS)?;
    Ok(Handler::http(move |request| {
        let views = views.clone();
        async move { handle(views.as_ref(), request).await }
    }))
}

pub async fn handle(views: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = caller(&request)?;
        let id = path_param(&request, "reservationId").ok_or(ViewError::NotFound)?;
        json(StatusCode::OK, &reservation_status(views, &caller, &id).await?)
    })
    .await
}
