//! The engine's writes: queued while it decides, sent to the store together
//! in one pipelined round trip per commit, and kept (newest only per
//! record) for a retry when the store does not take them, so the store
//! catches up with the router after an outage. A commit is two halves,
//! [`Dirty::begin`] (take what is queued) and [`Dirty::finish`] (sort out
//! the store's answers), so the engine can go on deciding while a batch is
//! on its way; at most one batch is on its way at a time.
//!
//! Invariants:
//! - writes reach the store in the order the router made them; a retried
//!   record goes before any newer write of the same commit, so the newest
//!   record is the one that stays;
//! - a commit's result says, per queued write, whether the store holds it:
//!   the engine acknowledges a request only when all of its writes landed;
//! - a refused claim (the agent is held elsewhere) is an answer, not a
//!   failure: it is reported for the router to try the next agent;
//! - while the store is known to be down, writes join the retry set
//!   without being tried (each try would wait the store's timeout); the
//!   engine's periodic commit is the one probe;
//! - once fenced, nothing is written or kept: another node routes;
//! - every queued write has a number (`queued_total` when it was queued);
//!   `landed_through` is the highest number up to which the store holds
//!   every write, so what is told of a change can wait for exactly the
//!   writes before it.

use std::collections::{HashMap, HashSet};

use tracing::{info, warn};

use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::store::{StoreError, Write};

#[derive(Default)]
pub(super) struct Dirty {
    /// Writes queued since the last commit, in order.
    outbox: Vec<Write>,
    /// Records the store did not take, newest per record, for a retry.
    agents: HashMap<AgentId, AgentRecord>,
    calls: HashMap<CallId, CallRecord>,
    contacts: Vec<ContactRecord>,
    callbacks: HashMap<CallbackId, CallbackRecord>,
    /// A write was refused as fenced: another node routes now, so nothing
    /// here may be retried and the engine must stop.
    pub(super) fenced: bool,
    /// The last try found the store unreachable: queue, don't try, until a
    /// commit gets everything through.
    pub(super) store_down: bool,
    /// Writes ever queued: the number of the latest.
    queued_total: u64,
    /// The store holds every write numbered up to this one.
    landed_through: u64,
    /// Calls whose records are in the batch on its way to the store.
    in_flight: HashSet<CallId>,
}

/// Writes on their way to the store, as one batch.
pub(super) struct Batch {
    /// Retries first (`split` of them), then the writes queued since the
    /// last batch.
    pub(super) writes: Vec<Write>,
    split: usize,
    /// The number of the last write queued before this batch.
    through: u64,
}

/// What [`Dirty::begin`] found.
pub(super) enum Begun {
    /// Nothing to send (or nothing may be sent now): the answers already.
    Answered(Committed),
    /// This batch goes to the store; its answers go to [`Dirty::finish`].
    Send(Batch),
}

/// What a commit found.
pub(super) struct Committed {
    /// Per write queued since the previous commit: does the store hold it
    /// (a refused claim counts as answered)?
    pub(super) landed: Vec<bool>,
    /// Whether every retried record landed too.
    pub(super) retried: bool,
    /// Claims refused because the agent is held elsewhere, with why.
    pub(super) refused: Vec<(AgentId, CallId, String)>,
}

impl Committed {
    /// Whether every write in `range` of the commit's queue landed.
    pub(super) fn all_landed(&self, range: std::ops::Range<usize>) -> bool {
        self.retried && self.landed.get(range).is_some_and(|l| l.iter().all(|&ok| ok))
    }
}

impl Dirty {
    pub(super) fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.calls.is_empty()
            && self.contacts.is_empty()
            && self.callbacks.is_empty()
    }

    /// How many writes wait for the next commit.
    pub(super) fn queued(&self) -> usize {
        self.outbox.len()
    }

    pub(super) fn put_agent(&mut self, agent: &AgentRecord) {
        self.queue(Write::Agent(agent.clone()));
    }

    pub(super) fn put_call(&mut self, call: &CallRecord) {
        self.queue(Write::Call(call.clone()));
    }

    pub(super) fn append_contact(&mut self, contact: &ContactRecord) {
        self.queue(Write::Contact(contact.clone()));
    }

    pub(super) fn put_callback(&mut self, cb: &CallbackRecord) {
        self.queue(Write::Callback(cb.clone()));
    }

    /// The atomic claim: the agent reserved, only if the store still has
    /// it available, with the call it is offered.
    pub(super) fn reserve(&mut self, agent: &AgentRecord, call: &CallRecord) {
        self.queue(Write::Reserve {
            agent: agent.clone(),
            call: call.clone(),
        });
    }

    fn queue(&mut self, w: Write) {
        if !self.fenced {
            self.outbox.push(w);
            self.queued_total += 1;
        }
    }

    /// The number of the latest queued write: a change told now waits
    /// until the store holds every write up to it.
    pub(super) fn mark(&self) -> u64 {
        self.queued_total
    }

    /// Whether the store holds every write numbered up to `mark`.
    pub(super) fn landed(&self, mark: u64) -> bool {
        mark <= self.landed_through
    }

    /// Whether the call's latest record still waits for the store.
    pub(super) fn holds_call(&self, call: &CallId) -> bool {
        self.in_flight.contains(call)
            || self.calls.contains_key(call)
            || self.outbox.iter().any(|w| match w {
                Write::Call(c) | Write::Reserve { call: c, .. } => &c.id == call,
                _ => false,
            })
    }

    /// Takes the retry set and the queued writes as one batch to send
    /// (none while the store is down unless `probe`; then they are kept).
    pub(super) fn begin(&mut self, probe: bool) -> Begun {
        let queued = std::mem::take(&mut self.outbox);
        let answered = |landed: bool, n: usize| {
            Begun::Answered(Committed {
                landed: vec![landed; n],
                retried: landed,
                refused: Vec::new(),
            })
        };
        if self.fenced {
            return answered(false, queued.len());
        }
        if self.store_down && !probe {
            let n = queued.len();
            for w in queued {
                self.keep(w);
            }
            return answered(false, n);
        }
        let retries = self.take_retries();
        let split = retries.len();
        if split == 0 && queued.is_empty() {
            self.store_down = false;
            self.landed_through = self.queued_total;
            return answered(true, 0);
        }
        let mut writes = retries;
        writes.extend(queued);
        for w in &writes {
            if let Write::Call(c) | Write::Reserve { call: c, .. } = w {
                self.in_flight.insert(c.id.clone());
            }
        }
        Begun::Send(Batch {
            writes,
            split,
            through: self.queued_total,
        })
    }

    /// The store's answers to `batch`, one per write, in order.
    pub(super) fn finish(&mut self, batch: Batch, results: Vec<Result<(), StoreError>>) -> Committed {
        self.in_flight.clear();
        let Batch {
            writes,
            split,
            through,
        } = batch;
        let had_retries = split > 0;
        let mut landed = Vec::with_capacity(writes.len());
        let mut refused = Vec::new();
        let mut first_failure = None;
        let mut results = results.into_iter();
        for w in writes {
            // A store that answered fewer writes than it was sent did not
            // take the rest.
            let result = results.next().unwrap_or_else(|| {
                Err(StoreError::Unavailable(
                    "the store did not answer this write".into(),
                ))
            });
            match result {
                Ok(()) => {
                    // An older copy kept earlier in this commit is stale now.
                    self.forget(&w);
                    landed.push(true);
                }
                Err(StoreError::Conflict(why)) => {
                    if let Write::Reserve { agent, call } = &w {
                        refused.push((agent.id.clone(), call.id.clone(), why));
                    }
                    landed.push(true);
                }
                Err(e) => {
                    if matches!(e, StoreError::Fenced(_)) && !self.fenced {
                        warn!(error = %e, "fenced: another node routes now; this engine stops");
                        self.fenced = true;
                    }
                    first_failure.get_or_insert(e);
                    self.keep(w);
                    landed.push(false);
                }
            }
        }
        match first_failure {
            None => {
                if self.store_down || had_retries {
                    info!("store caught up with every pending record");
                }
                self.store_down = false;
            }
            Some(e) => {
                if !self.store_down && !self.fenced {
                    warn!(error = %e, "records not recorded; the store is down, writes queue until it is back");
                }
                self.store_down = matches!(e, StoreError::Unavailable(_));
            }
        }
        if self.fenced {
            self.clear();
        }
        // Every write up to the batch is held once nothing is kept for a
        // retry (a kept one may be older than the batch's).
        if self.is_empty() && !self.fenced {
            self.landed_through = self.landed_through.max(through);
        }
        let queued_landed = landed.split_off(split);
        Committed {
            retried: landed.iter().all(|&ok| ok),
            landed: queued_landed,
            refused,
        }
    }

    /// The retry set as writes, oldest kind first: agents, calls,
    /// callbacks, then contacts in the order they were made.
    fn take_retries(&mut self) -> Vec<Write> {
        let mut out: Vec<Write> = self.agents.drain().map(|(_, a)| Write::Agent(a)).collect();
        out.extend(self.calls.drain().map(|(_, c)| Write::Call(c)));
        out.extend(self.callbacks.drain().map(|(_, c)| Write::Callback(c)));
        out.extend(self.contacts.drain(..).map(Write::Contact));
        out
    }

    /// Keeps a write that did not land, for the next commit. A claim is
    /// kept as the plain records of its agent and call: once the store is
    /// back, the router's view is what stands.
    fn keep(&mut self, w: Write) {
        if self.fenced {
            return;
        }
        match w {
            Write::Agent(a) => drop(self.agents.insert(a.id.clone(), a)),
            Write::Call(c) => drop(self.calls.insert(c.id.clone(), c)),
            Write::Contact(c) => self.contacts.push(c),
            Write::Callback(c) => drop(self.callbacks.insert(c.id.clone(), c)),
            Write::Reserve { agent, call } => {
                self.agents.insert(agent.id.clone(), agent);
                self.calls.insert(call.id.clone(), call);
            }
        }
    }

    fn forget(&mut self, w: &Write) {
        match w {
            Write::Agent(a) => drop(self.agents.remove(&a.id)),
            Write::Call(c) => drop(self.calls.remove(&c.id)),
            Write::Callback(c) => drop(self.callbacks.remove(&c.id)),
            Write::Reserve { agent, call } => {
                self.agents.remove(&agent.id);
                self.calls.remove(&call.id);
            }
            Write::Contact(_) => {}
        }
    }

    fn clear(&mut self) {
        self.outbox.clear();
        self.agents.clear();
        self.calls.clear();
        self.contacts.clear();
        self.callbacks.clear();
    }
}
