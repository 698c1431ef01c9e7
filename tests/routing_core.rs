//! Deterministic scenarios for the sans-IO routing core on a simulated clock:
//! strategies, aging, queue limits, policies and transfers.

use std::time::Duration;

use hotline::acd::{
    AgentLogin, AgentState, CallOutcome, Event, IncomingCall, NoAgentsPolicy, QueueSettings, Router,
    RouterConfig, SkillLevel, Strategy, Tier, TransferTarget,
};
use hotline::ids::{AgentId, CallId, QueueName, SkillName};
use hotline::time::{Monotonic, Now, Timestamp};

const T0: Timestamp = Timestamp(1_000_000_000);

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

fn router(queue: QueueSettings) -> Router {
    Router::new(RouterConfig {
        skills: ["s", "t"].iter().map(|s| SkillName::new(*s)).collect(),
        queues: vec![queue, QueueSettings::named("other").with_skill("s", 1)],
        ..Default::default()
    })
    .unwrap()
}

fn login(r: &mut Router, now: Timestamp, id: &str, skill: u8) {
    r.handle_agent_login(
        now,
        AgentLogin {
            id: AgentId::new(id),
            display_name: id.into(),
            skills: vec![SkillLevel {
                skill: SkillName::new("s"),
                proficiency: skill,
            }],
            start_available: true,
        },
    )
    .unwrap();
}

fn call(r: &mut Router, now: impl Into<Now>, id: &str, tier: Tier) {
    r.handle_call_arrived(
        now,
        IncomingCall {
            id: CallId::new(id),
            ani: "+1".into(),
            dnis: "1".into(),
            customer: None,
            tier,
            queue: QueueName::new("q"),
            extra_requirements: vec![],
            preferred_agent: None,
            node: None,
            callback: None,
        },
    )
    .unwrap();
}

/// Offers made since the last call, as (call, agent).
fn offers(r: &mut Router) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event() {
        if let Event::CallOffered { agent, call, .. } = e {
            out.push((call.id.to_string(), agent.id.to_string()));
        }
    }
    out
}

fn ended(r: &mut Router) -> Vec<(String, CallOutcome, String)> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event() {
        if let Event::CallEnded { call } = e {
            out.push((
                call.id.to_string(),
                call.outcome.unwrap(),
                call.end_reason.unwrap_or_default(),
            ));
        }
    }
    out
}

/// Answers, hangs up and wraps up so the agent is free again.
fn serve(r: &mut Router, now: Timestamp, agent: &str, call: &str) {
    let (a, c) = (AgentId::new(agent), CallId::new(call));
    r.handle_offer_accepted(now, &a, &c).unwrap();
    r.handle_agent_hangup(now, &a, &c).unwrap();
    r.handle_wrap_up_completed(now, &a, &c, None, None, None).unwrap();
}

#[test]
fn most_proficient_strategy_picks_the_strongest_agent() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.strategy = Strategy::MostProficient;
    let mut r = router(q);
    login(&mut r, at(0), "weak", 3);
    login(&mut r, at(1), "strong", 9);
    login(&mut r, at(2), "middle", 6);
    offers(&mut r);
    call(&mut r, at(3), "c1", Tier::Regular);
    assert_eq!(offers(&mut r), [("c1".to_string(), "strong".to_string())]);
    // Equal proficiency: the one idle longer.
    login(&mut r, at(4), "strong-too", 9);
    let (s, c1) = (AgentId::new("strong"), CallId::new("c1"));
    r.handle_offer_accepted(at(5), &s, &c1).unwrap();
    r.handle_agent_hangup(at(5), &s, &c1).unwrap();
    r.handle_wrap_up_completed(at(6), &s, &c1, None, None, None)
        .unwrap();
    offers(&mut r);
    call(&mut r, at(7), "c2", Tier::Regular);
    assert_eq!(offers(&mut r), [("c2".to_string(), "strong-too".to_string())]);
}

#[test]
fn longest_idle_strategy_picks_the_agent_free_longest() {
    let mut r = router(QueueSettings::named("q").with_skill("s", 1));
    login(&mut r, at(0), "first", 3);
    login(&mut r, at(1), "second", 9);
    offers(&mut r);
    call(&mut r, at(3), "c1", Tier::Regular);
    assert_eq!(offers(&mut r)[0].1, "first");
}

#[test]
fn fewest_calls_strategy_spreads_work() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.strategy = Strategy::FewestCalls;
    let mut r = router(q);
    login(&mut r, at(0), "busy", 5);
    call(&mut r, at(1), "c1", Tier::Regular);
    serve(&mut r, at(2), "busy", "c1");
    login(&mut r, at(3), "fresh", 5);
    offers(&mut r);
    // "busy" is idle longer (since 2 s) but has handled a call; "fresh" has none.
    call(&mut r, at(4), "c2", Tier::Regular);
    assert_eq!(offers(&mut r)[0].1, "fresh");
}

#[test]
fn round_robin_strategy_takes_agents_in_turn() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.strategy = Strategy::RoundRobin;
    let mut r = router(q);
    for (i, a) in ["a", "b", "c"].iter().enumerate() {
        login(&mut r, at(i as u64), a, 5);
    }
    offers(&mut r);
    let mut order = Vec::new();
    for i in 0..6 {
        let id = format!("c{i}");
        call(&mut r, at(10 + i), &id, Tier::Regular);
        let (_, agent) = offers(&mut r).remove(0);
        serve(&mut r, at(10 + i), &agent, &id);
        offers(&mut r);
        order.push(agent);
    }
    assert_eq!(order, ["a", "b", "c", "a", "b", "c"]);
}

#[test]
fn aging_bounds_the_wait_of_lower_tiers() {
    // Default head starts: key account 300 s, regular 60 s: a regular caller
    // is passed only by key accounts arriving less than 240 s after it.
    let mut r = router(QueueSettings::named("q").with_skill("s", 1));
    call(&mut r, at(0), "regular", Tier::Regular);
    call(&mut r, at(200), "key-early", Tier::KeyAccount);
    call(&mut r, at(250), "key-late", Tier::KeyAccount);
    login(&mut r, at(300), "a", 5);
    let mut served = Vec::new();
    for _ in 0..3 {
        let (c, a) = offers(&mut r).remove(0);
        serve(&mut r, at(300), &a, &c);
        served.push(c);
    }
    assert_eq!(served, ["key-early", "regular", "key-late"]);
}

#[test]
fn full_queue_overflows_or_rejects_at_entry() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.max_queue_len = 1;
    let mut r = router(q);
    call(&mut r, at(0), "c1", Tier::Regular);
    call(&mut r, at(1), "c2", Tier::Regular);
    let e = ended(&mut r);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, "c2");
    assert_eq!(e[0].1, CallOutcome::Rejected);
    assert!(e[0].2.contains("full"));

    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.max_queue_len = 1;
    q.overflow_queue = Some(QueueName::new("other"));
    let mut r = router(q);
    call(&mut r, at(0), "c1", Tier::Regular);
    call(&mut r, at(1), "c2", Tier::Regular);
    assert!(
        ended(&mut r).is_empty(),
        "overflowed into the other queue, not ended"
    );
    assert_eq!(r.call(&CallId::new("c2")).unwrap().queue.as_str(), "other");
}

#[test]
fn last_qualified_agent_logging_out_applies_the_no_agents_policy() {
    let mut q = QueueSettings::named("q").with_skill("s", 5);
    q.when_no_agents = NoAgentsPolicy::Reject;
    let mut r = router(q);
    login(&mut r, at(0), "a", 7);
    r.handle_set_not_ready(at(0), &AgentId::new("a"), "break", "test")
        .unwrap();
    call(&mut r, at(1), "c1", Tier::Regular);
    assert!(ended(&mut r).is_empty(), "someone who could serve is logged in");
    r.handle_agent_logout(at(2), &AgentId::new("a"), None).unwrap();
    let e = ended(&mut r);
    assert_eq!(e[0].1, CallOutcome::Rejected);
    assert!(e[0].2.contains("no agent"));
}

#[test]
fn hold_time_accumulates_and_transfer_to_a_queue_keeps_the_original_rank() {
    let mut r = router(QueueSettings::named("q").with_skill("s", 1));
    login(&mut r, at(0), "a", 5);
    call(&mut r, at(1), "c1", Tier::Regular);
    let (a, c1) = (AgentId::new("a"), CallId::new("c1"));
    r.handle_offer_accepted(at(2), &a, &c1).unwrap();
    r.handle_hold(at(10), &a, &c1, true).unwrap();
    r.handle_hold(at(16), &a, &c1, false).unwrap();
    r.handle_hold(at(20), &a, &c1, true).unwrap();
    r.handle_hold(at(21), &a, &c1, false).unwrap();
    assert_eq!(r.call(&c1).unwrap().hold_ms, 7_000);
    // A later caller waits in "q"; the transferred call goes ahead of it.
    call(&mut r, at(30), "c2", Tier::Regular);
    r.handle_transfer(at(40), &a, &c1, TransferTarget::Queue(QueueName::new("q")))
        .unwrap();
    assert_eq!(r.waiting_calls(&QueueName::new("q"))[0].as_str(), "c1");
    assert_eq!(r.agent(&a).unwrap().state, AgentState::WrapUp);
}

#[test]
fn timers_fire_in_order_and_poll_timeout_says_when() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.ring_timeout_secs = 15;
    let mut r = router(q);
    login(&mut r, at(0), "a", 5);
    call(&mut r, at(1), "c1", Tier::Regular);
    offers(&mut r);
    assert_eq!(r.poll_timeout().simulated(), Some(at(16)));
    r.handle_timeout(at(15));
    assert_eq!(r.agent(&AgentId::new("a")).unwrap().state, AgentState::Reserved);
    r.handle_timeout(at(16));
    assert_eq!(r.agent(&AgentId::new("a")).unwrap().consecutive_misses, 1);
}

#[test]
fn an_offer_rings_its_full_time_when_the_wall_clock_is_stepped() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.ring_timeout_secs = 15;
    let mut r = router(q);
    let (wall, mono) = (at(1_000), Monotonic(5_000));
    let clock = |wall_s: u64, mono_ms: u64| Now {
        wall: at(wall_s),
        mono: Monotonic(mono_ms),
    };
    login(&mut r, wall, "a", 5);
    call(&mut r, Now { wall, mono }, "c1", Tier::Regular);
    offers(&mut r);
    assert_eq!(
        r.poll_timeout().mono,
        Some(Monotonic(20_000)),
        "rings 15 s on the monotonic clock"
    );
    // The wall clock is stepped an hour ahead one second later: still ringing.
    r.handle_timeout(clock(1_000 + 3_600, 6_000));
    assert_eq!(r.agent(&AgentId::new("a")).unwrap().state, AgentState::Reserved);
    // And stepped back: the offer still ends after its 15 s.
    r.handle_timeout(clock(500, 19_999));
    assert_eq!(r.agent(&AgentId::new("a")).unwrap().state, AgentState::Reserved);
    r.handle_timeout(clock(500, 20_000));
    assert_eq!(r.agent(&AgentId::new("a")).unwrap().consecutive_misses, 1);
}

#[test]
fn a_router_restored_from_records_carries_on() {
    use hotline::acd::{AgentRecord, CallRecord, CallStatus};
    use std::collections::HashMap;
    let settings = || {
        let mut q = QueueSettings::named("q").with_skill("s", 1);
        q.wrap_up_secs = 600;
        q
    };
    let mut a = router(settings());
    let mut agents: HashMap<String, AgentRecord> = HashMap::new();
    let mut calls: HashMap<String, CallRecord> = HashMap::new();
    let record = |r: &mut Router,
                  agents: &mut HashMap<String, AgentRecord>,
                  calls: &mut HashMap<String, CallRecord>| {
        while let Some(e) = r.poll_event() {
            match e {
                Event::AgentStateChanged { agent } => {
                    agents.insert(agent.id.to_string(), agent);
                }
                Event::CallOffered { agent, call, .. } => {
                    agents.insert(agent.id.to_string(), agent);
                    calls.insert(call.id.to_string(), call);
                }
                Event::CallQueued { call }
                | Event::CallConnected { call, .. }
                | Event::CallUpdated { call }
                | Event::CallEnded { call } => {
                    calls.insert(call.id.to_string(), call);
                }
                _ => {}
            }
        }
    };
    for (i, id) in ["on-call", "ringing", "wrapping", "resting"].iter().enumerate() {
        login(&mut a, at(i as u64), id, 5);
    }
    a.handle_set_not_ready(at(5), &AgentId::new("resting"), "lunch", "agent")
        .unwrap();
    call(&mut a, at(10), "talk", Tier::Regular);
    call(&mut a, at(11), "ring", Tier::Regular);
    call(&mut a, at(12), "done", Tier::Regular);
    call(&mut a, at(13), "wait", Tier::Regular);
    let (on, ring, wrap) = (
        AgentId::new("on-call"),
        AgentId::new("ringing"),
        AgentId::new("wrapping"),
    );
    a.handle_offer_accepted(at(14), &on, &CallId::new("talk"))
        .unwrap();
    a.handle_offer_accepted(at(14), &wrap, &CallId::new("done"))
        .unwrap();
    a.handle_agent_hangup(at(20), &wrap, &CallId::new("done"))
        .unwrap();
    record(&mut a, &mut agents, &mut calls);
    assert_eq!(agents["ringing"].state, AgentState::Reserved);
    assert_eq!(a.waiting_calls(&QueueName::new("q"))[0].as_str(), "wait");

    // Another node takes over with only the records.
    let mut b = router(settings());
    let referenced: Vec<CallRecord> = calls
        .values()
        .filter(|c| c.status != CallStatus::Ended || c.id.as_str() == "done")
        .cloned()
        .collect();
    b.handle_restore(at(30), agents.values().cloned().collect(), referenced);
    record(&mut b, &mut agents, &mut calls);
    assert_eq!(b.agent(&on).unwrap().state, AgentState::OnCall);
    assert_eq!(
        b.call(&CallId::new("talk")).unwrap().status,
        CallStatus::Connected
    );
    assert_eq!(b.agent(&wrap).unwrap().state, AgentState::WrapUp);
    let resting = b.agent(&AgentId::new("resting")).unwrap();
    assert_eq!(resting.state, AgentState::NotReady);
    assert_eq!(resting.not_ready_reason.as_deref(), Some("lunch"));
    // The withdrawn offer goes out again, in original order: "ring" before "wait".
    assert_eq!(b.agent(&ring).unwrap().state, AgentState::Reserved);
    assert_eq!(
        b.agent(&ring).unwrap().current_call.as_ref().unwrap().as_str(),
        "ring"
    );
    assert_eq!(b.waiting_calls(&QueueName::new("q"))[0].as_str(), "wait");
    // Work continues on the restored router.
    b.handle_agent_hangup(at(40), &on, &CallId::new("talk")).unwrap();
    b.handle_wrap_up_completed(at(41), &wrap, &CallId::new("done"), None, None, None)
        .unwrap();
    let offered = offers(&mut b);
    assert_eq!(offered, [("wait".to_string(), "wrapping".to_string())]);
}

#[test]
fn waiting_calls_know_their_place_and_estimated_wait() {
    let mut r = router(QueueSettings::named("q").with_skill("s", 1));
    login(&mut r, at(0), "a", 5);
    login(&mut r, at(0), "b", 5);
    // Two handled contacts of 60 s and 120 s: average handle time 90 s.
    call(&mut r, at(0), "h1", Tier::Regular);
    call(&mut r, at(0), "h2", Tier::Regular);
    let mut served = offers(&mut r);
    served.sort();
    let (a, c) = (AgentId::new(&served[0].1), CallId::new(&served[0].0));
    r.handle_offer_accepted(at(0), &a, &c).unwrap();
    r.handle_agent_hangup(at(50), &a, &c).unwrap();
    r.handle_set_not_ready(at(55), &a, "lunch", "test").unwrap();
    r.handle_wrap_up_completed(at(60), &a, &c, None, None, None)
        .unwrap();
    let (b, c2) = (AgentId::new(&served[1].1), CallId::new(&served[1].0));
    r.handle_offer_accepted(at(0), &b, &c2).unwrap();
    r.handle_agent_hangup(at(100), &b, &c2).unwrap();
    r.handle_set_not_ready(at(110), &b, "meeting", "test").unwrap();
    r.handle_wrap_up_completed(at(120), &b, &c2, None, None, None)
        .unwrap();
    // Nobody serves now; three callers wait, a key account jumps the line.
    call(&mut r, at(200), "w1", Tier::Regular);
    call(&mut r, at(201), "w2", Tier::Regular);
    call(&mut r, at(202), "vip", Tier::KeyAccount);
    let place = |r: &Router, id: &str| r.queue_position(&CallId::new(id)).map(|p| p.position);
    assert_eq!(
        (place(&r, "vip"), place(&r, "w1"), place(&r, "w2")),
        (Some(1), Some(2), Some(3))
    );
    let w2 = r.queue_position(&CallId::new("w2")).unwrap();
    assert_eq!(
        w2.estimated_wait,
        Some(Duration::from_secs(270)),
        "3rd in line x 90 s average handle time / 1 (nobody on duty counts as one)"
    );
    // One agent back on duty... and busy with the first caller: 2 serving.
    r.handle_set_available(at(300), &a, "back").unwrap();
    login(&mut r, at(300), "c", 5);
    let w2 = r.queue_position(&CallId::new("w2")).unwrap();
    assert_eq!(w2.position, 1, "two calls were taken off the queue");
    assert_eq!(
        w2.estimated_wait,
        Some(Duration::from_secs(45)),
        "1 x 90 s / 2 serving"
    );
    assert_eq!(
        r.queue_position(&CallId::new("vip")),
        None,
        "an offered call is not waiting"
    );
    assert_eq!(r.queue_position(&CallId::new("nope")), None);
}

/// The agent's latest state in the events since the last look.
fn last_state(r: &mut Router, agent: &str) -> Option<(AgentState, String)> {
    let mut last = None;
    while let Some(e) = r.poll_event() {
        if let Event::AgentStateChanged { agent: a } = e {
            if a.id.as_str() == agent {
                last = Some((a.state, a.state_reason.clone()));
            }
        }
    }
    last
}

/// Fires every timer due by `now`, as the driver does.
fn run_until(r: &mut Router, now: Timestamp) {
    while r.poll_timeout().simulated().is_some_and(|t| t <= now) {
        let due = r.poll_timeout().simulated().unwrap_or(now);
        r.handle_timeout(due);
    }
}

fn router_with_grace(grace_secs: u64) -> Router {
    Router::new(RouterConfig {
        skills: vec![SkillName::new("s")],
        queues: vec![QueueSettings::named("q").with_skill("s", 1)],
        presence_grace: Some(Duration::from_secs(grace_secs)),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn an_agent_without_a_softphone_for_the_grace_period_is_logged_out_not_a_moment_sooner() {
    let mut r = router_with_grace(30);
    login(&mut r, at(0), "ann", 5);
    let ann = AgentId::new("ann");
    r.handle_agent_stream_opened(at(1), &ann).unwrap();
    r.handle_agent_stream_closed(at(10), &ann).unwrap();
    last_state(&mut r, "ann");
    run_until(&mut r, at(39));
    assert_eq!(last_state(&mut r, "ann"), None, "still within the grace period");
    run_until(&mut r, at(40));
    let (state, why) = last_state(&mut r, "ann").expect("logged out at the end of the grace");
    assert_eq!(state, AgentState::LoggedOut);
    assert!(why.contains("no softphone connected for 30 s"), "{why}");
}

#[test]
fn a_softphone_back_within_the_grace_period_keeps_the_agent() {
    let mut r = router_with_grace(30);
    login(&mut r, at(0), "ann", 5);
    let ann = AgentId::new("ann");
    r.handle_agent_stream_opened(at(1), &ann).unwrap();
    r.handle_agent_stream_closed(at(10), &ann).unwrap();
    r.handle_agent_stream_opened(at(25), &ann).unwrap();
    last_state(&mut r, "ann");
    run_until(&mut r, at(3600));
    assert_eq!(last_state(&mut r, "ann"), None, "the lapsed timer did nothing");
    assert_eq!(r.agent(&ann).unwrap().state, AgentState::Available);
}

#[test]
fn a_caller_hanging_up_before_the_short_abandon_time_is_a_short_abandon_after_it_an_abandon() {
    let mut r = Router::new(RouterConfig {
        skills: vec![SkillName::new("s")],
        queues: vec![QueueSettings::named("q").with_skill("s", 1)],
        short_abandon: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap();
    call(&mut r, at(0), "quick", Tier::Regular);
    call(&mut r, at(0), "patient", Tier::Regular);
    r.handle_caller_hangup(T0.plus(Duration::from_millis(4_999)), &CallId::new("quick"))
        .unwrap();
    r.handle_caller_hangup(at(5), &CallId::new("patient")).unwrap();
    let views = r.queue_views(at(6));
    let q = views.iter().find(|v| v.name.as_str() == "q").unwrap();
    assert_eq!((q.counters.short_abandons, q.counters.abandoned), (1, 1));
}

#[test]
fn an_unfinished_wrap_up_ends_by_itself_at_the_queues_wrap_up_time() {
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.wrap_up_secs = 60;
    let mut r = router(q);
    login(&mut r, at(0), "ann", 5);
    call(&mut r, at(1), "c1", Tier::Regular);
    let (ann, c1) = (AgentId::new("ann"), CallId::new("c1"));
    r.handle_offer_accepted(at(2), &ann, &c1).unwrap();
    r.handle_agent_hangup(at(10), &ann, &c1).unwrap();
    while r.poll_event().is_some() {}
    run_until(&mut r, at(69));
    assert!(
        !std::iter::from_fn(|| r.poll_event()).any(|e| matches!(e, Event::WrapUpEnded { .. })),
        "wrap-up still open a second before its time"
    );
    run_until(&mut r, at(70));
    let ended: Vec<Event> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(
        ended
            .iter()
            .any(|e| matches!(e, Event::WrapUpEnded { agent, .. } if agent == &ann)),
        "{ended:?}"
    );
    assert_eq!(r.agent(&ann).unwrap().state, AgentState::Available);
}

/// The newest routing decision's passed-over agents and reasons.
fn passed_over(r: &Router, call: &str) -> Vec<(String, String)> {
    let record = r.call(&CallId::new(call)).expect("live call");
    let decision = record.decisions.last().expect("a decision");
    decision
        .passed_over
        .iter()
        .map(|p| (p.agent.to_string(), p.reason.clone()))
        .collect()
}

#[test]
fn the_explanation_says_why_each_free_agent_was_passed_over() {
    // Below the queue's minimum proficiency.
    let mut r = router(QueueSettings::named("q").with_skill("s", 5));
    login(&mut r, at(0), "weak", 3);
    login(&mut r, at(1), "strong", 7);
    call(&mut r, at(2), "c1", Tier::Regular);
    assert_eq!(offers(&mut r), vec![("c1".to_string(), "strong".to_string())]);
    assert_eq!(
        passed_over(&r, "c1"),
        vec![("weak".to_string(), "proficiency 3 < 5 for s".to_string())]
    );

    // As strong as the chosen agent, under most-proficient: idle less long.
    let mut q = QueueSettings::named("q").with_skill("s", 1);
    q.strategy = Strategy::MostProficient;
    let mut r = router(q);
    login(&mut r, at(0), "a", 7);
    login(&mut r, at(1), "b", 7);
    call(&mut r, at(2), "c1", Tier::Regular);
    assert_eq!(offers(&mut r), vec![("c1".to_string(), "a".to_string())]);
    assert_eq!(
        passed_over(&r, "c1"),
        vec![(
            "b".to_string(),
            "same most-proficient score 7, idle less long".to_string()
        )]
    );
}
