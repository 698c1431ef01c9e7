//! Following a case up: a repair request's milestones (the technician's
//! callback within 4 hours, the close within 2 hours of the work ending)
//! are the deadlines its follow-up callback keeps, warned and breached on
//! a simulated clock and shown on the case; the keypad survey's rating of
//! a call linked to a resolved case confirms it or reopens it.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{cases, TestServer, SOON};
use hotline::auth::Role;
use hotline::callback::{AttemptOutcome, CallbackEvent, CallbackRecord, CallbackTracker, TrackerSettings};
use hotline::ids::CallbackId;
use hotline::proto;
use hotline::time::Timestamp;

/// 2026-11-23 (a Monday) at hh:mm UTC.
fn at(h: u64, m: u64) -> Timestamp {
    Timestamp(1_795_392_000_000 + (h * 60 + m) * 60_000)
}

/// What fired since the last call, by name (record changes kept apart).
fn fired(t: &mut CallbackTracker, store: &mut HashMap<CallbackId, CallbackRecord>) -> Vec<&'static str> {
    let mut out = Vec::new();
    while let Some(e) = t.poll_event() {
        match e {
            CallbackEvent::CallbackChanged { record } => {
                store.insert(record.id.clone(), *record);
            }
            CallbackEvent::CallbackWarned { .. } => out.push("callback warned"),
            CallbackEvent::CallbackBreached { .. } => out.push("callback breached"),
            CallbackEvent::CallbackClosed { met: false, .. } => out.push("callback missed"),
            CallbackEvent::CallbackClosed { met: true, .. } => out.push("callback met"),
            CallbackEvent::CloseDeadlineWarned { .. } => out.push("close warned"),
            CallbackEvent::CloseDeadlineBreached { .. } => out.push("close breached"),
            CallbackEvent::RequestClosed { late, .. } => {
                out.push(if late { "closed late" } else { "closed on time" })
            }
            CallbackEvent::CallbackDue { .. } => {}
        }
    }
    out
}

#[test]
fn a_repair_requests_4_hour_and_2_hour_milestones_are_warned_and_breached_on_a_simulated_clock() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    let id = CallbackId::new("technician");
    // The request is booked at 09:00: the technician calls back by 13:00.
    t.handle_created(at(9, 0), id.clone(), None, at(13, 0), 3)
        .expect("booked");
    fired(&mut t, &mut store);
    t.handle_timeout(at(12, 29));
    assert!(fired(&mut t, &mut store).is_empty());
    t.handle_timeout(at(12, 30));
    assert_eq!(fired(&mut t, &mut store), ["callback warned"], "30 minutes ahead");
    t.handle_timeout(at(13, 0));
    assert_eq!(fired(&mut t, &mut store), ["callback breached"]);
    t.handle_attempt(at(13, 10), &id, AttemptOutcome::Reached)
        .expect("reached");
    assert_eq!(fired(&mut t, &mut store), ["callback missed"]);
    // The work ends at 14:00: the request closes by 16:00.
    t.handle_work_done(at(14, 0), &id, store.get(&id).cloned())
        .expect("work done");
    fired(&mut t, &mut store);
    t.handle_timeout(at(15, 29));
    assert!(fired(&mut t, &mut store).is_empty());
    t.handle_timeout(at(15, 30));
    assert_eq!(fired(&mut t, &mut store), ["close warned"]);
    t.handle_timeout(at(16, 0));
    assert_eq!(fired(&mut t, &mut store), ["close breached"]);
    t.handle_request_closed(at(16, 10), &id).expect("closed");
    assert_eq!(fired(&mut t, &mut store), ["closed late"]);
    let record = &store[&id];
    assert!(record.warned && record.breached && record.close_warned && record.close_breached);
    // Restored after a restart, nothing fires twice.
    let mut again = CallbackTracker::new(TrackerSettings::default());
    again.handle_restore(at(17, 0), store.values().cloned().collect());
    assert!(fired(&mut again, &mut store).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_case_shows_its_follow_ups_milestones_as_they_are_warned_and_breached() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    let id = cases::open(&mut sup, cases::repair("smallco")).await.case_id;
    cases::assign(&mut sup, &id, "field", "carol", 0)
        .await
        .expect("assigned");
    // The technician's callback, due in 1.5 s (warned at once: closer
    // than 30 minutes).
    let deadline = Timestamp::now_wall().as_millis() as i64 + 1_500;
    let booked = s
        .clients(Role::Agent, "carol")
        .case
        .schedule_case_follow_up(proto::ScheduleCaseFollowUpRequest {
            case_id: id.clone(),
            queue: "repairs".into(),
            deadline_unix_ms: deadline,
            notes: "call before the visit".into(),
            ..Default::default()
        })
        .await
        .expect("booked")
        .into_inner();
    let milestone = &booked.milestones[0];
    assert_eq!(milestone.name, "callback");
    assert_eq!(milestone.due_unix_ms, deadline);
    assert_eq!(milestone.callback_id, booked.callback_ids[0]);
    let end = tokio::time::Instant::now() + SOON;
    let breached = loop {
        let now = cases::get(&mut sup, &id).await;
        if now.milestones.first().is_some_and(|m| m.breached) {
            break now.milestones[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < end,
            "never breached: {:?}",
            now.milestones
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(breached.warned, "warned before it was breached");
    assert_eq!(
        breached.outcome,
        proto::DueOutcome::Unspecified as i32,
        "still to be met"
    );
    // Listings leave milestones out (no callback reads per row).
    let listed = sup
        .case
        .list_cases(proto::ListCasesRequest {
            customer_id: "smallco".into(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.cases[0].milestones.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keypad_surveys_rating_of_a_linked_call_confirms_or_reopens_the_resolved_case() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    let id = cases::open(&mut sup, cases::complaint("smallco")).await.case_id;
    cases::judge(&mut sup, &id, true, "").await.expect("stands");
    cases::assign(&mut sup, &id, "billing", "alice", 0)
        .await
        .expect("assigned");
    let mut alice = s.agent("alice").await;
    cases::resolve(&mut alice.c, &id, "refunded").await;

    // The customer is called (here they call in), the call is linked to
    // the case, and the keypad survey after it rates 2, then 5.
    let mut status_after = Vec::new();
    for rating in [2, 5] {
        let call = s.start_call("+2000", "100").await;
        alice.expect_offer(SOON).await;
        alice.accept(&call.call_id).await;
        alice
            .c
            .case
            .link_case(proto::LinkCaseRequest {
                case_id: id.clone(),
                call_id: call.call_id.clone(),
                ..Default::default()
            })
            .await
            .expect("linked");
        alice.hangup(&call.call_id).await;
        alice
            .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/late-fee")
            .await;
        s.edge()
            .call
            .submit_survey(proto::SubmitSurveyRequest {
                call_id: call.call_id.clone(),
                satisfaction: rating,
            })
            .await
            .expect("the survey is kept");
        let case = cases::get(&mut sup, &id).await;
        status_after.push((case.status, case.satisfaction));
        let rated = case
            .timeline
            .iter()
            .rev()
            .find(|e| e.change == "rated")
            .expect("rated");
        assert_eq!(rated.by, "edge", "the survey's principal");
        if rating == 2 {
            cases::resolve(&mut alice.c, &id, "refund re-sent").await;
        }
    }
    assert_eq!(
        status_after,
        [
            (proto::CaseStatus::Reopened as i32, 2),
            (proto::CaseStatus::Closed as i32, 5)
        ]
    );
}
