//! A function's metrics on Lambda, as CloudWatch Embedded Metric Format: what the contexts count
//! through the `metrics` facade (`bnb_contexts::metrics`) is written to stdout after every
//! invocation as one JSON line, which CloudWatch turns into metrics in the `bnb` namespace with
//! no API call and no latency on the request.

use std::sync::OnceLock;

use metrics_cloudwatch_embedded::Collector;

/// The variable naming the stack's stage (dev, prod).
pub const STAGE: &str = "BNB_STAGE";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the EMF recorder for this process (once; later calls do nothing).
pub fn init() {
    if COLLECTOR.get().is_some() {
        return;
    }
    let mut builder = metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(bnb_contexts::metrics::NAMESPACE);
    // Every metric carries the stage (`template.yaml` sets it for every function).
    if let Ok(stage) = std::env::var(STAGE) {
        builder = builder.with_dimension("Stage", stage);
    }
    match builder.init() {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            bnb_contexts::metrics::describe();
        }
        Err(e) => tracing::warn!(error = %e, "metrics recorder not installed; this function writes no metrics"),
    }
}

/// Writes what the invocation `request_id` recorded (nothing when it recorded nothing).
pub fn flush(request_id: &str) {
    if let Some(collector) = COLLECTOR.get() {
        if let Err(e) = collector.set_property("function_request_id", request_id.to_owned()).flush(std::io::stdout().lock()) {
            tracing::warn!(error = %e, "could not write metrics");
        }
    }
}

#[cfg(test)]
mod tests {
    use bnb_contexts::metrics;
    use bnb_contexts::reservations::ReservationError;
    use serde_json::Value;

    /// What an invocation's line carries: the `bnb` namespace, each metric with its unit, the
    /// labels as dimensions, the values, and the request id to find its logs by.
    #[test]
    fn a_flush_writes_one_emf_document_per_dimension_set_in_the_bnb_namespace() {
        super::init();
        let collector = super::COLLECTOR.get().expect("the recorder is installed");
        metrics::booking::<()>(&Ok(()));
        metrics::booking::<()>(&Err(ReservationError::NightsTaken(vec!["2030-12-24".into()])));
        metrics::booking::<()>(&Err(ReservationError::PaymentUnavailable { reason: "timeout".into(), retry_after_seconds: 5 }));
        metrics::payment_latency(std::time::Duration::from_millis(42));
        let mut out = Vec::new();
        collector.set_property("function_request_id", "req-1").flush(&mut out).unwrap();
        let documents: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let find = |name: &str| {
            documents
                .iter()
                .find(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().iter().any(|m| m["Name"] == name))
                .unwrap_or_else(|| panic!("no document has {name}: {documents:?}"))
        };
        for d in &documents {
            assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "bnb");
            assert_eq!(d["function_request_id"], "req-1");
        }
        assert_eq!(find(metrics::BOOKINGS_CONFIRMED)[metrics::BOOKINGS_CONFIRMED], 1);
        let rejected = find(metrics::BOOKINGS_REJECTED);
        assert_eq!((rejected[metrics::BOOKINGS_REJECTED].as_u64(), rejected["reason"].as_str()), (Some(1), Some("nights-taken")));
        assert_eq!(rejected["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0], "reason");
        assert_eq!(find(metrics::BOOKINGS_ABORTED)["reason"], "timeout");
        let latency = find(metrics::PAYMENT_LATENCY);
        let unit = latency["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().iter().find(|m| m["Name"] == metrics::PAYMENT_LATENCY).unwrap()
            ["Unit"]
            .clone();
        assert_eq!(unit, "Milliseconds");
        assert!(latency[metrics::PAYMENT_LATENCY].to_string().contains("42"), "{latency}");
    }
}
