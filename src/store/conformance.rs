//! The contract every [`Store`] backend must meet, as an executable suite.
//! Tests call [`run`] with a fresh, empty store of each backend; the Redis
//! backend runs exactly the same checks as the embedded one.

use crate::acd::*;
use crate::callback::{CallbackDetails, CallbackRecord, CallbackStatus};
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::quality::{GradeRecord, Letter, Scorecard, SurveyRecord};
use crate::recording::{MonitorMode, MonitorSessionRecord, PauseAudit, RecordingFilter, RecordingRecord};
use crate::store::{CallFilter, CallbackFilter, Store};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

mod retention;

/// A minimal agent record for the suite.
pub fn sample_agent(id: &str) -> AgentRecord {
    AgentRecord {
        id: AgentId::new(id),
        display_name: format!("Agent {id}"),
        skills: Vec::new(),
        state: AgentState::Available,
        not_ready_reason: None,
        state_reason: "logged in".into(),
        current_call: None,
        state_since: Timestamp(1),
        idle_since: Timestamp(1),
        calls_handled: 0,
        consecutive_misses: 0,
        pending_not_ready: None,
    }
}

/// A minimal queued call record for the suite.
pub fn sample_call(id: &str, queue: &str, enqueued_at: u64) -> CallRecord {
    let mut call = CallRecord::arrived(
        CallId::new(id),
        "+15550000".into(),
        "100".into(),
        QueueName::new(queue),
        Tier::Regular,
        Timestamp(enqueued_at),
    );
    call.original_position = 1;
    call
}

pub fn sample_contact(
    call: &str,
    customer: &str,
    agent: &str,
    ended: u64,
    d: Option<Disposition>,
) -> ContactRecord {
    ContactRecord {
        call: CallId::new(call),
        customer_key: customer.into(),
        agent: AgentId::new(agent),
        queue: QueueName::new("q"),
        tier: Tier::Regular,
        disposition: d,
        category: Some("billing".into()),
        notes: None,
        enqueued_at: Timestamp(ended - 10),
        answered_at: Timestamp(ended - 5),
        ended_at: Timestamp(ended),
        wrap_up_ended_at: Timestamp(ended),
        hold_ms: 0,
        callback: None,
    }
}

/// Runs every check against an empty store. Panics with a message naming the
/// broken rule.
pub async fn run(store: &dyn Store) {
    agents_round_trip_and_page_in_id_order(store).await;
    calls_round_trip_list_newest_first_and_filter(store).await;
    contacts_are_per_customer_newest_first(store).await;
    a_claim_succeeds_only_on_an_available_agent(store).await;
    a_batch_writes_in_order_and_a_refused_claim_stops_nothing(store).await;
    recordings_round_trip_filter_and_page_newest_first(store).await;
    monitor_sessions_are_kept_per_call_newest_first(store).await;
    contacts_are_read_back_by_time_range(store).await;
    callbacks_round_trip_filter_page_and_restore_only_live_ones(store).await;
    grades_surveys_and_agent_days_are_read_by_time_range(store).await;
    kept_replies_are_recalled_by_key_until_they_expire(store).await;
    super::erasure::conformance::erasing_a_customer_blanks_their_ended_records_under_a_pseudonym(store).await;
    // Last: it deletes every earlier check's old records.
    retention::records_past_their_period_are_deleted_in_batches_and_live_ones_kept(store).await;
}

/// A callback record as the tracker writes it.
pub fn sample_callback(id: &str, queue: &str, created: u64, status: CallbackStatus) -> CallbackRecord {
    CallbackRecord {
        id: CallbackId::new(id),
        created_at: Timestamp(created),
        not_before: Timestamp(created),
        deadline: Timestamp(created + 4 * 3_600_000),
        status,
        attempts: Vec::new(),
        max_attempts: 3,
        next_attempt_at: Timestamp(created),
        warned: false,
        breached: false,
        met: None,
        details: CallbackDetails {
            number: "+15550100".into(),
            customer_key: "+15550100".into(),
            queue: Some(QueueName::new(queue)),
            ..CallbackDetails::default()
        },
        work_done_at: None,
        request_closed_at: None,
        close_warned: false,
        close_breached: false,
        updated_at: Timestamp(created),
    }
}

async fn contacts_are_read_back_by_time_range(store: &dyn Store) {
    for (call, ended) in [("r1", 10_000), ("r2", 20_000), ("r3", 30_000)] {
        store
            .append_contact(&sample_contact(call, "range-cust", "ann", ended, None))
            .await
            .unwrap();
    }
    let got = store
        .contacts_between(Timestamp(10_000), Timestamp(30_000), 100)
        .await
        .unwrap();
    let calls: Vec<&str> = got.iter().map(|c| c.call.as_str()).collect();
    assert_eq!(calls, ["r1", "r2"], "contacts in [from, to), oldest first");
}

async fn callbacks_round_trip_filter_page_and_restore_only_live_ones(store: &dyn Store) {
    let a = sample_callback("cb-a", "sales", 1_000, CallbackStatus::Due);
    let b = sample_callback("cb-b", "support", 2_000, CallbackStatus::Scheduled);
    let mut c = sample_callback("cb-c", "sales", 3_000, CallbackStatus::Reached);
    c.met = Some(true);
    for cb in [&a, &b, &c] {
        store.put_callback(cb).await.unwrap();
    }
    assert_eq!(store.get_callback(&a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.get_callback(&CallbackId::new("none")).await.unwrap(), None);
    let all = store
        .list_callbacks(&CallbackFilter::default(), None, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["cb-c", "cb-b", "cb-a"], "callbacks newest first");
    let page = store
        .list_callbacks(&CallbackFilter::default(), Some(&(c.created_at, c.id.clone())), 1)
        .await
        .unwrap();
    assert_eq!(page[0].id.as_str(), "cb-b", "paging continues after the cursor");
    let sales = CallbackFilter {
        queue: Some(QueueName::new("sales")),
        statuses: vec![CallbackStatus::Due, CallbackStatus::Scheduled],
        ..CallbackFilter::default()
    };
    let got = store.list_callbacks(&sales, None, 10).await.unwrap();
    assert_eq!(got.len(), 1, "filters by queue and status");
    assert_eq!(got[0].id.as_str(), "cb-a");
    let mut live: Vec<String> = store
        .live_callbacks()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    live.sort();
    assert_eq!(
        live,
        ["cb-a", "cb-b"],
        "only callbacks that can still fire are restored"
    );
    // Closing one takes it out of the live set.
    let mut a2 = a.clone();
    a2.status = CallbackStatus::Cancelled;
    store.put_callback(&a2).await.unwrap();
    let live = store.live_callbacks().await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id.as_str(), "cb-b");
}

async fn grades_surveys_and_agent_days_are_read_by_time_range(store: &dyn Store) {
    let card = Scorecard::default_call_quality();
    let grades: Vec<(String, Letter)> = card
        .criteria
        .iter()
        .map(|c| (c.name.clone(), Letter::B))
        .collect();
    for (id, at) in [("g1", 5_000u64), ("g2", 6_000)] {
        store
            .put_grade(&GradeRecord {
                id: id.into(),
                call: CallId::new(format!("call-{id}")),
                agent: AgentId::new("ann"),
                queue: QueueName::new("sales"),
                supervisor: "sue".into(),
                graded_at: Timestamp(at),
                score: card.score(&grades).unwrap(),
                scorecard: card.clone(),
                grades: grades.clone(),
                comments: String::new(),
            })
            .await
            .unwrap();
    }
    let got = store
        .grades_between(Timestamp(5_500), Timestamp(10_000), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, "g2");
    assert_eq!(got[0].score, 80.0);
    for (call, at, rating) in [("s1", 1_000u64, 5u8), ("s2", 2_000, 2)] {
        store
            .put_survey(&SurveyRecord {
                call: CallId::new(call),
                agent: Some(AgentId::new("ann")),
                queue: QueueName::new("sales"),
                satisfaction: rating,
                at: Timestamp(at),
            })
            .await
            .unwrap();
    }
    let got = store
        .surveys_between(Timestamp(0), Timestamp(2_000), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].satisfaction, 5);
    let mut day = AgentDayRecord {
        day: Timestamp(86_400_000),
        agent: AgentId::new("ann"),
        ms_by_state: Default::default(),
    };
    day.ms_by_state.insert("on-call".into(), 1_000);
    store.put_agent_day(&day).await.unwrap();
    day.ms_by_state.insert("on-call".into(), 2_000);
    store.put_agent_day(&day).await.unwrap();
    let got = store
        .agent_days_between(Timestamp(86_400_000), Timestamp(2 * 86_400_000), 10)
        .await
        .unwrap();
    assert_eq!(got, vec![day], "an agent day is replaced, not added to");
}

/// A recording's metadata as the media plane writes it.
pub fn sample_recording(call: &str, agent: &str, queue: &str, ani: &str, started: u64) -> RecordingRecord {
    RecordingRecord {
        call: CallId::new(call),
        agent: Some(AgentId::new(agent)),
        queue: QueueName::new(queue),
        ani: ani.into(),
        customer: None,
        started_at: Timestamp(started),
        duration_ms: 1_000,
        sample_rate: 8_000,
        path: format!("2026/11/23/{call}.wav"),
        node: "n1".into(),
        pauses: Vec::new(),
        live: false,
        archived: false,
        erased_at: None,
        signals: None,
    }
}

async fn recordings_round_trip_filter_and_page_newest_first(store: &dyn Store) {
    for (i, (agent, queue, ani)) in [
        ("alice", "sales", "+100"),
        ("bob", "sales", "+200"),
        ("alice", "support", "+100"),
        ("bob", "support", "+300"),
    ]
    .into_iter()
    .enumerate()
    {
        let rec = sample_recording(&format!("r{i}"), agent, queue, ani, 1_000 * (i as u64 + 1));
        store.put_recording(&rec).await.unwrap();
    }
    let mut updated = sample_recording("r0", "alice", "sales", "+100", 1_000);
    updated.duration_ms = 9_000;
    updated.pauses.push(PauseAudit {
        by: "alice".into(),
        at: Timestamp(1_500),
        length_ms: 2_000,
    });
    store.put_recording(&updated).await.unwrap();
    assert_eq!(
        store.get_recording(&CallId::new("r0")).await.unwrap(),
        Some(updated),
        "a recording's metadata reads back as last written"
    );
    assert_eq!(store.get_recording(&CallId::new("none")).await.unwrap(), None);

    let ids = |v: Vec<RecordingRecord>| v.into_iter().map(|r| r.call.to_string()).collect::<Vec<_>>();
    let all = RecordingFilter::default();
    assert_eq!(
        ids(store.list_recordings(&all, None, 10).await.unwrap()),
        ["r3", "r2", "r1", "r0"],
        "newest first, a rewrite does not duplicate"
    );
    let first = store.list_recordings(&all, None, 2).await.unwrap();
    let cursor = first.last().map(|r| (r.started_at, r.call.clone())).unwrap();
    assert_eq!(
        ids(store.list_recordings(&all, Some(&cursor), 10).await.unwrap()),
        ["r1", "r0"],
        "paging continues after the cursor"
    );
    let alice = RecordingFilter {
        agent: Some(AgentId::new("alice")),
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_recordings(&alice, None, 10).await.unwrap()),
        ["r2", "r0"]
    );
    let window = RecordingFilter {
        queue: Some(QueueName::new("sales")),
        from: Some(Timestamp(1_500)),
        to: Some(Timestamp(5_000)),
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_recordings(&window, None, 10).await.unwrap()),
        ["r1"]
    );
    let caller = RecordingFilter {
        ani: Some("+100".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_recordings(&caller, None, 1).await.unwrap()),
        ["r2"]
    );
}

async fn monitor_sessions_are_kept_per_call_newest_first(store: &dyn Store) {
    let session = |id: &str, call: &str, started: u64| MonitorSessionRecord {
        id: id.into(),
        supervisor: "sue".into(),
        call: CallId::new(call),
        mode: MonitorMode::Listen,
        started_at: Timestamp(started),
        ended_at: None,
    };
    store
        .put_monitor_session(&session("m1", "c1", 1_000))
        .await
        .unwrap();
    store
        .put_monitor_session(&session("m2", "c2", 2_000))
        .await
        .unwrap();
    let mut closed = session("m3", "c1", 3_000);
    store.put_monitor_session(&closed).await.unwrap();
    closed.ended_at = Some(Timestamp(4_000));
    store.put_monitor_session(&closed).await.unwrap();
    let got = store
        .monitor_sessions(Some(&CallId::new("c1")), None, 10)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![closed, session("m1", "c1", 1_000)],
        "one call's sessions, newest first, as last written"
    );
    assert_eq!(store.monitor_sessions(None, None, 10).await.unwrap().len(), 3);
    assert_eq!(store.monitor_sessions(None, None, 1).await.unwrap()[0].id, "m3");
    // Paged: each page continues strictly after the last one's last entry.
    let first = store.monitor_sessions(None, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["m3", "m2"]
    );
    let last = &first[1];
    let rest = store
        .monitor_sessions(None, Some(&(last.started_at, last.id.clone())), 2)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["m1"]);
}

async fn a_claim_succeeds_only_on_an_available_agent(store: &dyn Store) {
    let free = sample_agent("claimable");
    store.put_agent(&free).await.unwrap();
    let mut reserved = free.clone();
    reserved.state = AgentState::Reserved;
    reserved.current_call = Some(CallId::new("claim-1"));
    let mut call = sample_call("claim-1", "q", 500);
    call.status = CallStatus::Offering;
    call.agent = Some(free.id.clone());
    store.reserve(&reserved, &call).await.unwrap();
    assert_eq!(store.get_agent(&free.id).await.unwrap(), Some(reserved.clone()));
    assert_eq!(store.get_call(&call.id).await.unwrap(), Some(call.clone()));
    // A second claim for the same agent loses, and changes nothing.
    let mut other = sample_call("claim-2", "q", 600);
    other.status = CallStatus::Offering;
    let err = store.reserve(&reserved, &other).await.unwrap_err();
    assert!(matches!(err, crate::store::StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_call(&other.id).await.unwrap(),
        None,
        "the losing claim wrote nothing"
    );
}

async fn a_batch_writes_in_order_and_a_refused_claim_stops_nothing(store: &dyn Store) {
    use crate::store::{StoreError, Write};
    let agent = sample_agent("batched");
    let mut reserved = agent.clone();
    reserved.state = AgentState::Reserved;
    let mut first = sample_call("batch-1", "q", 700);
    first.status = CallStatus::Offering;
    let mut second = sample_call("batch-2", "q", 800);
    second.status = CallStatus::Offering;
    let mut later = agent.clone();
    later.display_name = "Later".into();
    let results = store
        .write_batch(&[
            Write::Agent(agent.clone()),
            Write::Reserve {
                agent: reserved.clone(),
                call: first.clone(),
            },
            // The agent is reserved now: this claim is refused...
            Write::Reserve {
                agent: reserved.clone(),
                call: second.clone(),
            },
            // ...and the writes after it still land, in order.
            Write::Contact(sample_contact("batch-1", "cust-batch", "batched", 900, None)),
            Write::Call(sample_call("batch-3", "q", 900)),
        ])
        .await;
    assert_eq!(results.len(), 5);
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(matches!(results[2], Err(StoreError::Conflict(_))), "{results:?}");
    assert!(results[3].is_ok() && results[4].is_ok(), "{results:?}");
    assert_eq!(store.get_agent(&agent.id).await.unwrap(), Some(reserved));
    assert_eq!(store.get_call(&first.id).await.unwrap(), Some(first));
    assert_eq!(
        store.get_call(&second.id).await.unwrap(),
        None,
        "the refused claim wrote nothing"
    );
    assert_eq!(store.contacts_of("cust-batch", 5).await.unwrap().len(), 1);
    assert!(store.get_call(&CallId::new("batch-3")).await.unwrap().is_some());
    // Two writes of one record in a batch: the later one stands.
    let results = store
        .write_batch(&[Write::Agent(agent.clone()), Write::Agent(later.clone())])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(store.get_agent(&agent.id).await.unwrap(), Some(later));
    assert!(store.write_batch(&[]).await.is_empty());
}

async fn agents_round_trip_and_page_in_id_order(store: &dyn Store) {
    assert_eq!(store.get_agent(&AgentId::new("nobody")).await.unwrap(), None);
    for id in ["carol", "alice", "bob"] {
        store.put_agent(&sample_agent(id)).await.unwrap();
    }
    let mut changed = sample_agent("bob");
    changed.state = AgentState::OnCall;
    changed.current_call = Some(CallId::new("c1"));
    store.put_agent(&changed).await.unwrap();
    assert_eq!(
        store.get_agent(&AgentId::new("bob")).await.unwrap(),
        Some(changed),
        "put_agent replaces the whole record"
    );
    let page1 = store.list_agents(None, 2).await.unwrap();
    let ids: Vec<_> = page1.iter().map(|a| a.id.as_str().to_string()).collect();
    assert_eq!(ids, ["alice", "bob"], "agents list in id order");
    let page2 = store.list_agents(Some(&page1[1].id), 2).await.unwrap();
    let ids: Vec<_> = page2.iter().map(|a| a.id.as_str().to_string()).collect();
    assert_eq!(ids, ["carol"], "paging continues strictly after the cursor");
}

async fn calls_round_trip_list_newest_first_and_filter(store: &dyn Store) {
    store.put_call(&sample_call("a", "billing", 100)).await.unwrap();
    store.put_call(&sample_call("b", "sales", 200)).await.unwrap();
    store.put_call(&sample_call("c", "billing", 300)).await.unwrap();
    let mut ended = sample_call("b", "sales", 200);
    ended.status = CallStatus::Ended;
    ended.outcome = Some(CallOutcome::Abandoned);
    store.put_call(&ended).await.unwrap();
    assert_eq!(store.get_call(&CallId::new("b")).await.unwrap(), Some(ended));
    assert_eq!(store.get_call(&CallId::new("zz")).await.unwrap(), None);

    let all = CallFilter {
        queue: None,
        include_ended: true,
    };
    let ids = |v: Vec<CallRecord>| {
        v.into_iter()
            .map(|c| c.id.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.list_calls(&all, None, 10).await.unwrap()),
        ["c", "b", "a"],
        "newest first"
    );
    let live = CallFilter::default();
    assert_eq!(
        ids(store.list_calls(&live, None, 10).await.unwrap()),
        ["c", "a"],
        "ended calls hidden unless asked for"
    );
    let billing = CallFilter {
        queue: Some(QueueName::new("billing")),
        include_ended: true,
    };
    let first = store.list_calls(&billing, None, 1).await.unwrap();
    assert_eq!(ids(first.clone()), ["c"]);
    let cursor = (first[0].enqueued_at, first[0].id.clone());
    assert_eq!(
        ids(store.list_calls(&billing, Some(&cursor), 10).await.unwrap()),
        ["a"],
        "paging continues strictly after the cursor"
    );
}

async fn contacts_are_per_customer_newest_first(store: &dyn Store) {
    store
        .append_contact(&sample_contact(
            "c1",
            "cust-1",
            "alice",
            1_000,
            Some(Disposition::Resolved),
        ))
        .await
        .unwrap();
    store
        .append_contact(&sample_contact("c2", "cust-2", "bob", 2_000, None))
        .await
        .unwrap();
    store
        .append_contact(&sample_contact(
            "c3",
            "cust-1",
            "bob",
            3_000,
            Some(Disposition::Unresolved),
        ))
        .await
        .unwrap();
    let got = store.contacts_of("cust-1", 10).await.unwrap();
    let calls: Vec<_> = got.iter().map(|c| c.call.as_str().to_string()).collect();
    assert_eq!(calls, ["c3", "c1"], "a customer's contacts, newest first");
    assert_eq!(got[0].disposition, Some(Disposition::Unresolved));
    assert_eq!(
        store.contacts_of("cust-1", 1).await.unwrap().len(),
        1,
        "limit applies"
    );
    assert!(store.contacts_of("nobody", 10).await.unwrap().is_empty());
}

async fn kept_replies_are_recalled_by_key_until_they_expire(store: &dyn Store) {
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(store.kept_reply("5:agent:alice:r1").await.unwrap(), None);
    store
        .keep_reply("5:agent:alice:r1", "{\"first\":1}", hour)
        .await
        .unwrap();
    store
        .keep_reply("5:agent:bobby:r1", "{\"other\":2}", hour)
        .await
        .unwrap();
    assert_eq!(
        store.kept_reply("5:agent:alice:r1").await.unwrap().as_deref(),
        Some("{\"first\":1}"),
        "a kept reply is recalled by its key, not another caller's"
    );
    // A reply kept for no time at all is gone at once.
    store
        .keep_reply("5:agent:alice:r2", "{}", std::time::Duration::from_millis(1))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while store.kept_reply("5:agent:alice:r2").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "an expired reply is forgotten"
        );
        tokio::task::yield_now().await;
    }
}
