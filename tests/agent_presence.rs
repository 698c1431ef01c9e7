//! An agent whose softphone stream is gone longer than the grace period is
//! logged out with the reason shown; one that stays connected is kept.

mod common;

use std::time::Duration;

use common::*;
use hotline::proto;

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
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let a = s.agent_record("alice").await;
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
