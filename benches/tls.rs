//! What TLS costs a hotline listener: full handshakes against the TLS
//! acceptor the server uses (`hotline::tls`, a `hotline dev-cert` P-256
//! certificate, TLS 1.3 with ring), over loopback, one after another, a
//! fresh client session each time (no resumption: the worst case, an agent
//! page or node connecting for the first time).
//!
//! Figures printed: handshakes per second, latency p50 / p99, and the
//! process CPU per handshake (client and server together: both run here).
//! Under `cargo test` (no `--bench`) it runs 20 handshakes as a smoke test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cpu_time() -> Duration {
    // user + system time of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 after ')'.
    let hz = 100;
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 2000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = hotline::tls::dev_cert::write(dir.path(), &[]).expect("dev cert");
        let server = hotline::tls::ServerTls::from_files(&cert.cert_file, &cert.key_file)
            .expect("tls")
            .expect("configured");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (_stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut incoming = hotline::tls::TlsIncoming::new(listener, server.http.clone(), "bench", stop_rx)
            .expect("incoming");
        tokio::spawn(async move {
            use futures::StreamExt;
            while let Some(Ok(mut conn)) = incoming.next().await {
                tokio::spawn(async move {
                    let mut byte = [0u8; 1];
                    if conn.read_exact(&mut byte).await.is_ok() {
                        let _ = conn.write_all(&byte).await;
                    }
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&cert.ca_file).expect("ca") {
            roots.add(c.expect("cert")).expect("root");
        }
        let mut latencies = Vec::with_capacity(n);
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        for _ in 0..n {
            // A new client config each time: no session to resume.
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let started = Instant::now();
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut tls = connector
                .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
                .await
                .expect("handshake");
            // One byte there and back: the handshake is complete on both sides.
            tls.write_all(b"x").await.expect("write");
            let mut byte = [0u8; 1];
            tls.read_exact(&mut byte).await.expect("read");
            latencies.push(started.elapsed());
        }
        let wall = t0.elapsed();
        let cpu = cpu_time().saturating_sub(cpu0);
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "tls/handshake: {n} full TLS 1.3 handshakes (P-256 dev cert, ring, loopback): {:.0} per second, p50 {:?}, p99 {:?}, CPU {:.0} µs per handshake (client and server)",
            n as f64 / wall.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            cpu.as_secs_f64() * 1e6 / n as f64,
        );
    });
}
