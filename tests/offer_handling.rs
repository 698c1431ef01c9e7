//! What happens to an offer: declined, unanswered, withdrawn; and to agents
//! who keep missing offers.

mod common;

use std::time::Duration;

use common::*;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;

#[tokio::test]
async fn declined_offer_puts_the_call_back_in_its_original_place() {
    let s = TestServer::start().await;
    let a = s.start_call("+3100", "100").await;
    let b = s.start_call("+3101", "100").await;
    let mut alice = s.agent("alice").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, a.call_id);
    let req = alice.action(&a.call_id);
    let declined = alice.c.agent.decline(req).await.expect("decline").into_inner();
    // Like Accept and Hangup, Decline answers with the call as it is now:
    // back in the queue, offered to no one.
    assert_eq!(declined.call_id, a.call_id);
    assert_eq!(declined.status, proto::CallStatus::Queued as i32);
    assert_eq!(declined.agent_id, "");
    // The declined call is still first in line: the next free agent gets it.
    let mut bob = s.agent("bob").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, a.call_id);
    // alice is not offered the call she declined again; she gets the next one.
    assert_eq!(alice.expect_offer(SOON).await.call_id, b.call_id);
    assert_eq!(s.get_call(&a.call_id).await.original_position, 1);
}

#[tokio::test]
async fn unanswered_offer_is_rescinded_and_the_call_keeps_its_place() {
    let s = TestServer::start().await;
    let a = s.start_call("+3200", "100").await;
    let _b = s.start_call("+3201", "100").await;
    let mut alice = s.agent("alice").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, a.call_id);
    // Ring timeout is 2 s.
    let reason = alice
        .wait_for(SOON, |e| match e {
            Ev::OfferRescinded(r) => Some(r.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, Some(proto::RescindReason::NoAnswer as i32));
    let mut bob = s.agent("bob").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, a.call_id);
    assert_eq!(s.agent_record("alice").await.consecutive_misses, 1);
}

#[tokio::test]
async fn agent_missing_k_offers_in_a_row_goes_not_ready() {
    let s = TestServer::start().await;
    s.start_call("+3300", "100").await;
    s.start_call("+3301", "100").await;
    let mut alice = s.agent("alice").await;
    alice.expect_offer(SOON).await;
    alice.expect_offer(SOON).await;
    let state = alice
        .wait_for(SOON, |e| match e {
            Ev::StateChanged(c) => c
                .agent
                .clone()
                .filter(|a| a.state == proto::AgentState::NotReady as i32),
            _ => None,
        })
        .await
        .expect("alice goes not ready");
    assert_eq!(state.not_ready_reason, "no-answer");
    assert!(
        state.state_reason.contains("missed 2 offers"),
        "{}",
        state.state_reason
    );
    // Not ready agents get no offers.
    s.start_call("+3302", "100").await;
    assert!(!alice.gets_offer_within(SHORT).await);
}

#[tokio::test]
async fn caller_hanging_up_while_the_offer_rings_withdraws_it() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+3400", "100").await;
    alice.expect_offer(SOON).await;
    let ended = s.end_call(&call.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Abandoned as i32);
    let reason = alice
        .wait_for(SOON, |e| match e {
            Ev::OfferRescinded(r) => Some(r.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, Some(proto::RescindReason::CallerHungUp as i32));
    assert_eq!(
        s.agent_record("alice").await.state,
        proto::AgentState::Available as i32
    );
    // Accepting the withdrawn offer is refused with a reason.
    let err = alice
        .c
        .agent
        .accept(alice.action(&call.call_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("not offered"), "{}", err.message());
}

#[tokio::test]
async fn wrap_up_then_available() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+3500", "100").await;
    alice.expect_offer(SOON).await;
    let connected = alice.accept(&call.call_id).await;
    assert_eq!(connected.status, proto::CallStatus::Connected as i32);
    let ended = alice.hangup(&call.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
    let deadline = alice
        .wait_for(SOON, |e| match e {
            Ev::WrapUpStarted(w) => Some(w.deadline_unix_ms),
            _ => None,
        })
        .await
        .expect("wrap-up started");
    assert!(deadline > 0);
    let rec = s.agent_record("alice").await;
    assert_eq!(rec.state, proto::AgentState::WrapUp as i32);
    assert_eq!(rec.current_call_id, call.call_id);
    let after = alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/question")
        .await;
    assert_eq!(after.state, proto::AgentState::Available as i32);
    assert_eq!(after.calls_handled, 1);
}

#[tokio::test]
async fn wrap_up_ends_by_itself_after_the_queue_wrap_up_time() {
    let s = TestServer::start().await;
    let mut carol = s.agent("carol").await;
    let call = s.start_call("+3600", "200").await;
    carol.expect_offer(SOON).await;
    carol.accept(&call.call_id).await;
    carol.hangup(&call.call_id).await;
    let disposition = carol
        .wait_for(Duration::from_secs(5), |e| match e {
            Ev::WrapUpEnded(w) => Some(w.disposition),
            _ => None,
        })
        .await;
    assert_eq!(disposition, Some(proto::Disposition::Unspecified as i32));
    assert_eq!(
        s.agent_record("carol").await.state,
        proto::AgentState::Available as i32
    );
}

#[tokio::test]
async fn not_ready_asked_during_a_call_applies_after_wrap_up() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+3700", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    let during = alice.not_ready("break").await;
    assert_eq!(during.state, proto::AgentState::OnCall as i32);
    assert_eq!(during.pending_not_ready_reason, "break");
    alice.hangup(&call.call_id).await;
    let after = alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/question")
        .await;
    assert_eq!(after.state, proto::AgentState::NotReady as i32);
    assert_eq!(after.not_ready_reason, "break");
}

#[tokio::test]
async fn hold_resume_and_transfer_to_another_agent() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+3800", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    let held = alice
        .c
        .agent
        .hold(alice.action(&call.call_id))
        .await
        .unwrap()
        .into_inner();
    assert!(held.on_hold);
    let resumed = alice
        .c
        .agent
        .resume(alice.action(&call.call_id))
        .await
        .unwrap()
        .into_inner();
    assert!(!resumed.on_hold);

    let mut bob = s.agent("bob").await;
    let moved = alice
        .c
        .agent
        .transfer(proto::TransferRequest {
            agent_id: "alice".into(),
            call_id: call.call_id.clone(),
            target: Some(proto::transfer_request::Target::ToAgentId("bob".into())),
            request_id: String::new(),
        })
        .await
        .expect("transfer")
        .into_inner();
    assert_eq!(moved.status, proto::CallStatus::Offering as i32);
    assert_eq!(moved.agent_id, "bob");
    assert_eq!(bob.expect_offer(SOON).await.call_id, call.call_id);
    assert_eq!(
        s.agent_record("alice").await.state,
        proto::AgentState::WrapUp as i32
    );
    bob.accept(&call.call_id).await;
    let explain = s.explain(&call.call_id).await;
    let triggers: Vec<_> = explain.iter().map(|d| d.trigger.as_str()).collect();
    assert_eq!(triggers, ["call-arrived", "transfer-to-agent"]);

    // Transfer to a queue: the call waits again, keeping its original rank.
    let back = bob
        .c
        .agent
        .transfer(proto::TransferRequest {
            agent_id: "bob".into(),
            call_id: call.call_id.clone(),
            target: Some(proto::transfer_request::Target::Queue("repairs".into())),
            request_id: String::new(),
        })
        .await
        .expect("transfer to queue")
        .into_inner();
    assert_eq!(back.queue, "repairs");
    assert_eq!(back.status, proto::CallStatus::Queued as i32);
    assert_eq!(back.enqueued_at_unix_ms, call.enqueued_at_unix_ms);
}

#[tokio::test]
async fn supervisors_watch_queues_build_up_live() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    s.start_call("+3900", "100").await;
    s.start_call("+3901", "100").await;
    let mut stream = sup
        .supervisor
        .watch_queues(proto::WatchQueuesRequest { interval_ms: 100 })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    let billing = first.queues.iter().find(|q| q.queue == "billing").unwrap();
    assert_eq!(billing.waiting, 2);
    assert_eq!(billing.offered_today, 2);
    let _alice = s.agent("alice").await;
    // The next snapshots show one call ringing at alice.
    let mut seen = false;
    for _ in 0..20 {
        let snap = stream.message().await.unwrap().unwrap();
        let billing = snap.queues.iter().find(|q| q.queue == "billing").unwrap();
        if billing.waiting == 1 && billing.offering == 1 {
            assert!(billing.oldest_wait_ms >= 0);
            let reserved = billing
                .agents
                .iter()
                .find(|a| a.state == proto::AgentState::Reserved as i32)
                .map(|a| a.count);
            assert_eq!(reserved, Some(1));
            seen = true;
            break;
        }
    }
    assert!(seen, "the wallboard showed the offer");
}

#[tokio::test]
async fn an_offer_shows_the_customers_recent_contacts() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let first = s.start_call("+3700", "100").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, first.call_id);
    alice.accept(&first.call_id).await;
    alice.hangup(&first.call_id).await;
    alice
        .wrap_up(&first.call_id, proto::Disposition::Unresolved, "invoice")
        .await;
    // The same caller again: the offer rings with the earlier contact,
    // read by the softphone's stream (the engine never waits for it).
    let again = s.start_call("+3700", "100").await;
    let history = alice
        .wait_for(SOON, |e| match e {
            Ev::CallOffered(o) if o.call.as_ref().is_some_and(|c| c.call_id == again.call_id) => {
                Some(o.previous_contacts.clone())
            }
            _ => None,
        })
        .await
        .expect("the second offer");
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].call_id, first.call_id);
    assert_eq!(history[0].category, "invoice");
    assert_eq!(history[0].disposition, proto::Disposition::Unresolved as i32);
}
