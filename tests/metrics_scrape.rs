//! The Prometheus endpoint of a running server: the metrics the wallboard
//! and alerts read are there, move with the calls, carry only bounded labels,
//! and pass `promtool check metrics` (Debian's `prometheus` package; the test
//! command installs it).

mod common;

use std::time::Duration;

use common::metrics::{scrape, value};
use common::TestServer;
use hotline::proto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_has_the_floor_in_bounded_labels_and_passes_promtool() {
    let s = TestServer::start().await;
    let addr = s.server.as_ref().unwrap().metrics_addr.expect("metrics listener");
    let waiting = s.start_call("+4000", "200").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let during = scrape(addr).await;
    assert!(
        value(&during, "hotline_calls_waiting{queue=\"repairs\"}").is_some_and(|v| v >= 1.0),
        "a waiting call shows: {during}"
    );
    let mut dave = s.agent("dave").await;
    let offer = dave.expect_offer(Duration::from_secs(5)).await;
    assert_eq!(offer.call_id, waiting.call_id);
    dave.accept(&waiting.call_id).await;
    dave.hangup(&waiting.call_id).await;
    dave.wrap_up(&waiting.call_id, proto::Disposition::Resolved, "boiler")
        .await;
    s.edge()
        .call
        .submit_survey(proto::SubmitSurveyRequest {
            call_id: waiting.call_id.clone(),
            satisfaction: 4,
        })
        .await
        .unwrap();
    // A refused request is counted with its code.
    let refused = s
        .clients(hotline::auth::Role::Agent, "dave")
        .report
        .get_queue_stats(proto::ReportRequest::default())
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::PermissionDenied);
    s.supervisor()
        .callback
        .create_callback(proto::CreateCallbackRequest {
            number: "+4001".into(),
            queue: "billing".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let text = scrape(addr).await;

    // Counters and histograms moved (this process's servers share a recorder,
    // so at least, not exactly).
    let at_least = |series: &str, min: f64| {
        let v = value(&text, series).unwrap_or_else(|| panic!("{series} missing:\n{text}"));
        assert!(v >= min, "{series} = {v}, expected >= {min}");
    };
    at_least("hotline_build_info{version=\"0.1.0\"}", 1.0);
    at_least(
        "hotline_calls_offered_total{queue=\"repairs\",tier=\"regular\"}",
        1.0,
    );
    at_least(
        "hotline_calls_answered_total{queue=\"repairs\",tier=\"regular\"}",
        1.0,
    );
    at_least(
        "hotline_wrap_ups_total{queue=\"repairs\",disposition=\"resolved\"}",
        1.0,
    );
    at_least("hotline_queue_wait_seconds_count{queue=\"repairs\"}", 1.0);
    at_least("hotline_call_handle_seconds_count{queue=\"repairs\"}", 1.0);
    at_least("hotline_engine_job_seconds_count", 1.0);
    at_least("hotline_callbacks_pending", 1.0);
    at_least("hotline_callbacks_created_total", 1.0);
    at_least("hotline_agents{state=\"available\"}", 1.0);
    // gRPC requests by method and code; store operations by backend and op.
    at_least(
        "hotline_grpc_requests_total{method=\"hotline.v1.CallService/StartCall\",code=\"OK\"}",
        1.0,
    );
    at_least(
        "hotline_grpc_requests_total{method=\"hotline.v1.ReportService/GetQueueStats\",code=\"PERMISSION_DENIED\"}",
        1.0,
    );
    at_least(
        "hotline_grpc_request_seconds_count{method=\"hotline.v1.CallService/StartCall\"}",
        1.0,
    );
    at_least(
        "hotline_store_operation_seconds_count{backend=\"memory\",op=\"write_batch\",result=\"ok\"}",
        1.0,
    );
    // The quality gauges (refreshed every second in tests) saw the
    // resolved wrap-up and the survey.
    at_least("hotline_fcr_declared_ratio{queue=\"repairs\"}", 0.0);
    at_least("hotline_fcr_observed_ratio{queue=\"repairs\"}", 0.0);
    at_least("hotline_satisfaction_mean{queue=\"repairs\"}", 1.0);
    // The queue-wait histogram has an edge at the service-level threshold (20 s).
    assert!(
        text.contains("hotline_queue_wait_seconds_bucket{queue=\"repairs\",le=\"20\"}"),
        "{text}"
    );
    // Bounded labels only: no per-agent, per-call or per-caller series.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        for forbidden in ["agent=", "call=", "caller=", "callback=", "ani=", "customer="] {
            assert!(!line.contains(forbidden), "unbounded label in {line}");
        }
    }

    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child =
        promtool.expect("promtool is missing: install Debian's prometheus package (./scripts/test does)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The store counts a reconnect when a real Redis comes back after being
/// unreachable, and times its operations by result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_comes_back_counts_as_a_reconnect() {
    use hotline::store::{Metered, RedisOptions, RedisStore, Store};
    let handle = hotline::metrics::install([]).expect("recorder");
    let mut redis = common::redis::RedisServer::start();
    let inner: std::sync::Arc<dyn Store> = std::sync::Arc::new(
        RedisStore::connect(&RedisOptions {
            url: redis.url(),
            namespace: "reconnect".into(),
            max_ended_calls: 10,
            response_timeout: Duration::from_millis(500),
        })
        .expect("store"),
    );
    let store = Metered::new(inner, "redis");
    let reconnects =
        |text: &str| value(text, "hotline_store_reconnects_total{backend=\"redis\"}").unwrap_or(0.0);
    store.ping().await.expect("redis answers");
    let before = reconnects(&handle.render());
    redis.kill();
    assert!(store.ping().await.is_err(), "redis is down");
    redis.restart();
    let mut back = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "redis answers again");
    let text = handle.render();
    assert_eq!(reconnects(&text) - before, 1.0, "{text}");
    assert!(
        value(
            &text,
            "hotline_store_operation_seconds_count{backend=\"redis\",op=\"ping\",result=\"error\"}"
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
}

/// A node that stops routing (shut down, or another node took the role)
/// leaves its live gauges at zero, so sums over a cluster's nodes count the
/// routing node alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_routing_zeroes_its_live_gauges() {
    // A server with a queue of its own: the gauges are the process's, and
    // this server zeroes every queue it knows when it stops.
    let config = format!(
        "skills = [\"vip\"]\n[server]\ngrpc_listen = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n[auth]\nsecret = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[web]\nlisten = \"\"\n[entry_points]\n\"700\" = \"solo\"\n[queues.solo]\nrequired_skills = [{{ skill = \"vip\", min_proficiency = 1 }}]\n",
        common::SECRET
    );
    let mut s = TestServer::with_config(&config).await;
    let addr = s.server.as_ref().unwrap().metrics_addr.expect("metrics listener");
    s.start_call("+4100", "700").await;
    let waiting = "hotline_calls_waiting{queue=\"solo\"}";
    let mut seen = None;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = value(&scrape(addr).await, waiting);
        if seen.is_some_and(|v| v >= 1.0) {
            break;
        }
    }
    assert_eq!(seen, Some(1.0), "the waiting call shows");
    let handle = hotline::metrics::install([]).expect("the process's recorder");
    s.server.take().unwrap().shutdown().await.unwrap();
    let text = handle.render();
    assert_eq!(value(&text, waiting), Some(0.0), "{text}");
}

/// The value of the first series of `name` whose labels include `label`.
fn labelled(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Scrapes until `enough` holds of the scrape, or ten seconds pass.
async fn scrape_until(addr: std::net::SocketAddr, enough: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(addr).await;
        if enough(&text) || tokio::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What could not be done shows on the scrape, not only in the log: a
/// recording that cannot start (its folder replaced by a file), and
/// datagrams a stranger sends to the media ports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_that_cannot_start_and_a_strangers_datagrams_are_counted() {
    use common::media::AudioRig;
    use hotline::client::softphone::tone;
    // Below the kernel's ephemeral range, so no test's OS-chosen port is in it.
    let (low, high) = (23_100u16, 23_139u16);
    let rig = AudioRig::start_with(&format!("udp_ports = \"{low}-{high}\"")).await;
    let addr = rig
        .server
        .server
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("metrics listener");
    let before = scrape(addr).await;
    let failed_before = value(&before, "hotline_recordings_failed_total").unwrap_or(0.0);
    let dropped = |t: &str| {
        labelled(
            t,
            "hotline_media_datagrams_dropped_total",
            "reason=\"unknown_source\"",
        )
    };
    let dropped_before = dropped(&before);

    // The recordings folder is gone, a file in its place.
    std::fs::remove_dir_all(&rig.recordings).ok();
    std::fs::write(&rig.recordings, b"not a folder").expect("write");
    let mut alice = rig.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let _phone = rig.softphone(&mut alice, tone(1000.0, 8000)).await;
    let call = rig.server.start_call("+704", "100").await;
    let _caller = rig.caller(&call.call_id, tone(440.0, 8000)).await;
    alice.available().await;
    alice.expect_offer(common::SOON).await;
    alice.accept(&call.call_id).await;

    // A stranger sends RTP-shaped datagrams to every media port.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut rtp = vec![0x80u8, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4];
    rtp.extend([0x7Fu8; 160]);
    for port in low..=high {
        for _ in 0..5 {
            stranger.send_to(&rtp, ("127.0.0.1", port)).await.expect("send");
        }
    }
    let after = scrape_until(addr, |t| {
        value(t, "hotline_recordings_failed_total").unwrap_or(0.0) > failed_before
            && dropped(t) >= dropped_before + 5.0
    })
    .await;
    assert!(
        value(&after, "hotline_recordings_failed_total").unwrap_or(0.0) > failed_before,
        "the recording that could not start is counted: {after}"
    );
    assert!(
        dropped(&after) >= dropped_before + 5.0,
        "the stranger's datagrams are counted as dropped: {after}"
    );
}
