//! Sealed recordings end to end, on two nodes sharing a real Redis: a call
//! recorded on node a is sealed on disk (no RIFF header, no audio in the
//! clear); it plays as the stereo WAV it was through GetRecording on
//! either node (node b fetches the sealed bytes from node a and opens them
//! itself) and through the console's `play`. After the key is rotated the
//! next call is sealed under the new key, and the old recording still
//! plays.

mod common;

use common::media::{assert_sides, finished_recording, AudioRig};
use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::client::softphone::tone;
use hotline::proto;
use tokio_stream::StreamExt;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

async fn recorded_call(rig: &AudioRig) -> proto::Recording {
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    let _phone = rig.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    let call = s.start_call("+2000", "100").await;
    let caller = rig.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    // Both tones crossed before the call ends.
    common::media::hears(&caller, 0, AGENT_HZ, 1.0, 0.3).await;
    alice.hangup(&call.call_id).await;
    let rec = finished_recording(rig, &call.call_id).await;
    alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/question")
        .await;
    s.clients(hotline::auth::Role::Agent, "alice")
        .agent
        .logout(proto::LogoutRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .expect("logout");
    rec
}

async fn wav_via(node: &TestServer, recording_id: &str) -> Vec<u8> {
    let mut chunks = node
        .supervisor()
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: recording_id.into(),
            download: false,
        })
        .await
        .expect("get recording")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        bytes.extend(chunk.expect("chunk").data);
    }
    bytes
}

fn key_id_of(sealed: &[u8]) -> String {
    let len = usize::from(sealed[22]);
    String::from_utf8(sealed[23..23 + len].to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_recordings_play_on_any_node_and_through_the_console_and_survive_a_key_rotation() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("recording-keys");
    std::fs::write(&keys, hotline::media::sealed::new_key_line("k1").unwrap()).unwrap();
    let base = common::media::cluster_config(&redis, "");
    let rig = AudioRig::on_config(
        &base,
        &format!("recording_keys_file = {:?}", keys.display().to_string()),
    )
    .await;
    let b_dir = dir.path().join("node-b");
    let b = TestServer::with_config(&format!(
        "{base}\n[media]\nrecordings_dir = {:?}\nrecording_keys_file = {:?}\n",
        b_dir.display().to_string(),
        keys.display().to_string()
    ))
    .await;

    let first = recorded_call(&rig).await;
    let on_disk = rig.recording_file(&first);
    assert_eq!(on_disk.extension().and_then(|e| e.to_str()), Some("sealed"));
    let sealed = std::fs::read(&on_disk).unwrap();
    assert!(sealed.starts_with(b"HLSEAL01"), "a sealed file");
    assert!(
        !sealed.windows(4).any(|w| w == b"RIFF" || w == b"WAVE"),
        "no readable RIFF header"
    );
    assert_eq!(key_id_of(&sealed), "k1");

    // It plays as stereo WAV on node a, and on node b (whose disk lacks it).
    let plays = |wav: Vec<u8>, name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, wav).unwrap();
        assert_sides(&path, CALLER_HZ, AGENT_HZ, ("the caller", "the agent"));
    };
    plays(wav_via(&rig.server, &first.recording_id).await, "a.wav");
    assert!(!b_dir.join(&first.path).exists());
    plays(wav_via(&b, &first.recording_id).await, "b.wav");
    // ... and through the console's play command.
    let console = dir.path().join("console.wav");
    hotline::console::play(
        &mut b.supervisor(),
        &first.recording_id,
        hotline::console::Output::File(&console),
    )
    .await
    .expect("console plays it");
    assert_sides(&console, CALLER_HZ, AGENT_HZ, ("the caller", "the agent"));

    // Rotation: a new first key; the old one stays for old recordings.
    let old = std::fs::read_to_string(&keys).unwrap();
    std::fs::write(
        &keys,
        format!("{}\n{old}", hotline::media::sealed::new_key_line("k2").unwrap()),
    )
    .unwrap();
    let second = recorded_call(&rig).await;
    let sealed = std::fs::read(rig.recording_file(&second)).unwrap();
    assert_eq!(
        key_id_of(&sealed),
        "k2",
        "the next call is sealed under the new key"
    );
    plays(wav_via(&b, &second.recording_id).await, "second.wav");
    plays(wav_via(&b, &first.recording_id).await, "first-after-rotation.wav");
}
