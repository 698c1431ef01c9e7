//! The `/metrics` listener: the process's Prometheus text exposition.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

use crate::error::Error;

/// Binds `listen` and serves `/metrics` until `shutdown`; returns the bound
/// address (port 0 picks one).
pub async fn serve(
    listen: SocketAddr,
    handle: PrometheusHandle,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                // Keeps histograms' windows and idle series tidy.
                handle.run_upkeep();
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    );
    crate::http::serve(listen, app, "metrics", tls, shutdown).await
}
