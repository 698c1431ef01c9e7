//! The `/metrics` listener: the process's Prometheus text exposition.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Error;

/// Binds `listen` and serves `/metrics` until `shutdown`; returns the bound
/// address (port 0 picks one).
pub async fn serve(
    listen: SocketAddr,
    handle: PrometheusHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen for metrics on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("metrics listener address: {e}")))?;
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
    tokio::spawn(async move {
        let stop = async move {
            while shutdown.changed().await.is_ok() {
                if *shutdown.borrow() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    Ok(addr)
}
