//! Callbacks as work items of the same ACD, on a simulated clock: earliest
//! deadline first among callbacks; live callers first while a callback has
//! time; in its last 30 minutes a callback goes above the waiting live calls
//! of its tier, never above a higher tier.

use std::time::Duration;

use hotline::acd::{
    AgentLogin, CallbackWork, Event, IncomingCall, QueueSettings, Router, RouterConfig, SkillLevel, Tier,
};
use hotline::ids::{AgentId, CallId, CallbackId, QueueName, SkillName};
use hotline::time::Timestamp;

const T0: Timestamp = Timestamp(1_795_424_400_000); // 2026-11-23 09:00 UTC

fn at(minutes: u64) -> Timestamp {
    T0.plus(Duration::from_secs(60 * minutes))
}

fn router() -> Router {
    Router::new(RouterConfig {
        skills: vec![SkillName::new("s")],
        queues: vec![QueueSettings::named("q").with_skill("s", 1)],
        ..Default::default()
    })
    .unwrap()
}

fn arrive(r: &mut Router, now: Timestamp, id: &str, tier: Tier, callback_deadline: Option<Timestamp>) {
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
            callback: callback_deadline.map(|deadline| CallbackWork {
                id: CallbackId::new(format!("cb-{id}")),
                deadline,
            }),
        },
    )
    .unwrap();
}

/// Logs in an agent now and returns the call it is offered.
fn next_offer(r: &mut Router, now: Timestamp, agent: &str) -> String {
    r.handle_timeout(now);
    while r.poll_event().is_some() {}
    r.handle_agent_login(
        now,
        AgentLogin {
            id: AgentId::new(agent),
            display_name: agent.into(),
            skills: vec![SkillLevel {
                skill: SkillName::new("s"),
                proficiency: 5,
            }],
            start_available: true,
        },
    )
    .unwrap();
    let mut offered = None;
    while let Some(e) = r.poll_event() {
        if let Event::CallOffered { call, .. } = e {
            offered = Some(call.id.to_string());
        }
    }
    offered.expect("an offer")
}

#[test]
fn callbacks_come_earliest_deadline_first() {
    let mut r = router();
    arrive(&mut r, at(0), "late", Tier::Regular, Some(at(240)));
    arrive(&mut r, at(1), "soon", Tier::Regular, Some(at(60)));
    arrive(&mut r, at(2), "mid", Tier::Regular, Some(at(120)));
    assert_eq!(next_offer(&mut r, at(3), "a1"), "soon");
    assert_eq!(next_offer(&mut r, at(3), "a2"), "mid");
    assert_eq!(next_offer(&mut r, at(3), "a3"), "late");
}

#[test]
fn live_callers_go_first_while_a_callback_has_time() {
    let mut r = router();
    arrive(&mut r, at(0), "callback", Tier::Regular, Some(at(240)));
    arrive(&mut r, at(10), "caller", Tier::Regular, None);
    assert_eq!(next_offer(&mut r, at(11), "a1"), "caller");
    assert_eq!(next_offer(&mut r, at(11), "a2"), "callback");
}

#[test]
fn in_its_last_30_minutes_a_callback_goes_above_live_calls_of_its_tier_only() {
    let mut r = router();
    arrive(&mut r, at(0), "callback", Tier::Regular, Some(at(240)));
    // Live callers who have waited long, of the same tier and a higher one.
    arrive(&mut r, at(205), "regular-caller", Tier::Regular, None);
    arrive(&mut r, at(206), "key-caller", Tier::KeyAccount, None);
    // 12:30 passes (deadline 13:00): the callback turns urgent.
    assert_eq!(
        next_offer(&mut r, at(211), "a1"),
        "key-caller",
        "a higher tier keeps its place"
    );
    assert_eq!(
        next_offer(&mut r, at(211), "a2"),
        "callback",
        "above the regular caller who waited longer"
    );
    assert_eq!(next_offer(&mut r, at(211), "a3"), "regular-caller");
}

#[test]
fn a_waiting_caller_who_asks_for_a_callback_keeps_their_place() {
    let mut r = router();
    arrive(&mut r, at(0), "first", Tier::Regular, None);
    arrive(&mut r, at(1), "second", Tier::Regular, None);
    r.handle_callback_requested(
        at(2),
        &CallId::new("first"),
        CallbackWork {
            id: CallbackId::new("cb-first"),
            deadline: at(242),
        },
    )
    .unwrap();
    // The caller hangs up: the item stays, in first place.
    r.handle_caller_hangup(at(3), &CallId::new("first")).unwrap();
    assert_eq!(next_offer(&mut r, at(4), "a1"), "first");
    assert_eq!(next_offer(&mut r, at(4), "a2"), "second");
}
