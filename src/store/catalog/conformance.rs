//! The contract every [`CatalogStore`] backend must meet, as an executable
//! suite: tests call [`run`] with a fresh, empty catalog of each backend.

use super::*;

fn put(kind: Kind, id: &str, expect: Expect, body: &str) -> CatalogWrite {
    CatalogWrite {
        kind,
        id: id.into(),
        expect,
        body: Some(body.into()),
    }
}

fn delete(kind: Kind, id: &str, expect: Expect) -> CatalogWrite {
    CatalogWrite {
        kind,
        id: id.into(),
        expect,
        body: None,
    }
}

const AT: Timestamp = Timestamp(1_000);

pub async fn run(store: &dyn CatalogStore) {
    assert_eq!(
        store.catalog_revision().await.unwrap(),
        Revision(0),
        "a fresh catalog"
    );
    seeds_only_an_empty_catalog(store).await;
    writes_take_revisions_in_order_and_are_audited(store).await;
    a_stale_etag_fails_the_whole_write(store).await;
    an_unchanged_body_is_no_change(store).await;
    the_change_log_holds_each_object_once_at_its_latest_revision(store).await;
    the_audit_pages_newest_first_and_filters(store).await;
}

async fn seeds_only_an_empty_catalog(store: &dyn CatalogStore) {
    let seed = [put(Kind::Skill, "billing", Expect::Any, r#"{"name":"billing"}"#)];
    assert!(
        store.catalog_seed("seed", AT, &seed).await.unwrap(),
        "the first seed writes"
    );
    let again = [put(Kind::Skill, "french", Expect::Any, r#"{"name":"french"}"#)];
    assert!(
        !store.catalog_seed("seed", AT, &again).await.unwrap(),
        "a second seed does not"
    );
    assert!(store.catalog_get(Kind::Skill, "french").await.unwrap().is_none());
    assert_eq!(store.catalog_revision().await.unwrap(), Revision(1));
}

async fn writes_take_revisions_in_order_and_are_audited(store: &dyn CatalogStore) {
    let revs = store
        .catalog_write(
            "ada",
            Timestamp(2_000),
            &[
                put(Kind::Agent, "alice", Expect::Absent, r#"{"id":"alice"}"#),
                put(Kind::Customer, "acme", Expect::Absent, r#"{"id":"acme"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(revs, vec![Revision(2), Revision(3)]);
    let got = store.catalog_get(Kind::Agent, "alice").await.unwrap().unwrap();
    assert_eq!(
        (got.revision, got.body.as_deref()),
        (Revision(2), Some(r#"{"id":"alice"}"#))
    );
    let (audit, _) = store
        .catalog_audit(&AuditFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0].revision, Revision(3), "newest first");
    assert_eq!(
        (
            audit[0].actor.as_str(),
            audit[0].kind,
            audit[0].id.as_str(),
            audit[0].at
        ),
        ("ada", Kind::Customer, "acme", Timestamp(2_000))
    );
    assert_eq!(audit[0].action(), AuditAction::Created);
    assert_eq!(audit[0].after.as_deref(), Some(r#"{"id":"acme"}"#));
    let revs = store
        .catalog_write(
            "bob",
            AT,
            &[put(
                Kind::Agent,
                "alice",
                Expect::At(Revision(2)),
                r#"{"id":"alice","active":false}"#,
            )],
        )
        .await
        .unwrap();
    assert_eq!(revs, vec![Revision(4)]);
    let (audit, _) = store
        .catalog_audit(&AuditFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(audit[0].action(), AuditAction::Updated);
    assert_eq!(audit[0].before.as_deref(), Some(r#"{"id":"alice"}"#), "before");
    assert_eq!(
        audit[0].after.as_deref(),
        Some(r#"{"id":"alice","active":false}"#),
        "after"
    );
}

async fn a_stale_etag_fails_the_whole_write(store: &dyn CatalogStore) {
    let before = store.catalog_revision().await.unwrap();
    let err = store
        .catalog_write(
            "bob",
            AT,
            &[
                put(Kind::Skill, "french", Expect::Absent, r#"{"name":"french"}"#),
                put(Kind::Agent, "alice", Expect::At(Revision(2)), r#"{"id":"alice"}"#),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("alice")),
        "{err}"
    );
    assert!(
        store.catalog_get(Kind::Skill, "french").await.unwrap().is_none(),
        "nothing of a refused write lands"
    );
    assert_eq!(store.catalog_revision().await.unwrap(), before);
    let exists = store
        .catalog_write("bob", AT, &[put(Kind::Customer, "acme", Expect::Absent, "{}")])
        .await
        .unwrap_err();
    assert!(
        matches!(&exists, StoreError::Conflict(m) if m.contains("already exists")),
        "{exists}"
    );
    let twice = store
        .catalog_write(
            "bob",
            AT,
            &[
                put(Kind::Skill, "french", Expect::Any, "{}"),
                put(Kind::Skill, "french", Expect::Any, "{}"),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::Conflict(_)));
}

async fn an_unchanged_body_is_no_change(store: &dyn CatalogStore) {
    let before = store.catalog_revision().await.unwrap();
    let revs = store
        .catalog_write(
            "bob",
            AT,
            &[put(Kind::Customer, "acme", Expect::Any, r#"{"id":"acme"}"#)],
        )
        .await
        .unwrap();
    assert_eq!(revs, vec![Revision(3)], "the object keeps its revision");
    assert_eq!(
        store.catalog_revision().await.unwrap(),
        before,
        "no revision taken"
    );
    let (audit, _) = store
        .catalog_audit(&AuditFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(audit[0].revision, before, "no audit record");
}

async fn the_change_log_holds_each_object_once_at_its_latest_revision(store: &dyn CatalogStore) {
    let all = store.catalog_changes(Revision(0), 100).await.unwrap();
    let ids: Vec<(&str, Revision)> = all.iter().map(|o| (o.id.as_str(), o.revision)).collect();
    assert_eq!(
        ids,
        vec![
            ("billing", Revision(1)),
            ("acme", Revision(3)),
            ("alice", Revision(4))
        ],
        "oldest first, each once"
    );
    let revs = store
        .catalog_write(
            "bob",
            AT,
            &[delete(Kind::Customer, "acme", Expect::At(Revision(3)))],
        )
        .await
        .unwrap();
    let after = store.catalog_changes(Revision(4), 100).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].kind, after[0].revision, after[0].body.clone()),
        (Kind::Customer, revs[0], None)
    );
    let (audit, _) = store
        .catalog_audit(&AuditFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(audit[0].action(), AuditAction::Deleted);
    let limited = store.catalog_changes(Revision(0), 2).await.unwrap();
    assert_eq!(limited.len(), 2, "at most the limit");
    // A deleted object may be created again.
    store
        .catalog_write(
            "bob",
            AT,
            &[put(Kind::Customer, "acme", Expect::Absent, r#"{"id":"acme"}"#)],
        )
        .await
        .unwrap();
}

async fn the_audit_pages_newest_first_and_filters(store: &dyn CatalogStore) {
    let (first, next) = store
        .catalog_audit(&AuditFilter::default(), None, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let (second, _) = store
        .catalog_audit(&AuditFilter::default(), next, 2)
        .await
        .unwrap();
    assert!(
        second[0].revision < first[1].revision,
        "the next page goes on where the first ended"
    );
    let alice = AuditFilter {
        kind: Some(Kind::Agent),
        id: Some("alice".into()),
    };
    let (hers, _) = store.catalog_audit(&alice, None, 10).await.unwrap();
    assert_eq!(hers.len(), 2);
    assert!(hers.iter().all(|r| r.id == "alice"));
}
