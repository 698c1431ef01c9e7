//! TLS for hotline's listeners (the gRPC port with grpc-web, the web app,
//! metrics) and for the clients that call them (other nodes, the command
//! line), with rustls and the process's one crypto provider (ring).
//!
//! Invariants:
//! - A node serves TLS on every listener or on none: one certificate,
//!   `[tls] cert_file` and `key_file`, configured together.
//! - Certificates are reloaded when their files change ([`RELOAD_EVERY`]):
//!   connections already open keep the certificate they shook hands with;
//!   a file that does not read (half-written, a key that does not match)
//!   leaves the current certificate serving, with a warning and
//!   `hotline_tls_reloads_total{result="failed"}`.
//! - A TLS handshake never holds up the accept loop: each runs in its own
//!   task, bounded by [`HANDSHAKE_TIMEOUT`].
//! - Without a certificate, listeners speak plain text and say so in the
//!   log (a warning when they listen beyond loopback: browsers give a page
//!   served that way no microphone).

mod accept;
pub mod dev_cert;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tracing::{info, warn};

pub use accept::{TlsConn, TlsIncoming};

/// How often the certificate files are checked for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The longest a client may take over its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("the certificate and key do not go together: {0}")]
    Mismatch(String),
    #[error("TLS settings: {0}")]
    Settings(String),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Reads a PEM certificate chain and its key as one serving identity.
pub fn load_identity(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| file_error(cert_file, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert_file, e))?;
    if chain.is_empty() {
        return Err(file_error(cert_file, "no CERTIFICATE in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error(key_file, e))?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Mismatch(e.to_string()))
}

/// Reads the certificates (PEM) a client trusts besides the public roots.
pub fn load_roots(ca_file: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(ca_file).map_err(|e| file_error(ca_file, e))?;
    roots_in(ca_file, &pem)
}

/// The certificates in `pem` (read from `ca_file`); none is an error.
fn roots_in(ca_file: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let roots = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(ca_file, e))?;
    if roots.is_empty() {
        return Err(file_error(ca_file, "no CERTIFICATE in the file"));
    }
    Ok(roots)
}

/// A client configuration trusting the public roots and `ca_file`'s
/// certificates ("" = the public roots only), for HTTPS clients (the
/// identity provider's keys).
pub fn client_config(ca_file: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !ca_file.as_os_str().is_empty() {
        for cert in load_roots(ca_file)? {
            roots.add(cert).map_err(|e| file_error(ca_file, e))?;
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Settings(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The serving identity, swapped when its files change.
#[derive(Debug)]
struct ReloadingIdentity {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when `current` was read.
    read_at: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ReloadingIdentity {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (modified(&self.cert_file), modified(&self.key_file))
    }

    /// Reads the files again if they changed; an error keeps the current
    /// identity.
    fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        let stamps = self.stamps();
        let mut read_at = self.read_at.lock().ok()?;
        if *read_at == stamps {
            return None;
        }
        *read_at = stamps;
        Some(load_identity(&self.cert_file, &self.key_file).map(|key| {
            if let Ok(mut current) = self.current.write() {
                *current = Arc::new(key);
            }
        }))
    }
}

impl ResolvesServerCert for ReloadingIdentity {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// TLS for this node's listeners.
#[derive(Clone, Debug)]
pub struct ServerTls {
    identity: Arc<ReloadingIdentity>,
    /// The gRPC port: HTTP/2 for gRPC, HTTP/1.1 for grpc-web.
    pub grpc: Arc<rustls::ServerConfig>,
    /// The web app and metrics: HTTP/1.1.
    pub http: Arc<rustls::ServerConfig>,
    /// SIP over TLS (RFC 3261 26.2; no ALPN).
    pub sip: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// TLS serving `cert_file` with `key_file`, or none when both are
    /// empty (plain text).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Option<ServerTls>, TlsError> {
        match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
            (true, true) => return Ok(None),
            (false, false) => {}
            _ => {
                return Err(TlsError::Settings(
                    "tls.cert_file and tls.key_file go together".into(),
                ))
            }
        }
        let identity = Arc::new(ReloadingIdentity {
            cert_file: cert.to_path_buf(),
            key_file: key.to_path_buf(),
            current: RwLock::new(Arc::new(load_identity(cert, key)?)),
            read_at: Mutex::new((None, None)),
        });
        let stamps = identity.stamps();
        if let Ok(mut read_at) = identity.read_at.lock() {
            *read_at = stamps;
        }
        let build = |alpn: &[&[u8]]| -> Result<Arc<rustls::ServerConfig>, TlsError> {
            let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Settings(e.to_string()))?
                .with_no_client_auth()
                .with_cert_resolver(identity.clone());
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(Arc::new(c))
        };
        Ok(Some(ServerTls {
            grpc: build(&[b"h2", b"http/1.1"])?,
            http: build(&[b"http/1.1"])?,
            sip: build(&[])?,
            identity,
        }))
    }

    /// Checks the certificate files every [`RELOAD_EVERY`] until
    /// `shutdown`, and serves what they hold once they read; `reloaded`
    /// hears each outcome (true: served) for the metrics.
    pub fn spawn_reloader(&self, mut shutdown: watch::Receiver<bool>, reloaded: fn(bool)) {
        let identity = self.identity.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
                }
                let check = identity.clone();
                let outcome = tokio::task::spawn_blocking(move || check.reload_if_changed())
                    .await
                    .ok()
                    .flatten();
                match outcome {
                    None => {}
                    Some(Ok(())) => {
                        info!(cert = %identity.cert_file.display(), "TLS certificate reloaded");
                        reloaded(true);
                    }
                    Some(Err(e)) => {
                        warn!(error = %e, "the TLS certificate files changed but do not read; the previous certificate still serves");
                        reloaded(false);
                    }
                }
            }
        });
    }
}

/// Says in the log how a listener serves: TLS, or plain text (a warning
/// beyond loopback).
pub fn announce(what: &str, addr: std::net::SocketAddr, tls: bool) {
    if tls {
        info!(%addr, listener = what, "serving TLS");
    } else if addr.ip().is_loopback() {
        info!(%addr, listener = what, "serving plain text (loopback only; set [tls] to serve other hosts)");
    } else {
        warn!(%addr, listener = what, "serving plain text beyond loopback: traffic is readable on the network and browsers give remote agents no microphone; set [tls] cert_file and key_file");
    }
}

/// How this process reaches hotline servers (its peers, or the server a
/// console command talks to): plain HTTP/2, or TLS trusting the public
/// roots and `[tls] ca_file`. A node that serves TLS calls its peers over
/// TLS: a cluster is TLS throughout or not at all.
#[derive(Clone, Debug, Default)]
pub struct PeerTls {
    /// None: plain text. Some(ca_file): TLS ("" = public roots only).
    ca_file: Option<PathBuf>,
}

impl PeerTls {
    /// Plain HTTP/2.
    pub fn plain() -> PeerTls {
        PeerTls::default()
    }

    /// TLS, trusting the public roots and `ca_file`'s certificates ("" =
    /// the public roots only).
    pub fn trusting(ca_file: PathBuf) -> PeerTls {
        PeerTls {
            ca_file: Some(ca_file),
        }
    }

    pub fn enabled(&self) -> bool {
        self.ca_file.is_some()
    }

    /// An endpoint for `addr` ("host:port"), not yet connected.
    pub fn endpoint(&self, addr: &str) -> Result<tonic::transport::Endpoint, TlsError> {
        let bad = |e: &dyn std::fmt::Display| TlsError::Settings(format!("address {addr}: {e}"));
        let Some(ca_file) = &self.ca_file else {
            return tonic::transport::Endpoint::from_shared(format!("http://{addr}")).map_err(|e| bad(&e));
        };
        let host = addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or(addr);
        let mut config = tonic::transport::ClientTlsConfig::new()
            .with_webpki_roots()
            .domain_name(host);
        if !ca_file.as_os_str().is_empty() {
            let pem = std::fs::read(ca_file).map_err(|e| file_error(ca_file, e))?;
            // Refuse a file that holds no certificate now, not at connect.
            roots_in(ca_file, &pem)?;
            config = config.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|e| bad(&e))?
            .tls_config(config)
            .map_err(|e| bad(&e))
    }
}
