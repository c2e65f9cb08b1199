//! `bnb-local`'s own pages beside the API, for the person running it: `/metrics`, what the
//! functions counted and timed (Prometheus text: the same names the deployed functions write as
//! CloudWatch EMF) with each dead-letter queue's depth, and `/openapi.json`, the API's contract
//! (`docs/openapi.yaml`), which the web app's `/api.html` lays out.

use std::sync::{Arc, OnceLock};

use axum::body::Body as AxumBody;
use axum::response::Response as AxumResponse;
use bnb_contexts::messaging::Queue;
use http::{header, HeaderValue, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const METRICS_PATH: &str = "/metrics";
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The process's one recorder: every function linked into this process counts into it.
fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                bnb_contexts::metrics::describe();
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics shows queues only");
                None
            }
        })
        .clone()
}

pub struct OpsPages {
    metrics: Option<PrometheusHandle>,
    dead_letters: Vec<Arc<dyn Queue>>,
    /// The OpenAPI document as JSON, when `docs/openapi.yaml` is beside the template.
    openapi: Option<Vec<u8>>,
}

impl OpsPages {
    pub fn new(dead_letters: Vec<Arc<dyn Queue>>, openapi: Option<Vec<u8>>) -> Self {
        OpsPages { metrics: recorder(), dead_letters, openapi }
    }

    /// The page at `path`, if it is one of these.
    pub async fn page(&self, path: &str) -> Option<AxumResponse> {
        match path {
            METRICS_PATH => Some(self.metrics().await),
            OPENAPI_PATH => self.openapi.clone().map(|json| respond("application/json", json)),
            _ => None,
        }
    }

    async fn metrics(&self) -> AxumResponse {
        let mut text = self.metrics.as_ref().map(PrometheusHandle::render).unwrap_or_default();
        text.push_str("# HELP DeadLetters messages waiting in a dead-letter queue (an alarm on AWS)\n# TYPE DeadLetters gauge\n");
        for queue in &self.dead_letters {
            match queue.depth().await {
                Ok(depth) => text.push_str(&format!("DeadLetters{{queue=\"{}\"}} {}\n", queue.name(), depth.visible + depth.in_flight)),
                Err(e) => tracing::warn!(queue = queue.name(), error = %e, "could not read a dead-letter queue's depth"),
            }
        }
        respond("text/plain; version=0.0.4; charset=utf-8", text.into_bytes())
    }
}

fn respond(content_type: &'static str, body: Vec<u8>) -> AxumResponse {
    let mut response = AxumResponse::new(AxumBody::from(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
