//! The contract every [`SessionStore`] backend must meet: tests call
//! [`run`] with a fresh, empty store of each backend.

use super::*;

fn revocation(subject: &str, at: u64) -> Revocation {
    Revocation {
        subject: subject.into(),
        at: Timestamp(at),
        actor: "ada".into(),
        reason: "laptop stolen".into(),
    }
}

pub async fn run(store: &dyn SessionStore) {
    assert_eq!(store.revocations_revision().await.unwrap(), 0, "a fresh store");
    assert!(store.revocations().await.unwrap().is_empty());

    store.revoke(&revocation("alice", 1_000)).await.unwrap();
    let first = store.revocations_revision().await.unwrap();
    assert_ne!(first, 0, "a revocation moves the revision");
    assert_eq!(
        store.revocations().await.unwrap(),
        vec![revocation("alice", 1_000)]
    );

    store.revoke(&revocation("bob", 1_500)).await.unwrap();
    store.revoke(&revocation("alice", 2_000)).await.unwrap();
    let last = store.revocations_revision().await.unwrap();
    assert!(last != first, "every revocation moves it again");
    let mut all = store.revocations().await.unwrap();
    all.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(
        all,
        vec![revocation("alice", 2_000), revocation("bob", 1_500)],
        "one record per subject, the latest"
    );
}
