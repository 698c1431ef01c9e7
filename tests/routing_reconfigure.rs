//! The routing core changed live from the admin catalog (simulated clock):
//! new skills and queues, an agent's skills changed, a queue retired.
//! Calls in progress keep their terms.

use std::time::Duration;

use hotline::acd::{
    AgentLogin, AgentState, Event, IncomingCall, QueueSettings, RouteError, Router, RouterConfig, SkillLevel,
    Tier,
};
use hotline::ids::{AgentId, CallId, QueueName, SkillName};
use hotline::time::Timestamp;

const T0: Timestamp = Timestamp(1_000_000_000);

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

fn config(skills: &[&str], queues: Vec<QueueSettings>) -> RouterConfig {
    RouterConfig {
        skills: skills.iter().map(SkillName::new).collect(),
        queues,
        ..Default::default()
    }
}

fn level(skill: &str, proficiency: u8) -> SkillLevel {
    SkillLevel {
        skill: SkillName::new(skill),
        proficiency,
    }
}

fn login(r: &mut Router, now: Timestamp, id: &str, skills: Vec<SkillLevel>) {
    r.handle_agent_login(
        now,
        AgentLogin {
            id: AgentId::new(id),
            display_name: id.into(),
            skills,
            start_available: true,
        },
    )
    .unwrap();
}

fn call(r: &mut Router, now: Timestamp, id: &str, queue: &str) -> Result<(), RouteError> {
    r.handle_call_arrived(
        now,
        IncomingCall {
            id: CallId::new(id),
            ani: "+1".into(),
            dnis: "1".into(),
            customer: None,
            tier: Tier::Regular,
            queue: QueueName::new(queue),
            extra_requirements: vec![],
            preferred_agent: None,
            node: None,
            callback: None,
        },
    )
}

fn offers(r: &mut Router) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(e) = r.poll_event() {
        if let Event::CallOffered { agent, call, .. } = e {
            out.push((call.id.to_string(), agent.id.to_string()));
        }
    }
    out
}

#[test]
fn an_agent_given_a_new_skill_takes_the_call_waiting_for_it() {
    let mut r = Router::new(config(
        &["billing", "french"],
        vec![QueueSettings::named("fr").with_skill("french", 5)],
    ))
    .unwrap();
    login(&mut r, at(0), "alice", vec![level("billing", 5)]);
    call(&mut r, at(1), "c1", "fr").unwrap();
    assert!(offers(&mut r).is_empty(), "nobody speaks French yet");
    r.handle_agent_skills_changed(
        at(2),
        &AgentId::new("alice"),
        &[level("billing", 5), level("french", 6)],
    )
    .unwrap();
    assert_eq!(offers(&mut r), vec![("c1".into(), "alice".into())]);
    let skills = &r.agent(&AgentId::new("alice")).unwrap().skills;
    assert!(
        skills.contains(&level("french", 6)),
        "the record shows the new skills: {skills:?}"
    );
}

#[test]
fn an_agent_who_loses_a_skill_mid_call_finishes_it_and_is_not_offered_more() {
    let mut r = Router::new(config(
        &["french"],
        vec![QueueSettings::named("fr").with_skill("french", 5)],
    ))
    .unwrap();
    login(&mut r, at(0), "alice", vec![level("french", 6)]);
    call(&mut r, at(1), "c1", "fr").unwrap();
    assert_eq!(offers(&mut r).len(), 1);
    r.handle_offer_accepted(at(2), &AgentId::new("alice"), &CallId::new("c1"))
        .unwrap();
    r.handle_agent_skills_changed(at(3), &AgentId::new("alice"), &[])
        .unwrap();
    let alice = r.agent(&AgentId::new("alice")).unwrap();
    assert_eq!(alice.state, AgentState::OnCall, "the call goes on");
    assert_eq!(alice.current_call, Some(CallId::new("c1")));
    r.handle_agent_hangup(at(60), &AgentId::new("alice"), &CallId::new("c1"))
        .unwrap();
    r.handle_wrap_up_completed(
        at(61),
        &AgentId::new("alice"),
        &CallId::new("c1"),
        None,
        None,
        None,
    )
    .unwrap();
    let _ = offers(&mut r);
    call(&mut r, at(62), "c2", "fr").unwrap();
    assert!(offers(&mut r).is_empty(), "no French calls without French");
}

#[test]
fn a_new_queue_and_skill_route_at_once_and_a_retired_queue_takes_no_calls() {
    let mut r = Router::new(config(
        &["billing"],
        vec![QueueSettings::named("billing").with_skill("billing", 1)],
    ))
    .unwrap();
    assert!(matches!(
        call(&mut r, at(0), "c0", "sales"),
        Err(RouteError::UnknownQueue(_))
    ));
    r.handle_reconfigure(
        at(1),
        config(
            &["billing", "sales"],
            vec![QueueSettings::named("sales").with_skill("sales", 3)],
        ),
    )
    .unwrap();
    login(&mut r, at(2), "bob", vec![level("sales", 4)]);
    call(&mut r, at(3), "c1", "sales").unwrap();
    assert_eq!(offers(&mut r), vec![("c1".into(), "bob".into())]);
    assert!(
        matches!(
            call(&mut r, at(4), "c2", "billing"),
            Err(RouteError::UnknownQueue(_))
        ),
        "billing is no longer configured"
    );
    assert!(!r.has_queue(&QueueName::new("billing")));
    assert_eq!(r.queue_names().count(), 1);
}

#[test]
fn a_queue_whose_requirement_is_lowered_serves_its_waiting_calls() {
    let mut r = Router::new(config(&["s"], vec![QueueSettings::named("q").with_skill("s", 8)])).unwrap();
    login(&mut r, at(0), "carol", vec![level("s", 5)]);
    call(&mut r, at(1), "c1", "q").unwrap();
    assert!(offers(&mut r).is_empty());
    r.handle_reconfigure(
        at(2),
        config(&["s"], vec![QueueSettings::named("q").with_skill("s", 5)]),
    )
    .unwrap();
    assert_eq!(
        offers(&mut r),
        vec![("c1".into(), "carol".into())],
        "the waiting call is matched anew"
    );
}

#[test]
fn a_refused_configuration_changes_nothing() {
    let mut r = Router::new(config(&["s"], vec![QueueSettings::named("q").with_skill("s", 1)])).unwrap();
    let mut bad = QueueSettings::named("q").with_skill("s", 1);
    bad.ring_timeout_secs = 0;
    assert!(r.handle_reconfigure(at(1), config(&["s"], vec![bad])).is_err());
    assert_eq!(
        r.queue_settings(&QueueName::new("q")).unwrap().ring_timeout_secs,
        15
    );
    assert!(r
        .handle_agent_skills_changed(at(2), &AgentId::new("x"), &[level("nope", 3)])
        .is_err());
}

#[test]
fn a_closed_queue_overflows_when_told_to_and_its_waiting_calls_stay() {
    use hotline::acd::{CallOutcome, WhenClosed};
    let never =
        hotline_core::hours::OpenHours::new(jiff::tz::TimeZone::UTC, Default::default(), Default::default())
            .unwrap();
    let mut closed = QueueSettings::named("day").with_skill("s", 1);
    closed.hours = "never".into();
    closed.when_closed = WhenClosed::Overflow;
    closed.overflow_queue = Some(QueueName::new("night"));
    let mut cfg = config(
        &["s"],
        vec![closed.clone(), QueueSettings::named("night").with_skill("s", 1)],
    );
    cfg.hours.insert("never".into(), never);
    let mut r = Router::new(cfg.clone()).unwrap();
    call(&mut r, at(1), "c1", "day").unwrap();
    login(&mut r, at(2), "dan", vec![level("s", 3)]);
    assert_eq!(offers(&mut r), vec![("c1".into(), "dan".into())]);
    assert_eq!(
        r.call(&CallId::new("c1")).unwrap().queue,
        QueueName::new("night"),
        "overflowed"
    );
    // Told to announce instead: the next call ends closed.
    closed.when_closed = WhenClosed::Announce;
    cfg.queues[0] = closed;
    r.handle_reconfigure(at(3), cfg).unwrap();
    call(&mut r, at(4), "c2", "day").unwrap();
    let mut ended = None;
    while let Some(e) = r.poll_event() {
        if let Event::CallEnded { call } = e {
            ended = Some((call.id.to_string(), call.outcome));
        }
    }
    assert_eq!(ended, Some(("c2".into(), Some(CallOutcome::Closed))));
}
