//! `GET /me/reservations?cursor=&limit=`: the caller's reservations, latest check-in first.

use std::convert::Infallible;

use bnb_contexts::storage::Table;
use bnb_contexts::tables::VIEWS;
use bnb_contexts::views::my_reservations;
use bnb_lambda::http::{caller, json, query_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "my-reservations";

/// `my-reservations`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
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
        let page = my_reservations(views, &caller, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
