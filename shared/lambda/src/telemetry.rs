//! Structured logs: one JSON object per line, in the shape Lambda Powertools users read. Every
//! field of every span the line is logged in is on the line itself, flattened, with the line's
//! own fields after them: the invocation's (`service`, `cold_start`, `function_name`,
//! `function_request_id`, `xray_trace_id`, from [`invocation_span`]) and the handler's
//! (`correlation_id`, ...), so a CloudWatch Logs Insights query filters on any of them.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// JSON logs for a deployed function (CloudWatch adds nothing but the timestamp).
pub fn init_json() {
    let _ = tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
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

static COLD: AtomicBool = AtomicBool::new(true);

/// The span one invocation runs in: what Powertools puts on every line. `cold_start` is true
/// for the process's first invocation only.
pub fn invocation_span(service: &str, request_id: &str, xray_trace_id: Option<&str>) -> tracing::Span {
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    if cold_start {
        bnb_contexts::metrics::cold_start(service);
    }
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| service.to_owned());
    tracing::info_span!(
        "invocation",
        service,
        cold_start,
        function_name = %function_name,
        function_request_id = request_id,
        xray_trace_id = xray_trace_id.unwrap_or(""),
    )
}

/// One flat JSON object per event: `timestamp`, `level`, the fields of each span in scope (from
/// the root; an inner span's field wins), then the event's own (`message` among them).
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        line.insert("timestamp".into(), Value::String(now));
        line.insert("level".into(), Value::String(event.metadata().level().to_string()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<N>>().and_then(|f| serde_json::from_str::<Value>(f.as_str()).ok());
                if let Some(Value::Object(fields)) = fields {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields, as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::String(value.to_owned()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_carries_the_invocation_and_the_handlers_fields_flat() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().fmt_fields(JsonFields::new()).event_format(FlatJson).with_writer(move || writer.clone()).finish();
        tracing::subscriber::with_default(subscriber, || {
            for request in ["req-1", "req-2"] {
                let invocation = invocation_span("get-room", request, Some("Root=1-abc"));
                let _entered = invocation.enter();
                let handler = tracing::info_span!("request", correlation_id = "corr-9");
                let _in_handler = handler.enter();
                tracing::info!(status = 200, "answered");
            }
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (line, (request, cold)) in lines.iter().zip([("req-1", true), ("req-2", false)]) {
            assert_eq!(line["service"], "get-room");
            assert_eq!(line["function_name"], "get-room");
            assert_eq!(line["function_request_id"], request);
            assert_eq!(line["xray_trace_id"], "Root=1-abc");
            assert_eq!(line["correlation_id"], "corr-9");
            assert_eq!((line["message"].as_str(), line["status"].as_i64(), line["level"].as_str()), (Some("answered"), Some(200), Some("INFO")));
            assert_eq!(line["cold_start"], cold, "only the first invocation is cold: {line}");
            assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        }
    }
}
