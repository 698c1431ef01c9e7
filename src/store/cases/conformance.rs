//! The contract every [`CaseStore`] backend must meet: tests call [`run`]
//! with a fresh, empty store of each backend.

use super::*;
use hotline_core::case::{CaseCommand, CaseKind, CaseTarget, NewCase};
use hotline_core::ids::AgentId;

/// A complaint of `customer` opened at `at` ms.
pub fn sample_case(id: &str, customer: &str, at: u64) -> CaseRecord {
    CaseRecord::open(
        NewCase {
            id: CaseId::new(id),
            kind: CaseKind::Complaint,
            customer: CustomerId::new(customer),
            contact: "+2000".into(),
            channel: "phone".into(),
            category: "billing/late-fee".into(),
            target: Some(CaseTarget::Team("billing".into())),
            wanted: "a refund".into(),
            summary: "a late fee for a payment made on time".into(),
            priority: 1,
        },
        "alice",
        Timestamp(at),
    )
}

pub async fn run(store: &dyn CaseStore) {
    assert_eq!(store.get_case(&CaseId::new("k1")).await.unwrap(), None);
    let k1 = sample_case("k1", "smallco", 1_000);
    store.put_case(&k1, None).await.unwrap();
    assert_eq!(store.get_case(&k1.id).await.unwrap().as_ref(), Some(&k1));
    assert!(
        matches!(store.put_case(&k1, None).await, Err(StoreError::Conflict(_))),
        "a new case's id is not taken twice"
    );

    // A change names the version it read; a stale one is refused.
    let (judged, _) = k1
        .apply(
            CaseCommand::Judge {
                stands: true,
                answer: String::new(),
            },
            "sue",
            Timestamp(2_000),
        )
        .unwrap();
    store.put_case(&judged, Some(version(&k1))).await.unwrap();
    let (noted, _) = k1
        .apply(
            CaseCommand::AddNote { note: "stale".into() },
            "bob",
            Timestamp(2_001),
        )
        .unwrap();
    assert!(
        matches!(
            store.put_case(&noted, Some(version(&k1))).await,
            Err(StoreError::Conflict(_))
        ),
        "a change made on an old read is refused"
    );
    assert_eq!(
        store.get_case(&k1.id).await.unwrap().as_ref(),
        Some(&judged),
        "and changes nothing"
    );

    // Listings: newest first, by customer, open only, paged.
    for (id, customer, at) in [
        ("k2", "bigco", 2_000),
        ("k3", "smallco", 3_000),
        ("k4", "smallco", 3_000),
    ] {
        store
            .put_case(&sample_case(id, customer, at), None)
            .await
            .unwrap();
    }
    let (closed, _) = sample_case("k5", "smallco", 4_000)
        .apply(
            CaseCommand::Judge {
                stands: false,
                answer: "the fee was due".into(),
            },
            "sue",
            Timestamp(4_500),
        )
        .unwrap();
    store.put_case(&closed, None).await.unwrap();
    let ids = |cases: Vec<CaseRecord>| cases.into_iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
    let all = store.list_cases(&CaseFilter::default(), None, 100).await.unwrap();
    assert_eq!(ids(all), ["k5", "k4", "k3", "k2", "k1"]);
    let smallco = CaseFilter {
        customer: Some(CustomerId::new("smallco")),
        open_only: true,
        ..Default::default()
    };
    let first = store.list_cases(&smallco, None, 2).await.unwrap();
    assert_eq!(
        ids(first.clone()),
        ["k4", "k3"],
        "a customer's open cases, newest first"
    );
    let last = first.last().map(|c| (c.opened_at, c.id.clone())).unwrap();
    let rest = store.list_cases(&smallco, Some(&last), 2).await.unwrap();
    assert_eq!(ids(rest), ["k1"], "the next page, past the cursor");
    let open = CaseFilter {
        open_only: true,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_cases(&open, None, 100).await.unwrap()),
        ["k4", "k3", "k2", "k1"]
    );
    let by_status = CaseFilter {
        statuses: vec![CaseStatus::Closed],
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_cases(&by_status, None, 100).await.unwrap()),
        ["k5"]
    );

    // Assigned, then reopened and closed: the open index follows.
    let (assigned, _) = judged
        .apply(
            CaseCommand::Assign {
                team: "billing".into(),
                owner: AgentId::new("alice"),
                due: Timestamp(10_000),
            },
            "sue",
            Timestamp(5_000),
        )
        .unwrap();
    store.put_case(&assigned, Some(version(&judged))).await.unwrap();
    assert_eq!(
        store.get_case(&k1.id).await.unwrap().map(|c| c.status),
        Some(CaseStatus::Assigned)
    );

    // Retention: closed cases before a time go, open ones stay however old.
    assert_eq!(
        store.prune_closed(Timestamp(4_000), 10).await.unwrap(),
        0,
        "k5 closed later"
    );
    assert_eq!(store.prune_closed(Timestamp(5_000), 10).await.unwrap(), 1);
    assert_eq!(store.get_case(&CaseId::new("k5")).await.unwrap(), None);
    assert_eq!(
        ids(store.list_cases(&CaseFilter::default(), None, 100).await.unwrap()),
        ["k4", "k3", "k2", "k1"]
    );
    assert_eq!(
        store.prune_closed(Timestamp(u64::MAX), 10).await.unwrap(),
        0,
        "the rest are open"
    );

    // The change feed: each case once, at its latest write, in write order
    // (k1 was written last, when assigned; k5 went with retention).
    let fed = |changes: Vec<(u64, CaseRecord)>| {
        let at: Vec<u64> = changes.iter().map(|(at, _)| *at).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "positions rise: {at:?}");
        ids(changes.into_iter().map(|(_, c)| c).collect())
    };
    let head = store.feed_head().await.unwrap();
    let all = store.changes_since(0, 100).await.unwrap();
    assert_eq!(all.last().map(|(at, _)| *at), Some(head));
    assert_eq!(fed(all.clone()), ["k2", "k3", "k4", "k1"]);
    assert_eq!(
        fed(store.changes_since(0, 2).await.unwrap()),
        ["k2", "k3"],
        "paged"
    );
    assert_eq!(fed(store.changes_since(all[2].0, 100).await.unwrap()), ["k1"]);
    let k3 = store.get_case(&CaseId::new("k3")).await.unwrap().unwrap();
    let (noted, _) = k3
        .apply(
            CaseCommand::AddNote {
                note: "called".into(),
            },
            "bob",
            Timestamp(6_000),
        )
        .unwrap();
    store.put_case(&noted, Some(version(&k3))).await.unwrap();
    let since = store.changes_since(head, 100).await.unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].1, noted, "the case as written");
    assert!(since[0].0 > head);
    assert_eq!(store.feed_head().await.unwrap(), since[0].0);
    assert!(store.changes_since(since[0].0, 100).await.unwrap().is_empty());
}
