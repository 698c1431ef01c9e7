//! The callback desk: the engine's half of the 4-hour promise. It owns the
//! sans-IO [`CallbackTracker`] and joins it to the router: a callback due to
//! be dialled becomes a work item in the ACD (same queues, same agents), an
//! abandoned wait or an open wrap-up becomes a callback, and an attempt
//! recorded by the agent ends the work item.
//!
//! Invariants: every due callback has exactly one work item in the router
//! (`in_router`); a work item's id is the callback id, the attempt number
//! and a serial, so a retry is a new item and records never collide.

use std::collections::HashMap;
use std::time::Duration;

use tracing::{info, warn};

use crate::acd::{
    CallOutcome, CallRecord, CallbackWork, ContactRecord, IncomingCall, QueueSettings, Router, Tier,
};
use crate::callback::{
    AttemptOutcome, CallbackDetails, CallbackError, CallbackEvent, CallbackOrigin, CallbackRecord,
    CallbackTracker, TrackerSettings,
};
use crate::error::Error;
use crate::hours::OpenHours;
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::time::{Now, Timestamp};

/// Alerts kept for the supervisors' board (the newest).
const ALERTS_KEPT: usize = 1000;

/// What made an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AlertKind {
    Warned,
    Breached,
    CloseLate,
    /// The request's close deadline is near.
    CloseSoon,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallbackAlert {
    pub seq: u64,
    pub callback: CallbackId,
    pub kind: AlertKind,
    pub at: Timestamp,
    pub deadline: Timestamp,
    pub queue: Option<QueueName>,
}

/// The supervisors' callback board.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallbackBoard {
    pub at: Timestamp,
    pub pending: u32,
    pub due_now: u32,
    pub due_soon: u32,
    pub overdue: u32,
    pub counters: crate::callback::CallbackCounters,
    pub alerts: Vec<CallbackAlert>,
}

/// A queue's callback rules, resolved once.
#[derive(Clone, Debug)]
struct QueueRules {
    deadline: Duration,
    max_attempts: u32,
    /// Abandons after this long get a callback (none: never).
    on_abandon_after: Option<Duration>,
    on_open_wrap_up: bool,
    /// The hours deadlines count the open time of.
    calendar: Option<OpenHours>,
    /// The hours the queue is open by (a callback booked while closed
    /// waits for the next opening).
    opening: Option<OpenHours>,
    /// A call arriving while closed gets a callback at the next opening.
    callback_when_closed: bool,
}

/// What a new callback needs besides its details.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewCallback {
    pub id: CallbackId,
    pub details: CallbackDetails,
    /// The customer's window: not before this.
    pub not_before: Option<Timestamp>,
    /// An explicit deadline; else the queue's (business) deadline from the
    /// later of now and `not_before`.
    pub deadline: Option<Timestamp>,
    pub max_attempts: Option<u32>,
}

/// Output: an agent accepted a callback's work item, so the customer is
/// to be called for them. The driver hands it to the callback dialler
/// port (the SIP trunk) when it has one; without one the agent dials by
/// hand. Emitted once per answered work item, however often the Accept is
/// retried (a retry does not answer the call again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackWorkAccepted {
    /// The work item: the call the agent accepted.
    pub call: CallId,
    pub callback: CallbackId,
    pub agent: AgentId,
    /// The customer's number.
    pub number: String,
}

pub struct CallbackDesk {
    pub tracker: CallbackTracker,
    rules: HashMap<QueueName, QueueRules>,
    /// Callbacks with a work item in the router, and that item.
    in_router: HashMap<CallbackId, CallId>,
    /// Work items made by this desk, so every item id is new.
    items_made: u64,
    /// The newest alerts, oldest first, for supervisors' boards.
    alerts: std::collections::VecDeque<CallbackAlert>,
    next_alert: u64,
    /// The records of answered calls, from connection until the last
    /// wrap-up after the call ended: a callback on an open wrap-up takes
    /// its number and customer from here, without reading the store.
    answered: HashMap<CallId, CallRecord>,
    /// `answered` in insertion order, to bound it.
    answered_order: std::collections::VecDeque<CallId>,
}

/// Most answered calls remembered (live calls and wrap-ups in progress).
const ANSWERED_KEPT: usize = 20_000;

fn rules_of(q: &QueueSettings, hours: Option<&OpenHours>, callback_hours: Option<&OpenHours>) -> QueueRules {
    QueueRules {
        deadline: Duration::from_secs(q.callback_deadline_secs),
        max_attempts: q.callback_max_attempts,
        on_abandon_after: (q.callback_on_abandon_after_secs > 0)
            .then(|| Duration::from_secs(q.callback_on_abandon_after_secs)),
        on_open_wrap_up: q.callback_on_open_wrap_up,
        calendar: callback_hours.cloned(),
        opening: hours.cloned(),
        callback_when_closed: q.when_closed == crate::acd::WhenClosed::Callback,
    }
}

fn tracker_error(e: CallbackError) -> Error {
    match e {
        CallbackError::Unknown(id) => Error::NotFound {
            what: "callback",
            id: id.to_string(),
        },
        CallbackError::Duplicate(_) => Error::Aborted(e.to_string()),
        CallbackError::DeadlineInPast { .. } => Error::invalid("deadline", e.to_string()),
        CallbackError::Closed(_) | CallbackError::NotReached(_) | CallbackError::NoOpenRequest(_) => {
            Error::FailedPrecondition(e.to_string())
        }
    }
}

impl CallbackDesk {
    pub fn new(router: &Router, settings: TrackerSettings) -> Self {
        CallbackDesk {
            tracker: CallbackTracker::new(settings),
            rules: Self::rules(router),
            in_router: HashMap::new(),
            items_made: 0,
            alerts: std::collections::VecDeque::new(),
            next_alert: 0,
            answered: HashMap::new(),
            answered_order: std::collections::VecDeque::new(),
        }
    }

    fn rules(router: &Router) -> HashMap<QueueName, QueueRules> {
        router
            .queue_names()
            .filter_map(|n| {
                router.queue_settings(n).map(|q| {
                    (
                        n.clone(),
                        rules_of(q, router.queue_hours(n), router.callback_hours(n)),
                    )
                })
            })
            .collect()
    }

    /// Takes the queues' callback rules again, after the router was
    /// reconfigured (callbacks already made keep their deadlines).
    pub fn reconfigured(&mut self, router: &Router) {
        self.rules = Self::rules(router);
    }

    /// Rebuilds from stored callbacks and the router's restored work items;
    /// due callbacks with no work item (their node restarted) get one.
    pub fn restore(&mut self, clock: impl Into<Now>, router: &mut Router, records: Vec<CallbackRecord>) {
        let clock: Now = clock.into();
        let now = clock.wall;
        self.in_router = router.callback_items().into_iter().collect();
        self.tracker.handle_restore(now, records);
        let due: Vec<CallbackId> = self
            .tracker
            .records()
            .filter(|r| r.status == crate::callback::CallbackStatus::Due)
            .map(|r| r.id.clone())
            .collect();
        for id in due {
            self.on_due(clock, router, &id);
        }
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.tracker.poll_timeout()
    }

    /// The deadline for a callback of queue `q` counted from `from`.
    fn deadline_from(&self, q: Option<&QueueName>, from: Timestamp) -> Timestamp {
        let rules = q.and_then(|q| self.rules.get(q));
        let span = rules.map(|r| r.deadline).unwrap_or(Duration::from_secs(4 * 3600));
        match rules.and_then(|r| r.calendar.as_ref()) {
            Some(cal) => cal.add(from, span),
            None => from.plus(span),
        }
    }

    /// Creates a callback (checks are the caller's: queue known, number set).
    pub fn create(&mut self, now: Timestamp, new: NewCallback) -> Result<CallbackRecord, Error> {
        let queue = new.details.queue.clone();
        let from = new.not_before.unwrap_or(now).max(now);
        let deadline = match new.deadline {
            Some(d) => d,
            None => self.deadline_from(queue.as_ref(), from),
        };
        let max_attempts = new.max_attempts.unwrap_or_else(|| {
            queue
                .as_ref()
                .and_then(|q| self.rules.get(q))
                .map(|r| r.max_attempts)
                .unwrap_or(3)
        });
        let id = new.id.clone();
        let origin = new.details.origin.as_str();
        self.tracker
            .handle_created_with(
                now,
                id.clone(),
                new.not_before,
                deadline,
                max_attempts,
                new.details,
            )
            .map_err(tracker_error)?;
        info!(callback = %id, origin, %deadline, "callback created");
        self.latest(&id)
    }

    /// The waiting caller asked to be called back: their call becomes the
    /// callback's work item in place.
    pub fn request(
        &mut self,
        clock: impl Into<Now>,
        router: &mut Router,
        call: &CallId,
        id: CallbackId,
        number: Option<String>,
    ) -> Result<CallbackRecord, Error> {
        let clock: Now = clock.into();
        let now = clock.wall;
        let live = router.call(call).ok_or_else(|| Error::NotFound {
            what: "call",
            id: call.to_string(),
        })?;
        let number = number
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(live.ani.clone());
        if number.trim().is_empty() {
            return Err(Error::invalid(
                "number",
                "the caller's number is unknown: give one to call back",
            ));
        }
        let deadline = self.deadline_from(Some(&live.queue), now);
        router.handle_callback_requested(
            clock,
            call,
            CallbackWork {
                id: id.clone(),
                deadline,
            },
        )?;
        // The call is the work item: the due callback must not get another.
        self.in_router.insert(id.clone(), call.clone());
        self.create(
            now,
            NewCallback {
                id,
                details: details_of(&live, number, CallbackOrigin::Requested),
                not_before: None,
                deadline: Some(deadline),
                max_attempts: None,
            },
        )
    }

    /// An agent dialled the callback behind their current work item.
    pub fn attempt(
        &mut self,
        clock: impl Into<Now>,
        router: &mut Router,
        agent: &AgentId,
        id: &CallbackId,
        outcome: AttemptOutcome,
    ) -> Result<CallbackRecord, Error> {
        let clock: Now = clock.into();
        let now = clock.wall;
        let item = router
            .agent(agent)
            .and_then(|a| a.current_call.clone())
            .filter(|c| {
                router
                    .call(c)
                    .and_then(|c| c.callback)
                    .is_some_and(|cb| &cb.id == id)
            })
            .ok_or_else(|| {
                Error::FailedPrecondition(format!("agent {agent} is not on a call for callback {id}"))
            })?;
        self.tracker
            .handle_attempt_by(now, id, outcome, Some(agent.clone()))
            .map_err(tracker_error)?;
        let record = self.latest(id);
        // The dialling is over: the work item ends and the agent wraps up.
        router.handle_agent_hangup(clock, agent, &item)?;
        record
    }

    pub fn latest(&self, id: &CallbackId) -> Result<CallbackRecord, Error> {
        self.tracker
            .last_change(id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "callback",
                id: id.to_string(),
            })
    }

    pub fn reschedule(
        &mut self,
        clock: impl Into<Now>,
        router: &mut Router,
        id: &CallbackId,
        not_before: Timestamp,
        deadline: Option<Timestamp>,
    ) -> Result<(), Error> {
        let clock: Now = clock.into();
        let now = clock.wall;
        let queue = self.tracker.get(id).and_then(|r| r.details.queue.clone());
        let deadline = deadline.unwrap_or_else(|| self.deadline_from(queue.as_ref(), not_before.max(now)));
        self.withdraw(clock, router, id, "callback rescheduled");
        self.tracker
            .handle_rescheduled(now, id, not_before, deadline)
            .map_err(tracker_error)
    }

    pub fn cancel(
        &mut self,
        clock: impl Into<Now>,
        router: &mut Router,
        id: &CallbackId,
    ) -> Result<(), Error> {
        let clock: Now = clock.into();
        let now = clock.wall;
        self.tracker.handle_cancelled(now, id).map_err(tracker_error)?;
        self.withdraw(clock, router, id, "callback cancelled");
        Ok(())
    }

    pub fn work_done(
        &mut self,
        now: Timestamp,
        id: &CallbackId,
        stored: Option<CallbackRecord>,
    ) -> Result<(), Error> {
        self.tracker
            .handle_work_done(now, id, stored)
            .map_err(tracker_error)
    }

    pub fn request_closed(&mut self, now: Timestamp, id: &CallbackId) -> Result<(), Error> {
        self.tracker.handle_request_closed(now, id).map_err(tracker_error)
    }

    fn withdraw(&mut self, clock: Now, router: &mut Router, id: &CallbackId, why: &str) {
        if let Some(call) = self.in_router.get(id).cloned() {
            if router.call(&call).is_some() {
                let _ = router.handle_callback_withdrawn(clock, &call, why);
            }
        }
    }

    /// A call or work item ended (router event). A work item that ended
    /// with its callback still due (the agent hung up without recording an
    /// attempt, or the item was lost with a node) is queued again: a due
    /// callback always has a work item.
    pub fn on_call_ended(&mut self, clock: impl Into<Now>, router: &mut Router, call: &CallRecord) {
        let clock: Now = clock.into();
        let now = clock.wall;
        self.remember_answered(call);
        if let Some(cb) = &call.callback {
            if self.in_router.get(&cb.id) == Some(&call.id) {
                self.in_router.remove(&cb.id);
            }
            let still_due = self
                .tracker
                .get(&cb.id)
                .is_some_and(|r| r.status == crate::callback::CallbackStatus::Due);
            if still_due {
                self.on_due(clock, router, &cb.id);
            }
            return;
        }
        if call.outcome == Some(CallOutcome::Closed) && !call.ani.trim().is_empty() {
            let Some(rules) = self.rules.get(&call.queue).filter(|r| r.callback_when_closed) else {
                return;
            };
            let opens = rules.opening.as_ref().and_then(|h| h.next_open(now));
            let new = NewCallback {
                id: CallbackId::new(format!("cb-{}", call.id)),
                details: details_of(call, call.ani.clone(), CallbackOrigin::Requested),
                not_before: opens,
                deadline: None,
                max_attempts: None,
            };
            if let Err(e) = self.create(now, new) {
                warn!(call = %call.id, error = %e, "no callback for a call to a closed queue");
            }
            return;
        }
        if call.outcome != Some(CallOutcome::Abandoned) || call.ani.trim().is_empty() {
            return;
        }
        let Some(after) = self.rules.get(&call.queue).and_then(|r| r.on_abandon_after) else {
            return;
        };
        let waited = call.ended_at.unwrap_or(now).since(call.enqueued_at);
        if waited < after {
            return;
        }
        let new = NewCallback {
            id: CallbackId::new(format!("cb-{}", call.id)),
            details: details_of(call, call.ani.clone(), CallbackOrigin::Abandoned),
            not_before: None,
            deadline: None,
            max_attempts: None,
        };
        if let Err(e) = self.create(now, new) {
            warn!(call = %call.id, error = %e, "no callback for an abandoned call");
        }
    }

    /// A wrap-up ended (router event): an open issue gets a callback, owned
    /// by the agent who handled it.
    /// Remembers an answered call until its last wrap-up (restored calls
    /// are remembered by [`crate::engine::restore_desk`]).
    /// A call was answered. An ordinary call is kept for the wrap-up that
    /// follows; a callback's work item yields [`CallbackWorkAccepted`], the
    /// output that has the customer dialled for the agent.
    pub fn on_answered(&mut self, call: &CallRecord) -> Option<CallbackWorkAccepted> {
        if let Some(work) = &call.callback {
            return Some(CallbackWorkAccepted {
                call: call.id.clone(),
                callback: work.id.clone(),
                agent: call.agent.clone()?,
                number: call.ani.clone(),
            });
        }
        self.remember_answered(call);
        None
    }

    /// Keeps an answered call's record for the wrap-up that follows.
    pub fn remember_answered(&mut self, call: &CallRecord) {
        if call.answered_at.is_none() || call.callback.is_some() {
            return;
        }
        if self.answered.insert(call.id.clone(), call.clone()).is_none() {
            self.answered_order.push_back(call.id.clone());
            while self.answered_order.len() > ANSWERED_KEPT {
                if let Some(old) = self.answered_order.pop_front() {
                    self.answered.remove(&old);
                }
            }
        }
    }

    /// An agent's wrap-up ended; `call_over` says whether the call has
    /// ended too (after a transfer, the first agent's wrap-up ends while
    /// the call goes on).
    pub fn on_wrap_up_ended(&mut self, now: Timestamp, contact: &ContactRecord, call_over: bool) {
        let call = if call_over {
            self.answered.remove(&contact.call)
        } else {
            self.answered.get(&contact.call).cloned()
        };
        let live = call.as_ref();
        let wanted = self.rules.get(&contact.queue).is_some_and(|r| r.on_open_wrap_up);
        if !contact.leaves_issue_open() || !wanted {
            return;
        }
        let number = live.map(|c| c.ani.clone()).unwrap_or_default();
        let number = if number.is_empty() {
            contact.customer_key.clone()
        } else {
            number
        };
        let new = NewCallback {
            id: CallbackId::new(format!("cb-{}-{}", contact.call, contact.agent)),
            details: CallbackDetails {
                number,
                customer: live.and_then(|c| c.customer.clone()),
                customer_key: contact.customer_key.clone(),
                tier: Some(contact.tier),
                queue: Some(contact.queue.clone()),
                category: contact.category.clone(),
                notes: contact.notes.clone(),
                owner: Some(contact.agent.clone()),
                origin: CallbackOrigin::WrapUp,
                source_call: Some(contact.call.clone()),
            },
            not_before: None,
            deadline: None,
            max_attempts: None,
        };
        if let Err(e) = self.create(now, new) {
            warn!(call = %contact.call, error = %e, "no callback for an open wrap-up");
        }
    }

    /// A callback became due: it gets a work item in its queue.
    pub fn on_due(&mut self, clock: impl Into<Now>, router: &mut Router, id: &CallbackId) {
        let clock: Now = clock.into();
        let now = clock.wall;
        if self.in_router.contains_key(id) {
            return;
        }
        let Some(r) = self.tracker.get(id).cloned() else {
            return;
        };
        let Some(queue) = r.details.queue.clone().filter(|q| router.has_queue(q)) else {
            warn!(callback = %id, "callback has no known queue; it cannot be routed");
            return;
        };
        // Unique per queueing, also across restarts (the time) and within
        // one millisecond (the serial): a callback queued again after its
        // item ended without an attempt gets a new item id.
        self.items_made += 1;
        let call = CallId::new(format!(
            "{id}-{}-{}.{}",
            r.attempts.len() + 1,
            now.as_millis(),
            self.items_made
        ));
        let preferred = r.details.owner.clone().filter(|o| router.agent(o).is_some());
        let incoming = IncomingCall {
            id: call.clone(),
            ani: r.details.number.clone(),
            dnis: String::new(),
            customer: r.details.customer.clone(),
            tier: r.details.tier.unwrap_or(Tier::Regular),
            queue,
            extra_requirements: Vec::new(),
            preferred_agent: preferred,
            node: None,
            callback: Some(CallbackWork {
                id: id.clone(),
                deadline: r.deadline,
            }),
        };
        match router.handle_call_arrived(clock, incoming) {
            Ok(()) => {
                self.in_router.insert(id.clone(), call);
            }
            Err(e) => warn!(callback = %id, error = %e, "callback could not be queued"),
        }
    }

    /// The board now, with the alerts after `after` (a previous board's last seq).
    pub fn board(&self, now: Timestamp, after: u64) -> CallbackBoard {
        let (pending, due_now, due_soon, overdue) = self.tracker.gauges();
        CallbackBoard {
            at: now,
            pending,
            due_now,
            due_soon,
            overdue,
            counters: self.tracker.counters(),
            alerts: self.alerts.iter().filter(|a| a.seq > after).cloned().collect(),
        }
    }

    /// Keeps a warning, breach or late close for supervisors' boards.
    pub fn on_alert(&mut self, now: Timestamp, event: &CallbackEvent) {
        let (id, kind, deadline) = match event {
            CallbackEvent::CallbackWarned { id, deadline } => (id, AlertKind::Warned, *deadline),
            CallbackEvent::CallbackBreached { id, deadline } => (id, AlertKind::Breached, *deadline),
            CallbackEvent::CloseDeadlineBreached { id, close_deadline } => {
                (id, AlertKind::CloseLate, *close_deadline)
            }
            CallbackEvent::CloseDeadlineWarned { id, close_deadline } => {
                (id, AlertKind::CloseSoon, *close_deadline)
            }
            _ => return,
        };
        self.next_alert += 1;
        let queue = self.tracker.get(id).and_then(|r| r.details.queue.clone());
        self.alerts.push_back(CallbackAlert {
            seq: self.next_alert,
            callback: id.clone(),
            kind,
            at: now,
            deadline,
            queue,
        });
        while self.alerts.len() > ALERTS_KEPT {
            self.alerts.pop_front();
        }
    }

    /// Logs what supervisors and operators must see.
    pub fn log(event: &CallbackEvent) {
        match event {
            CallbackEvent::CallbackWarned { id, deadline } => {
                warn!(callback = %id, %deadline, "callback deadline in 30 minutes and the customer not reached")
            }
            CallbackEvent::CallbackBreached { id, deadline } => {
                warn!(callback = %id, %deadline, "callback deadline missed")
            }
            CallbackEvent::CloseDeadlineBreached { id, close_deadline } => {
                warn!(callback = %id, %close_deadline, "request not closed within 2 hours of the work ending")
            }
            CallbackEvent::CloseDeadlineWarned { id, close_deadline } => {
                warn!(callback = %id, %close_deadline, "request to close within 30 minutes and still open")
            }
            CallbackEvent::CallbackClosed { id, status, met } => {
                info!(callback = %id, ?status, met, "callback closed")
            }
            _ => {}
        }
    }
}

/// A callback for the caller of `call`, in its queue and tier.
fn details_of(call: &CallRecord, number: String, origin: CallbackOrigin) -> CallbackDetails {
    CallbackDetails {
        number,
        customer: call.customer.clone(),
        customer_key: call
            .customer
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| call.ani.clone()),
        tier: Some(call.tier),
        queue: Some(call.queue.clone()),
        category: None,
        notes: None,
        owner: None,
        origin,
        source_call: Some(call.id.clone()),
    }
}
