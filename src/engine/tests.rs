//! The engine task driven through its handle, on the embedded store.

use std::time::Instant;

use super::*;
use crate::acd::{IncomingCall, QueueSettings, RouterConfig, Tier};
use crate::ids::{CallId, SkillName};
use crate::store::MemoryStore;

async fn engine() -> (EngineHandle, watch::Sender<bool>) {
    engine_dialling(None).await
}

async fn engine_dialling(dialer: Option<crate::dialer::Dialer>) -> (EngineHandle, watch::Sender<bool>) {
    let mut router = Router::new(RouterConfig {
        skills: vec![SkillName::new("s")],
        queues: vec![QueueSettings::named("q").with_skill("s", 1)],
        ..Default::default()
    })
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let now = Timestamp::now_wall();
    let desk = restore_desk(
        &mut router,
        store.as_ref(),
        TrackerSettings::default(),
        now.into(),
    )
    .await
    .unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let (handle, _task) = spawn(router, desk, store, dialer, None, stop_rx);
    (handle, stop)
}

fn start(id: &str) -> Command {
    Command::StartCall(IncomingCall {
        id: CallId::new(id),
        ani: "+1".into(),
        dnis: "1".into(),
        customer: None,
        tier: Tier::Regular,
        queue: "q".into(),
        extra_requirements: Vec::new(),
        preferred_agent: None,
        node: None,
        callback: None,
    })
}

#[tokio::test]
async fn a_command_whose_deadline_passed_before_the_engine_reached_it_is_not_carried_out() {
    let (engine, _stop) = engine().await;
    let late = crate::deadline::scope(Instant::now(), engine.execute(None, start("late"))).await;
    assert!(matches!(late, Err(Error::DeadlineExceeded(_))), "{late:?}");
    let live = engine
        .call(|core, _| core.router.call(&CallId::new("late")).is_some())
        .await
        .unwrap();
    assert!(!live, "the late StartCall made no call");
    // With time to spare it is.
    let soon = Instant::now() + Duration::from_secs(5);
    let (id, live) = crate::deadline::scope(soon, engine.execute(None, start("on-time")))
        .await
        .unwrap()
        .call()
        .unwrap();
    assert_eq!(id, CallId::new("on-time"));
    assert!(live.is_some());
}

#[tokio::test]
async fn the_same_call_started_twice_is_one_call() {
    let (engine, _stop) = engine().await;
    engine.execute(None, start("c1")).await.unwrap();
    let again = engine.execute(None, start("c1")).await.unwrap().call().unwrap();
    assert_eq!(again.0, CallId::new("c1"), "the call it made, not DuplicateCall");
    let calls = engine.call(|core, _| core.router.active_calls()).await.unwrap();
    assert_eq!(calls, 1);
}

/// An engine dialling through `dialer`, agent "a" logged in with its
/// stream open (returned, to keep it), and a callback ("cb-1" to
/// +15550100) due at once whose work item is offered to "a".
async fn callback_offered(
    dialer: Option<crate::dialer::Dialer>,
) -> (
    EngineHandle,
    watch::Sender<bool>,
    notify::AgentEventStream,
    crate::ids::CallId,
) {
    use crate::acd::{AgentLogin, SkillLevel};
    use crate::callback::{CallbackDetails, CallbackOrigin};
    use crate::engine::callbacks::NewCallback;
    use crate::ids::{AgentId, CallbackId};
    use futures::StreamExt;
    use hotline_core::agent_event::AgentEventKind;

    let (engine, stop) = engine_dialling(dialer).await;
    let agent = AgentId::new("a");
    let login = AgentLogin {
        id: agent.clone(),
        display_name: "A".into(),
        skills: vec![SkillLevel {
            skill: "s".into(),
            proficiency: 5,
        }],
        start_available: true,
    };
    engine.execute(None, Command::Login(login)).await.unwrap();
    let mut events = engine
        .call(move |core, now| core.open_agent_stream_for(now, &agent, "A".into(), Device::Client))
        .await
        .unwrap();
    let number = "+15550100".to_string();
    let new = NewCallback {
        id: CallbackId::new("cb-1"),
        details: CallbackDetails {
            number: number.clone(),
            customer: None,
            customer_key: number,
            tier: None,
            queue: Some("q".into()),
            category: None,
            notes: None,
            owner: None,
            origin: CallbackOrigin::Api,
            source_call: None,
        },
        not_before: None,
        deadline: None,
        max_attempts: None,
    };
    engine
        .execute(None, Command::CreateCallback(Box::new(new)))
        .await
        .unwrap();
    // The callback falls due and its work item is offered to the agent.
    let work = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an offer within 5 s")
            .expect("the stream is open")
            .expect("an event");
        if let AgentEventKind::CallOffered { call, .. } = event.kind {
            break call.id;
        }
    };
    (engine, stop, events, work)
}

#[tokio::test]
async fn an_accepted_callback_is_dialled_once_however_often_the_accept_is_retried() {
    use crate::ids::{AgentId, CallbackId};

    let (dialer, mut dials) = crate::dialer::Dialer::channel();
    let (engine, _stop, _events, work) = callback_offered(Some(dialer)).await;
    let agent = AgentId::new("a");
    let number = "+15550100".to_string();
    assert!(dials.try_recv().is_err(), "nothing is dialled before the accept");
    let key = IdempotencyKey {
        principal: "agent:a".into(),
        request_id: "accept-1".into(),
        digest: "d".into(),
    };
    let accept = || Command::Accept {
        agent: agent.clone(),
        call: work.clone(),
    };
    engine.execute(Some(key.clone()), accept()).await.unwrap();
    // The engine hands the dial over before it answers the Accept.
    let dial = dials.try_recv().expect("the accept asked the dialler");
    assert_eq!(dial.call, work);
    assert_eq!(dial.callback, CallbackId::new("cb-1"));
    assert_eq!(dial.agent, agent);
    assert_eq!(dial.number, number);
    // A retry (kept reply) and a repeat (the call is connected already)
    // dial nothing more.
    engine.execute(Some(key), accept()).await.unwrap();
    let repeat = engine.execute(None, accept()).await;
    assert!(repeat.is_err(), "{repeat:?}");
    assert!(dials.try_recv().is_err(), "dialled once");
}

#[tokio::test]
async fn an_accepted_callback_the_dialler_cannot_take_still_connects_the_agent() {
    // The gateway is gone: nothing receives dials.
    let (dialer, dials) = crate::dialer::Dialer::channel();
    drop(dials);
    let (engine, _stop, _events, work) = callback_offered(Some(dialer)).await;
    let accept = Command::Accept {
        agent: crate::ids::AgentId::new("a"),
        call: work.clone(),
    };
    // The agent dials by hand (warned and counted); the Accept stands.
    let (id, live) = engine.execute(None, accept).await.unwrap().call().unwrap();
    assert_eq!(id, work);
    assert_eq!(live.map(|c| c.status), Some(crate::acd::CallStatus::Connected));
}
