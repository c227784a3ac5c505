//! Metrics in Prometheus format: requests by surface and Detail code, verification latency.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::wire::Surface;

pub(crate) const REQUESTS: &str = "tessera_requests_total";
pub(crate) const VERIFY_SECONDS: &str = "tessera_verification_seconds";

/// The process-wide recorder (the `metrics` facade has one), installed on first use.
pub(crate) fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(VERIFY_SECONDS.to_owned()),
                    &[
                        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
                        0.05, 0.1, 0.25, 1.0,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program's); then the
            // handle renders only what this one records, which is nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts a request and records its verification time. The metric handles are kept per
/// thread: looking a labelled metric up in the registry cost more than verifying a signature.
/// (`AppState::new` installs the recorder first, so no handle here predates it.)
pub(crate) fn request(surface: Surface, detail: &'static str, took: Option<Duration>) {
    thread_local! {
        static COUNTERS: RefCell<HashMap<(&'static str, &'static str), Counter>> =
            RefCell::new(HashMap::new());
        static HISTOGRAMS: RefCell<HashMap<&'static str, Histogram>> = RefCell::new(HashMap::new());
    }
    let label = surface.label();
    COUNTERS.with_borrow_mut(|counters| {
        counters
            .entry((label, detail))
            .or_insert_with(|| metrics::counter!(REQUESTS, "surface" => label, "detail" => detail))
            .increment(1);
    });
    if let Some(took) = took {
        HISTOGRAMS.with_borrow_mut(|histograms| {
            histograms
                .entry(label)
                .or_insert_with(|| metrics::histogram!(VERIFY_SECONDS, "surface" => label))
                .record(took.as_secs_f64());
        });
    }
}
