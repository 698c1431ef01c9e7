//! Which agent gets which call: skills, tiers, relaxation, preferred agents,
//! overflow, rejection, and the explanation supervisors can read.

mod common;

use std::time::Duration;

use common::*;
use hotline::proto;

#[tokio::test]
async fn call_needing_a_skill_is_offered_only_to_an_agent_with_it() {
    let s = TestServer::start().await;
    // alice is idle longer, but only bob speaks Spanish.
    let mut alice = s.agent("alice").await;
    let mut bob = s.agent("bob").await;
    let call = s
        .start_call_with(proto::StartCallRequest {
            ani: "+3000".into(),
            dnis: "100".into(),
            skills: vec![proto::SkillRequirement {
                skill: "spanish".into(),
                min_proficiency: 5,
                optional: false,
            }],
            ..Default::default()
        })
        .await;
    let offered = bob.expect_offer(SOON).await;
    assert_eq!(offered.call_id, call.call_id);
    assert!(!alice.gets_offer_within(SHORT).await, "alice lacks spanish");

    let explain = s.explain(&call.call_id).await;
    let d = &explain[0];
    assert_eq!(d.agent_id, "bob");
    assert_eq!(d.trigger, "call-arrived");
    assert_eq!(d.strategy, "longest-idle");
    assert!(
        d.passed_over
            .iter()
            .any(|p| p.agent_id == "alice" && p.reason.contains("missing skill spanish")),
        "alice passed over for the missing skill: {:?}",
        d.passed_over
    );
    assert!(d
        .requirements
        .iter()
        .any(|r| r.skill == "spanish" && r.min_proficiency == 5));
}

#[tokio::test]
async fn key_account_caller_is_served_before_an_earlier_regular_caller() {
    let s = TestServer::start().await;
    let regular = s.start_call("+2000", "100").await;
    let key = s.start_call("+1000", "100").await;
    assert_eq!(key.tier, proto::Tier::KeyAccount as i32);
    assert_eq!(key.customer_id, "bigco");
    assert_eq!(regular.tier, proto::Tier::Regular as i32);
    let mut alice = s.agent("alice").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, key.call_id);
}

#[tokio::test]
async fn requirements_relax_after_the_configured_wait() {
    let s = TestServer::start().await;
    // The queue wants repairs >= 8; dave has 4, enough once relaxed by 5.
    let mut dave = s.agent("dave").await;
    let call = s.start_call("+3001", "300").await;
    assert!(!dave.gets_offer_within(Duration::from_millis(500)).await);
    assert_eq!(
        s.get_call(&call.call_id).await.status,
        proto::CallStatus::Queued as i32
    );
    let offered = dave.expect_offer(SOON).await;
    assert_eq!(offered.call_id, call.call_id);
    assert_eq!(offered.relaxation_step, 1);
    let explain = s.explain(&call.call_id).await;
    assert_eq!(explain[0].relaxation_step, 1);
    assert_eq!(explain[0].requirements[0].min_proficiency, 3);
}

#[tokio::test]
async fn repeat_caller_with_an_open_issue_goes_to_the_owner() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let first = s.start_call("+1000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&first.call_id).await;
    // bob is free from now on, so he is idle longer than alice will be.
    let mut bob = s.agent("bob").await;
    alice.hangup(&first.call_id).await;
    alice
        .wrap_up(&first.call_id, proto::Disposition::Unresolved, "billing/dispute")
        .await;

    let repeat = s.start_call("+1000", "100").await;
    assert_eq!(repeat.preferred_agent_id, "alice");
    assert_eq!(alice.expect_offer(SOON).await.call_id, repeat.call_id);
    assert!(!bob.gets_offer_within(SHORT).await);
}

#[tokio::test]
async fn repeat_caller_goes_to_others_when_the_owner_stays_busy() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let first = s.start_call("+1000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&first.call_id).await;
    alice.hangup(&first.call_id).await;
    alice
        .wrap_up(
            &first.call_id,
            proto::Disposition::CallbackNeeded,
            "billing/dispute",
        )
        .await;
    alice.not_ready("lunch").await;
    let mut bob = s.agent("bob").await;
    let repeat = s.start_call("+1000", "100").await;
    // Held for alice for the queue's preferred-agent wait (1 s), then bob.
    assert!(!bob.gets_offer_within(Duration::from_millis(500)).await);
    assert_eq!(bob.expect_offer(SOON).await.call_id, repeat.call_id);
}

#[tokio::test]
async fn call_overflows_after_the_maximum_wait() {
    let s = TestServer::start().await;
    let mut carol = s.agent("carol").await;
    // Nobody has vip: after 1 s the call overflows to repairs, where carol is.
    let call = s.start_call("+3002", "400").await;
    let offered = carol.expect_offer(SOON).await;
    assert_eq!(offered.call_id, call.call_id);
    assert_eq!(offered.queue, "repairs");
}

#[tokio::test]
async fn call_is_rejected_when_nobody_could_serve_it_and_the_queue_says_reject() {
    let s = TestServer::start().await;
    let call = s.start_call("+3003", "500").await;
    assert_eq!(call.status, proto::CallStatus::Ended as i32);
    assert_eq!(call.outcome, proto::CallOutcome::Rejected as i32);
    assert!(call.end_reason.contains("no agent"), "{}", call.end_reason);
}
