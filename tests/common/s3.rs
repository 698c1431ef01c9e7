//! A real S3-protocol server per test: moto's standalone server (PyPI's
//! `moto[server]`, installed by ./scripts/test into target/s3-venv) on a
//! loopback port, killed on drop. Buckets are made with a plain PUT.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3Server {
    child: Child,
    pub port: u16,
}

/// Where the test command put moto's server (`HOTLINE_MOTO_SERVER` wins).
fn moto_server() -> PathBuf {
    std::env::var_os("HOTLINE_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/s3-venv/bin/moto_server"))
}

impl S3Server {
    pub fn start() -> S3Server {
        let port = super::process::free_port();
        let bin = moto_server();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the S3 test server {} is missing ({e}): ./scripts/test installs it (python3 -m venv target/s3-venv && target/s3-venv/bin/pip install 'moto[server]')",
                    bin.display()
                )
            });
        let server = S3Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.request("GET", "/").is_some() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the S3 test server on port {port} did not start");
    }

    /// One plain HTTP request; the response's status line and body.
    fn request(&self, method: &str, path: &str) -> Option<(String, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
            self.port
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        Some((head.lines().next()?.to_string(), body.to_string()))
    }

    /// Creates `bucket`.
    pub fn bucket(&self, bucket: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{bucket}"))
            .expect("the S3 server answers");
        assert!(
            status.contains(" 200"),
            "creating bucket {bucket}: {status} {body}"
        );
    }

    /// The keys in `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (_, body) = self
            .request("GET", &format!("/{bucket}?list-type=2"))
            .expect("the S3 server answers");
        body.split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }

    /// `[media]` lines that keep recordings in `bucket` under `prefix`.
    pub fn media_config(&self, bucket: &str, prefix: &str) -> String {
        format!(
            "storage = \"s3://{bucket}/{prefix}\"\nstorage_options = {{ endpoint = \"http://127.0.0.1:{}\", region = \"us-east-1\", aws_allow_http = \"true\", access_key_id = \"test\", secret_access_key = \"test\" }}\n",
            self.port
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
