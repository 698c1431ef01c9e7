//! A hotline node on the Redis store: the same API, with every agent, call
//! and contact recorded in Redis where every node (and a restarted one) sees it.

mod common;

use common::redis::RedisServer;
use common::*;
use hotline::proto;

fn config_for(redis: &RedisServer) -> String {
    format!(
        "{CONFIG}\n[store]\nurl = \"{}\"\nnamespace = \"test\"\n",
        redis.url()
    )
}

#[tokio::test]
async fn a_node_on_redis_routes_calls_and_records_them_in_redis() {
    let redis = RedisServer::start();
    let s = TestServer::with_config(&config_for(&redis)).await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+8000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    alice.hangup(&call.call_id).await;
    alice
        .wrap_up(&call.call_id, proto::Disposition::Unresolved, "billing/dispute")
        .await;

    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let json: String = ::redis::AsyncCommands::get(&mut c, format!("{{test}}:call:{}", call.call_id))
        .await
        .unwrap();
    let stored: hotline::acd::CallRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(stored.outcome, Some(hotline::acd::CallOutcome::Answered));
    let contacts: Vec<String> = ::redis::AsyncCommands::lrange(&mut c, "{test}:contacts:+8000", 0, -1)
        .await
        .unwrap();
    assert_eq!(contacts.len(), 1);

    // First-contact ownership reads the contact back from Redis.
    let repeat = s.start_call("+8000", "100").await;
    assert_eq!(repeat.preferred_agent_id, "alice");
}

#[tokio::test]
async fn records_outlive_the_node_that_wrote_them() {
    let redis = RedisServer::start();
    let config = config_for(&redis);
    let call_id = {
        let mut s = TestServer::with_config(&config).await;
        let mut alice = s.agent("alice").await;
        let call = s.start_call("+8100", "100").await;
        alice.expect_offer(SOON).await;
        let req = alice.action(&call.call_id);
        alice.c.agent.decline(req).await.unwrap();
        s.end_call(&call.call_id).await;
        s.server.take().unwrap().shutdown().await.unwrap();
        call.call_id
    };
    let s = TestServer::with_config(&config).await;
    let got = s.get_call(&call_id).await;
    assert_eq!(got.outcome, proto::CallOutcome::Abandoned as i32);
    let explain = s.explain(&call_id).await;
    assert_eq!(explain[0].agent_id, "alice");
    let alice = s.agent_record("alice").await;
    assert_eq!(alice.agent_id, "alice");
}

#[tokio::test]
async fn a_refused_claim_sends_the_call_to_the_next_candidate() {
    let redis = RedisServer::start();
    let s = TestServer::with_config(&config_for(&redis)).await;
    let alice = s.agent("alice").await;
    let mut bob = s.agent("bob").await;
    // Behind this router's back, another writer marks alice busy.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let json: String = ::redis::AsyncCommands::get(&mut c, "{test}:agent:alice")
        .await
        .unwrap();
    let mut record: hotline::acd::AgentRecord = serde_json::from_str(&json).unwrap();
    record.state = hotline::acd::AgentState::OnCall;
    let _: () = ::redis::AsyncCommands::set(
        &mut c,
        "{test}:agent:alice",
        serde_json::to_string(&record).unwrap(),
    )
    .await
    .unwrap();
    // alice is idle longest, so the router picks her first; the store refuses
    // the claim and the call goes to bob.
    let call = s.start_call("+8200", "100").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, call.call_id);
    let a = s.agent_record("alice").await;
    assert_eq!(a.state, proto::AgentState::NotReady as i32);
    assert_eq!(a.not_ready_reason, "claim-refused");
    let explain = s.explain(&call.call_id).await;
    let agents: Vec<_> = explain.iter().map(|d| d.agent_id.as_str()).collect();
    assert_eq!(agents.last(), Some(&"bob"));
    drop(alice);
}

#[tokio::test]
async fn a_node_whose_epoch_was_superseded_acknowledges_and_writes_nothing() {
    let redis = RedisServer::start();
    let s = TestServer::with_config(&config_for(&redis)).await;
    let _alice = s.agent("alice").await;
    // Another node took over routing: the epoch moved on.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = ::redis::AsyncCommands::incr(&mut c, "{test}:epoch", 1)
        .await
        .unwrap();
    let err = s
        .edge()
        .call
        .start_call(proto::StartCallRequest {
            ani: "+8300".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    let calls: Vec<String> = ::redis::AsyncCommands::zrange(&mut c, "{test}:calls", 0, -1)
        .await
        .unwrap();
    assert!(calls.is_empty(), "the stale node wrote {calls:?}");
}
