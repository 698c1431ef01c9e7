//! Plain HTTP listeners beside the gRPC port (`/metrics`, the web app):
//! bound before the server reports itself started, so a taken port is a
//! startup error, and drained on shutdown.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Error;

/// Binds `listen` and serves `app` until `shutdown`; returns the bound
/// address (port 0 picks one). `what` names the listener in errors and logs.
pub async fn serve(
    listen: SocketAddr,
    app: axum::Router,
    what: &'static str,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen for {what} on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("{what} listener address: {e}")))?;
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::warn!(error = %e, listener = what, "HTTP listener stopped");
        }
    });
    Ok(addr)
}
