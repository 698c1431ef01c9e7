//! Real `hotline serve` processes for tests that kill them (kill -9) or
//! run several side by side.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hotline::client;

/// A `hotline serve` process, killed on drop.
pub struct Node {
    child: Option<Child>,
    pub addr: std::net::SocketAddr,
}

impl Node {
    pub fn start(config: &std::path::Path, name: &str) -> Node {
        Self::start_with(config, name, &[], None)
    }

    /// A node with more environment (configuration overrides such as
    /// `HOTLINE_METRICS__LISTEN`), logging at info to `log` if given.
    pub fn start_with(
        config: &std::path::Path,
        name: &str,
        env: &[(&str, String)],
        log: Option<&std::path::Path>,
    ) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "serve",
                "--listen",
                &addr.to_string(),
            ])
            .env("HOTLINE_CLUSTER__NODE_ID", name)
            .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("hotline binary");
        Node {
            child: Some(child),
            addr,
        }
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A channel to the node at `addr` once it serves.
pub async fn connect(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    for _ in 0..200 {
        if let Ok(ch) = client::channel(addr).await {
            super::wait_serving(&ch).await;
            return ch;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node at {addr} did not come up");
}
