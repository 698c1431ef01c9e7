//! One call center across nodes: three hotline nodes on one Redis, each with
//! its own media plane. A caller on one node talks to an agent whose
//! softphone is on another, a supervisor on a third listens and whispers,
//! and the recording plays through every node. Real WebRTC (ICE, DTLS-SRTP)
//! on loopback, real Redis.

mod common;

use std::time::Duration;

use common::media::{channel_share, cluster_config, hears, holds, pcm, stereo, tail_power, AudioRig};
use common::metrics::{counter, scrape};
use common::redis::RedisServer;
use common::sip::{
    agent_phone, finished, free_udp_port, register_phone, scenario, sipp, sipp_uas, ulaw_tone,
};
use common::SOON;
use hotline::client::softphone::{tone, SoftPhone};
use hotline::proto;
use hotline::proto::monitor_event::Event as MonEv;
use tokio_stream::StreamExt;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const SUPERVISOR_HZ: f64 = 2000.0;
const BOB_HZ: f64 = 1500.0;

/// Listens to `call_id` through `rig`'s node until `seconds` of both
/// channels arrived.
async fn listen(rig: &AudioRig, call_id: &str, seconds: usize) -> (Vec<i16>, Vec<i16>) {
    let mut stream = rig
        .server
        .supervisor()
        .supervisor
        .monitor(proto::MonitorRequest {
            call_id: call_id.into(),
            mode: proto::MonitorMode::Listen as i32,
            offer: None,
        })
        .await
        .expect("monitor from another node")
        .into_inner();
    let started = stream.next().await.expect("started").expect("ok");
    assert!(matches!(started.event, Some(MonEv::Started(_))));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    while left.len() < 8000 * seconds {
        let next = tokio::time::timeout(SOON, stream.next())
            .await
            .expect("frames keep coming")
            .expect("the stream goes on")
            .expect("ok");
        match next.event {
            Some(MonEv::Frame(f)) => {
                assert_eq!(f.sample_rate, 8000);
                left.extend(pcm(&f.caller_pcm));
                right.extend(pcm(&f.agent_pcm));
            }
            other => panic!("expected an audio frame, got {other:?}"),
        }
    }
    (left, right)
}

/// The whole recording of `call_id`, fetched with GetRecording through
/// `rig`'s node, written to `out`.
async fn fetch_recording(rig: &AudioRig, call_id: &str, out: &std::path::Path) -> proto::Recording {
    let mut stream = rig
        .server
        .supervisor()
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: call_id.into(),
            download: false,
        })
        .await
        .expect("get recording through this node")
        .into_inner();
    let mut meta = None;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        if let Some(m) = chunk.recording {
            meta = Some(m);
        }
        bytes.extend(chunk.data);
    }
    std::fs::write(out, bytes).expect("write");
    meta.expect("the first chunk carries the metadata")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_on_one_node_talks_to_an_agent_on_another_while_a_third_listens_and_whispers() {
    let redis = RedisServer::start();
    let a = AudioRig::cluster_node(&redis, "").await;
    let b = AudioRig::cluster_node(&redis, "").await;
    let c = AudioRig::cluster_node(&redis, "").await;

    // alice's softphone is on node b; the caller's leg is on node a.
    let mut alice = b.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let alice_phone = b.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    let call = a.server.start_call("+555", "100").await;
    let caller = a.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.available().await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, call.call_id);
    alice.accept(&call.call_id).await;
    let (caller_from, agent_from) = (caller.heard_len(), alice_phone.heard_len());
    let agent_heard = hears(&alice_phone, agent_from, CALLER_HZ, 1.0, 0.5).await;
    let caller_heard = hears(&caller, caller_from, AGENT_HZ, 1.0, 0.5).await;
    assert!(
        tail_power(&agent_heard, CALLER_HZ, 1.0) > 0.5,
        "the agent on node b hears the caller on node a (440 Hz power {:.2})",
        tail_power(&agent_heard, CALLER_HZ, 1.0)
    );
    assert!(
        tail_power(&caller_heard, AGENT_HZ, 1.0) > 0.5,
        "the caller on node a hears the agent on node b (1 kHz power {:.2})",
        tail_power(&caller_heard, AGENT_HZ, 1.0)
    );

    // A supervisor on node c listens: both parties, from the call's node.
    let (left, right) = listen(&c, &call.call_id, 1).await;
    assert!(
        holds(&left, CALLER_HZ, 8000) > 0.8,
        "LISTEN on c carries the caller"
    );
    assert!(
        holds(&right, AGENT_HZ, 8000) > 0.8,
        "LISTEN on c carries the agent"
    );

    // ... and whispers: the agent hears it, the caller does not.
    let (sup_phone, offer) = SoftPhone::start(&c.endpoint, "sup", tone(SUPERVISOR_HZ, 8000), true)
        .await
        .expect("supervisor phone");
    let mut whisper = c
        .server
        .supervisor()
        .supervisor
        .monitor(proto::MonitorRequest {
            call_id: call.call_id.clone(),
            mode: proto::MonitorMode::Whisper as i32,
            offer: Some(proto::SessionOffer { sdp: offer }),
        })
        .await
        .expect("whisper from node c")
        .into_inner();
    let answer = match whisper.next().await.expect("started").expect("ok").event {
        Some(MonEv::Started(st)) => st.answer.expect("whisper has an answer"),
        other => panic!("expected started, got {other:?}"),
    };
    sup_phone.answered(&answer.sdp).await.expect("answer");
    assert!(sup_phone.connected(Duration::from_secs(10)).await);
    let (caller_from, agent_from, sup_from) =
        (caller.heard_len(), alice_phone.heard_len(), sup_phone.heard_len());
    // The agent hears the whisper; the caller, over the same time, must not.
    let agent_heard = hears(&alice_phone, agent_from, SUPERVISOR_HZ, 1.0, 0.2).await;
    let caller_heard = caller.heard_since(caller_from);
    let sup_heard = sup_phone.heard_since(sup_from);
    assert!(
        tail_power(&agent_heard, SUPERVISOR_HZ, 1.0) > 0.2,
        "the agent on b hears the whisper from c ({:.2})",
        tail_power(&agent_heard, SUPERVISOR_HZ, 1.0)
    );
    assert!(
        tail_power(&caller_heard, SUPERVISOR_HZ, 1.0) < 0.05,
        "the caller on a does not hear the whisper ({:.2})",
        tail_power(&caller_heard, SUPERVISOR_HZ, 1.0)
    );
    assert!(
        tail_power(&sup_heard, CALLER_HZ, 1.0) > 0.1 && tail_power(&sup_heard, AGENT_HZ, 1.0) > 0.1,
        "the whispering supervisor hears both parties"
    );
    drop(whisper);
    sup_phone.hang_up().await;

    // The call ends; its recording plays through every node.
    let ended = alice.hangup(&call.call_id).await;
    let talk_ms = (ended.ended_at_unix_ms - ended.answered_at_unix_ms) as f64;
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, node) in [("a", &a), ("b", &b), ("c", &c)] {
        let rec = wait_finished(node, &call.call_id).await;
        let path = dir.path().join(format!("via-{name}.wav"));
        let meta = fetch_recording(node, &call.call_id, &path).await;
        assert_eq!(meta.call_id, call.call_id);
        let (left, _, spec) = stereo(&path);
        let seconds = left.len() as f64 / f64::from(spec.sample_rate);
        assert!(
            (seconds * 1000.0 - talk_ms).abs() <= talk_ms * 0.05,
            "the recording through node {name} lasts the talk time ({seconds:.2} s against {talk_ms} ms)"
        );
        assert!((rec.duration_ms as f64 - talk_ms).abs() <= talk_ms * 0.05);
        let (l, r) = (
            channel_share(&path, 0, CALLER_HZ),
            channel_share(&path, 1, AGENT_HZ),
        );
        assert!(
            l > 0.8,
            "through node {name}: the caller's 440 Hz on the left ({l:.2})"
        );
        assert!(
            r > 0.8,
            "through node {name}: the agent's 1 kHz on the right ({r:.2})"
        );
    }
}

/// The finished recording of `call_id` as `rig`'s node lists it.
async fn wait_finished(rig: &AudioRig, call_id: &str) -> proto::Recording {
    common::media::finished_recording(rig, call_id).await
}

/// The next NOT_READY state of `agent`'s, with its reason.
async fn not_ready_reason(agent: &mut common::Agent) -> String {
    agent
        .wait_for(SOON, |e| match e {
            hotline::proto::agent_event::Event::StateChanged(s) => s
                .agent
                .as_ref()
                .filter(|a| a.state == proto::AgentState::NotReady as i32)
                .map(|a| a.state_reason.clone()),
            _ => None,
        })
        .await
        .expect("the agent is told they are not ready, and why")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_agent_relay_cannot_be_set_up_goes_back_to_the_queue_instead_of_silence() {
    let redis = RedisServer::start();
    let grace = "agent_audio_grace_ms = 1000";
    // Node a starts first and routes; node b's relay cannot be reached by
    // its peers (it advertises a port nothing listens on).
    let a = AudioRig::cluster_node(&redis, grace).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let b = AudioRig::on_config(
        &cluster_config(&redis, &format!("advertise = \"127.0.0.1:{closed}\"")),
        grace,
    )
    .await;
    let mut alice = b.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let _alice_phone = b.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    let mut bob = a.server.agent("bob").await;
    bob.not_ready("not yet").await;
    let bob_phone = a.softphone(&mut bob, tone(BOB_HZ, 8000)).await;

    let call = a.server.start_call("+556", "100").await;
    let caller = a.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.available().await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, call.call_id);
    alice.accept(&call.call_id).await;

    // Her audio cannot reach the call: she is told, and the caller waits again.
    let reason = not_ready_reason(&mut alice).await;
    assert!(reason.contains("relay"), "the reason names the relay: {reason}");
    let waiting = a.server.get_call(&call.call_id).await;
    assert_eq!(waiting.status, proto::CallStatus::Queued as i32, "{waiting:?}");
    let text = scrape(
        a.server
            .server
            .as_ref()
            .expect("running")
            .metrics_addr
            .expect("metrics"),
    )
    .await;
    assert!(
        counter(
            &text,
            "hotline_media_unreachable_total{party=\"agent\",cause=\"relay_failed\"}"
        ) >= 1.0,
        "counted: {}",
        text.lines()
            .filter(|l| l.contains("unreachable"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Another agent takes the call and the caller hears them.
    bob.available().await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, call.call_id);
    bob.accept(&call.call_id).await;
    let from = caller.heard_len();
    assert!(
        tail_power(&hears(&caller, from, BOB_HZ, 1.0, 0.5).await, BOB_HZ, 1.0) > 0.5,
        "the caller hears the agent who took the call back"
    );
    assert!(bob_phone.heard_len() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_answers_with_no_softphone_anywhere_hands_the_caller_back() {
    let redis = RedisServer::start();
    let a = AudioRig::cluster_node(&redis, "agent_audio_grace_ms = 1000").await;
    let b = AudioRig::cluster_node(&redis, "agent_audio_grace_ms = 1000").await;
    // alice is signed in on b but never connected a softphone.
    let mut alice = b.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let call = a.server.start_call("+557", "100").await;
    let _caller = a.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.available().await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    let reason = not_ready_reason(&mut alice).await;
    assert!(reason.contains("no softphone"), "{reason}");
    let waiting = a.server.get_call(&call.call_id).await;
    assert_eq!(waiting.status, proto::CallStatus::Queued as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_caller_on_one_node_talks_to_an_agents_sip_phone_registered_on_another() {
    let redis = RedisServer::start();
    let sip = "\n[sip]\nlisten = \"127.0.0.1:0\"\nsurvey = false\n";
    let a = AudioRig::cluster_node(&redis, sip).await;
    let b = AudioRig::cluster_node(&redis, sip).await;
    let c = AudioRig::cluster_node(&redis, "").await;
    let sip_of = |rig: &AudioRig| {
        rig.server
            .server
            .as_ref()
            .and_then(|s| s.sip_addr)
            .expect("the SIP trunk listens")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // dave's desk phone registers with node b; his client signs in there too.
    let port = free_udp_port();
    assert!(register_phone(dir.path(), sip_of(&b), port, "dave", "dave-phone-pw", 3600).await);
    let phone = sipp_uas(&agent_phone(dir.path(), "dave", AGENT_HZ, 4000), port, dir.path());
    let mut dave = b.server.agent("dave").await;
    // The carrier's call enters node a.
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip_of(&a),
        dir.path(),
    );

    let offered = dave.expect_offer(Duration::from_secs(10)).await;
    let deadline = std::time::Instant::now() + SOON;
    while a.server.get_call(&offered.call_id).await.status != proto::CallStatus::Connected as i32 {
        assert!(std::time::Instant::now() < deadline, "the phone answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (left, right) = listen(&c, &offered.call_id, 1).await;
    assert!(
        holds(&left, CALLER_HZ, 8000) > 0.8,
        "LISTEN on c carries the trunk caller"
    );
    assert!(
        holds(&right, AGENT_HZ, 8000) > 0.8,
        "LISTEN on c carries dave's phone"
    );

    let (ok, errors) = finished(phone, Duration::from_secs(30)).await;
    assert!(ok, "the phone answered and hung up: {errors}");
    let (ok, errors) = finished(caller, Duration::from_secs(20)).await;
    assert!(ok, "the caller was answered and hung up on: {errors}");
    let ended = a.server.get_call(&offered.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
    let talk_ms = (ended.ended_at_unix_ms - ended.answered_at_unix_ms) as f64;
    for (name, node) in [("a", &a), ("b", &b), ("c", &c)] {
        wait_finished(node, &offered.call_id).await;
        let path = dir.path().join(format!("sip-via-{name}.wav"));
        fetch_recording(node, &offered.call_id, &path).await;
        let (left, _, spec) = stereo(&path);
        let seconds = left.len() as f64 / f64::from(spec.sample_rate);
        assert!(
            (seconds * 1000.0 - talk_ms).abs() <= talk_ms * 0.05,
            "through node {name}: {seconds:.2} s recorded for {talk_ms} ms of talk"
        );
        let (l, r) = (
            channel_share(&path, 0, CALLER_HZ),
            channel_share(&path, 1, AGENT_HZ),
        );
        assert!(
            l > 0.6,
            "through node {name}: the caller's 440 Hz on the left ({l:.2})"
        );
        assert!(
            r > 0.6,
            "through node {name}: the phone's 1 kHz on the right ({r:.2})"
        );
    }
}
