//! TLS on every listener from a certificate `hotline dev-cert` made: gRPC
//! (and the clients built on it), the web app and metrics over HTTPS, a
//! two-node cluster whose nodes call each other over TLS, certificates
//! reloaded when their files change (and kept when a change does not read),
//! and plain-text clients refused.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::metrics::counter;
use common::redis::RedisServer;
use common::{TestServer, CONFIG, SOON};
use hotline::auth::Role;
use hotline::proto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The test configuration serving the certificate in `dir`.
fn tls_config(base: &str, dir: &Path) -> String {
    format!(
        "{base}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
        dir.join("cert.pem").display().to_string(),
        dir.join("key.pem").display().to_string(),
        dir.join("ca.pem").display().to_string(),
    )
}

/// A TLS client trusting only `ca.pem` in `dir`.
fn connector(dir: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.pem")).expect("ca.pem") {
        roots.add(c.expect("a certificate")).expect("a root");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The server certificate `addr` presents to a client trusting `dir`'s
/// authority, or the handshake's error.
async fn presented(dir: &Path, addr: std::net::SocketAddr) -> Result<Vec<u8>, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let tls = connector(dir)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (_, session) = tls.get_ref();
    Ok(session.peer_certificates().expect("a certificate")[0].to_vec())
}

/// GET `path` over HTTPS: the status line and body.
async fn https_get(dir: &Path, addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector(dir).connect(name, tcp).await.expect("handshake");
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut raw = Vec::new();
    // A server may close without close_notify; what arrived is enough.
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

fn first_cert(path: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(path)
        .expect("pem")
        .next()
        .expect("one")
        .expect("a certificate")
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_serves_tls_from_a_dev_cert_and_plain_text_clients_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The command, as a person would run it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["dev-cert", "--out"])
        .arg(dir.path())
        .output()
        .expect("hotline dev-cert runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("--ignore-certificate-errors-spki-list="), "{said}");
    let s = TestServer::with_config(&tls_config(CONFIG, dir.path())).await;
    let running = s.server.as_ref().expect("running");

    // gRPC over TLS: the whole test client works through it.
    let agents = s
        .clients(Role::Admin, "ada")
        .admin
        .list_agent_profiles(proto::ListRequest::default())
        .await
        .expect("a call over TLS")
        .into_inner();
    assert!(agents.agents.iter().any(|a| a.id == "alice"), "{agents:?}");
    let call = s.start_call("+2000", "100").await;
    assert_eq!(call.queue, "billing");

    // A plain-text client gets nowhere.
    let plain = hotline::client::channel(running.addr).await;
    let refused = match plain {
        Err(e) => e.to_string(),
        Ok(ch) => tonic_health::pb::health_client::HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect_err("plain text is not spoken here")
            .to_string(),
    };
    assert!(!refused.is_empty());

    // The web app and metrics over HTTPS.
    let web = running.web_addr.expect("web");
    let (status, body) = https_get(dir.path(), web, "/agent.html").await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("agent.js"), "the agent page");
    let metrics = running.metrics_addr.expect("metrics");
    let (status, body) = https_get(dir.path(), metrics, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("hotline_tls_reloads_total"), "metrics over TLS");
    // The web listener presents the certificate the files hold.
    assert_eq!(
        presented(dir.path(), web).await.expect("handshake"),
        first_cert(&dir.path().join("cert.pem"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    hotline::tls::dev_cert::write(dir.path(), &[]).expect("dev cert");
    let s = TestServer::with_config(&tls_config(CONFIG, dir.path())).await;
    let running = s.server.as_ref().expect("running");
    let old = first_cert(&dir.path().join("cert.pem"));
    assert_eq!(presented(dir.path(), running.addr).await.expect("handshake"), old);

    // A half-written file: the old certificate goes on serving, and the
    // failure is counted.
    let metrics = running.metrics_addr.expect("metrics");
    let failed = "hotline_tls_reloads_total{result=\"failed\"}";
    let failed_before = counter(&https_get(dir.path(), metrics, "/metrics").await.1, failed);
    std::fs::write(dir.path().join("cert.pem"), "-----BEGIN CERTIFICATE-----\nbroken").expect("write");
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter(&https_get(dir.path(), metrics, "/metrics").await.1, failed) <= failed_before {
        assert!(Instant::now() < deadline, "the broken file is noticed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        presented(dir.path(), running.addr).await.expect("still serving"),
        old
    );

    // A new certificate (same authority's name, new keys) in place: new
    // connections get it; the server was not restarted.
    let fresh = tempfile::tempdir().expect("tempdir");
    hotline::tls::dev_cert::write(fresh.path(), &[]).expect("dev cert");
    for f in ["key.pem", "cert.pem", "ca.pem"] {
        std::fs::copy(fresh.path().join(f), dir.path().join(f)).expect("replace");
    }
    let new = first_cert(&dir.path().join("cert.pem"));
    assert_ne!(new, old);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if presented(dir.path(), running.addr).await.ok().as_ref() == Some(&new) {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate is served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // gRPC through a fresh connection trusting the new authority.
    let tls = hotline::config::Config::from_toml(&tls_config(CONFIG, dir.path()))
        .expect("config")
        .tls
        .peers();
    let ch = hotline::client::channel_with(running.addr, &tls)
        .await
        .expect("connects");
    let mut c = hotline::client::Clients::new(ch, &s.token(Role::Supervisor, "sam")).expect("clients");
    c.supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .expect("a call on the new certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_serving_tls_route_a_call_between_them() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    hotline::tls::dev_cert::write(dir.path(), &[]).expect("dev cert");
    let config = tls_config(&common::media::cluster_config(&redis, ""), dir.path());
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;
    // alice is on node b, the caller enters node a: whichever routes, the
    // other forwards to it over TLS.
    let mut alice = b.agent("alice").await;
    let call = a.start_call("+2000", "100").await;
    let offered = alice.expect_offer(SOON).await;
    assert_eq!(offered.call_id, call.call_id);
    alice.accept(&call.call_id).await;
    assert_eq!(a.get_call(&call.call_id).await.agent_id, "alice");
}
