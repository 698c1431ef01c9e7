//! The main job: the demo runs a call center over real gRPC and reports.

mod common;

use std::time::Duration;

use common::media::wav_files;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_answers_calls_and_reports_a_service_level() {
    let mut config = hotline::config::Config::load(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    config.media.recordings_dir = recordings.clone();
    let opts = hotline::demo::DemoOptions {
        duration: Duration::from_secs(6),
        calls_per_second: 3.0,
        mean_talk: Duration::from_secs(2),
        status_every: None,
        ..Default::default()
    };
    let metrics_port = common::process::free_port();
    let opts = hotline::demo::DemoOptions {
        metrics_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port))),
        ..opts
    };
    let demo = tokio::spawn(hotline::demo::run(config, opts));
    // While it runs, /metrics shows each queue's required and on-duty agents.
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(metrics).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the demo serves /metrics");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let text = common::metrics::scrape(metrics).await;
        let on_duty = common::metrics::value(&text, "hotline_staffing_on_duty_agents{queue=\"billing\"}");
        let required = common::metrics::value(&text, "hotline_staffing_required_agents{queue=\"billing\"}");
        if on_duty.is_some_and(|n| n > 0.0) && required.is_some_and(|n| n >= 1.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no staffing on /metrics: required {required:?}, on duty {on_duty:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = demo.await.expect("demo task").expect("demo runs");
    // The live board showed required against on duty per queue.
    assert!(
        report
            .staffing
            .get("billing")
            .is_some_and(|&(required, on_duty)| required >= 1 && on_duty >= 1),
        "{report}"
    );
    assert!(report.to_string().contains("required /"), "{report}");
    assert!(report.offered >= 5, "{report}");
    assert!(report.answered >= 3, "{report}");
    assert_eq!(
        report.offered,
        report.answered + report.abandoned + report.overflowed + report.rejected + report.still_open,
        "every call is accounted for: {report}"
    );
    assert!((0.0..=1.0).contains(&report.service_level));
    assert_eq!(report.calls_per_agent.values().sum::<u32>(), report.answered);
    let text = report.to_string();
    assert!(text.contains("service level"));
    // Open wrap-ups became callbacks, and first-call resolution is reported.
    assert!(text.contains("callbacks"), "{report}");
    assert!(text.contains("first-call resolution"), "{report}");
    // Open wrap-ups of known customers became cases.
    assert!(text.contains("cases"), "{report}");
    assert!(report.cases.1 + report.cases.2 == report.cases.0, "{report}");
    assert!(
        report.callbacks_met + report.callbacks_missed + report.callbacks_open <= report.callbacks_created,
        "{report}"
    );
    assert!(report.fcr.0 > 0 && report.fcr.1 <= report.fcr.0, "{report}");
    // The calls carried audio: every answered call left a stereo recording
    // with speech-like audio on both channels.
    assert!(
        report.recordings >= report.answered.saturating_sub(1) && report.recordings >= 2,
        "{report}"
    );
    let files = wav_files(&recordings);
    assert_eq!(files.len() as u32, report.recordings, "{report}");
    let loud = files
        .iter()
        .filter(|f| {
            let mut r = hound::WavReader::open(f).unwrap();
            let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
            let peak = |ch: usize| {
                all.iter()
                    .skip(ch)
                    .step_by(2)
                    .map(|s| s.unsigned_abs())
                    .max()
                    .unwrap_or(0)
            };
            peak(0) > 1000 && peak(1) > 1000
        })
        .count();
    assert!(
        loud >= 2,
        "recordings hold both parties' voices ({loud} of {})",
        files.len()
    );
}
