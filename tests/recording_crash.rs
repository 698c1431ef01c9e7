//! A recording survives `kill -9` of the server mid-call: after a restart
//! the partial file opens with hound and holds the audio up to the kill,
//! minus at most a second (the header is rewritten every `media.flush_ms`).

mod common;

use std::time::Duration;

use common::media::{stereo, wav_files};
use common::process::{connect, Node};
use common::redis::RedisServer;
use common::{Agent, CONFIG, SECRET, SOON};
use hotline::auth::{Role, TokenKeys};
use hotline::client::softphone::{self, tone, Party};
use hotline::client::Clients;
use hotline::media::tone::goertzel;
use hotline::media::webrtc::WebRtcEndpoint;
use hotline::proto;
use hotline::time::Timestamp;

fn clients(ch: &tonic::transport::Channel, role: Role, sub: &str) -> Clients {
    let token = TokenKeys::new(SECRET.as_bytes())
        .mint(role, sub, Duration::from_secs(600), Timestamp::now_wall())
        .expect("mint");
    Clients::new(ch.clone(), &token).expect("clients")
}

/// Talks for 3 s, kills the server, restarts it on the same folder and
/// store; checks the file and returns the restarted node and the call id.
async fn kill_mid_call(dir: &std::path::Path, store: &str) -> (Node, tonic::transport::Channel, String) {
    let recordings = dir.join("recordings");
    let config = dir.join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}\n[store]\nurl = {store:?}\nnamespace = \"crash\"\ndata_file = {:?}\n[media]\nrecordings_dir = {:?}\ninclude_loopback = true\nips = [\"127.0.0.1\"]\nflush_ms = 500\n",
            dir.join("hotline.redb").display().to_string(),
            recordings.display().to_string()
        ),
    )
    .expect("config");
    let mut node = Node::start(&config, "crash");
    let ch = connect(node.addr).await;
    let endpoint = WebRtcEndpoint::new(&common::media::loopback()).expect("endpoint");

    let mut c = clients(&ch, Role::Agent, "alice");
    c.agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .expect("login");
    let events = c
        .agent
        .events(proto::EventsRequest {
            agent_id: "alice".into(),
        })
        .await
        .expect("events")
        .into_inner();
    let mut alice = Agent {
        id: "alice".into(),
        c,
        events,
    };
    let alice_phone = softphone::connect(
        &mut alice.c,
        &endpoint,
        Party::Agent("alice"),
        tone(1000.0, 8000),
        false,
    )
    .await
    .expect("softphone");
    assert!(alice_phone.connected(Duration::from_secs(10)).await);
    alice.available().await;

    let mut edge = clients(&ch, Role::Telephony, "edge");
    let call = edge
        .call
        .start_call(proto::StartCallRequest {
            ani: "+700".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .expect("call")
        .into_inner();
    let caller = softphone::connect(
        &mut edge,
        &endpoint,
        Party::Caller(&call.call_id),
        tone(440.0, 8000),
        false,
    )
    .await
    .expect("caller media");
    assert!(caller.connected(Duration::from_secs(10)).await);
    alice.expect_offer(SOON).await;
    let connected = alice.accept(&call.call_id).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;

    let killed_at = Timestamp::now_wall();
    node.kill();
    let talked_ms = killed_at.as_millis() as i64 - connected.answered_at_unix_ms;

    // Restart on the same folder: the partial recording is intact.
    let node = Node::start(&config, "crash");
    let ch = connect(node.addr).await;
    let files = wav_files(&recordings);
    assert_eq!(files.len(), 1, "one recording: {files:?}");
    let (left, right, spec) = stereo(&files[0]);
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let recorded_ms = left.len() as i64 / 8;
    assert!(
        recorded_ms >= talked_ms - 1000 && recorded_ms <= talked_ms + 100,
        "the recording holds the audio up to the kill minus at most a second \
         ({recorded_ms} ms recorded, {talked_ms} ms talked before the kill)"
    );
    let last = left.len().saturating_sub(8000);
    assert!(
        goertzel(&left[last..], 440.0, 8000) > 0.5,
        "caller audio up to the end"
    );
    assert!(
        goertzel(&right[last..], 1000.0, 8000) > 0.5,
        "agent audio up to the end"
    );
    (node, ch, call.call_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_survives_kill_9_mid_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_mid_call(dir.path(), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_closes_the_recordings_its_crash_left_live() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_node, ch, call_id) = kill_mid_call(dir.path(), &redis.url()).await;
    let mut sup = clients(&ch, Role::Supervisor, "sup");
    let deadline = std::time::Instant::now() + SOON;
    loop {
        let recs = sup
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .recordings;
        let rec = recs
            .iter()
            .find(|r| r.call_id == call_id)
            .expect("the recording is listed");
        if !rec.live {
            assert!(
                (2000..=3500).contains(&rec.duration_ms),
                "its duration is what the file holds ({} ms)",
                rec.duration_ms
            );
            assert_eq!(rec.node, "crash");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the crashed recording is closed at restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
