//! `enrol-guest`: the user pool's post-confirmation trigger. Everyone who signs up is a guest,
//! with no administrator involved (`AdminAddUserToGroup`, which is idempotent, so Cognito's own
//! retries and a confirmed password reset change nothing). Cognito wants its event back.

use std::sync::Arc;

use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation;
use bnb_contexts::identity::{enrol_guest, UserPools};
use bnb_lambda::{Function, Handler, LinkError, Need, Resources, Trigger};
use serde_json::Value;

pub const NAME: &str = "enrol-guest";

/// `enrol-guest`, declared once: the Lambda main, `bnb-local` and the tests build it from this.
pub static FUNCTION: Function = Function { name: NAME, trigger: Trigger::Invoke, needs: &[Need::UserPools], link };

fn link(r: &dyn Resources) -> Result<Handler, LinkError> {
    let pools = r.user_pools()?;
    Ok(Handler::invoke(move |payload| {
        let pools = pools.clone();
        async move { handle(pools, payload).await }
    }))
}

pub async fn handle(pools: Arc<dyn UserPools>, payload: Value) -> Result<Value, String> {
    let event: CognitoEventUserPoolsPostConfirmation = serde_json::from_value(payload.clone()).map_err(|e| format!("not a post-confirmation event: {e}"))?;
    let header = &event.cognito_event_user_pools_header;
    let (Some(pool), Some(user)) = (header.user_pool_id.as_deref(), header.user_name.as_deref()) else {
        return Err("the event names no user pool or user".into());
    };
    enrol_guest(pools.pool(pool).as_ref(), user).await.map_err(|e| e.to_string())?;
    tracing::info!(function = NAME, correlation_id = %user, user, "new user enrolled as a guest");
    Ok(payload)
}
