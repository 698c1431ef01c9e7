//! The callback deadline tracker: a sans-IO state machine, like the router.
//! Time comes in as an argument; outputs are events to poll; no clock, no
//! tasks, no randomness.
//!
//! Invariants:
//! - every pending callback has its timers in one timer queue (no task or
//!   timer object per callback): a warning at deadline - `warn_before`, a
//!   breach at the deadline, and, between attempts, the time it may be
//!   dialled again; a timer armed before the record changed lapses;
//! - each warning and each breach fires at most once per callback, also
//!   across a restart (the record says which fired; `handle_restore` arms
//!   only what has not);
//! - a callback closes exactly once, as met (reached by its deadline) or
//!   missed, and the counters say how many of each;
//! - callbacks ready to dial come out earliest deadline first;
//! - the 2-hour close rule runs on the same timers: once the agent marks the
//!   work done, the request must be closed within `close_within`, is warned
//!   `warn_before` ahead and breached at it (each once), and is counted
//!   closed on time or late exactly once;
//! - closed callbacks leave memory (the store keeps them), so the tracker
//!   holds only what can still fire;
//! - records live in a slab and timers name slots, not ids: a timer entry is
//!   a few words, and growing the id index never moves whole records (a
//!   million pending callbacks must not stall the engine on a rehash).

use std::collections::{BTreeSet, HashMap, VecDeque};

use slab::Slab;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::acd::Tier;
use crate::ids::{AgentId, CallId, CallbackId, CustomerId, QueueName};
use crate::time::{TimerQueue, Timestamp};

/// How a callback came to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackOrigin {
    /// The caller asked while queued, and keeps their place.
    Requested,
    /// The caller hung up after waiting long enough.
    Abandoned,
    /// The agent's wrap-up said the issue is open.
    WrapUp,
    /// Created through the API (a supervisor, a CRM, a complaint follow-up).
    #[default]
    Api,
}

impl CallbackOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOrigin::Requested => "requested",
            CallbackOrigin::Abandoned => "abandoned",
            CallbackOrigin::WrapUp => "wrap-up",
            CallbackOrigin::Api => "api",
        }
    }
}

/// Who to call and about what: carried for routing, reports and agents;
/// the tracker itself only reads the times.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDetails {
    /// The number to dial.
    pub number: String,
    pub customer: Option<CustomerId>,
    /// Customer id, else number: who "the same customer" is for FCR.
    pub customer_key: String,
    pub tier: Option<Tier>,
    pub queue: Option<QueueName>,
    pub category: Option<String>,
    pub notes: Option<String>,
    /// The agent who owns the customer's issue; offered to them first.
    pub owner: Option<AgentId>,
    pub origin: CallbackOrigin,
    /// The call that led to it.
    pub source_call: Option<CallId>,
}

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
    /// Who dialled.
    #[serde(default)]
    pub agent: Option<AgentId>,
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
    #[serde(default)]
    pub details: CallbackDetails,
    /// When the agent marked the work done: the 2-hour close rule starts.
    #[serde(default)]
    pub work_done_at: Option<Timestamp>,
    /// When the request was closed.
    #[serde(default)]
    pub request_closed_at: Option<Timestamp>,
    /// Set when the close deadline came within `warn_before` with the
    /// request still open.
    #[serde(default)]
    pub close_warned: bool,
    /// Set when the close deadline passed with the request still open.
    #[serde(default)]
    pub close_breached: bool,
    pub updated_at: Timestamp,
}

impl CallbackRecord {
    /// Still to be reached, or reached with the request still to close.
    pub fn is_live(&self) -> bool {
        self.status.is_open() || (self.work_done_at.is_some() && self.request_closed_at.is_none())
    }

    /// The close deadline, once the work is done.
    pub fn close_deadline(&self, close_within: Duration) -> Option<Timestamp> {
        self.work_done_at.map(|t| t.plus(close_within))
    }
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
    /// The request's close deadline is `warn_before` away and it is still
    /// open.
    CloseDeadlineWarned {
        id: CallbackId,
        close_deadline: Timestamp,
    },
    /// The work is done and the request is still open `close_within` later.
    CloseDeadlineBreached {
        id: CallbackId,
        close_deadline: Timestamp,
    },
    /// The request was closed after the work was done.
    RequestClosed { id: CallbackId, late: bool },
    /// The record changed (persist it).
    CallbackChanged { record: Box<CallbackRecord> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Due,
    Warn,
    Breach,
    /// The 2-hour close rule: its warning, and its breach.
    CloseWarn,
    CloseBreach,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackCounters {
    pub created: u64,
    pub met: u64,
    pub missed: u64,
    pub warned: u64,
    pub breached: u64,
    pub closed_on_time: u64,
    pub closed_late: u64,
}

/// Rules the tracker applies.
#[derive(Clone, Debug)]
pub struct TrackerSettings {
    pub warn_before: Duration,
    /// Back-off after the first unanswered attempt; doubled each time.
    pub retry_after: Duration,
    pub max_retry_after: Duration,
    /// A request must close this long after its work is done (2 hours).
    pub close_within: Duration,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            warn_before: Duration::from_secs(30 * 60),
            retry_after: Duration::from_secs(10 * 60),
            max_retry_after: Duration::from_secs(60 * 60),
            close_within: Duration::from_secs(2 * 60 * 60),
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
    #[error("the deadline {deadline} is not after now ({now})")]
    DeadlineInPast { deadline: Timestamp, now: Timestamp },
    #[error("callback {0} was not reached: there is no work to mark done")]
    NotReached(CallbackId),
    #[error("callback {0} has no work marked done, or its request is already closed")]
    NoOpenRequest(CallbackId),
}

pub struct CallbackTracker {
    settings: TrackerSettings,
    /// The callbacks held, by slot; boxed so growing the slab moves
    /// pointers, not records (no long pause at a million).
    records: Slab<Box<CallbackRecord>>,
    /// Id -> slot.
    index: HashMap<CallbackId, usize>,
    /// Every armed timer, soonest first, by slot.
    timers: TimerQueue<Timestamp, (Timer, usize)>,
    /// Callbacks ready to dial, earliest deadline first, by slot.
    due: BTreeSet<(Timestamp, usize)>,
    events: VecDeque<CallbackEvent>,
    counters: CallbackCounters,
}

impl CallbackTracker {
    pub fn new(settings: TrackerSettings) -> Self {
        CallbackTracker {
            settings,
            records: Slab::new(),
            index: HashMap::new(),
            timers: TimerQueue::new(),
            due: BTreeSet::new(),
            events: VecDeque::new(),
            counters: CallbackCounters::default(),
        }
    }

    pub fn counters(&self) -> CallbackCounters {
        self.counters
    }

    pub fn get(&self, id: &CallbackId) -> Option<&CallbackRecord> {
        self.index.get(id).map(|&slot| self.records[slot].as_ref())
    }

    /// The callback as last changed: held, or closed and waiting in the
    /// events still to be polled.
    pub fn last_change(&self, id: &CallbackId) -> Option<&CallbackRecord> {
        self.get(id).or_else(|| {
            self.events.iter().rev().find_map(|e| match e {
                CallbackEvent::CallbackChanged { record } if &record.id == id => Some(record.as_ref()),
                _ => None,
            })
        })
    }

    /// Open callbacks.
    pub fn pending(&self) -> usize {
        self.records().filter(|r| r.status.is_open()).count()
    }

    /// Live gauges for the supervisors' board: (pending, due now, due soon
    /// (warned), overdue (breached)), counted over the callbacks held.
    pub fn gauges(&self) -> (u32, u32, u32, u32) {
        let (mut pending, mut due, mut soon, mut overdue) = (0, 0, 0, 0);
        for r in self.records().filter(|r| r.status.is_open()) {
            pending += 1;
            due += u32::from(r.status == CallbackStatus::Due);
            soon += u32::from(r.warned && !r.breached);
            overdue += u32::from(r.breached);
        }
        (pending, due, soon, overdue)
    }

    /// Callbacks this tracker holds: open ones and requests awaiting close.
    pub fn records(&self) -> impl Iterator<Item = &CallbackRecord> {
        self.records.iter().map(|(_, r)| r.as_ref())
    }

    pub fn settings(&self) -> &TrackerSettings {
        &self.settings
    }

    /// Up to `n` callbacks ready to dial, earliest deadline first.
    pub fn earliest_due(&self, n: usize) -> Vec<(Timestamp, CallbackId)> {
        self.due
            .iter()
            .take(n)
            .map(|&(t, slot)| (t, self.records[slot].id.clone()))
            .collect()
    }

    pub fn poll_event(&mut self) -> Option<CallbackEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next_at()
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
        self.handle_created_with(
            now,
            id,
            not_before,
            deadline,
            max_attempts,
            CallbackDetails::default(),
        )
    }

    /// [`Self::handle_created`] with who to call and about what.
    pub fn handle_created_with(
        &mut self,
        now: Timestamp,
        id: CallbackId,
        not_before: Option<Timestamp>,
        deadline: Timestamp,
        max_attempts: u32,
        details: CallbackDetails,
    ) -> Result<(), CallbackError> {
        if self.index.contains_key(&id) {
            return Err(CallbackError::Duplicate(id));
        }
        if deadline <= now {
            return Err(CallbackError::DeadlineInPast { deadline, now });
        }
        let not_before = not_before.unwrap_or(now).max(now);
        let record = CallbackRecord {
            id,
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
            details,
            work_done_at: None,
            request_closed_at: None,
            close_warned: false,
            close_breached: false,
            updated_at: now,
        };
        self.counters.created += 1;
        let slot = self.put(record);
        self.arm(slot);
        self.changed(now, slot);
        // A callback due now is due before this call returns.
        self.handle_timeout(now);
        Ok(())
    }

    /// Rebuilds the tracker from stored records (after a restart): open
    /// callbacks get back the timers that have not fired.
    pub fn handle_restore(&mut self, now: Timestamp, records: Vec<CallbackRecord>) {
        self.index.reserve(records.len());
        for record in records.into_iter().filter(CallbackRecord::is_live) {
            let due = (record.status == CallbackStatus::Due).then_some(record.deadline);
            let slot = self.put(record);
            if let Some(deadline) = due {
                self.due.insert((deadline, slot));
            }
            self.arm(slot);
        }
        self.handle_timeout(now);
    }

    /// Holds `r`, replacing the record of the same id; returns its slot.
    fn put(&mut self, r: CallbackRecord) -> usize {
        match self.index.get(&r.id) {
            Some(&slot) => {
                *self.records[slot] = r;
                slot
            }
            None => {
                let id = r.id.clone();
                let slot = self.records.insert(Box::new(r));
                self.index.insert(id, slot);
                slot
            }
        }
    }

    /// When the warning before `deadline` fires.
    fn warn_at(&self, deadline: Timestamp) -> Timestamp {
        Timestamp(
            deadline
                .as_millis()
                .saturating_sub(crate::time::duration_ms(self.settings.warn_before)),
        )
    }

    /// The timers the record in `slot` still needs.
    fn timers_of(&self, slot: usize) -> Vec<(Timestamp, Timer, usize)> {
        let r = &self.records[slot];
        let mut out = Vec::with_capacity(3);
        if let Some(at) = r.close_deadline(self.settings.close_within) {
            if r.request_closed_at.is_none() && !r.close_warned {
                out.push((self.warn_at(at), Timer::CloseWarn, slot));
            }
            if r.request_closed_at.is_none() && !r.close_breached {
                out.push((at, Timer::CloseBreach, slot));
            }
        }
        if !r.status.is_open() {
            return out;
        }
        if r.status == CallbackStatus::Scheduled {
            out.push((r.next_attempt_at, Timer::Due, slot));
        }
        if !r.warned {
            out.push((self.warn_at(r.deadline), Timer::Warn, slot));
        }
        if !r.breached {
            out.push((r.deadline, Timer::Breach, slot));
        }
        out
    }

    fn arm(&mut self, slot: usize) {
        for (at, timer, slot) in self.timers_of(slot) {
            self.timers.arm(at, (timer, slot));
        }
    }

    /// Takes the record in `slot` out of the due index (before it changes);
    /// its armed timers lapse unless the changed record still wants them
    /// (`handle_timeout` checks each against [`Self::timers_of`]).
    fn disarm(&mut self, slot: usize) {
        let deadline = self.records[slot].deadline;
        self.due.remove(&(deadline, slot));
    }

    /// Reports the record for persistence; a record that can fire nothing
    /// more leaves memory.
    fn changed(&mut self, now: Timestamp, slot: usize) {
        let r = &mut self.records[slot];
        r.updated_at = now;
        self.events
            .push_back(CallbackEvent::CallbackChanged { record: r.clone() });
        if !r.is_live() {
            let id = r.id.clone();
            self.index.remove(&id);
            self.records.remove(slot);
        }
    }

    /// The slot of an open callback.
    fn open(&self, id: &CallbackId) -> Result<usize, CallbackError> {
        let slot = *self
            .index
            .get(id)
            .ok_or_else(|| CallbackError::Unknown(id.clone()))?;
        if !self.records[slot].status.is_open() {
            return Err(CallbackError::Closed(id.clone()));
        }
        Ok(slot)
    }

    /// An agent dialled the callback; `outcome` says how it went.
    pub fn handle_attempt(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        outcome: AttemptOutcome,
    ) -> Result<(), CallbackError> {
        self.handle_attempt_by(now, id, outcome, None)
    }

    /// [`Self::handle_attempt`], saying which agent dialled.
    pub fn handle_attempt_by(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        outcome: AttemptOutcome,
        agent: Option<AgentId>,
    ) -> Result<(), CallbackError> {
        let slot = self.open(id)?;
        self.disarm(slot);
        let r = &mut self.records[slot];
        r.attempts.push(Attempt {
            at: now,
            outcome,
            agent,
        });
        let attempts = r.attempts.len() as u32;
        match outcome {
            AttemptOutcome::Reached => self.close(now, slot, CallbackStatus::Reached),
            AttemptOutcome::WrongNumber => self.close(now, slot, CallbackStatus::Failed),
            AttemptOutcome::NoAnswer | AttemptOutcome::Busy if attempts >= r.max_attempts => {
                self.close(now, slot, CallbackStatus::Failed)
            }
            AttemptOutcome::NoAnswer | AttemptOutcome::Busy => {
                let backoff = self
                    .settings
                    .retry_after
                    .saturating_mul(1u32 << (attempts - 1).min(16))
                    .min(self.settings.max_retry_after);
                let r = &mut self.records[slot];
                r.status = CallbackStatus::Scheduled;
                r.next_attempt_at = now.plus(backoff);
                self.arm(slot);
                self.changed(now, slot);
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
        let slot = self.open(id)?;
        self.disarm(slot);
        let r = &mut self.records[slot];
        r.not_before = not_before.max(now);
        r.next_attempt_at = r.not_before;
        r.deadline = deadline;
        r.status = CallbackStatus::Scheduled;
        r.warned = false;
        r.breached = false;
        self.arm(slot);
        self.changed(now, slot);
        self.handle_timeout(now);
        Ok(())
    }

    pub fn handle_cancelled(&mut self, now: Timestamp, id: &CallbackId) -> Result<(), CallbackError> {
        let slot = self.open(id)?;
        self.disarm(slot);
        self.close(now, slot, CallbackStatus::Cancelled);
        Ok(())
    }

    /// Closes the (disarmed) callback in `slot`.
    fn close(&mut self, now: Timestamp, slot: usize, status: CallbackStatus) {
        let r = &mut self.records[slot];
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
        self.events.push_back(CallbackEvent::CallbackClosed {
            id: r.id.clone(),
            status,
            met,
        });
        self.changed(now, slot);
    }

    /// The agent finished the work for a reached callback: the request must
    /// close within `close_within` (the 2-hour rule). A reached callback has
    /// left memory, so the driver passes its stored record.
    pub fn handle_work_done(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        stored: Option<CallbackRecord>,
    ) -> Result<(), CallbackError> {
        let slot = match (self.index.get(id), stored) {
            (Some(&slot), _) => slot,
            (None, Some(r)) if &r.id == id => self.put(r),
            _ => return Err(CallbackError::Unknown(id.clone())),
        };
        let r = &mut self.records[slot];
        if r.status != CallbackStatus::Reached || r.work_done_at.is_some() {
            let live = r.is_live();
            if !live {
                // Taken in only to be looked at: it leaves again.
                self.index.remove(id);
                self.records.remove(slot);
            }
            return Err(CallbackError::NotReached(id.clone()));
        }
        r.work_done_at = Some(now);
        self.arm(slot);
        self.changed(now, slot);
        Ok(())
    }

    /// The request behind a callback is closed; late if past the close rule.
    pub fn handle_request_closed(&mut self, now: Timestamp, id: &CallbackId) -> Result<(), CallbackError> {
        let slot = self
            .index
            .get(id)
            .copied()
            .filter(|&s| {
                let r = &self.records[s];
                r.work_done_at.is_some() && r.request_closed_at.is_none()
            })
            .ok_or_else(|| CallbackError::NoOpenRequest(id.clone()))?;
        self.disarm(slot);
        let r = &mut self.records[slot];
        let late = r
            .close_deadline(self.settings.close_within)
            .is_some_and(|d| now > d);
        r.request_closed_at = Some(now);
        if late {
            self.counters.closed_late += 1;
        } else {
            self.counters.closed_on_time += 1;
        }
        self.events
            .push_back(CallbackEvent::RequestClosed { id: id.clone(), late });
        self.changed(now, slot);
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some((at, (timer, slot))) = self.timers.pop_due(now) {
            // A timer armed before the record changed (rescheduled, reached,
            // closed, or its slot reused) fires only if still wanted.
            if !self.records.contains(slot) || !self.timers_of(slot).contains(&(at, timer, slot)) {
                continue;
            }
            let Some(r) = self.records.get_mut(slot) else {
                continue;
            };
            let (id, deadline) = (r.id.clone(), r.deadline);
            match timer {
                Timer::Due => {
                    r.status = CallbackStatus::Due;
                    self.due.insert((deadline, slot));
                    self.events.push_back(CallbackEvent::CallbackDue { id, deadline });
                }
                Timer::Warn => {
                    r.warned = true;
                    self.counters.warned += 1;
                    self.events
                        .push_back(CallbackEvent::CallbackWarned { id, deadline });
                }
                Timer::Breach => {
                    r.breached = true;
                    self.counters.breached += 1;
                    self.events
                        .push_back(CallbackEvent::CallbackBreached { id, deadline });
                }
                Timer::CloseWarn => {
                    r.close_warned = true;
                    let close_deadline = r.close_deadline(self.settings.close_within).unwrap_or(at);
                    self.events
                        .push_back(CallbackEvent::CloseDeadlineWarned { id, close_deadline });
                }
                Timer::CloseBreach => {
                    r.close_breached = true;
                    self.events.push_back(CallbackEvent::CloseDeadlineBreached {
                        id,
                        close_deadline: at,
                    });
                }
            }
            self.changed(now, slot);
        }
    }
}
