//! The cases board and cases' due times on two nodes sharing a real Redis:
//! a case changed through one node shows on the other's board within a
//! poll; its due time is warned and breached once, whichever node's
//! tracker gets there first, and a resolution after it counts it missed.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use common::{cases, TestServer, SOON};
use hotline::auth::Role;
use hotline::proto;
use hotline::time::Timestamp;
use tokio_stream::StreamExt;

fn now_ms() -> i64 {
    Timestamp::now_wall().as_millis() as i64
}

/// The next board from `boards` that `pick` accepts, within `within`.
async fn board_where(
    boards: &mut tonic::Streaming<proto::CaseBoard>,
    within: Duration,
    what: &str,
    pick: impl Fn(&proto::CaseBoard) -> bool,
) -> proto::CaseBoard {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let next = tokio::time::timeout_at(deadline, boards.next()).await;
        match next {
            Ok(Some(Ok(b))) if pick(&b) => return b,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no board showed {what} within {within:?}: {other:?}"),
        }
    }
}

async fn watch(s: &TestServer) -> tonic::Streaming<proto::CaseBoard> {
    s.supervisor()
        .case
        .watch_cases(proto::WatchCasesRequest { interval_ms: 100 })
        .await
        .expect("the board")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_case_shows_on_every_nodes_board_and_is_marked_once() {
    let redis = RedisServer::start();
    let config = common::media::cluster_config(&redis, "");
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;
    let mut on_a = watch(&a).await;
    let mut on_b = watch(&b).await;

    let mut sup = a.supervisor();
    let case = cases::open(
        &mut sup,
        proto::OpenCaseRequest {
            target: Some(proto::CaseTarget {
                kind: proto::CaseTargetKind::Product as i32,
                name: "boiler".into(),
            }),
            ..cases::repair("smallco")
        },
    )
    .await;
    let id = case.case_id.clone();
    let unassigned = board_where(&mut on_b, SOON, "the new case", |b| b.unassigned == 1).await;
    assert_eq!(unassigned.open, 1);
    assert_eq!(unassigned.attention[0].case_id, id);
    let category = &unassigned.by_category[0];
    assert_eq!((category.name.as_str(), category.open), ("repairs/boiler", 1));
    assert_eq!(unassigned.by_target[0].name, "product:boiler");

    // Due in 1.5 s: warned at once (closer than the 30-minute warning),
    // breached when it passes.
    let due = now_ms() + 1_500;
    cases::assign(&mut sup, &id, "field", "carol", due)
        .await
        .expect("assigned");
    let soon = board_where(&mut on_b, SOON, "the case due soon", |b| b.due_soon == 1).await;
    assert_eq!(soon.overdue, 0);
    for boards in [&mut on_a, &mut on_b] {
        let late = board_where(boards, SOON, "the case overdue", |b| {
            b.overdue == 1
                && b.attention
                    .first()
                    .is_some_and(|c| c.overdue && c.timeline.len() == 4)
        })
        .await;
        assert!(late.at_unix_ms >= due, "not before its due time");
        assert_eq!(late.by_category[0].overdue, 1);
    }
    // Both nodes hold the marked case: neither tracker fires it again.
    let marked = cases::get(&mut sup, &id).await;
    let alerts: Vec<(&str, &str)> = marked
        .timeline
        .iter()
        .filter(|e| e.change.starts_with("due-"))
        .map(|e| (e.change.as_str(), e.by.as_str()))
        .collect();
    assert_eq!(
        alerts,
        [
            ("due-warned", "deadline tracker"),
            ("due-breached", "deadline tracker")
        ],
        "each once, whichever node marked it"
    );
    assert!(marked.due_warned && marked.overdue);

    // Carol resolves it late: missed.
    let resolved = cases::resolve(&mut b.clients(Role::Agent, "carol"), &id, "replaced the pump").await;
    assert_eq!(resolved.due_outcome, proto::DueOutcome::Missed as i32);
    assert!(!resolved.overdue, "no longer running against its due time");
    let awaiting = board_where(&mut on_a, SOON, "the case awaiting confirmation", |b| {
        b.awaiting_confirmation == 1
    })
    .await;
    assert_eq!((awaiting.overdue, awaiting.open), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_supervisors_watch_the_cases_board() {
    let s = TestServer::start().await;
    let refused = s
        .clients(Role::Agent, "alice")
        .case
        .watch_cases(proto::WatchCasesRequest::default())
        .await
        .expect_err("agents do not watch the board");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let bad = s
        .supervisor()
        .case
        .watch_cases(proto::WatchCasesRequest { interval_ms: 5 })
        .await
        .expect_err("too often");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("interval_ms"), "{}", bad.message());
}
