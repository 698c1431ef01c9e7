//! The callback deadline tracker on a simulated clock: offered at once,
//! earliest deadline first, warned 30 minutes before, breached at the
//! deadline, met or missed, retried with back-off, and restored after a
//! restart without firing anything twice.

use std::collections::HashMap;
use std::time::Duration;

use hotline::callback::{
    AttemptOutcome, CallbackEvent, CallbackRecord, CallbackStatus, CallbackTracker, TrackerSettings,
};
use hotline::ids::CallbackId;
use hotline::time::Timestamp;

/// 2026-11-23 (a Monday) at hh:mm UTC.
fn at(h: u64, m: u64) -> Timestamp {
    Timestamp(1_795_392_000_000 + (h * 60 + m) * 60_000)
}

const FOUR_HOURS: Duration = Duration::from_secs(4 * 3600);

fn id(s: &str) -> CallbackId {
    CallbackId::new(s)
}

/// Events since the last drain, without the record updates; the updates go
/// to `store` (as the driver would persist them).
fn drain(t: &mut CallbackTracker, store: &mut HashMap<CallbackId, CallbackRecord>) -> Vec<CallbackEvent> {
    let mut out = Vec::new();
    while let Some(e) = t.poll_event() {
        match e {
            CallbackEvent::CallbackChanged { record } => {
                store.insert(record.id.clone(), *record);
            }
            other => out.push(other),
        }
    }
    out
}

/// Runs the clock from `from` to `to` a second at a time, as the driver does.
fn run(t: &mut CallbackTracker, from: Timestamp, to: Timestamp) {
    let mut now = from;
    while now <= to {
        if t.poll_timeout().is_some_and(|due| due <= now) {
            t.handle_timeout(now);
        }
        now = now.plus(Duration::from_secs(1));
    }
}

#[test]
fn a_callback_reached_before_its_deadline_is_met() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    t.handle_created(at(9, 0), id("cb1"), None, at(9, 0).plus(FOUR_HOURS), 3)
        .unwrap();
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::CallbackDue {
            id: id("cb1"),
            deadline: at(13, 0)
        }],
        "offered at once"
    );
    assert_eq!(t.earliest_due(10), vec![(at(13, 0), id("cb1"))]);
    run(&mut t, at(9, 0), at(12, 10));
    t.handle_attempt(at(12, 10), &id("cb1"), AttemptOutcome::Reached)
        .unwrap();
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::CallbackClosed {
            id: id("cb1"),
            status: CallbackStatus::Reached,
            met: true
        }]
    );
    run(&mut t, at(12, 10), at(14, 0));
    assert!(
        drain(&mut t, &mut store).is_empty(),
        "no warning or breach once met"
    );
    assert_eq!(
        (t.counters().met, t.counters().missed, t.counters().warned),
        (1, 0, 0)
    );
    assert_eq!(store[&id("cb1")].met, Some(true));
}

#[test]
fn a_callback_never_reached_is_warned_at_12_30_and_breached_at_13_00() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    t.handle_created(at(9, 0), id("cb1"), None, at(13, 0), 3).unwrap();
    drain(&mut t, &mut store);
    assert_eq!(
        t.poll_timeout(),
        Some(at(12, 30)),
        "the next timer is the warning"
    );
    run(&mut t, at(9, 0), at(12, 29));
    assert!(drain(&mut t, &mut store).is_empty());
    run(&mut t, at(12, 29), at(12, 30));
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::CallbackWarned {
            id: id("cb1"),
            deadline: at(13, 0)
        }]
    );
    run(&mut t, at(12, 30), at(13, 0));
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::CallbackBreached {
            id: id("cb1"),
            deadline: at(13, 0)
        }]
    );
    // Reached late: closed, and missed.
    t.handle_attempt(at(13, 20), &id("cb1"), AttemptOutcome::Reached)
        .unwrap();
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::CallbackClosed {
            id: id("cb1"),
            status: CallbackStatus::Reached,
            met: false
        }]
    );
    let c = t.counters();
    assert_eq!((c.warned, c.breached, c.met, c.missed), (1, 1, 0, 1));
}

#[test]
fn callbacks_come_out_earliest_deadline_first_and_wait_for_their_window() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    t.handle_created(at(9, 0), id("late"), None, at(13, 0), 3)
        .unwrap();
    t.handle_created(at(9, 1), id("soon"), None, at(11, 0), 3)
        .unwrap();
    t.handle_created(at(9, 2), id("mid"), None, at(12, 0), 3).unwrap();
    // "Call me after 15:00": not offered before then.
    t.handle_created(at(9, 3), id("after3"), Some(at(15, 0)), at(17, 0), 3)
        .unwrap();
    drain(&mut t, &mut store);
    let order: Vec<String> = t
        .earliest_due(10)
        .into_iter()
        .map(|(_, i)| i.to_string())
        .collect();
    assert_eq!(order, ["soon", "mid", "late"]);
    assert_eq!(store[&id("after3")].status, CallbackStatus::Scheduled);
    run(&mut t, at(9, 3), at(15, 0));
    let due: Vec<_> = drain(&mut t, &mut store)
        .into_iter()
        .filter(|e| matches!(e, CallbackEvent::CallbackDue { .. }))
        .collect();
    assert_eq!(
        due,
        vec![CallbackEvent::CallbackDue {
            id: id("after3"),
            deadline: at(17, 0)
        }]
    );
}

#[test]
fn business_hour_deadlines_skip_the_night() {
    let hours = hotline_core::hours::OpenHours::weekdays(jiff::tz::TimeZone::UTC, 9, 18);
    // Monday 16:00 + 4 business hours = Tuesday 11:00.
    let deadline = hours.add(at(16, 0), FOUR_HOURS);
    assert_eq!(deadline, at(16, 0).plus(Duration::from_secs(19 * 3600)));
    let mut t = CallbackTracker::new(TrackerSettings::default());
    t.handle_created(at(16, 0), id("cb"), None, deadline, 3).unwrap();
    assert_eq!(t.get(&id("cb")).unwrap().deadline, deadline);
}

#[test]
fn unanswered_attempts_back_off_and_give_up() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    t.handle_created(at(9, 0), id("cb"), None, at(13, 0), 4).unwrap();
    drain(&mut t, &mut store);
    t.handle_attempt(at(9, 5), &id("cb"), AttemptOutcome::NoAnswer)
        .unwrap();
    assert_eq!(
        store_after(&mut t, &mut store).next_attempt_at,
        at(9, 15),
        "10 minutes"
    );
    assert!(t.earliest_due(10).is_empty(), "not offered during the back-off");
    run(&mut t, at(9, 5), at(9, 15));
    assert_eq!(t.earliest_due(10).len(), 1, "offered again after it");
    t.handle_attempt(at(9, 16), &id("cb"), AttemptOutcome::Busy)
        .unwrap();
    assert_eq!(
        store_after(&mut t, &mut store).next_attempt_at,
        at(9, 36),
        "then 20"
    );
    run(&mut t, at(9, 16), at(9, 36));
    t.handle_attempt(at(9, 40), &id("cb"), AttemptOutcome::NoAnswer)
        .unwrap();
    assert_eq!(
        store_after(&mut t, &mut store).next_attempt_at,
        at(10, 20),
        "then 40"
    );
    run(&mut t, at(9, 40), at(10, 20));
    t.handle_attempt(at(10, 21), &id("cb"), AttemptOutcome::NoAnswer)
        .unwrap();
    let closed = drain(&mut t, &mut store);
    assert!(closed.contains(&CallbackEvent::CallbackClosed {
        id: id("cb"),
        status: CallbackStatus::Failed,
        met: false
    }));
    assert_eq!(store[&id("cb")].attempts.len(), 4, "every attempt recorded");
    assert_eq!(t.counters().missed, 1);
}

fn store_after(t: &mut CallbackTracker, store: &mut HashMap<CallbackId, CallbackRecord>) -> CallbackRecord {
    drain(t, store);
    store.values().next().cloned().unwrap()
}

#[test]
fn a_restart_at_11_keeps_every_callback_and_fires_each_timer_once() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    // Deadlines 10:45 (warned before the restart), 12:00 and 13:00.
    t.handle_created(at(9, 0), id("a"), None, at(10, 45), 3).unwrap();
    t.handle_created(at(9, 0), id("b"), None, at(12, 0), 3).unwrap();
    t.handle_created(at(9, 0), id("c"), Some(at(11, 30)), at(13, 0), 3)
        .unwrap();
    run(&mut t, at(9, 0), at(11, 0));
    let before = drain(&mut t, &mut store);
    let count = |events: &[CallbackEvent], pick: fn(&CallbackEvent) -> bool| {
        events.iter().filter(|e| pick(e)).count()
    };
    assert_eq!(
        count(&before, |e| matches!(e, CallbackEvent::CallbackWarned { .. })),
        1
    );
    assert_eq!(
        count(&before, |e| matches!(e, CallbackEvent::CallbackBreached { .. })),
        1
    );
    drop(t);

    // A new process at 11:00 from what the store holds.
    let mut t = CallbackTracker::new(TrackerSettings::default());
    t.handle_restore(at(11, 0), store.values().cloned().collect());
    assert_eq!(t.pending(), 3, "nothing lost");
    let order: Vec<String> = t
        .earliest_due(10)
        .into_iter()
        .map(|(_, i)| i.to_string())
        .collect();
    assert_eq!(order, ["a", "b"], "due ones are due again, c waits for 11:30");
    run(&mut t, at(11, 0), at(14, 0));
    let after = drain(&mut t, &mut store);
    let mut fired: Vec<String> = after
        .iter()
        .filter_map(|e| match e {
            CallbackEvent::CallbackDue { id, .. } => Some(format!("due {id}")),
            CallbackEvent::CallbackWarned { id, .. } => Some(format!("warned {id}")),
            CallbackEvent::CallbackBreached { id, .. } => Some(format!("breached {id}")),
            _ => None,
        })
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        ["breached b", "breached c", "due c", "warned b", "warned c"],
        "each timer once: nothing of a fires again"
    );
}

#[test]
fn a_request_closed_more_than_2_hours_after_its_work_ended_counts_late() {
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut store = HashMap::new();
    for cb in ["on-time", "late"] {
        t.handle_created(at(9, 0), id(cb), None, at(13, 0), 3).unwrap();
        t.handle_attempt(at(9, 30), &id(cb), AttemptOutcome::Reached)
            .unwrap();
    }
    // Work cannot be done on a callback nobody reached.
    t.handle_created(at(9, 0), id("open"), None, at(13, 0), 3)
        .unwrap();
    assert!(t.handle_work_done(at(9, 40), &id("open"), None).is_err());
    // Reached callbacks left the tracker; the driver brings the stored record.
    drain(&mut t, &mut store);
    assert!(t.get(&id("late")).is_none());
    assert!(
        t.handle_work_done(at(10, 0), &id("on-time"), None).is_err(),
        "unknown without its record"
    );
    t.handle_work_done(at(10, 0), &id("on-time"), Some(store[&id("on-time")].clone()))
        .unwrap();
    t.handle_work_done(at(10, 30), &id("late"), Some(store[&id("late")].clone()))
        .unwrap();
    assert!(
        t.handle_work_done(at(10, 31), &id("late"), Some(store[&id("late")].clone()))
            .is_err(),
        "work is done once"
    );
    drain(&mut t, &mut store);
    run(&mut t, at(10, 30), at(11, 0));
    t.handle_request_closed(at(11, 0), &id("on-time")).unwrap();
    assert_eq!(
        drain(&mut t, &mut store),
        vec![CallbackEvent::RequestClosed {
            id: id("on-time"),
            late: false
        }]
    );
    run(&mut t, at(11, 0), at(12, 45));
    t.handle_request_closed(at(12, 45), &id("late")).unwrap();
    let events: Vec<CallbackEvent> = drain(&mut t, &mut store)
        .into_iter()
        .filter(|e| !matches!(e, CallbackEvent::CallbackWarned { .. }))
        .collect();
    assert_eq!(
        events,
        vec![
            CallbackEvent::CloseDeadlineWarned {
                id: id("late"),
                close_deadline: at(12, 30)
            },
            CallbackEvent::CloseDeadlineBreached {
                id: id("late"),
                close_deadline: at(12, 30)
            },
            CallbackEvent::RequestClosed {
                id: id("late"),
                late: true
            }
        ],
        "the close deadline fires at 12:30, the late close is counted"
    );
    assert_eq!((t.counters().closed_on_time, t.counters().closed_late), (1, 1));
    assert!(store[&id("late")].close_breached);
    assert!(
        t.handle_request_closed(at(13, 0), &id("late")).is_err(),
        "a request closes once"
    );
    assert!(t.get(&id("late")).is_none(), "closed and done: it leaves memory");
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]

    /// Whatever happens to them, callbacks are warned and breached at most
    /// once, closed exactly once, and met + missed counts every close but
    /// cancellations.
    #[test]
    fn every_callback_closes_once_and_fires_each_timer_at_most_once(
        ops in proptest::collection::vec((0u8..5, 0usize..6, 1u64..400), 1..80)
    ) {
        let mut t = CallbackTracker::new(TrackerSettings::default());
        let mut store = HashMap::new();
        let mut now = at(8, 0);
        let mut events = Vec::new();
        // Ids are never reused (the engine makes them unique); a closed
        // callback leaves the tracker, so a reuse would be a new callback.
        let mut used = std::collections::HashSet::new();
        for (i, (op, which, minutes)) in ops.into_iter().enumerate() {
            now = now.plus(Duration::from_secs(60 * (minutes % 37)));
            t.handle_timeout(now);
            let cb = id(&format!("cb{which}"));
            let _ = match op {
                0 if !used.insert(which) => Ok(()),
                0 => t.handle_created(now, cb, None, now.plus(Duration::from_secs(60 * minutes)), 3),
                1 => t.handle_attempt(now, &cb, AttemptOutcome::NoAnswer),
                2 => t.handle_attempt(now, &cb, if i % 2 == 0 { AttemptOutcome::Reached } else { AttemptOutcome::Busy }),
                3 => t.handle_cancelled(now, &cb),
                _ => t.handle_rescheduled(now, &cb, now, now.plus(Duration::from_secs(60 * minutes))),
            };
            events.extend(drain(&mut t, &mut store));
        }
        t.handle_timeout(now.plus(Duration::from_secs(48 * 3600)));
        events.extend(drain(&mut t, &mut store));
        let mut closed: HashMap<String, usize> = HashMap::new();
        let mut closes = 0u64;
        for e in &events {
            if let CallbackEvent::CallbackClosed { id, status, .. } = e {
                *closed.entry(id.to_string()).or_default() += 1;
                if *status != CallbackStatus::Cancelled {
                    closes += 1;
                }
            }
        }
        proptest::prop_assert!(closed.values().all(|&n| n == 1), "closed once: {closed:?}");
        let c = t.counters();
        proptest::prop_assert_eq!(c.met + c.missed, closes);
        proptest::prop_assert!(c.warned <= c.created + 64 && c.breached <= c.warned + c.created);
        for r in store.values() {
            proptest::prop_assert_eq!(r.status.is_open(), r.met.is_none() && r.status != CallbackStatus::Cancelled);
        }
    }
}
