//! A lost node drops only its own legs: three `hotline serve` processes on
//! one Redis, `kill -9` of the node holding one call's agent. That call ends
//! on the caller's node as "node lost", counted, and its agent is freed; a
//! second call between the other two nodes keeps its audio without a gap,
//! also when the lost node was the routing node.

mod common;

use std::time::{Duration, Instant};

use common::media::{loopback, stereo, tail_power};
use common::metrics::{counter, scrape};
use common::redis::RedisServer;
use common::sites::{agent, answered_call, clients, fetch_recording, get_call, start, LEASE_MS};
use hotline::auth::Role;
use hotline::media::webrtc::WebRtcEndpoint;
use hotline::proto;

const CALLER_1_HZ: f64 = 440.0;
const CALLER_2_HZ: f64 = 700.0;
const ALICE_HZ: f64 = 1000.0;
const BOB_HZ: f64 = 1500.0;

/// The longest run of 20 ms frames (ignoring the first and last 200 ms)
/// in which `samples` are nearly silent, in ms.
fn longest_gap_ms(samples: &[i16], rate: u32) -> u64 {
    let frame = rate as usize / 50;
    let frames: Vec<f64> = samples
        .chunks_exact(frame)
        .map(|f| (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / frame as f64).sqrt())
        .collect();
    let inner = frames.get(10..frames.len().saturating_sub(10)).unwrap_or(&[]);
    let (mut run, mut longest) = (0u64, 0u64);
    for rms in inner {
        run = if *rms < 500.0 { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest * 20
}

/// Kills the node holding call 1's agent (b); `b_routes` makes it the
/// routing node too. Returns how long call 1 took to end after the kill.
async fn kill_the_agents_node(b_routes: bool) -> Duration {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = WebRtcEndpoint::new(&loopback()).expect("endpoint");
    // The first node up routes.
    let (a, mut b, c) = if b_routes {
        let b = start(dir.path(), &redis, "b", "").await;
        (
            start(dir.path(), &redis, "a", "").await,
            b,
            start(dir.path(), &redis, "c", "").await,
        )
    } else {
        let a = start(dir.path(), &redis, "a", "").await;
        (
            a,
            start(dir.path(), &redis, "b", "").await,
            start(dir.path(), &redis, "c", "").await,
        )
    };

    // Call 1: caller on a, alice's softphone on b. Call 2: caller on a, bob's on c.
    let (mut alice, _alice_phone) = agent(&b, &endpoint, "alice", ALICE_HZ).await;
    let (mut bob, bob_phone) = agent(&c, &endpoint, "bob", BOB_HZ).await;
    let (call_1, caller_1) = answered_call(&a, &endpoint, &mut alice, "+601", CALLER_1_HZ).await;
    let (call_2, caller_2) = answered_call(&a, &endpoint, &mut bob, "+602", CALLER_2_HZ).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        tail_power(&caller_1.heard_since(0), ALICE_HZ, 0.5) > 0.5,
        "call 1 has audio"
    );
    assert!(
        tail_power(&caller_2.heard_since(0), BOB_HZ, 0.5) > 0.5,
        "call 2 has audio"
    );

    b.node.kill();
    let killed = Instant::now();
    let ended = loop {
        if let Some(call) = get_call(&a, &call_1).await {
            if call.status == proto::CallStatus::Ended as i32 {
                break call;
            }
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "call 1 ends after its agent's node died"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = killed.elapsed();
    assert!(ended.end_reason.contains("node lost"), "{}", ended.end_reason);
    let text = scrape(a.metrics).await;
    assert!(
        counter(&text, "hotline_calls_lost_with_node_total{party=\"agent\"}") >= 1.0,
        "counted on the call's node"
    );
    // Its agent is freed: no longer on a call.
    let agents = clients(&a.ch, Role::Supervisor, "sup")
        .supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .expect("list agents")
        .into_inner()
        .agents;
    let alice_now = agents
        .iter()
        .find(|x| x.agent_id == "alice")
        .expect("alice listed");
    assert_ne!(alice_now.state, proto::AgentState::OnCall as i32);

    // Call 2 talks on.
    let from = caller_2.heard_len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        tail_power(&caller_2.heard_since(from), BOB_HZ, 1.0) > 0.5,
        "call 2's caller still hears bob"
    );
    assert!(bob_phone.heard_len() > 0);
    // (While a routing node takes over, bob's hang-up may need a retry.)
    let hung_up = loop {
        let req = bob.action(&call_2);
        match bob.c.agent.hangup(req).await {
            Ok(r) => break r.into_inner(),
            Err(s) if killed.elapsed() < Duration::from_secs(15) => {
                eprintln!("hang-up refused while the cluster settles: {s:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(s) => panic!("bob cannot hang up: {s:?}"),
        }
    };
    assert_eq!(hung_up.outcome, proto::CallOutcome::Answered as i32);
    let wav = dir.path().join("call-2.wav");
    fetch_recording(&c, &call_2, &wav).await;
    let (left, right, spec) = stereo(&wav);
    for (side, samples) in [("caller", &left), ("agent", &right)] {
        let gap = longest_gap_ms(samples, spec.sample_rate);
        assert!(
            gap <= 200,
            "call 2's {side} side has a {gap} ms gap in its recording"
        );
    }
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_agents_node_ends_only_that_call_within_the_lease() {
    let took = kill_the_agents_node(false).await;
    eprintln!("call 1 ended {took:?} after the kill");
    // The lease, plus room for a loaded test machine.
    assert!(
        took < Duration::from_millis(LEASE_MS + 500),
        "call 1 ended {took:?} after its agent's node died"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_routing_node_keeps_the_audio_of_calls_it_carried_no_leg_of() {
    let took = kill_the_agents_node(true).await;
    eprintln!("call 1 ended {took:?} after the kill (routing node lost too)");
    // A new routing node takes over within the lease, then ends the call.
    assert!(
        took < Duration::from_millis(2 * LEASE_MS + 1000),
        "call 1 ended {took:?} after its agent's (and the routing) node died"
    );
}
