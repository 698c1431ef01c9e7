//! The main job: the demo runs a call center over real gRPC and reports.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_answers_calls_and_reports_a_service_level() {
    let config = hotline::config::Config::load(None).unwrap();
    let opts = hotline::demo::DemoOptions {
        duration: Duration::from_secs(6),
        calls_per_second: 3.0,
        mean_talk: Duration::from_secs(2),
        status_every: None,
        ..Default::default()
    };
    let report = hotline::demo::run(config, opts).await.expect("demo runs");
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
}
