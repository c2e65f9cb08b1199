//! Answers, and the wrapper every API function runs its handler in.

use std::convert::Infallible;
use std::future::Future;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tracing::Instrument;

use super::{Problem, RequestMeta};

/// A JSON answer.
pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Response<Body>, Problem> {
    let text = serde_json::to_string(body).map_err(|e| {
        tracing::error!(error = %e, "response does not serialize");
        Problem::internal()
    })?;
    Response::builder().status(status).header(http::header::CONTENT_TYPE, "application/json").body(Body::from(text)).map_err(|_| Problem::internal())
}

pub fn no_content() -> Result<Response<Body>, Problem> {
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).map_err(|_| Problem::internal())
}

/// Runs `handler` inside a span that carries the function's name and the correlation id (so
/// every log line has them), turns a problem into its document, and logs the outcome.
pub async fn serve<F, Fut>(function: &'static str, request: Request, handler: F) -> Result<Response<Body>, Infallible>
where
    F: FnOnce(Request, RequestMeta) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Problem>>,
{
    let meta = RequestMeta::of(&request);
    let span = tracing::info_span!("request", function, correlation_id = %meta.correlation_id, request_id = %meta.request_id);
    let correlation_id = meta.correlation_id.clone();
    async move {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let mut response = match handler(request, meta).await {
            Ok(response) => response,
            Err(problem) => problem.with_correlation_id(&correlation_id).to_response(),
        };
        if let Ok(value) = http::HeaderValue::from_str(&correlation_id) {
            response.headers_mut().insert("x-correlation-id", value);
        }
        let status = response.status().as_u16();
        if status >= 500 {
            tracing::error!(%method, %path, status, "answered");
        } else {
            tracing::info!(%method, %path, status, "answered");
        }
        Ok(response)
    }
    .instrument(span)
    .await
}
