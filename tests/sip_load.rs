//! `hotline loadgen sip` runs end to end: a real server process, sipp
//! callers on the trunk answered by sipp agent phones registered with
//! digest, every call bridged and recorded in stereo, and figures that add
//! up. (The figures themselves are for the notes, not asserted here.)

use std::time::Duration;

use hotline::loadgen::sip::{run, SipLoadOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_sip_answers_records_and_measures_every_trunk_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(&SipLoadOptions {
        calls: 6,
        rate: 6.0,
        warmup: Duration::from_millis(500),
        measure: Duration::from_secs(2),
        server_exe: env!("CARGO_BIN_EXE_hotline").into(),
        workdir: dir.path().to_path_buf(),
    })
    .await
    .expect("load run");
    assert_eq!(report.failed(), 0, "every call went through: {report}");
    assert_eq!(report.sipp_succeeded, 6, "sipp saw every call succeed: {report}");
    assert_eq!(report.peak_concurrent, 6, "all six were up at once: {report}");
    assert_eq!(report.recordings, 6, "every call is recorded: {report}");
    assert_eq!(
        report.sampled_stereo_ok, report.sampled,
        "caller left, agent's phone right: {report}"
    );
    assert!(
        report.server_cpu > Duration::ZERO,
        "the server's CPU is measured: {report}"
    );
    let per_call = report.recording_bytes_per_sec / report.measured_calls as f64;
    assert!(
        (20_000.0..45_000.0).contains(&per_call),
        "8 kHz stereo 16-bit is 32 kB/s a call: {report}"
    );
}
