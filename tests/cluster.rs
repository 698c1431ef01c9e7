//! Several hotline nodes on one Redis: one routes, all serve; a call entering
//! any node reaches an agent connected to any node; the routing role moves
//! when its node goes away.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use common::*;
use hotline::proto;

/// A short lease keeps takeovers quick, but not so short that a loaded test
/// machine pausing the node for a few hundred ms loses it between two steps
/// (seen once at 600 ms: "the routing node changed; retry" on a first call).
fn config_for(redis: &RedisServer) -> String {
    format!(
        "{CONFIG}\n[store]\nurl = \"{}\"\nnamespace = \"cluster\"\n[cluster]\nlease_ms = 1500\n",
        redis.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_entering_one_node_reaches_an_agent_on_another() {
    let redis = RedisServer::start();
    let a = TestServer::with_config(&config_for(&redis)).await;
    let b = TestServer::with_config(&config_for(&redis)).await;
    // alice's softphone is connected to node b; the call enters node a.
    let mut alice = b.agent("alice").await;
    let call = a.start_call("+7000", "100").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, call.call_id);
    alice.accept(&call.call_id).await;
    // Supervisors on either node see the same floor.
    for node in [&a, &b] {
        assert_eq!(
            node.agent_record("alice").await.state,
            proto::AgentState::OnCall as i32
        );
        assert_eq!(node.get_call(&call.call_id).await.agent_id, "alice");
    }
    alice.hangup(&call.call_id).await;
    let after = alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/x")
        .await;
    assert_eq!(after.state, proto::AgentState::Available as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routing_role_moves_when_its_node_stops_and_nothing_is_lost() {
    let redis = RedisServer::start();
    let mut first = TestServer::with_config(&config_for(&redis)).await;
    let second = TestServer::with_config(&config_for(&redis)).await;
    let mut alice = second.agent("alice").await;
    // A call waits (bob, who could take it, is not logged in yet).
    let waiting = second.start_call("+7100", "100").await;
    let offered = alice.expect_offer(SOON).await;
    assert_eq!(offered.call_id, waiting.call_id);
    alice.accept(&waiting.call_id).await;
    let queued = second.start_call("+7101", "100").await;

    // The routing node (the first one started) goes away.
    first.server.take().unwrap().shutdown().await.unwrap();

    // The other node takes over: the connected call and the queued call survive.
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = second
            .supervisor()
            .supervisor
            .list_agents(proto::ListAgentsRequest::default())
            .await
        {
            if r.into_inner().agents.iter().any(|a| a.agent_id == "alice") {
                ok = second
                    .edge()
                    .call
                    .get_call(proto::GetCallRequest {
                        call_id: queued.call_id.clone(),
                    })
                    .await
                    .is_ok();
                if ok {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok);
    wait_serving(&second.channel).await;
    // alice's stream went through the old routing node; her softphone reconnects.
    let mut alice = common::reconnect(&second, "alice").await;
    let mut bob = second.agent("bob").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, queued.call_id);
    // The call alice was on is still hers.
    alice.hangup(&waiting.call_id).await;
    let ended = second.get_call(&waiting.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_keeps_what_was_acknowledged_and_service_resumes() {
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let s = TestServer::with_config(&config_for(&redis)).await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+7200", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;

    redis.kill();
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel.clone());
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    let mut seen_down = false;
    for _ in 0..100 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == not_serving {
            seen_down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen_down, "health went NOT_SERVING while Redis was down");
    // Liveness stays SERVING: the node is alive, only not ready.
    let liveness = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: hotline::server::LIVENESS.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        liveness,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // New work is refused quickly, not left hanging.
    let started = std::time::Instant::now();
    let refused = s
        .edge()
        .call
        .start_call(proto::StartCallRequest {
            ani: "+7201".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    redis.restart();
    wait_serving(&s.channel).await;
    // What was acknowledged is still there, and work goes on.
    let mut alice = common::reconnect(&s, "alice").await;
    assert_eq!(
        s.agent_record("alice").await.state,
        proto::AgentState::OnCall as i32
    );
    let ended = alice.hangup(&call.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_softphone_left_another_node_is_logged_out_after_the_grace_period() {
    let redis = RedisServer::start();
    let config = format!("{}\n[presence]\ngrace_secs = 1\n", config_for(&redis));
    let routing = TestServer::with_config(&config).await;
    let edge = TestServer::with_config(&config).await;
    // alice's softphone is on the edge node; its stream is proxied to the routing node.
    let alice = edge.agent("alice").await;
    let mut bob = routing.agent("bob").await;
    drop(alice);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let a = routing.agent_record("alice").await;
    assert_eq!(a.state, proto::AgentState::LoggedOut as i32);
    assert!(
        a.state_reason.contains("no softphone connected"),
        "{}",
        a.state_reason
    );
    // She gets no more offers; bob does.
    let call = routing.start_call("+7300", "100").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, call.call_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_that_crosses_a_change_of_routing_node_has_no_second_effect() {
    let redis = RedisServer::start();
    let mut first = TestServer::with_config(&config_for(&redis)).await;
    let second = TestServer::with_config(&config_for(&redis)).await;
    let start = |request_id: &str| proto::StartCallRequest {
        ani: "+7400".into(),
        dnis: "100".into(),
        request_id: request_id.into(),
        ..Default::default()
    };
    // The call starts through the second node, routed by the first.
    let started = second
        .edge()
        .call
        .start_call(start("retry-1"))
        .await
        .expect("start call")
        .into_inner();

    // The routing node goes away; the edge retries (its reply was lost).
    first
        .server
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("shutdown");
    let retried = loop {
        match second.edge().call.start_call(start("retry-1")).await {
            Ok(r) => break r.into_inner(),
            Err(s) if s.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("retry refused: {s:?}"),
        }
    };
    assert_eq!(retried.call_id, started.call_id, "the retry gets the first reply");
    let calls = second.supervisor().all_calls().await.expect("calls");
    assert_eq!(
        calls.iter().filter(|c| c.ani == "+7400").count(),
        1,
        "one call, not two"
    );
    // The same request id for another method is refused by name (once the
    // second node routes: the retry above was answered from the record).
    let other = loop {
        let r = second
            .edge()
            .call
            .end_call(proto::EndCallRequest {
                call_id: started.call_id.clone(),
                request_id: "retry-1".into(),
            })
            .await
            .expect_err("a request id belongs to one method");
        if r.code() != tonic::Code::Unavailable {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(other.code(), tonic::Code::InvalidArgument, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_with_another_body_is_refused_on_any_node() {
    let redis = RedisServer::start();
    let a = TestServer::with_config(&config_for(&redis)).await;
    let b = TestServer::with_config(&config_for(&redis)).await;
    // An agent on the follower: its SetState is forwarded to the routing
    // node with the request's digest.
    let mut alice = b.agent("alice").await;
    let ready = proto::SetStateRequest {
        agent_id: "alice".into(),
        state: proto::RequestedState::NotReady as i32,
        reason: "lunch".into(),
        request_id: "alice-cluster-1".into(),
    };
    alice.c.agent.set_state(ready.clone()).await.expect("first use");
    let err = alice
        .c
        .agent
        .set_state(proto::SetStateRequest {
            reason: "training".into(),
            ..ready.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{}", err.message());
    assert!(err.message().starts_with("request_id:"), "{}", err.message());
    alice
        .c
        .agent
        .set_state(ready)
        .await
        .expect("the true retry is answered");
    // A call started on one node under a request id; the id reused on the
    // other node for another caller is refused there.
    let first = proto::StartCallRequest {
        ani: "+7900".into(),
        dnis: "100".into(),
        request_id: "edge-cluster-1".into(),
        ..Default::default()
    };
    let call = a
        .edge()
        .call
        .start_call(first.clone())
        .await
        .unwrap()
        .into_inner();
    let err = b
        .edge()
        .call
        .start_call(proto::StartCallRequest {
            ani: "+7901".into(),
            ..first.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{}", err.message());
    assert!(err.message().starts_with("request_id:"), "{}", err.message());
    let again = b.edge().call.start_call(first).await.unwrap().into_inner();
    assert_eq!(
        again.call_id, call.call_id,
        "the retry on the other node names the same call"
    );
}
