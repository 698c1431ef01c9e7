//! Prometheus metrics (`metrics` facade, `metrics-exporter-prometheus`).
//!
//! Invariants:
//! - every metric is emitted here, from the domain's typed events
//!   ([`events`]) and from periodic snapshots of the engine's state; handlers
//!   and the core do not touch the facade;
//! - names follow Prometheus conventions: `hotline_` prefix, base units
//!   (seconds, bytes, ratios 0-1), `_total` on counters;
//! - labels are bounded: queue, tier, state, disposition, outcome, reason,
//!   method, code. Never an agent, caller, call or callback id.
//!
//! The recorder is global to the process (one per process, as the facade
//! requires); every server in it shares it, and each serves `/metrics` on its
//! own listener (`metrics.listen`, default port 9464).

pub mod cases;
pub mod events;
pub mod grpc;
pub mod http;
pub mod media_io;
pub mod quality;
pub mod staffing;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::Error;

/// The process's recorder, installed by the first server (or why it could not be).
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Histogram buckets in seconds for waits: fine around the usual service
/// level thresholds, plus each configured threshold as an edge (so "answered
/// within the threshold" is exact from the histogram).
pub fn wait_buckets(service_levels_secs: impl IntoIterator<Item = u64>) -> Vec<f64> {
    let mut edges: Vec<f64> = [
        1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
    ]
    .into_iter()
    .chain(service_levels_secs.into_iter().map(|s| s as f64))
    .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges
}

/// Installs the recorder once per process; later calls return the same one.
pub fn install(service_levels_secs: impl IntoIterator<Item = u64>) -> Result<PrometheusHandle, Error> {
    HANDLE
        .get_or_init(|| build(service_levels_secs.into_iter().collect()).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| Error::Internal(format!("metrics: {e}")))
}

fn build(service_levels_secs: Vec<u64>) -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("hotline_queue_wait_seconds".into()),
            &wait_buckets(service_levels_secs),
        )?
        .set_buckets_for_metric(
            Matcher::Suffix("_handle_seconds".into()),
            &[
                30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Suffix("_talk_seconds".into()),
            &[
                10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1800.0, 3600.0,
            ],
        )?
        // Interarrival jitter: a good line is a few ms, 30 ms hurts.
        .set_buckets_for_metric(
            Matcher::Full("hotline_media_jitter_seconds".into()),
            &[0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
        )?
        // Routing decisions and requests: tens of microseconds to seconds.
        .set_buckets(&[
            0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
            1.0, 2.5, 5.0,
        ])?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)?;
    events::describe();
    events::initialise();
    cases::describe();
    cases::initialise();
    staffing::describe();
    staffing::initialise();
    quality::describe();
    quality::initialise();
    media_io::describe();
    media_io::initialise();
    metrics::gauge!("hotline_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}
