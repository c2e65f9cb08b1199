//! `POST /me/host`: the caller becomes a host too (the user pool's `host` group). Their next
//! token carries the group; the answer says whether this one already does.

use std::convert::Infallible;
use std::sync::Arc;

use bnb_contexts::identity::{become_host, UserDirectory};
use bnb_lambda::http::{caller, json, serve};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const NAME: &str = "become-host";
/// The user pool the caller signed in to (`template.yaml` sets it).
pub const USER_POOL_ID: &str = "USER_POOL_ID";

/// `become-host`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Http, needs: &[Need::UserPools], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let directory = r.user_pools()?.pool(&r.required(USER_POOL_ID)?);
    Ok(Handler::http(move |request| {
        let directory = directory.clone();
        async move { handle(directory, request).await }
    }))
}

pub async fn handle(directory: Arc<dyn UserDirectory>, request: Request) -> Result<Response<Body>, Infallible> {
    serve(NAME, request, |request, _meta| async move {
        let caller = caller(&request)?;
        let became = become_host(directory.as_ref(), &caller).await?;
        json(StatusCode::OK, &became)
    })
    .await
}
