//! Records the store could not take (it was unreachable), kept newest-only
//! per record and retried until the store takes them, so the store catches
//! up with the router after an outage.

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
}

impl Dirty {
    /// Keeps a failed write for a retry, unless the store fenced it off.
    fn failed(&mut self, e: &StoreError, what: &str) -> bool {
        if matches!(e, StoreError::Fenced(_)) {
            warn!(error = %e, "fenced: another node routes now; this engine stops");
            self.fenced = true;
            return false;
        }
        warn!(error = %e, "{what} not recorded; will retry");
        true
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
        match store.put_agent(agent).await {
            Ok(()) => {
                self.agents.remove(&agent.id);
                true
            }
            Err(e) => {
                if self.failed(&e, &format!("agent {}", agent.id)) {
                    self.agents.insert(agent.id.clone(), agent.clone());
                }
                false
            }
        }
    }

    pub(super) async fn put_call(&mut self, store: &dyn Store, call: &CallRecord) -> bool {
        match store.put_call(call).await {
            Ok(()) => {
                self.calls.remove(&call.id);
                true
            }
            Err(e) => {
                if self.failed(&e, &format!("call {}", call.id)) {
                    self.calls.insert(call.id.clone(), call.clone());
                }
                false
            }
        }
    }

    pub(super) async fn append_contact(&mut self, store: &dyn Store, contact: &ContactRecord) -> bool {
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

    /// Retries everything pending; true when nothing is left.
    pub(super) async fn flush(&mut self, store: &dyn Store) -> bool {
        if self.is_empty() {
            return true;
        }
        let agents: Vec<AgentRecord> = self.agents.values().cloned().collect();
        for a in agents {
            if store.put_agent(&a).await.is_ok() {
                self.agents.remove(&a.id);
            }
        }
        let calls: Vec<CallRecord> = self.calls.values().cloned().collect();
        for c in calls {
            if store.put_call(&c).await.is_ok() {
                self.calls.remove(&c.id);
            }
        }
        let callbacks: Vec<CallbackRecord> = self.callbacks.values().cloned().collect();
        for c in callbacks {
            if store.put_callback(&c).await.is_ok() {
                self.callbacks.remove(&c.id);
            }
        }
        let contacts = std::mem::take(&mut self.contacts);
        for c in contacts {
            if store.append_contact(&c).await.is_err() {
                self.contacts.push(c);
            }
        }
        if self.is_empty() {
            info!("store caught up with every pending record");
        }
        self.is_empty()
    }
}
