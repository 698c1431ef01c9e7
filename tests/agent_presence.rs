//! An agent whose softphone stream is gone longer than the grace period is
//! logged out with the reason shown; one that stays connected is kept.

mod common;

use std::time::Duration;

use common::*;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use tokio_stream::StreamExt;

fn config() -> String {
    format!("{CONFIG}\n[presence]\ngrace_secs = 1\n")
}

#[tokio::test]
async fn agent_whose_softphone_went_away_is_logged_out_after_the_grace_period() {
    let s = TestServer::with_config(&config()).await;
    let alice = s.agent("alice").await;
    let mut bob = s.agent("bob").await;
    // alice's softphone goes away (browser closed, network lost).
    drop(alice);
    // Logged out once the 1 s grace has passed (the exact timing is the
    // core's, tested on a simulated clock in tests/routing_core.rs).
    let deadline = std::time::Instant::now() + SOON;
    let a = loop {
        let a = s.agent_record("alice").await;
        if a.state == proto::AgentState::LoggedOut as i32 || std::time::Instant::now() > deadline {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(a.state, proto::AgentState::LoggedOut as i32);
    assert!(
        a.state_reason.contains("no softphone connected for 1 s"),
        "{}",
        a.state_reason
    );
    // bob kept his stream open and is still available; calls go to him.
    assert_eq!(
        s.agent_record("bob").await.state,
        proto::AgentState::Available as i32
    );
    let call = s.start_call("+9000", "100").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, call.call_id);
}

#[tokio::test]
async fn a_softphone_reconnecting_within_the_grace_period_keeps_the_agent() {
    let s = TestServer::with_config(&config()).await;
    let alice = s.agent("alice").await;
    let mut c = alice.c.clone();
    drop(alice);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _events = c
        .agent
        .events(proto::EventsRequest {
            agent_id: "alice".into(),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.agent_record("alice").await.state,
        proto::AgentState::Available as i32
    );
}

/// The next event on a freshly opened stream after its first (the state).
async fn first_after_state(a: &mut Agent) -> Ev {
    let first = a.events.next().await.unwrap().unwrap().event.unwrap();
    assert!(matches!(first, Ev::StateChanged(_)), "state first: {first:?}");
    tokio::time::timeout(SOON, a.events.next())
        .await
        .expect("a second event")
        .unwrap()
        .unwrap()
        .event
        .unwrap()
}

#[tokio::test]
async fn a_softphone_that_connects_again_is_shown_its_ringing_offer_its_call_and_its_wrap_up() {
    let s = TestServer::with_config(&config()).await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+9000", "100").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, call.call_id);
    // The page reloads while the call rings: the offer shows again, with
    // its own expiry (not a fresh ring).
    let mut again = reconnect(&s, "alice").await;
    match first_after_state(&mut again).await {
        Ev::CallOffered(o) => {
            assert_eq!(o.call.unwrap().call_id, call.call_id);
            assert!(o.expires_at_unix_ms > 0);
        }
        other => panic!("the ringing offer, not {other:?}"),
    }
    again.c.agent.accept(again.action(&call.call_id)).await.unwrap();
    // Reloaded during the call: the call shows.
    let mut again = reconnect(&s, "alice").await;
    match first_after_state(&mut again).await {
        Ev::CallConnected(c) => assert_eq!(c.call.unwrap().call_id, call.call_id),
        other => panic!("the call, not {other:?}"),
    }
    again.c.agent.hangup(again.action(&call.call_id)).await.unwrap();
    // Reloaded during wrap-up: the wrap-up shows, with its deadline.
    let mut again = reconnect(&s, "alice").await;
    match first_after_state(&mut again).await {
        Ev::WrapUpStarted(w) => {
            assert_eq!(w.call_id, call.call_id);
            assert!(w.deadline_unix_ms > 0);
        }
        other => panic!("the wrap-up, not {other:?}"),
    }
}
