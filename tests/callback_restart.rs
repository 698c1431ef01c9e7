//! The 4-hour promise survives a restart, on both stores: callbacks made at
//! 09:00 are written as the engine writes them, the node dies at 11:00, a
//! new one restores from the store (the embedded store's file reopened, or
//! Redis), and every warning, breach and close fires exactly once across
//! the two lives, none lost, none twice. Simulated clock, real stores.

mod common;

use std::sync::Arc;
use std::time::Duration;

use hotline::acd::{QueueSettings, Router, RouterConfig};
use hotline::callback::{AttemptOutcome, CallbackDetails, CallbackEvent, TrackerSettings};
use hotline::engine::callbacks::{CallbackDesk, NewCallback};
use hotline::engine::restore_desk;
use hotline::ids::{CallbackId, QueueName, SkillName};
use hotline::store::{MemoryStore, RedisOptions, RedisStore, Store};
use hotline::time::Timestamp;

/// 2026-11-23 (a Monday) at hh:mm UTC.
fn at(h: u64, m: u64) -> Timestamp {
    Timestamp(1_795_392_000_000 + (h * 60 + m) * 60_000)
}

fn new_router() -> Router {
    Router::new(RouterConfig {
        skills: vec![SkillName::new("repairs")],
        queues: vec![QueueSettings::named("repairs").with_skill("repairs", 1)],
        ..Default::default()
    })
    .expect("router")
}

/// What fired, in order: (callback, what, when).
type Log = Vec<(String, String, Timestamp)>;

/// Runs the desk up to `now` as the engine does: timers, then every event
/// (due callbacks queued in the router, changes written to the store).
async fn pump(
    desk: &mut CallbackDesk,
    router: &mut Router,
    store: &dyn Store,
    now: Timestamp,
    log: &mut Log,
) {
    desk.tracker.handle_timeout(now);
    while let Some(e) = desk.tracker.poll_event() {
        let mut note = |id: &CallbackId, what: &str| log.push((id.to_string(), what.to_string(), now));
        match e {
            CallbackEvent::CallbackDue { id, .. } => {
                note(&id, "due");
                desk.on_due(now, router, &id);
            }
            CallbackEvent::CallbackWarned { id, .. } => note(&id, "warned"),
            CallbackEvent::CallbackBreached { id, .. } => note(&id, "breached"),
            CallbackEvent::CallbackClosed { id, met, .. } => note(&id, if met { "met" } else { "missed" }),
            CallbackEvent::CallbackChanged { record } => store.put_callback(&record).await.expect("written"),
            _ => {}
        }
    }
    while router.poll_event().is_some() {}
}

fn new_callback(id: &str, not_before: Option<Timestamp>, deadline: Option<Timestamp>) -> NewCallback {
    NewCallback {
        id: CallbackId::new(id),
        details: CallbackDetails {
            number: format!("+86{id}"),
            customer_key: format!("+86{id}"),
            queue: Some(QueueName::new("repairs")),
            ..CallbackDetails::default()
        },
        not_before,
        deadline,
        max_attempts: None,
    }
}

/// Runs the whole day around a restart at 11:00; `open` opens the store
/// (again, after the restart).
async fn a_day_with_a_restart_at_11(open: impl Fn() -> Arc<dyn Store>) -> (Log, Vec<String>) {
    let mut log = Log::new();
    let store = open();
    let mut router = new_router();
    let (mut desk, _) = restore_desk(
        &mut router,
        store.as_ref(),
        TrackerSettings::default(),
        at(9, 0).into(),
    )
    .await
    .expect("first start");
    // 09:00: "late" is never reached (deadline 13:00: the queue's 4 hours);
    // "reached" is reached at 10:00; "early" is due by 11:20, so its warning
    // (10:50) comes before the restart and its breach after; "window" is
    // not to be called before 12:00.
    desk.create(at(9, 0), new_callback("late", None, None))
        .expect("late");
    desk.create(at(9, 0), new_callback("reached", None, None))
        .expect("reached");
    desk.create(at(9, 0), new_callback("early", None, Some(at(11, 20))))
        .expect("early");
    desk.create(at(9, 0), new_callback("window", Some(at(12, 0)), Some(at(16, 0))))
        .expect("window");
    let mut now = at(9, 0);
    while now < at(11, 0) {
        if now == at(10, 0) {
            desk.tracker
                .handle_attempt(now, &CallbackId::new("reached"), AttemptOutcome::Reached)
                .expect("attempt");
        }
        pump(&mut desk, &mut router, store.as_ref(), now, &mut log).await;
        now = now.plus(Duration::from_secs(60));
    }
    // 11:00: the node dies. Nothing in memory survives.
    drop(desk);
    drop(router);
    drop(store);
    let store = open();
    let mut router = new_router();
    let (mut desk, _) = restore_desk(
        &mut router,
        store.as_ref(),
        TrackerSettings::default(),
        now.into(),
    )
    .await
    .expect("restart");
    let mut queued: Vec<String> = router
        .callback_items()
        .into_iter()
        .map(|(cb, _)| cb.to_string())
        .collect();
    queued.sort();
    while now <= at(17, 0) {
        pump(&mut desk, &mut router, store.as_ref(), now, &mut log).await;
        now = now.plus(Duration::from_secs(60));
    }
    (log, queued)
}

fn check((log, queued): &(Log, Vec<String>)) {
    assert_eq!(
        queued,
        &["early", "late"],
        "due callbacks are queued again after the restart"
    );
    let fired = |id: &str, what: &str| -> Vec<Timestamp> {
        log.iter()
            .filter(|(i, w, _)| i == id && w == what)
            .map(|(_, _, t)| *t)
            .collect()
    };
    assert_eq!(fired("late", "due"), [at(9, 0)], "{log:?}");
    assert_eq!(fired("late", "warned"), [at(12, 30)], "{log:?}");
    assert_eq!(fired("late", "breached"), [at(13, 0)], "{log:?}");
    assert_eq!(fired("reached", "met"), [at(10, 0)], "{log:?}");
    assert!(
        fired("reached", "warned").is_empty(),
        "a reached callback is never warned"
    );
    assert_eq!(
        fired("early", "warned"),
        [at(10, 50)],
        "warned once, before the restart"
    );
    assert_eq!(
        fired("early", "breached"),
        [at(11, 20)],
        "breached once, after it"
    );
    assert_eq!(fired("window", "due"), [at(12, 0)], "due when its window opens");
    assert_eq!(fired("window", "warned"), [at(15, 30)]);
    assert_eq!(fired("window", "breached"), [at(16, 0)]);
}

#[tokio::test]
async fn the_embedded_store_keeps_every_callback_across_a_restart_and_each_fires_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hotline.redb");
    let run = a_day_with_a_restart_at_11(|| {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::open(&path, 1000).expect("data file"));
        store
    })
    .await;
    check(&run);
}

#[tokio::test]
async fn redis_keeps_every_callback_across_a_restart_and_each_fires_once() {
    let server = common::redis::RedisServer::start();
    let run = a_day_with_a_restart_at_11(|| {
        let store: Arc<dyn Store> = Arc::new(
            RedisStore::connect(&RedisOptions {
                url: server.url(),
                namespace: "restart".into(),
                max_ended_calls: 100,
                response_timeout: Duration::from_secs(2),
            })
            .expect("redis"),
        );
        store
    })
    .await;
    check(&run);
}

#[tokio::test]
async fn a_node_without_a_data_file_forgets_callbacks_which_is_why_the_default_has_one() {
    let (log, queued) = a_day_with_a_restart_at_11(|| {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(1000));
        store
    })
    .await;
    // Without the file the restart loses them all: nothing is queued again
    // and "late" is never warned.
    assert!(queued.is_empty(), "{queued:?}");
    assert!(
        !log.iter().any(|(id, what, _)| id == "late" && what == "warned"),
        "a store with no file is the counter-example: {log:?}"
    );
}
