//! The store contract, run unchanged against the embedded backend and a real
//! Redis server.

mod common;

use std::time::Duration;

use hotline::store::{RedisOptions, RedisStore, Store};

fn redis_store(server: &common::redis::RedisServer, max_ended_calls: usize) -> RedisStore {
    RedisStore::connect(&RedisOptions {
        url: server.url(),
        namespace: "conformance".into(),
        max_ended_calls,
        response_timeout: Duration::from_secs(2),
    })
    .expect("redis store")
}

#[tokio::test]
async fn memory_store_meets_the_store_contract() {
    let store = hotline::store::MemoryStore::default();
    hotline::store::conformance::run(&store).await;
}

#[tokio::test]
async fn the_metered_store_passes_everything_through() {
    let inner: std::sync::Arc<dyn Store> = std::sync::Arc::new(hotline::store::MemoryStore::default());
    let store = hotline::store::Metered::new(inner, "memory");
    hotline::store::conformance::run(&store).await;
}

#[tokio::test]
async fn embedded_store_on_disk_meets_the_store_contract_and_keeps_records_across_a_reopen() {
    use hotline::store::conformance::{sample_call, sample_callback};
    use hotline::store::MemoryStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("hotline.redb");
    {
        let store = MemoryStore::open(&path, 1000).expect("opens");
        hotline::store::conformance::run(&store).await;
        let mut ended = sample_call("kept", "q", 5);
        ended.status = hotline::acd::CallStatus::Ended;
        store.put_call(&ended).await.unwrap();
        store
            .put_call(&sample_call("live-not-kept", "q", 6))
            .await
            .unwrap();
    }
    // A new process on the same file: records of lasting value are back.
    let store = MemoryStore::open(&path, 1000).expect("reopens");
    let mut live = store.live_callbacks().await.unwrap();
    live.retain(|cb| !["ecb-live", "p-cb-live"].contains(&cb.id.as_str()));
    assert_eq!(live.len(), 1, "the open callback survives: {live:?}");
    assert_eq!(
        live[0],
        sample_callback(
            "cb-b",
            "support",
            2_000,
            hotline::callback::CallbackStatus::Scheduled
        )
    );
    assert!(
        store.get_call(&"kept".into()).await.unwrap().is_some(),
        "ended calls survive"
    );
    assert!(
        store.get_call(&"live-not-kept".into()).await.unwrap().is_none(),
        "live call state is not kept: a single-node restart ends live calls"
    );
    // Contacts survive, and ones retention deleted stay deleted.
    let contacts = store.contacts_of("p-cust", 10).await.unwrap();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert!(store.contacts_of("cust-1", 10).await.unwrap().is_empty());
    let recordings = store
        .list_recordings(&Default::default(), None, 100)
        .await
        .unwrap();
    assert!(!recordings.is_empty(), "recordings' metadata survives");
    assert!(store.get_recording(&"p-r-old".into()).await.unwrap().is_none());
    assert!(store.get_callback(&"p-cb-closed".into()).await.unwrap().is_none());
    // An erasure is on disk too: nothing comes back under the old keys.
    assert!(store.contacts_of("erase-cust", 10).await.unwrap().is_empty());
    let erased = store
        .get_call(&"e1".into())
        .await
        .unwrap()
        .expect("the erased call");
    assert_eq!(erased.ani, hotline::store::erasure::ERASED);
}

#[tokio::test]
async fn a_corrupt_or_foreign_data_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db.redb");
    std::fs::write(&path, b"this is not a redb file at all, just text").unwrap();
    let err = hotline::store::MemoryStore::open(&path, 10)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("not-a-db.redb"), "names the file: {err}");
}

#[tokio::test]
async fn redis_store_meets_the_store_contract() {
    let server = common::redis::RedisServer::start();
    let store = redis_store(&server, 1000);
    hotline::store::conformance::run(&store).await;
}

#[tokio::test]
async fn redis_keeps_revocations_and_the_audit_trail_as_the_contract_says() {
    let server = common::redis::RedisServer::start();
    let store = redis_store(&server, 1000);
    hotline::store::sessions::conformance::run(&store.sessions()).await;
    hotline::store::audit::conformance::run(&store.audit()).await;
}

async fn evicts_the_oldest_ended_calls_first(store: &dyn Store) {
    use hotline::acd::CallStatus;
    use hotline::store::conformance::sample_call;
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let mut c = sample_call(id, "q", i as u64 + 1);
        c.status = CallStatus::Ended;
        c.ended_at = Some(hotline::time::Timestamp(100 + i as u64));
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

#[tokio::test]
async fn memory_store_evicts_the_oldest_ended_calls_first() {
    evicts_the_oldest_ended_calls_first(&hotline::store::MemoryStore::new(2)).await;
}

#[tokio::test]
async fn redis_store_evicts_the_oldest_ended_calls_first() {
    let server = common::redis::RedisServer::start();
    evicts_the_oldest_ended_calls_first(&redis_store(&server, 2)).await;
}

#[tokio::test]
async fn redis_writes_with_a_stale_fencing_token_are_refused() {
    use std::sync::atomic::Ordering;
    let mut server = common::redis::RedisServer::start();
    let store = redis_store(&server, 10);
    let agent = hotline::store::conformance::sample_agent("alice");
    // Unfenced (single node) writes pass.
    store.put_agent(&agent).await.unwrap();
    // A node holding epoch 7 writes while the cluster is at epoch 8.
    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::AsyncCommands::set(&mut c, "{conformance}:epoch", 8)
        .await
        .unwrap();
    store.fence().store(7, Ordering::SeqCst);
    let mut stale = agent.clone();
    stale.display_name = "overwritten".into();
    let err = store.put_agent(&stale).await.unwrap_err();
    assert!(matches!(err, hotline::store::StoreError::Fenced(_)), "{err:?}");
    assert_eq!(
        store.get_agent(&agent.id).await.unwrap(),
        Some(agent.clone()),
        "nothing overwritten"
    );
    // Agents' time in state is the routing node's record too.
    let day = hotline::report::AgentDayRecord {
        day: hotline::time::Timestamp(86_400_000),
        agent: agent.id.clone(),
        ms_by_state: [("on-call".to_string(), 1_000)].into_iter().collect(),
    };
    let err = store.put_agent_day(&day).await.unwrap_err();
    assert!(matches!(err, hotline::store::StoreError::Fenced(_)), "{err:?}");
    let (from, to) = (
        hotline::time::Timestamp(86_400_000),
        hotline::time::Timestamp(2 * 86_400_000),
    );
    assert!(
        store.agent_days_between(from, to, 10).await.unwrap().is_empty(),
        "no stale agent day"
    );
    store.fence().store(8, Ordering::SeqCst);
    store.put_agent(&stale).await.unwrap();
    store.put_agent_day(&day).await.unwrap();
    assert_eq!(
        store.agent_days_between(from, to, 10).await.unwrap(),
        vec![day.clone()]
    );
    assert_eq!(
        store.get_agent(&agent.id).await.unwrap().unwrap().display_name,
        "overwritten"
    );
    // Stepped down: refused here, without asking Redis (gone, it would
    // answer UNAVAILABLE after a timeout).
    store
        .fence()
        .store(hotline::store::STEPPED_DOWN, Ordering::SeqCst);
    server.kill();
    let err = store.put_agent(&agent).await.unwrap_err();
    assert!(matches!(err, hotline::store::StoreError::Fenced(_)), "{err:?}");
    let err = store.put_agent_day(&day).await.unwrap_err();
    assert!(matches!(err, hotline::store::StoreError::Fenced(_)), "{err:?}");
}

#[tokio::test]
async fn redis_store_reports_unavailable_quickly_when_redis_is_down() {
    let mut server = common::redis::RedisServer::start();
    let store = redis_store(&server, 10);
    store.ping().await.unwrap();
    server.kill();
    let started = std::time::Instant::now();
    let err = store.get_agent(&"alice".into()).await.unwrap_err();
    assert!(
        matches!(err, hotline::store::StoreError::Unavailable(_)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no hang: {:?}",
        started.elapsed()
    );
    server.restart();
    // Reconnects by itself.
    let mut ok = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "reconnected after redis came back");
}

#[tokio::test]
async fn loadgen_claims_run_against_both_stores() {
    let memory: std::sync::Arc<dyn Store> = std::sync::Arc::new(hotline::store::MemoryStore::default());
    let r = hotline::loadgen::claims(memory, 20, 4, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(r.claims > 0);
    let server = common::redis::RedisServer::start();
    let redis: std::sync::Arc<dyn Store> = std::sync::Arc::new(redis_store(&server, 10));
    let r = hotline::loadgen::claims(redis.clone(), 20, 4, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(r.claims > 0);
    // Every agent ends released.
    let agents = redis.list_agents(None, 100).await.unwrap();
    assert_eq!(agents.len(), 20);
    assert!(agents
        .iter()
        .all(|a| a.state == hotline::acd::AgentState::Available));
}

#[tokio::test]
async fn a_redis_batch_survives_redis_forgetting_its_scripts_and_is_fenced_like_single_writes() {
    use hotline::store::Write;
    use std::sync::atomic::Ordering;
    let server = common::redis::RedisServer::start();
    let store = redis_store(&server, 10);
    let agent = hotline::store::conformance::sample_agent("scripted");
    store.write_batch(&[Write::Agent(agent.clone())]).await[0]
        .clone()
        .unwrap();
    // A Redis restart (or SCRIPT FLUSH) empties the script cache: the
    // batch loads the scripts and sends again what was refused for it.
    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut c)
        .await
        .unwrap();
    let mut renamed = agent.clone();
    renamed.display_name = "after the flush".into();
    let call = hotline::store::conformance::sample_call("scripted-1", "q", 100);
    let results = store
        .write_batch(&[Write::Agent(renamed.clone()), Write::Call(call.clone())])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(store.get_agent(&agent.id).await.unwrap(), Some(renamed.clone()));
    assert_eq!(store.get_call(&call.id).await.unwrap(), Some(call));
    // A stale fence refuses every write of the batch, and writes nothing.
    let _: () = redis::AsyncCommands::set(&mut c, "{conformance}:epoch", 3)
        .await
        .unwrap();
    store.fence().store(2, Ordering::SeqCst);
    let results = store.write_batch(&[Write::Agent(agent.clone())]).await;
    assert!(
        matches!(results[0], Err(hotline::store::StoreError::Fenced(_))),
        "{results:?}"
    );
    assert_eq!(store.get_agent(&agent.id).await.unwrap(), Some(renamed));
}

#[tokio::test]
async fn the_embedded_catalog_meets_the_catalog_contract_and_keeps_it_across_a_reopen() {
    use hotline::store::catalog::{CatalogStore, MemoryCatalog};
    use hotline::store::MemoryStore;
    hotline::store::catalog::conformance::run(&MemoryCatalog::open(None).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hotline.redb");
    let (revision, audit) = {
        let store = MemoryStore::open(&path, 10).expect("opens");
        let catalog = MemoryCatalog::open(store.journal()).unwrap();
        hotline::store::catalog::conformance::run(&catalog).await;
        let audit = catalog
            .catalog_audit(&Default::default(), None, 100)
            .await
            .unwrap()
            .0;
        (catalog.catalog_revision().await.unwrap(), audit)
    };
    let store = MemoryStore::open(&path, 10).expect("reopens");
    let catalog = MemoryCatalog::open(store.journal()).unwrap();
    assert_eq!(catalog.catalog_revision().await.unwrap(), revision);
    assert_eq!(
        catalog
            .catalog_audit(&Default::default(), None, 100)
            .await
            .unwrap()
            .0,
        audit
    );
    assert!(catalog
        .catalog_get(hotline_core::catalog::Kind::Agent, "alice")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_redis_catalog_meets_the_catalog_contract() {
    let server = common::redis::RedisServer::start();
    let store = redis_store(&server, 10);
    hotline::store::catalog::conformance::run(&store.catalog()).await;
}

#[tokio::test]
async fn cases_meet_their_contract_in_memory_on_disk_across_a_reopen_and_on_redis() {
    use hotline::store::cases::{conformance, CaseStore, MemoryCases};
    use hotline::store::journal::Journal;
    conformance::run(&MemoryCases::open(None).unwrap()).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hotline.redb");
    conformance::run(&MemoryCases::open(Some(Journal::open(&path).unwrap())).unwrap()).await;
    let reopened = MemoryCases::open(Some(Journal::open(&path).unwrap())).unwrap();
    let kept = reopened.get_case(&"k1".into()).await.unwrap().expect("kept");
    assert_eq!(
        kept.status,
        hotline_core::case::CaseStatus::Assigned,
        "the last write is what comes back"
    );
    let (noted, _) = kept
        .apply(
            hotline_core::case::CaseCommand::AddNote {
                note: "after the restart".into(),
            },
            "sue",
            hotline::time::Timestamp(6_000),
        )
        .unwrap();
    reopened
        .put_case(&noted, Some(hotline::store::cases::version(&kept)))
        .await
        .expect("its version came back too");

    let server = common::redis::RedisServer::start();
    conformance::run(&redis_store(&server, 1_000).cases()).await;
}
