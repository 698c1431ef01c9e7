//! A customer's data rights, end to end on two nodes sharing a real Redis:
//! everything held about one customer (their directory entry, contacts,
//! callbacks, grades and survey ratings of their calls) comes out of
//! either node as one JSON document; only admins may take it, and the
//! audit trail shows who did.

mod common;

use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::auth::Role;
use hotline::proto;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_everything_held_about_a_customer_from_either_node_and_the_audit_shows_it() {
    let redis = RedisServer::start();
    let config = common::media::cluster_config(&redis, "");
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;

    // smallco (+2000) calls node a; alice answers on node b and wraps up.
    let mut alice = b.agent("alice").await;
    let call = a.start_call("+2000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    alice.hangup(&call.call_id).await;
    alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/question")
        .await;
    a.edge()
        .call
        .submit_survey(proto::SubmitSurveyRequest {
            call_id: call.call_id.clone(),
            satisfaction: 5,
        })
        .await
        .expect("rated");
    let criterion = |name: &str, weight| proto::ScorecardCriterion {
        name: name.into(),
        weight,
    };
    a.supervisor()
        .supervisor
        .grade_call(proto::GradeCallRequest {
            call_id: call.call_id.clone(),
            scorecard: Some(proto::Scorecard {
                name: "short".into(),
                total: 10,
                criteria: vec![criterion("greeting", 4), criterion("solution", 6)],
            }),
            grades: ["greeting", "solution"]
                .map(|c| proto::CriterionGrade {
                    criterion: c.into(),
                    grade: "B".into(),
                })
                .to_vec(),
            comments: "friendly".into(),
        })
        .await
        .expect("graded");
    // Someone else's call is not theirs.
    let other = a.start_call("+1000", "100").await;
    let offered = alice.expect_offer(SOON).await;
    assert_eq!(offered.call_id, other.call_id);
    alice.accept(&other.call_id).await;
    alice.hangup(&other.call_id).await;
    let callback = a
        .supervisor()
        .callback
        .create_callback(proto::CreateCallbackRequest {
            customer_id: "smallco".into(),
            queue: "billing".into(),
            notes: "call back about the invoice".into(),
            ..Default::default()
        })
        .await
        .expect("booked")
        .into_inner();

    // A complaint they made.
    let case = common::cases::open(&mut a.supervisor(), common::cases::complaint("smallco")).await;

    let exported = b
        .clients(Role::Admin, "ada")
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "smallco".into(),
        })
        .await
        .expect("exported")
        .into_inner();
    let doc: serde_json::Value = serde_json::from_slice(&exported.json).expect("JSON");
    assert_eq!(doc["format"], "hotline.customer-data.v1");
    assert_eq!(doc["customer"]["id"], "smallco");
    assert_eq!(doc["customer"]["numbers"][0], "+2000");
    let calls = |list: &str| -> Vec<String> {
        doc[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {doc}"))
            .iter()
            .map(|r| r["call"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        calls("contacts"),
        std::slice::from_ref(&call.call_id),
        "their call, not the other"
    );
    assert_eq!(doc["contacts"][0]["agent"], "alice");
    assert_eq!(calls("grades"), std::slice::from_ref(&call.call_id));
    assert_eq!(doc["grades"][0]["comments"], "friendly");
    assert_eq!(calls("surveys"), std::slice::from_ref(&call.call_id));
    assert_eq!(doc["surveys"][0]["satisfaction"], 5);
    let callbacks = doc["callbacks"].as_array().unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0]["id"], callback.callback_id);
    assert_eq!(doc["cases"][0]["id"], case.case_id, "their case, with every word");
    assert_eq!(doc["cases"][0]["summary"], case.summary);
    assert_eq!(doc["truncated"].as_array().map(Vec::len), Some(0));

    // The trail, read on the other node, shows who took it.
    let trail = a.audit_events("customer-exported").await;
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (trail[0].actor.as_str(), trail[0].target.as_str()),
        ("ada", "customer:smallco")
    );

    // Only admins; unknown and malformed ids are named.
    let denied = b
        .supervisor()
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "smallco".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mut admin = a.clients(Role::Admin, "ada");
    let unknown = admin
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let bad = admin
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "x".repeat(10_000),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("customer_id") && bad.message().len() < 300,
        "{}",
        bad.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_erases_a_customer_from_another_node_their_recording_is_deleted_and_reports_still_count_the_call(
) {
    use common::media::{finished_recording, AudioRig};
    use hotline::client::softphone::tone;
    let redis = RedisServer::start();
    let a = AudioRig::cluster_node(&redis, "").await;
    let b = AudioRig::cluster_node(&redis, "").await;

    // smallco (+2000) calls node a (their audio and recording are there);
    // alice answers on node b.
    let mut alice = b.server.agent("alice").await;
    alice.not_ready("getting ready").await;
    let _alice_phone = b.softphone(&mut alice, tone(1000.0, 8000)).await;
    let call = a.server.start_call("+2000", "100").await;
    let caller = a.caller(&call.call_id, tone(440.0, 8000)).await;
    alice.available().await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    // They talk (and are recorded) before alice hangs up.
    common::media::hears(&caller, caller.heard_len(), 1000.0, 1.0, 0.5).await;
    alice.hangup(&call.call_id).await;
    alice
        .wrap_up(&call.call_id, proto::Disposition::Unresolved, "billing/question")
        .await;
    drop(caller);
    let rec = finished_recording(&a, &call.call_id).await;
    let file = a.recording_file(&rec);
    assert!(file.exists(), "the recording is on node a's disk");
    let booked = a
        .server
        .supervisor()
        .callback
        .create_callback(proto::CreateCallbackRequest {
            customer_id: "smallco".into(),
            queue: "billing".into(),
            notes: "call back about the invoice".into(),
            ..Default::default()
        })
        .await
        .expect("booked")
        .into_inner();

    let mut admin = b.server.clients(Role::Admin, "ada");
    let erase = |confirm: &str| proto::EraseCustomerDataRequest {
        customer_id: "smallco".into(),
        confirm_customer_id: confirm.into(),
    };
    let unconfirmed = admin
        .privacy
        .erase_customer_data(erase("smallc"))
        .await
        .unwrap_err();
    assert_eq!(unconfirmed.code(), Code::InvalidArgument);
    assert!(
        unconfirmed.message().contains("confirm_customer_id"),
        "{unconfirmed}"
    );
    // Not while they are on a call.
    let live = a.server.start_call("+2000", "100").await;
    let refused = admin
        .privacy
        .erase_customer_data(erase("smallco"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused}");
    assert!(refused.message().contains(&live.call_id), "{refused}");
    a.server
        .edge()
        .call
        .end_call(proto::EndCallRequest {
            call_id: live.call_id.clone(),
            ..Default::default()
        })
        .await
        .expect("the caller hangs up");
    let denied = b
        .server
        .supervisor()
        .privacy
        .erase_customer_data(erase("smallco"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Not while one of their cases is open; once it is closed, it is
    // blanked with the rest. (Cases are written straight to the shared
    // store here: the case service comes with its issue.)
    let cases = hotline::store::RedisStore::connect(&hotline::store::RedisOptions {
        url: redis.url(),
        namespace: "cluster".into(),
        max_ended_calls: 1_000,
        response_timeout: std::time::Duration::from_secs(2),
    })
    .expect("redis")
    .cases();
    use hotline::store::cases::CaseStore;
    let complaint = hotline::store::cases::conformance::sample_case("late-fee", "smallco", 1_000);
    cases.put_case(&complaint, None).await.unwrap();
    let open_case = admin
        .privacy
        .erase_customer_data(erase("smallco"))
        .await
        .unwrap_err();
    assert_eq!(open_case.code(), Code::FailedPrecondition, "{open_case}");
    assert!(open_case.message().contains("late-fee"), "{open_case}");
    let (answered, _) = complaint
        .apply(
            hotline_core::case::CaseCommand::Judge {
                stands: false,
                answer: "the fee was for a late March payment".into(),
            },
            "sue",
            hotline::time::Timestamp(2_000),
        )
        .unwrap();
    cases
        .put_case(&answered, Some(hotline::store::cases::version(&complaint)))
        .await
        .unwrap();

    let exported = admin
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "smallco".into(),
        })
        .await
        .expect("exported first");
    assert!(!exported.into_inner().json.is_empty());
    let done = admin
        .privacy
        .erase_customer_data(erase("smallco"))
        .await
        .expect("erased")
        .into_inner();
    assert_eq!(done.recordings, 1, "{done:?}");
    assert_eq!(done.cases, 1, "{done:?}");
    let blanked = cases
        .get_case(&"late-fee".into())
        .await
        .unwrap()
        .expect("the case is kept");
    assert_eq!(
        (blanked.contact.as_str(), blanked.summary.as_str()),
        ("erased", "erased")
    );
    assert_ne!(blanked.customer.as_str(), "smallco");
    assert_eq!(
        blanked.category, "billing/late-fee",
        "what it was about still counts"
    );
    assert_eq!(done.callbacks_cancelled, 1, "{done:?}");
    assert!(done.contacts >= 1 && done.calls >= 2, "{done:?}");

    // The file is gone from node a's disk, and playing it says why.
    assert!(!file.exists(), "node b had node a delete {}", file.display());
    let gone = b
        .server
        .supervisor()
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: call.call_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::FailedPrecondition);
    assert!(gone.message().contains("erased"), "{gone}");
    // Their records no longer name them, but still count.
    let ended = a.server.get_call(&call.call_id).await;
    assert_eq!(ended.ani, "erased");
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
    let stored = a
        .server
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest {
            include_ended: true,
            ..Default::default()
        })
        .await
        .expect("calls")
        .into_inner()
        .calls;
    assert!(
        stored.iter().all(|c| c.ani != "+2000"),
        "no call names them, the callback's work item neither: {stored:?}"
    );
    let cb = a
        .server
        .supervisor()
        .callback
        .get_callback(proto::CallbackRef {
            callback_id: booked.callback_id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("the callback is kept")
        .into_inner();
    assert_eq!(cb.number, "erased");
    assert!(cb.notes.is_empty(), "{cb:?}");
    // The directory entry is gone: nothing is left to export.
    let nothing = admin
        .privacy
        .export_customer_data(proto::ExportCustomerDataRequest {
            customer_id: "smallco".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(nothing.code(), Code::NotFound);

    // The trail, read on the other node, shows the export and the erasure.
    for action in ["customer-exported", "customer-erased"] {
        let events = a.server.audit_events(action).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(
            (events[0].actor.as_str(), events[0].target.as_str()),
            ("ada", "customer:smallco"),
            "{action}"
        );
    }
}
