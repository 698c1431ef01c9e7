//! Callbacks, grades and reports through the gRPC API: the full path from a
//! waiting caller asking for a callback to the agent reaching them, and bad
//! input answered with INVALID_ARGUMENT or NOT_FOUND naming the field.

mod common;

use std::time::Duration;

use common::TestServer;
use hotline::proto;
use tonic::Code;

fn now_ms() -> i64 {
    hotline::time::Timestamp::now_wall().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_keeps_their_place_and_the_agent_reaches_them() {
    let s = TestServer::start().await;
    let call = s.start_call("+3000", "200").await;
    let mut edge = s.edge();
    let cb = edge
        .call
        .request_callback(proto::RequestCallbackRequest {
            call_id: call.call_id.clone(),
            ..Default::default()
        })
        .await
        .expect("callback requested")
        .into_inner();
    assert_eq!(cb.number, "+3000", "calls back the caller number");
    assert_eq!(cb.origin, "requested");
    let deadline_in = cb.deadline_unix_ms - cb.created_at_unix_ms;
    assert_eq!(deadline_in, 4 * 3600 * 1000, "the queue's 4-hour deadline");
    // The caller hangs up: the call stays as the callback's work item.
    s.end_call(&call.call_id).await;
    let waiting = s.get_call(&call.call_id).await;
    assert_eq!(waiting.status, proto::CallStatus::Queued as i32, "{waiting:?}");
    assert_eq!(waiting.callback_id, cb.callback_id);

    // An agent with the skill frees up and is offered it as a call.
    let mut dave = s.agent("dave").await;
    let offer = dave.expect_offer(Duration::from_secs(5)).await;
    assert_eq!(offer.call_id, call.call_id);
    assert_eq!(offer.callback_id, cb.callback_id);
    dave.accept(&offer.call_id).await;
    let reached = dave
        .c
        .callback
        .record_attempt(proto::RecordAttemptRequest {
            callback_id: cb.callback_id.clone(),
            agent_id: "dave".into(),
            outcome: proto::AttemptOutcome::Reached as i32,
            request_id: String::new(),
        })
        .await
        .expect("attempt recorded")
        .into_inner();
    assert_eq!(reached.status, proto::CallbackStatus::Reached as i32);
    assert_eq!(reached.met, Some(true), "reached before the deadline: met");
    assert_eq!(reached.attempts.len(), 1);
    // The fix is done; the request closes within 2 hours: on time.
    let cb_ref = proto::CallbackRef {
        callback_id: cb.callback_id.clone(),
        request_id: String::new(),
    };
    let done = dave
        .c
        .callback
        .mark_work_done(cb_ref.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(done.work_done_at_unix_ms > 0);
    let closed = dave
        .c
        .callback
        .close_request(cb_ref.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(closed.request_closed_at_unix_ms >= done.work_done_at_unix_ms);
    assert!(!closed.close_late);
    let err = dave.c.callback.close_request(cb_ref).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "a request closes once");

    // Stored: supervisors list it.
    let mut sup = s.supervisor();
    let listed = sup
        .callback
        .list_callbacks(proto::ListCallbacksRequest {
            statuses: vec![proto::CallbackStatus::Reached as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.callbacks.len(), 1);
    assert_eq!(listed.callbacks[0].callback_id, cb.callback_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callback_grade_and_report_input_is_refused_clearly() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    let create = |f: fn(&mut proto::CreateCallbackRequest)| {
        let mut r = proto::CreateCallbackRequest {
            number: "+3000".into(),
            queue: "repairs".into(),
            ..Default::default()
        };
        f(&mut r);
        r
    };
    let err = sup
        .callback
        .create_callback(create(|r| r.deadline_unix_ms = 1_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("deadline_unix_ms"), "{err:?}");

    let err = sup
        .callback
        .create_callback(create(|r| r.customer_id = "nobody".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("nobody"), "{err:?}");

    let err = sup
        .callback
        .create_callback(create(|r| r.max_attempts = -1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("max_attempts"), "{err:?}");

    let err = sup
        .callback
        .list_callbacks(proto::ListCallbacksRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{err:?}");

    let err = sup
        .callback
        .create_callback(create(|r| r.queue = "no-such-queue".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A good one, for a known customer: dialled on the customer's number.
    let ok = sup
        .callback
        .create_callback(create(|r| {
            r.customer_id = "bigco".into();
            r.number = String::new();
        }))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(ok.number, "+1000");
    assert_eq!(ok.tier, proto::Tier::KeyAccount as i32);
    let err = sup
        .callback
        .reschedule_callback(proto::RescheduleCallbackRequest {
            callback_id: ok.callback_id.clone(),
            not_before_unix_ms: now_ms(),
            deadline_unix_ms: now_ms() - 60_000,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let cancelled = sup
        .callback
        .cancel_callback(proto::CallbackRef {
            callback_id: ok.callback_id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, proto::CallbackStatus::Cancelled as i32);
    assert_eq!(
        cancelled.met, None,
        "a cancelled callback is neither met nor missed"
    );

    // Grades: an answered call, graded outside A-F or on a bad scorecard.
    let call = s.start_call("+2000", "200").await;
    let mut dave = s.agent("dave").await;
    let offer = dave.expect_offer(Duration::from_secs(5)).await;
    assert_eq!(offer.call_id, call.call_id);
    dave.accept(&call.call_id).await;
    dave.hangup(&call.call_id).await;
    let card = proto::Scorecard {
        name: "short".into(),
        total: 10,
        criteria: vec![
            proto::ScorecardCriterion {
                name: "greeting".into(),
                weight: 4,
            },
            proto::ScorecardCriterion {
                name: "solution".into(),
                weight: 6,
            },
        ],
    };
    let grade = |letter: &str, card: proto::Scorecard| proto::GradeCallRequest {
        call_id: call.call_id.clone(),
        scorecard: Some(card),
        grades: vec![
            proto::CriterionGrade {
                criterion: "greeting".into(),
                grade: "A".into(),
            },
            proto::CriterionGrade {
                criterion: "solution".into(),
                grade: letter.into(),
            },
        ],
        comments: String::new(),
    };
    let err = sup
        .supervisor
        .grade_call(grade("G", card.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("A, B, C, D, E, F"), "{err:?}");
    let mut bad_card = card.clone();
    bad_card.total = 12;
    let err = sup.supervisor.grade_call(grade("A", bad_card)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("sum to 10, not to its total 12"),
        "{err:?}"
    );
    let graded = sup
        .supervisor
        .grade_call(grade("C", card))
        .await
        .expect("graded")
        .into_inner();
    // 4 x 5 + 6 x 3 = 38 of 50 points.
    assert_eq!(graded.score, 76.0);
    assert_eq!(graded.agent_id, "dave");

    let err = s
        .edge()
        .call
        .submit_survey(proto::SubmitSurveyRequest {
            call_id: call.call_id.clone(),
            satisfaction: 6,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    s.edge()
        .call
        .submit_survey(proto::SubmitSurveyRequest {
            call_id: call.call_id.clone(),
            satisfaction: 4,
        })
        .await
        .expect("rated");

    // Reports: a bad range is refused; a good one has the quality and satisfaction.
    let err = sup
        .report
        .get_queue_stats(proto::ReportRequest {
            from_unix_ms: now_ms(),
            to_unix_ms: now_ms() - 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let report = sup
        .report
        .get_agent_stats(proto::ReportRequest {
            from_unix_ms: now_ms() - 3_600_000,
            to_unix_ms: now_ms() + 3_600_000,
        })
        .await
        .unwrap()
        .into_inner();
    let dave_row = report.agents.iter().find(|a| a.agent_id == "dave").expect("dave");
    let common = dave_row.common.as_ref().unwrap();
    assert_eq!(common.quality_average, Some(76.0));
    assert_eq!(common.satisfaction_average, Some(4.0));

    // Agents may not read reports or grade.
    let err = dave
        .c
        .report
        .get_queue_stats(proto::ReportRequest {
            from_unix_ms: 0,
            to_unix_ms: now_ms(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn callbacks_of(s: &TestServer) -> Vec<proto::Callback> {
    s.supervisor()
        .callback
        .list_callbacks(proto::ListCallbacksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .callbacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_waited_long_enough_and_hung_up_is_called_back_a_quick_hang_up_is_not() {
    let config = common::CONFIG.replacen(
        "wrap_up_secs = 1\n",
        "wrap_up_secs = 1\ncallback_on_abandon_after_secs = 1\n",
        1,
    );
    let s = TestServer::with_config(&config).await;
    let patient = s.start_call("+3001", "200").await;
    let quick = s.start_call("+3002", "200").await;
    s.end_call(&quick.call_id).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    s.end_call(&patient.call_id).await;
    let cbs = callbacks_of(&s).await;
    assert_eq!(cbs.len(), 1, "{cbs:?}");
    assert_eq!(cbs[0].number, "+3001");
    assert_eq!(cbs[0].origin, "abandoned");
    assert_eq!(cbs[0].source_call_id, patient.call_id);
    assert_eq!(cbs[0].queue, "repairs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolved_wrap_up_becomes_a_callback_owned_by_the_agent() {
    let s = TestServer::start().await;
    let call = s.start_call("+3003", "200").await;
    let mut dave = s.agent("dave").await;
    dave.expect_offer(Duration::from_secs(5)).await;
    dave.accept(&call.call_id).await;
    dave.hangup(&call.call_id).await;
    dave.wrap_up(&call.call_id, proto::Disposition::Unresolved, "repairs/boiler")
        .await;
    let cbs = callbacks_of(&s).await;
    assert_eq!(cbs.len(), 1, "{cbs:?}");
    let cb = &cbs[0];
    assert_eq!(cb.origin, "wrap-up");
    assert_eq!(cb.owner_agent_id, "dave");
    assert_eq!(cb.number, "+3003");
    assert_eq!(cb.category, "repairs/boiler");
    // Dave's softphone lists the callbacks he owns; he may not list anyone
    // else's, nor all of them.
    let mine = |owner: &str| proto::ListCallbacksRequest {
        owner_agent_id: owner.into(),
        ..Default::default()
    };
    let listed = dave
        .c
        .callback
        .list_callbacks(mine("dave"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.callbacks.len(), 1);
    assert_eq!(listed.callbacks[0].callback_id, cb.callback_id);
    for owner in ["erin", ""] {
        let err = dave.c.callback.list_callbacks(mine(owner)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "owner {owner:?}");
    }
    // Its owner is offered it first (first-contact ownership).
    let offer = dave.expect_offer(Duration::from_secs(5)).await;
    assert_eq!(offer.callback_id, cb.callback_id);
    // An unanswered attempt schedules a retry with back-off.
    dave.accept(&offer.call_id).await;
    let retried = dave
        .c
        .callback
        .record_attempt(proto::RecordAttemptRequest {
            callback_id: cb.callback_id.clone(),
            agent_id: "dave".into(),
            outcome: proto::AttemptOutcome::NoAnswer as i32,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.status, proto::CallbackStatus::Scheduled as i32);
    assert_eq!(
        retried.next_attempt_at_unix_ms - retried.attempts[0].at_unix_ms,
        10 * 60 * 1000,
        "first retry after 10 minutes"
    );
    // Another agent may not record attempts as dave.
    let mut erin = s.clients(hotline::auth::Role::Agent, "erin");
    let err = erin
        .callback
        .record_attempt(proto::RecordAttemptRequest {
            callback_id: cb.callback_id.clone(),
            agent_id: "dave".into(),
            outcome: proto::AttemptOutcome::Reached as i32,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_see_the_callback_board_and_the_warning_before_a_deadline() {
    // Warnings an hour ahead, so a deadline an hour and 2 s away warns in 2 s.
    let config = format!("{}\n[callbacks]\nwarn_before_secs = 3600\n", common::CONFIG);
    let s = TestServer::with_config(&config).await;
    let mut sup = s.supervisor();
    let cb = sup
        .callback
        .create_callback(proto::CreateCallbackRequest {
            number: "+3009".into(),
            queue: "repairs".into(),
            deadline_unix_ms: now_ms() + 3_602_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut board = sup
        .callback
        .watch_callbacks(proto::WatchCallbacksRequest { interval_ms: 200 })
        .await
        .unwrap()
        .into_inner();
    let first = board.message().await.unwrap().expect("a board");
    assert_eq!(
        (first.pending, first.due_now, first.overdue),
        (1, 1, 0),
        "{first:?}"
    );
    let warned = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let b = board.message().await.unwrap().expect("a board");
            if let Some(a) = b.alerts.first() {
                return (b.clone(), a.clone());
            }
        }
    })
    .await
    .expect("a warning within 10 s");
    let (b, alert) = warned;
    assert_eq!(alert.callback_id, cb.callback_id);
    assert_eq!(alert.kind, proto::CallbackAlertKind::Warned as i32);
    assert_eq!(alert.deadline_unix_ms, cb.deadline_unix_ms);
    assert_eq!(alert.queue, "repairs");
    assert_eq!(b.due_soon, 1, "{b:?}");
    // The next boards do not repeat it.
    let next = board.message().await.unwrap().expect("a board");
    assert!(next.alerts.is_empty(), "{next:?}");
    // Agents do not watch the board.
    let err = s
        .clients(hotline::auth::Role::Agent, "dave")
        .callback
        .watch_callbacks(proto::WatchCallbacksRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}
