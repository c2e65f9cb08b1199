//! `GET /me/profile`: how the caller is told — their phone number for KakaoTalk and SMS, `ko` or
//! `en` (the defaults, no phone and Korean, for someone who never set them).

use std::convert::Infallible;

use bnb_contexts::notifications::my_profile;
use bnb_contexts::storage::Table;
use bnb_contexts::tables::NOTIFICATIONS;
use bnb_lambda::http::{caller, json, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "my-profile";

/// `my-profile`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
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
        let profile = my_profile(notifications, &caller).await?;
        json(StatusCode::OK, &profile)
    })
    .await
}
