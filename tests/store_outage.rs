//! What agents are told while the store cannot record: nothing that is not
//! on record (a real Redis, killed and restarted under a running node).
mod common;

use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::*;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_the_store_did_not_record_is_not_announced_until_the_store_has_it() {
    let (mut redis, s, call, mut seen) = accept_refused_while_redis_is_down("outage", "+7300").await;

    // Until the store holds the answer, alice is not told she is connected.
    let restarted = Instant::now();
    redis.restart();
    let connected = tokio::time::timeout(Duration::from_secs(15), seen.recv())
        .await
        .expect("told once the store has it")
        .expect("the stream stays open");
    assert!(
        connected > restarted,
        "call_connected was sent {:?} before the store came back",
        restarted - connected
    );
    // And the store does hold it: the call is connected to alice.
    wait_serving(&s.channel).await;
    let recorded = s.get_call(&call.call_id).await;
    assert_eq!(recorded.status, proto::CallStatus::Connected as i32);
    assert_eq!(recorded.agent_id, "alice");
}

/// A node on `redis` in `namespace`, with more `[store]` lines and a lease
/// of `lease_ms`.
async fn node_on(redis: &RedisServer, namespace: &str, store: &str, lease_ms: u64) -> TestServer {
    let config = format!(
        "{CONFIG}\n[store]\nurl = \"{}\"\nnamespace = \"{namespace}\"\n{store}\n[cluster]\nlease_ms = {lease_ms}\n",
        redis.url()
    );
    TestServer::with_config(&config).await
}

/// A node on a real Redis (a lease longer than the outage, so it keeps
/// routing through it), alice offered a call from `ani`, Redis killed and
/// her Accept refused UNAVAILABLE. Returns when each CallConnected reached
/// her softphone, through `seen`.
async fn accept_refused_while_redis_is_down(
    namespace: &str,
    ani: &str,
) -> (
    RedisServer,
    TestServer,
    proto::Call,
    tokio::sync::mpsc::UnboundedReceiver<Instant>,
) {
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let s = node_on(&redis, namespace, "", 10_000).await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call(ani, "100").await;
    alice.expect_offer(SOON).await;
    let mut events = alice.events;
    let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(e)) = events.next().await {
            if let Some(Ev::CallConnected(_)) = e.event {
                let _ = seen_tx.send(Instant::now());
            }
        }
    });
    redis.kill();
    let req = proto::CallActionRequest {
        agent_id: "alice".into(),
        call_id: call.call_id.clone(),
        request_id: String::new(),
    };
    let refused = alice.c.agent.accept(req).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    (redis, s, call, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routing_node_whose_term_ended_tells_nobody_what_it_did_after() {
    let redis = RedisServer::start();
    // A lease long enough that this node has not noticed the takeover yet.
    let s = node_on(&redis, "deposed", "", 10_000).await;
    let mut alice = s.agent("alice").await;
    // What she was told so far: logged in, then available.
    alice
        .wait_for(SOON, |e| match e {
            Ev::StateChanged(c) => c
                .agent
                .as_ref()
                .filter(|a| a.state == proto::AgentState::Available as i32)
                .map(|_| ()),
            _ => None,
        })
        .await
        .expect("alice available");
    // Another node takes the routing role, as its acquire script does.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let epoch: u64 = ::redis::cmd("INCR")
        .arg("{deposed}:epoch")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = ::redis::cmd("SET")
        .arg("{deposed}:leader")
        .arg(format!("other|127.0.0.1:1|{epoch}"))
        .query_async(&mut c)
        .await
        .unwrap();
    // This node still routes a call in memory, but the store refuses it all.
    let refused = s
        .edge()
        .call
        .start_call(proto::StartCallRequest {
            ani: "+7400".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    // So alice is never offered it (her stream ends with the engine).
    let offered = alice
        .wait_for(Duration::from_secs(2), |e| {
            matches!(e, Ev::CallOffered(_) | Ev::StateChanged(_)).then(|| format!("{e:?}"))
        })
        .await;
    assert_eq!(offered, None, "told of a change the store refused");
}

/// The engine looks for the store's return on its own schedule: requests
/// arriving faster than that schedule (every 100 ms here, well under the
/// 500 ms probe) must not keep putting the probe off, which left a busy
/// routing node refusing everything after a Redis restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_coming_back_is_noticed_while_requests_keep_arriving() {
    let (mut redis, s, _call, mut seen) = accept_refused_while_redis_is_down("busy", "+7500").await;

    // Callers keep arriving, each one a job for the engine.
    let mut edge = s.edge();
    let busy = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        for n in 0u32.. {
            every.tick().await;
            let _ = edge
                .call
                .start_call(proto::StartCallRequest {
                    ani: format!("+75{n:04}"),
                    dnis: "100".into(),
                    ..Default::default()
                })
                .await;
        }
    });
    redis.restart();
    let caught_up = tokio::time::timeout(Duration::from_secs(5), seen.recv()).await;
    busy.abort();
    assert!(
        matches!(caught_up, Ok(Some(_))),
        "the accept was not recorded within 5 s of Redis' return while requests kept arriving"
    );
}

/// A customer history the store cannot give (here a contact record it
/// cannot read) turns nobody away: the call is queued without its owner
/// preferred and its offer rings without the history, and both are
/// counted (`hotline_owner_lookup_failed_total`,
/// `hotline_offer_history_missing_total`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_that_cannot_be_read_neither_refuses_the_call_nor_silences_its_offer() {
    let redis = RedisServer::start();
    let s = node_on(&redis, "history", "", 3_000).await;
    let metrics = s
        .server
        .as_ref()
        .and_then(|r| r.metrics_addr)
        .expect("metrics served");
    let mut alice = s.agent("alice").await;
    let offered_history = |e: &Ev| match e {
        Ev::CallOffered(o) => Some(o.previous_contacts.len()),
        _ => None,
    };
    // A first call, handled: the caller's history holds one contact.
    let first = s.start_call("+7500", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&first.call_id).await;
    alice.hangup(&first.call_id).await;
    alice
        .wrap_up(&first.call_id, proto::Disposition::Unresolved, "billing")
        .await;
    alice.available().await;
    // The second call's offer shows it.
    let second = s.start_call("+7500", "100").await;
    let shown = alice.wait_for(SOON, offered_history).await;
    assert_eq!(shown, Some(1), "the offer shows the caller's last contact");
    alice.accept(&second.call_id).await;
    alice.hangup(&second.call_id).await;
    alice
        .wrap_up(&second.call_id, proto::Disposition::Resolved, "billing")
        .await;
    alice.available().await;
    // Now the history holds a record nobody can read.
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = ::redis::cmd("RPUSH")
        .arg("{history}:contacts:+7500")
        .arg("not a contact record")
        .query_async(&mut c)
        .await
        .unwrap();
    let counters = || async {
        let text = common::metrics::scrape(metrics).await;
        [
            "hotline_owner_lookup_failed_total",
            "hotline_offer_history_missing_total",
        ]
        .map(|c| common::metrics::counter(&text, c))
    };
    let before = counters().await;
    s.start_call("+7500", "100").await;
    let shown = alice.wait_for(SOON, offered_history).await;
    assert_eq!(shown, Some(0), "the offer rings, without the history");
    let after = counters().await;
    assert!(
        after[0] >= before[0] + 1.0,
        "owner lookup counted: {before:?} -> {after:?}"
    );
    assert!(
        after[1] >= before[1] + 1.0,
        "history counted: {before:?} -> {after:?}"
    );
}

/// A slow store delays acknowledgements, never other decisions: while a
/// write hangs on a stalled Redis, an offer's ring timeout still falls due
/// on time and the call goes to the next agent then (the decision's time
/// says when); the agents hear of it once the store holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_store_holds_up_acknowledgements_not_the_ring_timeout() {
    let redis = RedisServer::start();
    // Commands wait out the stall rather than time out; the lease outlives it.
    let s = node_on(&redis, "stall", "redis_timeout_ms = 10000", 20_000).await;
    let mut alice = s.agent("alice").await;
    let mut bob = s.agent("bob").await;
    let mut dave = s.agent("dave").await;
    let call = s.start_call("+7700", "100").await;
    // Whoever is offered it first lets it ring (billing rings 2 s).
    let first = tokio::select! {
        offered = alice.expect_offer(SOON) => offered.agent_id,
        offered = bob.expect_offer(SOON) => offered.agent_id,
    };
    let offered_at = Instant::now();
    redis.pause();
    // A write now hangs on the stalled store.
    let stalled = tokio::spawn(async move { dave.not_ready("lunch").await });
    // Longer than the ring, shorter than the next offer's: the next agent
    // still sees what is left of it.
    const STALL: Duration = Duration::from_millis(3200);
    tokio::time::sleep_until((offered_at + STALL).into()).await;
    redis.resume();
    stalled
        .await
        .expect("the stalled write is answered once the store is back");
    // The other agent is offered the call once the store has it.
    let next = if first == "alice" { &mut bob } else { &mut alice };
    let reoffered = next.expect_offer(SOON).await;
    assert_eq!(reoffered.call_id, call.call_id);
    let decisions = s.explain(&call.call_id).await;
    assert!(decisions.len() >= 2, "{decisions:?}");
    let rang_ms = decisions[1].at_unix_ms - decisions[0].at_unix_ms;
    assert!(
        (2000..2900).contains(&rang_ms),
        "the second offer was decided {rang_ms} ms after the first: the 2 s ring timeout \
         waited for the stalled store ({} ms)",
        STALL.as_millis()
    );
}
