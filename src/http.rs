//! HTTP listeners beside the gRPC port (`/metrics`, the web app), plain or
//! TLS: bound before the server reports itself started, so a taken port is
//! a startup error, and drained on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::Error;

/// Binds `listen` and serves `app` until `shutdown`, over TLS with `tls`;
/// returns the bound address (port 0 picks one). `what` names the listener
/// in errors and logs.
pub async fn serve(
    listen: SocketAddr,
    app: axum::Router,
    what: &'static str,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen for {what} on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("{what} listener address: {e}")))?;
    crate::tls::announce(what, addr, tls.is_some());
    let stopping = shutdown.clone();
    let stop = async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    match tls {
        Some(config) => {
            let incoming = crate::tls::TlsIncoming::new(listener, config, what, stopping)
                .map_err(|e| Error::Unavailable(format!("{what} listener: {e}")))?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(incoming, app).with_graceful_shutdown(stop).await {
                    tracing::warn!(error = %e, listener = what, "HTTPS listener stopped");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                    tracing::warn!(error = %e, listener = what, "HTTP listener stopped");
                }
            });
        }
    }
    Ok(addr)
}
