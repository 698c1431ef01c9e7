//! Cases through the public API, on both stores: a complaint opened from a
//! call, judged, assigned, followed up by a callback on the 4-hour promise,
//! resolved, rated unhappy (reopened) and happy (closed), with a restart of
//! the node in the middle; a complaint that does not stand closes with its
//! answer; who may do what; bad input is refused by name and loses
//! nothing.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::auth::Role;
use hotline::client::Clients;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use hotline::time::Timestamp;
use tonic::Code;

const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    Timestamp::now_wall().as_millis() as i64
}

fn changes(c: &proto::Case) -> Vec<&str> {
    c.timeline.iter().map(|e| e.change.as_str()).collect()
}

fn status(c: &proto::Case) -> proto::CaseStatus {
    proto::CaseStatus::try_from(c.status).expect("a status")
}

use common::cases::{assign, get, judge, resolve};

async fn rate(c: &mut Clients, id: &str, satisfaction: u32, request_id: &str) -> proto::Case {
    common::cases::rate(c, id, satisfaction, request_id)
        .await
        .expect("rated")
}

/// When the agent opens the case.
#[derive(Clone, Copy, PartialEq)]
enum Opened {
    DuringTheCall,
    InTheWrapUp,
}

/// smallco (+2000) calls billing on `caller_node`; alice answers on
/// `agent_node` and opens a complaint about a late fee against the billing
/// team, wanting a refund, during the call or in its wrap-up. Returns the
/// call and case.
async fn complaint_from_a_call(
    caller_node: &TestServer,
    agent_node: &TestServer,
    when: Opened,
) -> (String, proto::Case) {
    let mut alice = agent_node.agent("alice").await;
    let call = caller_node.start_call("+2000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    if when == Opened::InTheWrapUp {
        alice.hangup(&call.call_id).await;
    }
    let case = alice
        .c
        .case
        .open_case(proto::OpenCaseRequest {
            call_id: call.call_id.clone(),
            // The customer comes from the call.
            ..common::cases::complaint("")
        })
        .await
        .expect("opened from the call")
        .into_inner();
    if when == Opened::DuringTheCall {
        alice.hangup(&call.call_id).await;
    }
    alice
        .wrap_up(&call.call_id, proto::Disposition::Unresolved, "billing/late-fee")
        .await;
    (call.call_id, case)
}

/// The complaint's whole flow. `restart` stops the node `first` names and
/// starts it again (same store) after the case is assigned, and returns it.
async fn complaint_is_worked_until_the_customer_is_satisfied(
    first: TestServer,
    other: Option<&TestServer>,
    restart: impl AsyncFnOnce(TestServer) -> TestServer,
) {
    let (call_id, case) = complaint_from_a_call(&first, other.unwrap_or(&first), Opened::InTheWrapUp).await;
    let id = case.case_id.clone();
    assert_eq!(case.customer_id, "smallco");
    assert_eq!(case.contact, "+2000", "reached at the number they called from");
    assert_eq!(case.channel, "phone");
    assert_eq!(case.opened_by, "alice");
    assert_eq!(case.call_ids, vec![call_id.clone()]);
    assert_eq!(status(&case), proto::CaseStatus::Open);
    assert_eq!(case.verdict, proto::Verdict::Pending as i32);
    assert_eq!(case.priority, 1, "a regular customer's weight");
    assert_eq!(case.contract, proto::ContractCover::None as i32);
    assert_eq!(case.wanted, "a refund of the late fee");

    // A supervisor judges it and hands it to bob in billing.
    let mut sup = first.supervisor();
    let judged = judge(&mut sup, &id, true, "").await.expect("judged");
    assert_eq!(judged.verdict, proto::Verdict::Stands as i32);
    let before = now_ms();
    let assigned = assign(&mut sup, &id, "billing", "bob", 0)
        .await
        .expect("assigned");
    assert_eq!(status(&assigned), proto::CaseStatus::Assigned);
    assert_eq!(assigned.owner_agent_id, "bob");
    let due_in = assigned.due_unix_ms - before;
    assert!(
        (48 * HOUR_MS - 60_000..=48 * HOUR_MS + 60_000).contains(&due_in),
        "due by the complaint target (48 h), not {due_in} ms"
    );

    // The node restarts: the case is as it was.
    let first = restart(first).await;
    let mut bob = first.clients(Role::Agent, "bob");
    assert_eq!(get(&mut bob, &id).await, assigned);

    // The customer calls again: bob, the case's owner, is offered the call
    // first (alice is free too), with the open case and its timeline.
    let mut bob_desk = first.agent("bob").await;
    let _alice_desk = first.agent("alice").await;
    let again = first.start_call("+2000", "100").await;
    assert_eq!(again.preferred_agent_id, "bob", "the case's owner");
    let offer = bob_desk
        .wait_for(SOON, |e| match e {
            Ev::CallOffered(o) => Some(o.clone()),
            _ => None,
        })
        .await
        .expect("offered to the owner");
    assert_eq!(
        offer.call.as_ref().map(|c| c.call_id.as_str()),
        Some(again.call_id.as_str())
    );
    assert_eq!(offer.open_cases.len(), 1, "{:?}", offer.open_cases);
    assert_eq!(offer.open_cases[0].case_id, id);
    assert_eq!(changes(&offer.open_cases[0]), ["opened", "judged", "assigned"]);
    bob_desk.accept(&again.call_id).await;
    bob_desk.hangup(&again.call_id).await;
    bob_desk
        .wrap_up(&again.call_id, proto::Disposition::Resolved, "billing/late-fee")
        .await;

    // Bob books the follow-up through the callback machinery.
    let followed = bob
        .case
        .schedule_case_follow_up(proto::ScheduleCaseFollowUpRequest {
            case_id: id.clone(),
            queue: "billing".into(),
            notes: "confirm the refund".into(),
            ..Default::default()
        })
        .await
        .expect("follow-up booked")
        .into_inner();
    assert_eq!(followed.callback_ids.len(), 1);
    let callback = first
        .supervisor()
        .callback
        .get_callback(proto::CallbackRef {
            callback_id: followed.callback_ids[0].clone(),
            request_id: String::new(),
        })
        .await
        .expect("the follow-up is a callback")
        .into_inner();
    assert_eq!(callback.customer_id, "smallco");
    assert_eq!(callback.number, "+2000");
    assert_eq!(
        callback.owner_agent_id, "bob",
        "offered to the case's owner first"
    );
    assert_eq!(callback.category, "billing/late-fee");
    assert!(callback.notes.contains(&id), "{}", callback.notes);
    let left = callback.deadline_unix_ms - now_ms();
    assert!(
        left > 0 && left <= 4 * HOUR_MS,
        "the 4-hour promise tracks it: {left} ms left"
    );
    assert!(matches!(
        proto::CallbackStatus::try_from(callback.status),
        Ok(proto::CallbackStatus::Scheduled | proto::CallbackStatus::Due)
    ));

    // Worked and resolved; the customer is not satisfied (2): it reopens
    // to bob; reworked and resolved again, then 5: it closes.
    bob.case
        .start_case(proto::CaseActionRequest {
            case_id: id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("started");
    resolve(&mut bob, &id, "late fee refunded").await;
    let reopened = rate(&mut bob, &id, 2, "rating-1").await;
    assert_eq!(status(&reopened), proto::CaseStatus::Reopened);
    assert_eq!(reopened.reopened, 1);
    assert_eq!(reopened.owner_agent_id, "bob", "back with its owner");
    assert_eq!(reopened.closed_at_unix_ms, 0);
    // A retried rating is the same rating, not a second one.
    assert_eq!(rate(&mut bob, &id, 2, "rating-1").await, reopened);
    let again = bob
        .case
        .rate_case(proto::RateCaseRequest {
            case_id: id.clone(),
            satisfaction: 3,
            request_id: "rating-1".into(),
        })
        .await
        .expect_err("the same request id for another rating");
    assert_eq!(again.code(), Code::InvalidArgument);
    assert!(again.message().contains("request_id"), "{}", again.message());
    resolve(&mut bob, &id, "refund confirmed in writing").await;
    let closed = rate(&mut bob, &id, 5, "").await;
    assert_eq!(status(&closed), proto::CaseStatus::Closed);
    assert_eq!(closed.satisfaction, 5);
    assert!(closed.closed_at_unix_ms > 0);
    assert_eq!(
        changes(&closed),
        [
            "opened", "judged", "assigned", "linked", "started", "resolved", "rated", "resolved", "rated",
            "closed"
        ]
    );
    let by: Vec<&str> = closed.timeline.iter().map(|e| e.by.as_str()).collect();
    assert_eq!(by[..3], ["alice", "sup", "sup"]);
    assert_eq!(closed.timeline[6].detail, "2 of 5: not satisfied");

    // Every node reads the same case; the trail has every change.
    if let Some(other) = other {
        assert_eq!(get(&mut other.supervisor(), &id).await, closed);
    }
    let trail = first.audit_events("case-changed").await;
    let on_case = trail.iter().filter(|e| e.target == format!("case:{id}")).count();
    assert_eq!(on_case, 9, "opened and eight changes: {trail:?}");

    // The reports count it: one complaint, resolved twice, reopened once,
    // closed with a 5; against the billing team, owned by bob.
    let range = (now_ms() - HOUR_MS, now_ms() + HOUR_MS);
    let stats = first
        .supervisor()
        .report
        .get_case_stats(proto::CaseStatsRequest {
            from_unix_ms: range.0,
            to_unix_ms: range.1,
            kind: proto::CaseKind::Complaint as i32,
        })
        .await
        .expect("case stats")
        .into_inner();
    let total = stats.total.expect("a total");
    assert_eq!((total.opened, total.resolved, total.closed), (1, 1, 1));
    assert_eq!((total.reopens, total.reopened_cases), (1, 1));
    assert_eq!(total.reopen_rate, Some(1.0));
    assert_eq!(total.satisfaction_average, Some(5.0));
    assert_eq!(total.not_standing, 0);
    assert!(total.average_time_to_resolve_ms > 0);
    assert_eq!((total.due_met, total.due_missed), (1, 0), "resolved within 48 h");
    let keys = |g: &[proto::CaseFigures]| g.iter().map(|f| (f.key.clone(), f.opened)).collect::<Vec<_>>();
    assert_eq!(keys(&stats.by_category), [("billing/late-fee".to_string(), 1)]);
    assert_eq!(keys(&stats.by_target), [("team:billing".to_string(), 1)]);
    assert_eq!(keys(&stats.by_owner), [("bob".to_string(), 1)]);
    let agents = first
        .supervisor()
        .report
        .get_agent_stats(proto::ReportRequest {
            from_unix_ms: range.0,
            to_unix_ms: range.1,
        })
        .await
        .expect("agent stats")
        .into_inner();
    let bob_row = agents
        .agents
        .iter()
        .find(|a| a.agent_id == "bob")
        .expect("bob's row");
    let owned = bob_row
        .cases
        .as_ref()
        .and_then(|c| c.owned.clone())
        .expect("bob's cases");
    assert_eq!((owned.opened, owned.reopens, owned.closed), (1, 1, 1));
    // And as CSV for a spreadsheet.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "report",
            "cases",
            "--csv",
            "-",
            "--server",
            &first.server.as_ref().expect("running").addr.to_string(),
            "--token",
            &first.token(Role::Supervisor, "sup-cli"),
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("group,opened,not_standing,resolved,closed,reopens,reopen_rate_pct"),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("owner:bob,1,0,1,1,1,100.0,0,1,0,")),
        "resolved within its due time: {csv}"
    );

    // Archived: nothing changes it any more.
    let mut sup = first.supervisor();
    let refused = sup
        .case
        .add_case_note(proto::AddCaseNoteRequest {
            case_id: id.clone(),
            note: "one more thing".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("a closed case is archived");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(get(&mut sup, &id).await, closed, "and nothing was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_is_worked_until_the_customer_is_satisfied_across_a_restart_of_the_embedded_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "{}\n[store]\nurl = \"memory\"\ndata_file = {:?}\n",
        common::CONFIG,
        dir.path().join("hotline.redb").display().to_string()
    );
    let node = TestServer::with_config(&config).await;
    complaint_is_worked_until_the_customer_is_satisfied(node, None, async |mut node| {
        node.server
            .take()
            .expect("running")
            .shutdown()
            .await
            .expect("stops");
        TestServer::with_config(&config).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_is_worked_until_the_customer_is_satisfied_on_two_nodes_across_a_restart_on_redis() {
    let redis = RedisServer::start();
    let config = common::media::cluster_config(&redis, "");
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;
    complaint_is_worked_until_the_customer_is_satisfied(a, Some(&b), async |mut a| {
        a.server.take().expect("running").shutdown().await.expect("stops");
        TestServer::with_config(&config).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_that_does_not_stand_closes_with_its_answer() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    let case = common::cases::open(&mut sup, common::cases::complaint("bigco")).await;
    assert_eq!(case.contact, "+1000", "the customer's first number");
    assert_eq!(case.channel, "api");
    assert_eq!(case.priority, 3, "a key account's weight");
    let id = case.case_id;
    let missing = judge(&mut sup, &id, false, " ").await.expect_err("no answer");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().starts_with("answer"), "{}", missing.message());
    let answer = "the second charge was a card authorisation, released in 3 days";
    let closed = judge(&mut sup, &id, false, answer).await.expect("judged");
    assert_eq!(status(&closed), proto::CaseStatus::Closed);
    assert_eq!(closed.verdict, proto::Verdict::DoesNotStand as i32);
    assert!(closed.answer.starts_with("the second charge"));
    assert_eq!(changes(&closed), ["opened", "judged", "closed"]);
    let listed = sup
        .case
        .list_cases(proto::ListCasesRequest {
            customer_id: "bigco".into(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.cases, vec![closed.clone()]);
    let open = sup
        .case
        .list_cases(proto::ListCasesRequest {
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(open.cases.is_empty(), "{:?}", open.cases);
    // Counted apart in the reports.
    let stats = sup
        .report
        .get_case_stats(proto::CaseStatsRequest {
            from_unix_ms: now_ms() - HOUR_MS,
            to_unix_ms: now_ms() + HOUR_MS,
            kind: 0,
        })
        .await
        .expect("case stats")
        .into_inner();
    let total = stats.total.expect("a total");
    assert_eq!(
        (total.opened, total.not_standing, total.resolved, total.closed),
        (1, 1, 0, 0)
    );
    assert_eq!(total.reopen_rate, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_open_cases_for_their_own_calls_and_work_only_the_cases_they_own() {
    let s = TestServer::start().await;
    let (_, case) = complaint_from_a_call(&s, &s, Opened::DuringTheCall).await;
    let id = case.case_id.clone();
    let mut bob = s.clients(Role::Agent, "bob");
    let mut alice = s.clients(Role::Agent, "alice");

    // Only supervisors judge and assign.
    let judged = judge(&mut alice, &id, true, "")
        .await
        .expect_err("agents do not judge");
    assert_eq!(judged.code(), Code::PermissionDenied);
    // An agent opens cases only from a call it answered.
    let foreign = bob
        .case
        .open_case(proto::OpenCaseRequest {
            kind: proto::CaseKind::Inquiry as i32,
            call_id: case.call_ids[0].clone(),
            category: "billing".into(),
            summary: "a question".into(),
            ..Default::default()
        })
        .await
        .expect_err("not bob's call");
    assert_eq!(foreign.code(), Code::PermissionDenied);
    // The agent who took it adds notes; someone else's case is not bob's.
    alice
        .case
        .add_case_note(proto::AddCaseNoteRequest {
            case_id: id.clone(),
            note: "customer has the bank statement".into(),
            request_id: String::new(),
        })
        .await
        .expect("the opener notes");
    let noted = bob
        .case
        .add_case_note(proto::AddCaseNoteRequest {
            case_id: id.clone(),
            note: "x".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("not bob's case");
    assert_eq!(noted.code(), Code::PermissionDenied);
    // Agents list a customer's cases or their own, not the whole book.
    let all = bob
        .case
        .list_cases(proto::ListCasesRequest::default())
        .await
        .expect_err("the whole book");
    assert_eq!(all.code(), Code::PermissionDenied);
    let theirs = bob
        .case
        .list_cases(proto::ListCasesRequest {
            customer_id: "smallco".into(),
            open_only: true,
            ..Default::default()
        })
        .await
        .expect("the customer's open cases")
        .into_inner();
    assert_eq!(theirs.cases.len(), 1);
    assert_eq!(changes(&theirs.cases[0]), ["opened", "note-added"]);
    // The telephony edge has no business with cases.
    let edge = s
        .edge()
        .case
        .get_case(proto::CaseRef { case_id: id.clone() })
        .await
        .expect_err("not for the edge");
    assert_eq!(edge.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_case_input_is_refused_by_name_and_loses_nothing() {
    let s = TestServer::start().await;
    let mut sup = s.supervisor();
    let open = common::cases::repair;
    let unknown = sup
        .case
        .open_case(open("nobody"))
        .await
        .expect_err("unknown customer");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().contains("nobody"), "{}", unknown.message());
    let mut long = open("smallco");
    long.summary = "x".repeat(5000);
    let e = sup.case.open_case(long).await.expect_err("too long");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("summary"), "{}", e.message());
    assert!(e.message().len() < 200, "no echo of the input: {}", e.message());
    let mut kindless = open("smallco");
    kindless.kind = 0;
    let e = sup.case.open_case(kindless).await.expect_err("no kind");
    assert!(e.message().starts_with("kind"), "{}", e.message());
    let mut urgent = open("smallco");
    urgent.priority = 10;
    let e = sup.case.open_case(urgent).await.expect_err("priority");
    assert!(e.message().starts_with("priority"), "{}", e.message());

    let case = common::cases::open(&mut sup, open("smallco")).await;
    let id = case.case_id.clone();
    let past = assign(&mut sup, &id, "field", "carol", now_ms() - 60_000)
        .await
        .expect_err("due in the past");
    assert_eq!(past.code(), Code::InvalidArgument);
    assert!(past.message().starts_with("due_unix_ms"), "{}", past.message());
    let e = assign(&mut sup, &id, "field", "zed", 0)
        .await
        .expect_err("unknown owner");
    assert_eq!(e.code(), Code::NotFound);
    let due = now_ms() + 2 * HOUR_MS;
    let assigned = assign(&mut sup, &id, "field", "carol", due)
        .await
        .expect("assigned");
    assert_eq!(assigned.due_unix_ms, due);
    let mut carol = s.clients(Role::Agent, "carol");
    let e = common::cases::rate(&mut carol, &id, 6, "")
        .await
        .expect_err("out of 1..5");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("satisfaction"), "{}", e.message());
    let e = common::cases::rate(&mut carol, &id, 4, "")
        .await
        .expect_err("not resolved yet");
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = sup
        .case
        .link_case(proto::LinkCaseRequest {
            case_id: id.clone(),
            call_id: "no-such-call".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown call");
    assert_eq!(e.code(), Code::NotFound);
    let e = sup
        .case
        .get_case(proto::CaseRef {
            case_id: "no-such-case".into(),
        })
        .await
        .expect_err("unknown case");
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(get(&mut sup, &id).await, assigned, "nothing was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_request_shows_the_customers_maintenance_cover_from_the_directory() {
    let config = format!(
        "{}\n[cases]\ncategory_due_hours = {{ \"repairs/boiler\" = 4 }}\n",
        common::CONFIG
    );
    let s = TestServer::with_config(&config).await;
    let mut admin = s.clients(Role::Admin, "ada");
    for (id, contract, expires) in [("acme", "contract", "2020-01-31"), ("initech", "free-period", "")] {
        admin
            .admin
            .create_customer(proto::CreateCustomerRequest {
                customer: Some(proto::Customer {
                    id: id.into(),
                    numbers: vec![format!("+3{}", id.len())],
                    contract: contract.into(),
                    contract_expires: expires.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("in the directory");
    }
    let mut sup = s.supervisor();
    let mut repair_for = async |customer: &str| {
        let deadline = tokio::time::Instant::now() + SOON;
        loop {
            let opened = sup.case.open_case(common::cases::repair(customer)).await;
            match opened {
                Ok(c) => return c.into_inner(),
                // The directory change reaches this node within a poll.
                Err(e) if e.code() == Code::NotFound && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{customer}: {e}"),
            }
        }
    };
    let expired = repair_for("acme").await;
    assert_eq!(expired.contract, proto::ContractCover::Expired as i32);
    assert_eq!(expired.contract_kind, "contract");
    assert_eq!(expired.contract_expires, "2020-01-31");
    let free = repair_for("initech").await;
    assert_eq!(free.contract, proto::ContractCover::Active as i32);
    assert_eq!(free.contract_kind, "free-period");
    let none = repair_for("smallco").await;
    assert_eq!(none.contract, proto::ContractCover::None as i32);

    // Its category's target sets its due time; listings filter by kind,
    // category and team.
    let before = now_ms();
    let assigned = assign(&mut sup, &none.case_id, "field", "carol", 0)
        .await
        .expect("assigned");
    let due_in = assigned.due_unix_ms - before;
    assert!(
        (4 * HOUR_MS - 60_000..=4 * HOUR_MS + 60_000).contains(&due_in),
        "the boiler category's 4 h, not the repair kind's 24 h: {due_in} ms"
    );
    let list = |kind: proto::CaseKind, category: &str, team: &str| proto::ListCasesRequest {
        kind: kind as i32,
        category: category.into(),
        team: team.into(),
        ..Default::default()
    };
    let mut count = async |r: proto::ListCasesRequest| {
        sup.case
            .list_cases(r)
            .await
            .expect("listed")
            .into_inner()
            .cases
            .len()
    };
    assert_eq!(count(list(proto::CaseKind::Repair, "", "")).await, 3);
    assert_eq!(count(list(proto::CaseKind::Complaint, "", "")).await, 0);
    assert_eq!(
        count(list(proto::CaseKind::Unspecified, "repairs/boiler", "")).await,
        3
    );
    assert_eq!(count(list(proto::CaseKind::Unspecified, "", "field")).await, 1);
}
