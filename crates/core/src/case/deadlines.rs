//! Cases' due times on a timer queue, like the callback tracker: sans-IO,
//! time comes in as an argument, what fired comes out as events to poll.
//!
//! The driver shows it every case as written (`handle_case`, from any
//! node's writes, through the store's change feed) and calls
//! `handle_timeout` when `poll_timeout` says. An event asks the driver to
//! mark the case (`CaseCommand::MarkDue`), which the core refuses when the
//! due time moved, stopped or already fired: the record, not this tracker,
//! says what fired, so two nodes' trackers (or one restarted) never fire
//! a due time twice.
//!
//! Invariants:
//! - a case is held while its due time runs (assigned, in progress,
//!   reopened) and something is still to fire; otherwise it is dropped;
//! - a timer armed for a due time the case no longer has lapses;
//! - a warning comes `warn_before` ahead of the due time (at once when
//!   assigned closer than that), a breach at it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::CaseRecord;
use crate::ids::CaseId;
use crate::time::{TimerQueue, Timestamp};

/// What fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseDeadlineEvent {
    /// The due time is `warn_before` away and the case is not resolved.
    DueSoon { id: CaseId, due: Timestamp },
    /// The due time passed with the case not resolved.
    Overdue { id: CaseId, due: Timestamp },
}

/// What a held case still waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    due: Timestamp,
    warned: bool,
    breached: bool,
}

pub struct CaseDeadlines {
    warn_before: Duration,
    held: HashMap<CaseId, Held>,
    /// (when, breach?, case): a warning and a breach per held case.
    timers: TimerQueue<Timestamp, (bool, CaseId)>,
    events: VecDeque<CaseDeadlineEvent>,
}

impl CaseDeadlines {
    pub fn new(warn_before: Duration) -> Self {
        CaseDeadlines {
            warn_before,
            held: HashMap::new(),
            timers: TimerQueue::new(),
            events: VecDeque::new(),
        }
    }

    /// Cases whose due time is held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// A case as written: held, re-armed or dropped by what it says.
    pub fn handle_case(&mut self, now: Timestamp, case: &CaseRecord) {
        let wanted = case
            .running_due()
            .filter(|_| !(case.due_warned && case.due_breached))
            .map(|due| Held {
                due,
                warned: case.due_warned,
                breached: case.due_breached,
            });
        let Some(held) = wanted else {
            self.held.remove(&case.id);
            return;
        };
        if self.held.get(&case.id) == Some(&held) {
            return;
        }
        self.held.insert(case.id.clone(), held);
        if !held.warned {
            let warn_at = Timestamp(
                held.due
                    .as_millis()
                    .saturating_sub(crate::time::duration_ms(self.warn_before)),
            );
            self.timers.arm(warn_at, (false, case.id.clone()));
        }
        if !held.breached {
            self.timers.arm(held.due, (true, case.id.clone()));
        }
        self.handle_timeout(now);
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next_at()
    }

    pub fn poll_event(&mut self) -> Option<CaseDeadlineEvent> {
        self.events.pop_front()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some((at, (breach, id))) = self.timers.pop_due(now) {
            let Some(held) = self.held.get_mut(&id) else {
                continue;
            };
            let due = held.due;
            // Armed for a due time the case no longer has, or fired already.
            let stale = if breach {
                at != due || held.breached
            } else {
                at > due || held.warned
            };
            if stale {
                continue;
            }
            if breach {
                held.breached = true;
                self.events
                    .push_back(CaseDeadlineEvent::Overdue { id: id.clone(), due });
            } else {
                held.warned = true;
                self.events
                    .push_back(CaseDeadlineEvent::DueSoon { id: id.clone(), due });
            }
            if held.warned && held.breached {
                self.held.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{CaseCommand, CaseKind, CaseTarget, NewCase};
    use crate::ids::{AgentId, CustomerId};

    const MIN: u64 = 60_000;

    fn at(min: u64) -> Timestamp {
        Timestamp(1_000_000_000 + min * MIN)
    }

    fn assigned(due: Timestamp) -> CaseRecord {
        let case = CaseRecord::open(
            NewCase {
                id: CaseId::new("k1"),
                kind: CaseKind::Repair,
                customer: CustomerId::new("smallco"),
                contact: "+2000".into(),
                channel: "phone".into(),
                category: "boiler".into(),
                target: Some(CaseTarget::Product("boiler".into())),
                wanted: String::new(),
                summary: "no hot water".into(),
                priority: 1,
            },
            "alice",
            at(0),
        );
        let cmd = CaseCommand::Assign {
            team: "field".into(),
            owner: AgentId::new("carol"),
            due,
        };
        case.apply(cmd, "sue", at(0)).expect("assigned").0
    }

    fn drain(t: &mut CaseDeadlines) -> Vec<CaseDeadlineEvent> {
        std::iter::from_fn(|| t.poll_event()).collect()
    }

    /// Runs the tracker to `now`, marking each event on the case as the
    /// driver does, and showing it the written case.
    fn run_to(t: &mut CaseDeadlines, case: &mut CaseRecord, now: Timestamp) -> Vec<CaseDeadlineEvent> {
        t.handle_timeout(now);
        let events = drain(t);
        for e in &events {
            let (due, breached) = match e {
                CaseDeadlineEvent::DueSoon { due, .. } => (*due, false),
                CaseDeadlineEvent::Overdue { due, .. } => (*due, true),
            };
            *case = case
                .apply(CaseCommand::MarkDue { due, breached }, "deadlines", now)
                .expect("marks")
                .0;
            t.handle_case(now, case);
        }
        events
    }

    #[test]
    fn a_due_time_is_warned_ahead_and_breached_at_it_once() {
        let mut t = CaseDeadlines::new(Duration::from_secs(30 * 60));
        let mut case = assigned(at(240));
        t.handle_case(at(0), &case);
        assert_eq!(t.poll_timeout(), Some(at(210)));
        assert!(run_to(&mut t, &mut case, at(209)).is_empty());
        let soon = run_to(&mut t, &mut case, at(210));
        assert_eq!(
            soon,
            [CaseDeadlineEvent::DueSoon {
                id: case.id.clone(),
                due: at(240)
            }]
        );
        let late = run_to(&mut t, &mut case, at(240));
        assert_eq!(
            late,
            [CaseDeadlineEvent::Overdue {
                id: case.id.clone(),
                due: at(240)
            }]
        );
        assert!(t.is_empty(), "nothing more to fire");
        // A second tracker (another node, a restart) shown the record fires nothing.
        let mut other = CaseDeadlines::new(Duration::from_secs(30 * 60));
        other.handle_case(at(300), &case);
        assert!(drain(&mut other).is_empty());
        assert!(case.due_warned && case.due_breached);
    }

    #[test]
    fn a_case_resolved_in_time_is_met_and_fires_nothing_more() {
        let mut t = CaseDeadlines::new(Duration::from_secs(30 * 60));
        let mut case = assigned(at(120));
        t.handle_case(at(0), &case);
        case = case
            .apply(CaseCommand::Resolve { fix: "fixed".into() }, "carol", at(60))
            .expect("resolved")
            .0;
        t.handle_case(at(60), &case);
        assert!(run_to(&mut t, &mut case, at(500)).is_empty());
        assert_eq!(case.due_met, Some(true));
    }

    #[test]
    fn a_new_due_time_starts_afresh_and_the_old_timers_lapse() {
        let mut t = CaseDeadlines::new(Duration::from_secs(30 * 60));
        let mut case = assigned(at(60));
        t.handle_case(at(0), &case);
        assert_eq!(run_to(&mut t, &mut case, at(30)).len(), 1, "warned");
        let cmd = CaseCommand::Assign {
            team: "field".into(),
            owner: AgentId::new("dave"),
            due: at(180),
        };
        case = case.apply(cmd, "sue", at(40)).expect("reassigned").0;
        assert!(!case.due_warned, "a new due time is warned afresh");
        t.handle_case(at(40), &case);
        assert!(
            run_to(&mut t, &mut case, at(60)).is_empty(),
            "the old breach lapsed"
        );
        let events = run_to(&mut t, &mut case, at(180));
        assert_eq!(
            events,
            [
                CaseDeadlineEvent::DueSoon {
                    id: case.id.clone(),
                    due: at(180)
                },
                CaseDeadlineEvent::Overdue {
                    id: case.id.clone(),
                    due: at(180)
                }
            ]
        );
        case = case
            .apply(CaseCommand::Resolve { fix: "late".into() }, "dave", at(200))
            .expect("resolved")
            .0;
        assert_eq!(case.due_met, Some(false), "missed");
    }

    #[test]
    fn a_due_time_closer_than_the_warning_is_warned_at_once() {
        let mut t = CaseDeadlines::new(Duration::from_secs(30 * 60));
        let case = assigned(at(10));
        t.handle_case(at(0), &case);
        assert_eq!(
            drain(&mut t),
            [CaseDeadlineEvent::DueSoon {
                id: case.id.clone(),
                due: at(10)
            }]
        );
    }
}
