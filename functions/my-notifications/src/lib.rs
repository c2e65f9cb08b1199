//! `GET /me/notifications?cursor=&limit=`: what the caller was told, newest first.

use std::convert::Infallible;

use bnb_contexts::notifications::my_notifications;
use bnb_contexts::storage::Table;
use bnb_contexts::tables::NOTIFICATIONS;
use bnb_lambda::http::{caller, json, query_param, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "my-notifications";

/// `my-notifications`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::Table(NOTIFICATIONS)], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let notifications = r.table(NOTIFICATIONS)?;
    Ok(Handler::http(move |request| {
        let notifications = notifications.clone();
        async move { handle(notifications.as_ref(), request).await }
    }))
}

pub async fn handle(notifications: &dyn Table, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = caller(&request)?;
        let page = my_notifications(notifications, &caller, query_param(&request, "cursor").as_deref(), query_param(&request, "limit").as_deref()).await?;
        json(StatusCode::OK, &page)
    })
    .await
}
