//! The callback deadline tracker: a sans-IO state machine, like the router.
//! Time comes in as an argument; outputs are events to poll; no clock, no
//! tasks, no randomness.
//!
//! Invariants:
//! - every pending callback has its timers in one ordered set (no task or
//!   timer object per callback): a warning at deadline - `warn_before`, a
//!   breach at the deadline, and, between attempts, the time it may be
//!   dialled again;
//! - each warning and each breach fires at most once per callback, also
//!   across a restart (the record says which fired; `handle_restore` arms
//!   only what has not);
//! - a callback closes exactly once, as met (reached by its deadline) or
//!   missed, and the counters say how many of each;
//! - callbacks ready to dial come out earliest deadline first.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::CallbackId;
use crate::time::Timestamp;

/// How a callback's dialling went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Reached,
    NoAnswer,
    Busy,
    WrongNumber,
}

/// One dialling attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Timestamp,
    pub outcome: AttemptOutcome,
}

/// Where a callback is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Waiting for its time (a requested window, or a retry back-off).
    Scheduled,
    /// Ready to be dialled.
    Due,
    /// Closed: the customer was reached.
    Reached,
    /// Closed: attempts exhausted or the number is wrong.
    Failed,
    Cancelled,
}

impl CallbackStatus {
    pub fn is_open(self) -> bool {
        matches!(self, CallbackStatus::Scheduled | CallbackStatus::Due)
    }
}

/// A callback as stored: everything needed to rebuild the tracker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub id: CallbackId,
    pub created_at: Timestamp,
    /// Not to be dialled before (the customer's "after 15:00"); else created.
    pub not_before: Timestamp,
    pub deadline: Timestamp,
    pub status: CallbackStatus,
    pub attempts: Vec<Attempt>,
    pub max_attempts: u32,
    /// When it may next be dialled (`not_before`, then after each back-off).
    pub next_attempt_at: Timestamp,
    pub warned: bool,
    pub breached: bool,
    /// Closed at or before its deadline (set when closed).
    pub met: Option<bool>,
}

/// What the tracker tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackEvent {
    /// Ready to dial (its window opened, or its back-off ended).
    CallbackDue { id: CallbackId, deadline: Timestamp },
    /// The deadline is `warn_before` away and nobody reached the customer.
    CallbackWarned { id: CallbackId, deadline: Timestamp },
    /// The deadline passed with the customer not reached.
    CallbackBreached { id: CallbackId, deadline: Timestamp },
    /// Closed: reached in time or not, failed, or cancelled.
    CallbackClosed {
        id: CallbackId,
        status: CallbackStatus,
        met: bool,
    },
    /// The record changed (persist it).
    CallbackChanged { record: CallbackRecord },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Due,
    Warn,
    Breach,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackCounters {
    pub created: u64,
    pub met: u64,
    pub missed: u64,
    pub warned: u64,
    pub breached: u64,
}

/// Rules the tracker applies.
#[derive(Clone, Debug)]
pub struct TrackerSettings {
    pub warn_before: Duration,
    /// Back-off after the first unanswered attempt; doubled each time.
    pub retry_after: Duration,
    pub max_retry_after: Duration,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            warn_before: Duration::from_secs(30 * 60),
            retry_after: Duration::from_secs(10 * 60),
            max_retry_after: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("callback {0} not found")]
    Unknown(CallbackId),
    #[error("callback {0} already exists")]
    Duplicate(CallbackId),
    #[error("callback {0} is closed")]
    Closed(CallbackId),
    #[error("the deadline {deadline:?} is before {now:?}")]
    DeadlineInPast { deadline: Timestamp, now: Timestamp },
}

pub struct CallbackTracker {
    settings: TrackerSettings,
    records: HashMap<CallbackId, CallbackRecord>,
    /// Every armed timer, soonest first.
    timers: BTreeSet<(Timestamp, Timer, CallbackId)>,
    /// Callbacks ready to dial, earliest deadline first.
    due: BTreeSet<(Timestamp, CallbackId)>,
    events: VecDeque<CallbackEvent>,
    counters: CallbackCounters,
}

impl CallbackTracker {
    pub fn new(settings: TrackerSettings) -> Self {
        CallbackTracker {
            settings,
            records: HashMap::new(),
            timers: BTreeSet::new(),
            due: BTreeSet::new(),
            events: VecDeque::new(),
            counters: CallbackCounters::default(),
        }
    }

    pub fn counters(&self) -> CallbackCounters {
        self.counters
    }

    pub fn get(&self, id: &CallbackId) -> Option<&CallbackRecord> {
        self.records.get(id)
    }

    /// Open callbacks.
    pub fn pending(&self) -> usize {
        self.records.values().filter(|r| r.status.is_open()).count()
    }

    /// Up to `n` callbacks ready to dial, earliest deadline first.
    pub fn earliest_due(&self, n: usize) -> Vec<(Timestamp, CallbackId)> {
        self.due.iter().take(n).cloned().collect()
    }

    pub fn poll_event(&mut self) -> Option<CallbackEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.iter().next().map(|(t, _, _)| *t)
    }

    /// A new callback: due at once (or at `not_before`), with its deadline.
    pub fn handle_created(
        &mut self,
        now: Timestamp,
        id: CallbackId,
        not_before: Option<Timestamp>,
        deadline: Timestamp,
        max_attempts: u32,
    ) -> Result<(), CallbackError> {
        if self.records.contains_key(&id) {
            return Err(CallbackError::Duplicate(id));
        }
        if deadline <= now {
            return Err(CallbackError::DeadlineInPast { deadline, now });
        }
        let not_before = not_before.unwrap_or(now).max(now);
        let record = CallbackRecord {
            id: id.clone(),
            created_at: now,
            not_before,
            deadline,
            status: CallbackStatus::Scheduled,
            attempts: Vec::new(),
            max_attempts: max_attempts.max(1),
            next_attempt_at: not_before,
            warned: false,
            breached: false,
            met: None,
        };
        self.counters.created += 1;
        self.arm(&record);
        self.records.insert(id.clone(), record);
        self.changed(&id);
        // A callback due now is due before this call returns.
        self.handle_timeout(now);
        Ok(())
    }

    /// Rebuilds the tracker from stored records (after a restart): open
    /// callbacks get back the timers that have not fired.
    pub fn handle_restore(&mut self, now: Timestamp, records: Vec<CallbackRecord>) {
        for record in records {
            if record.status == CallbackStatus::Due {
                self.due.insert((record.deadline, record.id.clone()));
            }
            if record.status.is_open() {
                self.arm(&record);
            }
            self.records.insert(record.id.clone(), record);
        }
        self.handle_timeout(now);
    }

    /// When the warning before `deadline` fires.
    fn warn_at(&self, deadline: Timestamp) -> Timestamp {
        Timestamp(
            deadline
                .as_millis()
                .saturating_sub(crate::time::duration_ms(self.settings.warn_before)),
        )
    }

    fn arm(&mut self, r: &CallbackRecord) {
        if r.status == CallbackStatus::Scheduled {
            self.timers.insert((r.next_attempt_at, Timer::Due, r.id.clone()));
        }
        if !r.warned {
            self.timers
                .insert((self.warn_at(r.deadline), Timer::Warn, r.id.clone()));
        }
        if !r.breached {
            self.timers.insert((r.deadline, Timer::Breach, r.id.clone()));
        }
    }

    fn disarm(&mut self, r: &CallbackRecord) {
        let warn_at = self.warn_at(r.deadline);
        self.timers.remove(&(r.next_attempt_at, Timer::Due, r.id.clone()));
        self.timers.remove(&(warn_at, Timer::Warn, r.id.clone()));
        self.timers.remove(&(r.deadline, Timer::Breach, r.id.clone()));
        self.due.remove(&(r.deadline, r.id.clone()));
    }

    fn changed(&mut self, id: &CallbackId) {
        if let Some(r) = self.records.get(id) {
            self.events
                .push_back(CallbackEvent::CallbackChanged { record: r.clone() });
        }
    }

    fn open(&self, id: &CallbackId) -> Result<&CallbackRecord, CallbackError> {
        let r = self
            .records
            .get(id)
            .ok_or_else(|| CallbackError::Unknown(id.clone()))?;
        if !r.status.is_open() {
            return Err(CallbackError::Closed(id.clone()));
        }
        Ok(r)
    }

    /// An agent dialled the callback; `outcome` says how it went.
    pub fn handle_attempt(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        outcome: AttemptOutcome,
    ) -> Result<(), CallbackError> {
        let record = self.open(id)?.clone();
        self.disarm(&record);
        let mut r = record;
        r.attempts.push(Attempt { at: now, outcome });
        match outcome {
            AttemptOutcome::Reached => self.close(now, r, CallbackStatus::Reached),
            AttemptOutcome::WrongNumber => self.close(now, r, CallbackStatus::Failed),
            AttemptOutcome::NoAnswer | AttemptOutcome::Busy if r.attempts.len() as u32 >= r.max_attempts => {
                self.close(now, r, CallbackStatus::Failed)
            }
            AttemptOutcome::NoAnswer | AttemptOutcome::Busy => {
                let n = r.attempts.len() as u32;
                let backoff = self
                    .settings
                    .retry_after
                    .saturating_mul(1u32 << (n - 1).min(16))
                    .min(self.settings.max_retry_after);
                r.status = CallbackStatus::Scheduled;
                r.next_attempt_at = now.plus(backoff);
                self.arm(&r);
                let id = r.id.clone();
                self.records.insert(id.clone(), r);
                self.changed(&id);
            }
        }
        Ok(())
    }

    /// Moves the callback to a new window and deadline (the customer asked).
    pub fn handle_rescheduled(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        not_before: Timestamp,
        deadline: Timestamp,
    ) -> Result<(), CallbackError> {
        if deadline <= now {
            return Err(CallbackError::DeadlineInPast { deadline, now });
        }
        let mut r = self.open(id)?.clone();
        self.disarm(&r);
        r.not_before = not_before.max(now);
        r.next_attempt_at = r.not_before;
        r.deadline = deadline;
        r.status = CallbackStatus::Scheduled;
        r.warned = false;
        r.breached = false;
        self.arm(&r);
        self.records.insert(id.clone(), r);
        self.changed(id);
        self.handle_timeout(now);
        Ok(())
    }

    pub fn handle_cancelled(&mut self, now: Timestamp, id: &CallbackId) -> Result<(), CallbackError> {
        let r = self.open(id)?.clone();
        self.disarm(&r);
        self.close(now, r, CallbackStatus::Cancelled);
        Ok(())
    }

    fn close(&mut self, now: Timestamp, mut r: CallbackRecord, status: CallbackStatus) {
        let met = status == CallbackStatus::Reached && now <= r.deadline;
        r.status = status;
        if status != CallbackStatus::Cancelled {
            r.met = Some(met);
            if met {
                self.counters.met += 1;
            } else {
                self.counters.missed += 1;
            }
        }
        let id = r.id.clone();
        self.events.push_back(CallbackEvent::CallbackClosed {
            id: id.clone(),
            status,
            met,
        });
        self.records.insert(id.clone(), r);
        self.changed(&id);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some((at, timer, id)) = self.timers.iter().next().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, timer, id.clone()));
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            match timer {
                Timer::Due => {
                    r.status = CallbackStatus::Due;
                    let deadline = r.deadline;
                    self.due.insert((deadline, id.clone()));
                    self.events.push_back(CallbackEvent::CallbackDue {
                        id: id.clone(),
                        deadline,
                    });
                }
                Timer::Warn => {
                    r.warned = true;
                    self.counters.warned += 1;
                    let deadline = r.deadline;
                    self.events.push_back(CallbackEvent::CallbackWarned {
                        id: id.clone(),
                        deadline,
                    });
                }
                Timer::Breach => {
                    r.breached = true;
                    self.counters.breached += 1;
                    let deadline = r.deadline;
                    self.events.push_back(CallbackEvent::CallbackBreached {
                        id: id.clone(),
                        deadline,
                    });
                }
            }
            self.changed(&id);
        }
    }
}
