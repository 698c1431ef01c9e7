//! Accepting TLS connections: one task accepts TCP and hands each new
//! connection's handshake to a task of its own, so a slow or silent client
//! holds up nobody; finished handshakes queue for the server (tonic takes
//! them as a stream, axum as a listener).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::HANDSHAKE_TIMEOUT;

/// Handshaken connections waiting for the server to take them.
const QUEUED: usize = 256;

/// A TLS connection from a client.
pub struct TlsConn {
    stream: TlsStream<TcpStream>,
}

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    /// The TCP addresses, as for a plain connection (logs and limits read
    /// them the same way).
    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.get_ref().0.connect_info()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The connections of one listener, handshaken.
pub struct TlsIncoming {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsConn, SocketAddr)>,
}

impl TlsIncoming {
    /// Accepts on `listener` until `shutdown`, shaking hands with `config`.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        what: &'static str,
        mut shutdown: watch::Receiver<bool>,
    ) -> io::Result<TlsIncoming> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(QUEUED);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of descriptors and the like: pause, as
                            // axum and tonic do, rather than spin.
                            debug!(listener = what, error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((TlsConn { stream }, peer)).await;
                        }
                        // A client that is not speaking TLS, or gave up: its
                        // own problem, not the server's.
                        Ok(Err(e)) => debug!(listener = what, %peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(listener = what, %peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsIncoming { local, ready })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next handshaken connection and its peer; none after shutdown.
    pub async fn accept(&mut self) -> Option<(TlsConn, SocketAddr)> {
        self.ready.recv().await
    }
}

impl futures::Stream for TlsIncoming {
    type Item = io::Result<TlsConn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .ready
            .poll_recv(cx)
            .map(|c| c.map(|(conn, _)| Ok(conn)))
    }
}

impl axum::serve::Listener for TlsIncoming {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task has stopped (shutdown): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
