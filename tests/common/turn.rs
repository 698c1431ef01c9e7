//! A real TURN server for the tests: coturn's `turnserver` (Debian's
//! `coturn`; the test command installs it) on a free loopback port, taking
//! TURN REST credentials made from a shared secret, and relaying to
//! loopback peers (where the test's hotline listens).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "turn-test-secret-0123456789";

/// turnserver, killed when dropped.
pub struct Turn {
    child: Child,
    pub port: u16,
    pub log: std::path::PathBuf,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Turn {
    pub fn start(dir: &std::path::Path) -> Turn {
        let port = super::sip::free_udp_port();
        let log = dir.join("turnserver.log");
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                "--min-port=40000",
                "--max-port=40999",
                "--use-auth-secret",
                &format!("--static-auth-secret={SECRET}"),
                "--realm=hotline.test",
                "--allow-loopback-peers",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--fingerprint",
                "--verbose",
                &format!("--log-file={}", log.display()),
                "--simple-log",
                &format!("--pidfile={}", dir.join("turnserver.pid").display()),
                &format!("--userdb={}", dir.join("turndb").display()),
            ])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver starts (apt-get install coturn; ./scripts/test installs it)");
        // Ready once its relay servers are up (UDP gives no connect to
        // wait on).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Total General servers") {
                break;
            }
            assert!(Instant::now() < deadline, "turnserver listens on {port}:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Turn { child, port, log }
    }

    /// The [turn] table for a hotline serving through this server.
    pub fn config(&self, relay_only: bool) -> String {
        format!(
            "\n[turn]\nurls = [\"turn:127.0.0.1:{}?transport=udp\"]\nsecret = \"{SECRET}\"\nrelay_only = {relay_only}\n",
            self.port
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
