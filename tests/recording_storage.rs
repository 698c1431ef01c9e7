//! Recordings in shared object storage: a real S3-protocol server (moto) on
//! loopback and `hotline serve` processes on one Redis. A finished recording
//! moves from the node's spool to the bucket and plays through any node,
//! also after the node that made it was killed and never restarted; a node
//! killed mid-call uploads what it left when it comes back; retention
//! sweeps the bucket.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::media::{channel_share, loopback};
use common::redis::RedisServer;
use common::s3::S3Server;
use common::sites::{agent, answered_call, fetch_recording, recording_when, start, Site};
use hotline::media::archive::Archive;
use hotline::media::webrtc::WebRtcEndpoint;
use hotline::proto;
use hotline::time::Timestamp;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const BUCKET: &str = "calls";

/// Fetches `call_id`'s recording through `site` and checks its sides.
async fn plays_through(site: &Site, call_id: &str, dir: &std::path::Path, name: &str) {
    let path = dir.join(format!("{name}.wav"));
    fetch_recording(site, call_id, &path).await;
    let (l, r) = (
        channel_share(&path, 0, CALLER_HZ),
        channel_share(&path, 1, AGENT_HZ),
    );
    assert!(l > 0.7, "{name}: the caller on the left ({l:.2})");
    assert!(r > 0.7, "{name}: the agent on the right ({r:.2})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_of_a_killed_node_play_through_the_others_from_object_storage() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let media = s3.media_config(BUCKET, "prod");
    let a = start(dir.path(), &redis, "a", &media).await;
    let mut b = start(dir.path(), &redis, "b", &media).await;
    let endpoint = WebRtcEndpoint::new(&loopback()).expect("endpoint");

    // Call 1, all on node b, ends: its recording goes to the bucket.
    let (mut alice, _alice_phone) = agent(&b, &endpoint, "alice", AGENT_HZ).await;
    let (call_1, _caller_1) = answered_call(&b, &endpoint, &mut alice, "+701", CALLER_HZ).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    alice.hangup(&call_1).await;
    let rec = recording_when(&a, &call_1, |r| r.archived).await;
    assert_eq!(rec.node, "b");
    assert!(
        s3.keys(BUCKET).contains(&format!("prod/{}", rec.path)),
        "the bucket holds {}: {:?}",
        rec.path,
        s3.keys(BUCKET)
    );
    assert!(
        !dir.path().join("recordings-b").join(&rec.path).exists(),
        "the spool file is gone once archived"
    );
    alice
        .wrap_up(&call_1, proto::Disposition::Resolved, "billing/x")
        .await;

    // Call 2 is cut by kill -9 of node b in the middle.
    let (call_2, _caller_2) = answered_call(&b, &endpoint, &mut alice, "+702", CALLER_HZ).await;
    recording_when(&a, &call_2, |r| r.live).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    b.node.kill();

    // Node b's finished recording plays through node a.
    plays_through(&a, &call_1, dir.path(), "call-1-via-a").await;

    // Node b comes back: it closes call 2's recording and uploads it.
    let b = start(dir.path(), &redis, "b", &media).await;
    let rec_2 = recording_when(&a, &call_2, |r| r.archived && !r.live).await;
    assert!(
        rec_2.duration_ms >= 1500,
        "{} ms kept of call 2",
        rec_2.duration_ms
    );
    plays_through(&a, &call_2, dir.path(), "call-2-via-a").await;
    plays_through(&b, &call_1, dir.path(), "call-1-via-b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_sweeps_old_recordings_out_of_the_bucket() {
    let s3 = S3Server::start();
    s3.bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("2026/11/29")).expect("spool");
    std::fs::write(spool.join("2026/11/29/old.wav"), b"RIFF....WAVE").expect("file");
    let options: BTreeMap<String, String> = [
        ("endpoint", format!("http://127.0.0.1:{}", s3.port)),
        ("region", "us-east-1".into()),
        ("aws_allow_http", "true".into()),
        ("access_key_id", "test".into()),
        ("secret_access_key", "test".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let archive = Archive::from_config(&format!("s3://{BUCKET}/kept"), &options).expect("archive");
    assert_eq!(
        archive
            .upload(&spool, "2026/11/29/old.wav")
            .await
            .expect("upload"),
        12
    );
    assert_eq!(s3.keys(BUCKET), vec!["kept/2026/11/29/old.wav".to_string()]);
    // Kept while younger than the retention...
    let kept = archive
        .sweep(Timestamp::now_wall(), Duration::from_secs(3600))
        .await
        .expect("sweep");
    assert_eq!(kept, (0, 0));
    // ... deleted once older.
    let later = Timestamp(Timestamp::now_wall().as_millis() + 7_200_000);
    let swept = archive
        .sweep(later, Duration::from_secs(3600))
        .await
        .expect("sweep");
    assert_eq!(swept, (1, 12));
    assert!(s3.keys(BUCKET).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shutting_down_mid_call_archives_the_recording_before_it_stops() {
    let s3 = S3Server::start();
    s3.bucket(BUCKET);
    let mut rig = common::media::AudioRig::start_with(&s3.media_config(BUCKET, "drain")).await;
    let mut alice = rig.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let _phone = rig
        .softphone(&mut alice, hotline::client::softphone::tone(AGENT_HZ, 8000))
        .await;
    let call = rig.server.start_call("+703", "100").await;
    let _caller = rig
        .caller(&call.call_id, hotline::client::softphone::tone(CALLER_HZ, 8000))
        .await;
    alice.available().await;
    alice.expect_offer(common::SOON).await;
    alice.accept(&call.call_id).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // A rolling update stops the node while the call is connected.
    rig.server
        .server
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("shutdown");
    let keys = s3.keys(BUCKET);
    assert!(
        keys.iter()
            .any(|k| k.starts_with("drain/") && k.ends_with(&format!("{}.wav", call.call_id))),
        "the recording was archived before the node stopped: {keys:?}"
    );
}
