//! The shipped Prometheus rules against the real thing: `promtool` accepts
//! the rules and the scrape config, every hotline series the rules use exists
//! in a running server's scrape, and a real Prometheus (Debian's package)
//! scraping a running demo answers the wallboard's queries with data.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RULES: &str = "deploy/prometheus/rules.yml";

/// GET `path` over HTTP/1.0; the body.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connects");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// GET `path`, or none when nothing listens (the demo has ended).
async fn try_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// The metric names (series names, histograms' `_bucket` etc. included) in
/// a scrape.
fn scraped_names(scrape: &str) -> Vec<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The hotline series the Grafana dashboards' PromQL reads.
fn dashboard_series() -> Vec<String> {
    let mut used = Vec::new();
    for entry in std::fs::read_dir("deploy/grafana/dashboards").unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let board: serde_json::Value = serde_json::from_str(&text).unwrap();
        for panel in board["panels"].as_array().into_iter().flatten() {
            for t in panel["targets"].as_array().into_iter().flatten() {
                used.extend(series_used(t["expr"].as_str().unwrap_or_default()));
            }
        }
    }
    used.sort();
    used.dedup();
    used
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool is missing: install Debian's prometheus package (./scripts/test does)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// hotline_* series named in `text` (not recording rules' `level:name:op`).
fn series_used(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(^|[^:\w])(hotline_[a-z0-9_]+)").unwrap();
    let mut v: Vec<String> = re.captures_iter(text).map(|c| c[2].to_string()).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn promtool_accepts_the_rules_and_the_scrape_config() {
    promtool(&["check", "rules", RULES]);
    promtool(&["check", "config", "deploy/prometheus/prometheus.yml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_rules_use_is_in_a_running_servers_scrape() {
    let s = common::TestServer::start().await;
    // Traffic, so the event-driven series exist: answered, abandoned, a callback.
    let mut dave = s.agent("dave").await;
    let call = s.start_call("+5000", "200").await;
    dave.expect_offer(Duration::from_secs(5)).await;
    dave.accept(&call.call_id).await;
    dave.hangup(&call.call_id).await;
    dave.wrap_up(&call.call_id, hotline::proto::Disposition::Resolved, "x")
        .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let scrape = get(s.server.as_ref().unwrap().metrics_addr.unwrap(), "/metrics").await;
    let have: Vec<&str> = scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let rules = std::fs::read_to_string(RULES).unwrap();
    let used = series_used(&rules);
    assert!(used.len() >= 10, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|u| !have.contains(&u.as_str())).collect();
    assert!(
        missing.is_empty(),
        "used by the rules but not in the scrape: {missing:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `data.result` array of a Prometheus instant query.
async fn query(prom: SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/query?query={}", urlencode(q));
    let body = get(prom, &path).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scraping_the_demo_answers_the_wallboard_queries() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let web = SocketAddr::from(([127, 0, 0, 1], free_port()));
    std::fs::copy(RULES, dir.path().join("rules.yml")).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: hotline\n    static_configs:\n      - targets: [\"{metrics}\"]\n"
        ),
    )
    .unwrap();
    let mut config = hotline::config::Config::load(None).unwrap();
    config.metrics.quality_every_secs = 1;
    config.media.recordings_dir = dir.path().join("recordings");
    let demo = tokio::spawn(hotline::demo::run(
        config,
        hotline::demo::DemoOptions {
            duration: Duration::from_secs(12),
            calls_per_second: 3.0,
            mean_talk: Duration::from_secs(3),
            status_every: None,
            metrics_listen: Some(metrics),
            ..Default::default()
        },
    ));
    let mut prometheus = Command::new("prometheus")
        .current_dir(dir.path())
        .args([
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=data",
            &format!("--web.listen-address={web}"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("prometheus is missing: install Debian's prometheus package (./scripts/test does)");
    let mut waiting = Vec::new();
    let mut service_level = Vec::new();
    // Every series the dashboards read, against the demo's own scrape.
    let dashboards = dashboard_series();
    assert!(dashboards.len() >= 25, "{dashboards:?}");
    let mut missing = dashboards.clone();
    let mut last_scrape = String::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Kept once seen: the series go stale when the demo ends.
        if waiting.is_empty() {
            waiting = query(web, "hotline_calls_waiting").await;
        }
        if service_level.is_empty() {
            service_level = query(web, "queue:hotline_service_level:ratio_rate5m").await;
        }
        if let Some(scrape) = try_get(metrics, "/metrics").await {
            let have = scraped_names(&scrape);
            missing.retain(|m| !have.contains(m));
            last_scrape = scrape;
        }
        if !waiting.is_empty() && !service_level.is_empty() && missing.is_empty() {
            break;
        }
    }
    assert!(
        missing.is_empty(),
        "read by the dashboards but not in the demo's scrape: {missing:?}"
    );
    // Media moved: audio packets in (read in batches by the media
    // shards), recordings written.
    for series in [
        "hotline_media_packets_received_total{transport=\"webrtc\"}",
        "hotline_media_datagrams_received_total{transport=\"webrtc\"}",
        "hotline_media_recv_calls_total{transport=\"webrtc\"}",
        "hotline_media_datagrams_sent_total{transport=\"webrtc\"}",
        "hotline_recording_bytes_total",
    ] {
        let v = last_scrape
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        assert!(v.is_some_and(|v| v > 0.0), "{series} = {v:?}");
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let report = demo.await.unwrap().expect("demo runs");
    // What the wallboard saw (for the record: cargo test -- --nocapture).
    eprintln!(
        "hotline_calls_waiting: {waiting:?}\nqueue:hotline_service_level:ratio_rate5m: {service_level:?}"
    );
    assert!(!waiting.is_empty(), "calls waiting has data");
    assert!(
        !service_level.is_empty(),
        "the service-level recording rule has data (demo: {report})"
    );
    let sl: f64 = service_level[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&sl), "{sl}");
    assert!(Path::new(&dir.path().join("data")).exists());
}
