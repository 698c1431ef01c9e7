//! Records the store could not take (it was unreachable), kept newest-only
//! per record and retried until the store takes them, so the store catches
//! up with the router after an outage.
//!
//! While the store is known to be down, new writes join the queue without
//! being tried: each try would wait the store's timeout, and one engine job
//! writes several records, so commands would hang for seconds instead of
//! failing fast. The engine's periodic flush is the one probe.

use std::collections::HashMap;

use tracing::{info, warn};

use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::store::{Store, StoreError};

#[derive(Default)]
pub(super) struct Dirty {
    agents: HashMap<AgentId, AgentRecord>,
    calls: HashMap<CallId, CallRecord>,
    contacts: Vec<ContactRecord>,
    callbacks: HashMap<CallbackId, CallbackRecord>,
    /// A write was refused as fenced: another node routes now, so nothing
    /// here may be retried and the engine must stop.
    pub(super) fenced: bool,
    /// The last try found the store unreachable: queue, don't try, until a
    /// flush gets everything through.
    pub(super) store_down: bool,
}

impl Dirty {
    /// Keeps a failed write for a retry, unless the store fenced it off.
    fn failed(&mut self, e: &StoreError, what: &str) -> bool {
        if matches!(e, StoreError::Fenced(_)) {
            warn!(error = %e, "fenced: another node routes now; this engine stops");
            self.fenced = true;
            return false;
        }
        if !self.store_down {
            warn!(error = %e, "{what} not recorded; the store is down, writes queue until it is back");
        }
        self.store_down = matches!(e, StoreError::Unavailable(_));
        true
    }

    /// Whether a write should be tried now (not while the store is down,
    /// and never once fenced).
    fn try_now(&self) -> bool {
        !self.store_down && !self.fenced
    }
}

impl Dirty {
    pub(super) fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.calls.is_empty()
            && self.contacts.is_empty()
            && self.callbacks.is_empty()
    }

    /// Writes the agent; on failure keeps it for a retry. True if written.
    pub(super) async fn put_agent(&mut self, store: &dyn Store, agent: &AgentRecord) -> bool {
        if !self.try_now() {
            self.keep_agent(agent);
            return false;
        }
        match store.put_agent(agent).await {
            Ok(()) => {
                self.agents.remove(&agent.id);
                true
            }
            Err(e) => {
                if self.failed(&e, &format!("agent {}", agent.id)) {
                    self.keep_agent(agent);
                }
                false
            }
        }
    }

    pub(super) async fn put_call(&mut self, store: &dyn Store, call: &CallRecord) -> bool {
        if !self.try_now() {
            self.keep_call(call);
            return false;
        }
        match store.put_call(call).await {
            Ok(()) => {
                self.calls.remove(&call.id);
                true
            }
            Err(e) => {
                if self.failed(&e, &format!("call {}", call.id)) {
                    self.keep_call(call);
                }
                false
            }
        }
    }

    pub(super) async fn append_contact(&mut self, store: &dyn Store, contact: &ContactRecord) -> bool {
        if !self.try_now() {
            if !self.fenced {
                self.contacts.push(contact.clone());
            }
            return false;
        }
        match store.append_contact(contact).await {
            Ok(()) => true,
            Err(e) => {
                if self.failed(&e, &format!("contact of call {}", contact.call)) {
                    self.contacts.push(contact.clone());
                }
                false
            }
        }
    }

    pub(super) async fn put_callback(&mut self, store: &dyn Store, cb: &CallbackRecord) -> bool {
        if !self.try_now() {
            if !self.fenced {
                self.callbacks.insert(cb.id.clone(), cb.clone());
            }
            return false;
        }
        match store.put_callback(cb).await {
            Ok(()) => {
                self.callbacks.remove(&cb.id);
                true
            }
            Err(e) => {
                if self.failed(&e, &format!("callback {}", cb.id)) {
                    self.callbacks.insert(cb.id.clone(), cb.clone());
                }
                false
            }
        }
    }

    /// Whether the call's latest record still waits for the store.
    pub(super) fn holds_call(&self, call: &CallId) -> bool {
        self.calls.contains_key(call)
    }

    fn keep_agent(&mut self, agent: &AgentRecord) {
        if !self.fenced {
            self.agents.insert(agent.id.clone(), agent.clone());
        }
    }

    fn keep_call(&mut self, call: &CallRecord) {
        if !self.fenced {
            self.calls.insert(call.id.clone(), call.clone());
        }
    }

    /// Retries everything pending; true when nothing is left. Stops at the
    /// first write the store does not take (it is still down, or fenced).
    pub(super) async fn flush(&mut self, store: &dyn Store) -> bool {
        if self.is_empty() {
            self.store_down = false;
            return true;
        }
        if self.fenced {
            return false;
        }
        let agents: Vec<AgentRecord> = self.agents.values().cloned().collect();
        for a in agents {
            match store.put_agent(&a).await {
                Ok(()) => drop(self.agents.remove(&a.id)),
                Err(e) => return self.still_failing(&e),
            }
        }
        let calls: Vec<CallRecord> = self.calls.values().cloned().collect();
        for c in calls {
            match store.put_call(&c).await {
                Ok(()) => drop(self.calls.remove(&c.id)),
                Err(e) => return self.still_failing(&e),
            }
        }
        let callbacks: Vec<CallbackRecord> = self.callbacks.values().cloned().collect();
        for c in callbacks {
            match store.put_callback(&c).await {
                Ok(()) => drop(self.callbacks.remove(&c.id)),
                Err(e) => return self.still_failing(&e),
            }
        }
        while let Some(c) = self.contacts.first().cloned() {
            match store.append_contact(&c).await {
                Ok(()) => drop(self.contacts.remove(0)),
                Err(e) => return self.still_failing(&e),
            }
        }
        self.store_down = false;
        info!("store caught up with every pending record");
        true
    }

    /// A flush's write failed: stop flushing; fenced ends the engine.
    fn still_failing(&mut self, e: &StoreError) -> bool {
        if matches!(e, StoreError::Fenced(_)) {
            warn!(error = %e, "fenced: another node routes now; this engine stops");
            self.fenced = true;
        } else {
            self.store_down = true;
        }
        false
    }
}
