//! The web listener over plain HTTP/1.1: the embedded pages with their
//! security headers and cache validators, nothing outside them, and
//! grpc-web on the same origin under the same authentication and roles as
//! native gRPC.

mod common;

use std::net::SocketAddr;

use common::TestServer;
use hotline::auth::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 exchange: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

fn web(s: &TestServer) -> SocketAddr {
    s.server
        .as_ref()
        .and_then(|r| r.web_addr)
        .expect("the test server serves the web app")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_listener_serves_the_embedded_pages_with_safe_headers() {
    let s = TestServer::start().await;
    let addr = web(&s);

    let index = http(addr, "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    assert!(index
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let html = String::from_utf8_lossy(&index.body);
    for page in ["agent.html", "supervisor.html", "admin.html", "caller.html"] {
        assert!(html.contains(page), "the index links {page}");
    }
    let csp = index.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));

    for (path, kind) in [
        ("/agent.html", "text/html"),
        ("/supervisor.html", "text/html"),
        ("/caller.html", "text/html"),
        ("/admin.html", "text/html"),
        ("/agent.js", "javascript"),
        ("/admin.js", "javascript"),
        ("/style.css", "text/css"),
    ] {
        let r = http(addr, "GET", path, &[], b"").await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").is_some_and(|t| t.contains(kind)),
            "{path}"
        );
        assert!(!r.body.is_empty(), "{path}");
    }

    // Browsers that take gzip get the files compressed.
    let zipped = http(addr, "GET", "/agent.js", &[("Accept-Encoding", "gzip")], b"").await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let plain = http(addr, "GET", "/agent.js", &[], b"").await;
    assert!(plain.header("content-encoding").is_none());
    assert!(
        zipped.body.len() < plain.body.len() / 2,
        "{} bytes gzipped of {}",
        zipped.body.len(),
        plain.body.len()
    );

    // Unchanged files revalidate to 304 by their ETag.
    let page = http(addr, "GET", "/agent.html", &[], b"").await;
    let etag = page.header("etag").expect("an ETag").to_string();
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let again = http(addr, "GET", "/agent.html", &[("If-None-Match", &etag)], b"").await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    // Nothing outside the embedded set, and no writes.
    for path in [
        "/nope.html",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/src/main.rs",
    ] {
        assert_eq!(http(addr, "GET", path, &[], b"").await.status, 404, "{path}");
    }
    assert_eq!(http(addr, "POST", "/agent.html", &[], b"x").await.status, 405);
}

/// A grpc-web request for `SupervisorService.ListAgents` (an empty
/// message), with `token` if any; returns the grpc-status the server gave.
async fn list_agents(addr: SocketAddr, token: Option<&str>) -> (String, Reply) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("Content-Type", "application/grpc-web+proto"),
        ("X-Grpc-Web", "1"),
    ];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b));
    }
    let frame = [0u8, 0, 0, 0, 0];
    let r = http(
        addr,
        "POST",
        "/hotline.v1.SupervisorService/ListAgents",
        &headers,
        &frame,
    )
    .await;
    assert_eq!(r.status, 200, "grpc-web answers in HTTP 200");
    // Trailers-only replies carry the status in the headers; others in a
    // trailer frame (flag 0x80) at the end of the body.
    let status = match r.header("grpc-status") {
        Some(s) => s.to_string(),
        None => {
            let text = String::from_utf8_lossy(&r.body).to_string();
            text.split("grpc-status:")
                .nth(1)
                .map(|rest| rest.trim().chars().take_while(char::is_ascii_digit).collect())
                .expect("a grpc-status trailer")
        }
    };
    (status, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_on_the_web_listener_is_authenticated_and_role_checked() {
    let s = TestServer::start().await;
    let addr = web(&s);
    let (status, _) = list_agents(addr, None).await;
    assert_eq!(status, "16", "no token: UNAUTHENTICATED");
    let (status, _) = list_agents(addr, Some("not-a-token")).await;
    assert_eq!(status, "16", "a bad token: UNAUTHENTICATED");
    let agent = s.token(Role::Agent, "alice");
    let (status, _) = list_agents(addr, Some(&agent)).await;
    assert_eq!(status, "7", "an agent: PERMISSION_DENIED");
    let supervisor = s.token(Role::Supervisor, "sam");
    let (status, reply) = list_agents(addr, Some(&supervisor)).await;
    assert_eq!(status, "0", "a supervisor: OK");
    assert_eq!(reply.body.first(), Some(&0u8), "a data frame comes first");
}
