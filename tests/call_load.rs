//! `hotline loadgen calls` runs end to end: a real server process, bridged
//! recorded calls between synthetic WebRTC peers, and figures that add up.
//! (The figures themselves are for the notes, not asserted here.)

use std::time::Duration;

use hotline::loadgen::calls::{run, CallLoadOptions, Topology};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_bridges_and_records_every_call_and_measures_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(&CallLoadOptions {
        calls: 3,
        topology: Topology::Single,
        warmup: Duration::from_millis(500),
        measure: Duration::from_secs(2),
        server_exe: env!("CARGO_BIN_EXE_hotline").into(),
        workdir: dir.path().to_path_buf(),
    })
    .await
    .expect("load run");
    assert_eq!(report.connected, 3, "every call is bridged: {report}");
    // Both ends of 3 calls play 50 frames a second.
    assert!(report.frames >= 6 * 50, "peers played their frames: {report}");
    assert!(report.loss_percent() < 5.0, "audio flows both ways: {report}");
    assert!(
        report.server_cpu > Duration::ZERO,
        "the server's CPU is measured: {report}"
    );
    // 8 kHz stereo 16-bit is 32 kB/s a call.
    let per_call = report.recording_bytes_per_sec / 3.0;
    assert!(
        (20_000.0..45_000.0).contains(&per_call),
        "every call is recorded: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_carries_calls_across_two_nodes_and_measures_both_and_the_delay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run(&CallLoadOptions {
        calls: 3,
        topology: Topology::CrossNode,
        warmup: Duration::from_millis(500),
        measure: Duration::from_secs(3),
        server_exe: env!("CARGO_BIN_EXE_hotline").into(),
        workdir: dir.path().to_path_buf(),
    })
    .await
    .expect("load run");
    assert_eq!(
        report.connected, 3,
        "every call is bridged across the nodes: {report}"
    );
    assert!(report.loss_percent() < 5.0, "audio flows both ways: {report}");
    assert_eq!(report.node_cpu.len(), 2, "{report}");
    assert!(
        report.node_cpu.iter().all(|c| *c > Duration::ZERO),
        "both nodes' CPU is measured: {report}"
    );
    // Every party says a burst a second: the far ends heard them.
    assert!(report.caller_to_agent.samples >= 3, "{report}");
    assert!(report.agent_to_caller.samples >= 3, "{report}");
}
