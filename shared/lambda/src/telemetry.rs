//! Structured logs: JSON lines through tracing. The span a handler runs in carries the function
//! name and the correlation id, and the formatter writes that span's fields on every line.

use tracing_subscriber::EnvFilter;

/// JSON logs for a deployed function (CloudWatch adds nothing but the timestamp).
pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}

/// Human-readable logs (the local runtime's default on a terminal).
pub fn init_pretty() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .compact()
        .try_init();
}
