//! The store contract, run against the embedded backend (the Redis backend
//! runs the same suite).

#[tokio::test]
async fn memory_store_meets_the_store_contract() {
    let store = hotline::store::MemoryStore::default();
    hotline::store::conformance::run(&store).await;
}

#[tokio::test]
async fn memory_store_evicts_the_oldest_ended_calls_first() {
    use hotline::acd::CallStatus;
    use hotline::store::conformance::sample_call;
    use hotline::store::Store;
    let store = hotline::store::MemoryStore::new(2);
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let mut c = sample_call(id, "q", i as u64 + 1);
        c.status = CallStatus::Ended;
        store.put_call(&c).await.unwrap();
    }
    let live = sample_call("live", "q", 0);
    store.put_call(&live).await.unwrap();
    assert!(
        store.get_call(&"a".into()).await.unwrap().is_none(),
        "oldest ended evicted"
    );
    assert!(store.get_call(&"c".into()).await.unwrap().is_some());
    assert!(
        store.get_call(&"live".into()).await.unwrap().is_some(),
        "live calls are never evicted"
    );
}
