//! Retention of stored records on a two-node cluster sharing a real Redis:
//! both nodes sweep at start (and then every `[retention]
//! sweep_every_secs`); records older than their kind's period are deleted
//! from the shared store, newer and live ones stay, and the operator sees
//! what went in `hotline_records_pruned_total{kind}`.

mod common;

use std::time::{Duration, Instant};

use common::metrics::{counter, scrape};
use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::callback::CallbackStatus;
use hotline::store::conformance::{sample_callback, sample_contact};
use hotline::store::{RedisOptions, RedisStore, Store};
use hotline::time::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_nodes_delete_records_past_their_period_and_keep_new_and_live_ones() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&RedisOptions {
        url: redis.url(),
        namespace: "cluster".into(),
        max_ended_calls: 1_000,
        response_timeout: Duration::from_secs(2),
    })
    .expect("redis store");
    let now = Timestamp::now_wall().as_millis();
    let long_ago = now - 40 * 86_400_000;
    store
        .append_contact(&sample_contact("ret-old", "ret-cust", "ann", long_ago, None))
        .await
        .unwrap();
    store
        .append_contact(&sample_contact("ret-new", "ret-cust", "ann", now, None))
        .await
        .unwrap();
    let mut closed = sample_callback("ret-cb-closed", "billing", long_ago, CallbackStatus::Reached);
    closed.request_closed_at = Some(Timestamp(long_ago + 1));
    store.put_callback(&closed).await.unwrap();
    // A case closed long ago goes; one opened long ago and still open stays.
    use hotline::store::cases::CaseStore;
    let cases = store.cases();
    let (answered, _) =
        hotline::store::cases::conformance::sample_case("ret-case-closed", "smallco", long_ago)
            .apply(
                hotline_core::case::CaseCommand::Judge {
                    stands: false,
                    answer: "answered".into(),
                },
                "sue",
                Timestamp(long_ago + 1),
            )
            .unwrap();
    cases.put_case(&answered, None).await.unwrap();
    let still_open = hotline::store::cases::conformance::sample_case("ret-case-open", "smallco", long_ago);
    cases.put_case(&still_open, None).await.unwrap();

    let config = format!(
        "{}\n[retention]\ncontacts_days = 30\ncallbacks_days = 30\ncases_days = 30\nsweep_every_secs = 60\n",
        common::media::cluster_config(&redis, "")
    );
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;
    // A callback booked now, through node b, stays: it is live.
    let live = b
        .supervisor()
        .callback
        .create_callback(hotline::proto::CreateCallbackRequest {
            number: "+15550142".into(),
            queue: "billing".into(),
            ..Default::default()
        })
        .await
        .expect("booked")
        .into_inner();

    let deadline = Instant::now() + SOON;
    loop {
        let contacts: Vec<String> = store
            .contacts_of("ret-cust", 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.call.to_string())
            .collect();
        let callback_gone = store
            .get_callback(&"ret-cb-closed".into())
            .await
            .unwrap()
            .is_none();
        let case_gone = cases.get_case(&"ret-case-closed".into()).await.unwrap().is_none();
        if contacts == ["ret-new"] && callback_gone && case_gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the nodes' first sweep deleted the old contact, callback and closed case: {contacts:?}, callback gone {callback_gone}, case gone {case_gone}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        store
            .get_callback(&live.callback_id.as_str().into())
            .await
            .unwrap()
            .is_some(),
        "a live callback is kept"
    );
    assert!(
        cases.get_case(&"ret-case-open".into()).await.unwrap().is_some(),
        "an open case is kept, however old"
    );
    let mut pruned = 0.0;
    for node in [&a, &b] {
        let addr = node
            .server
            .as_ref()
            .and_then(|s| s.metrics_addr)
            .expect("metrics listener");
        let text = scrape(addr).await;
        pruned += counter(&text, "hotline_records_pruned_total{kind=\"contacts\"}");
    }
    assert!(pruned >= 1.0, "the operator sees what was deleted");
}
