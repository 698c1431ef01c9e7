//! The embedded store: in-process maps behind a lock, for a single node.
//!
//! The lock is a std `RwLock` held only for map operations, never across an
//! await. Ended calls are kept up to a bound (oldest evicted first) so a
//! long-running node does not grow without limit.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::RwLock;

use async_trait::async_trait;

use super::{CallCursor, CallFilter, Store, StoreError};
use crate::acd::{AgentRecord, AgentState, CallRecord, CallStatus, ContactRecord};
use crate::ids::{AgentId, CallId};
use crate::media::record::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;

/// Contacts kept per customer; enough for ownership and FCR windows.
const CONTACTS_PER_CUSTOMER: usize = 200;

#[derive(Default)]
struct Inner {
    agents: BTreeMap<AgentId, AgentRecord>,
    calls: HashMap<CallId, CallRecord>,
    /// (enqueued_at, id) of every call, for newest-first listing.
    call_order: BTreeSet<(Timestamp, CallId)>,
    /// Ended calls in the order they ended, for eviction.
    ended: VecDeque<CallId>,
    contacts: HashMap<String, VecDeque<ContactRecord>>,
    recordings: HashMap<CallId, RecordingRecord>,
    /// (started_at, id) of every recording, for newest-first listing.
    recording_order: BTreeSet<(Timestamp, CallId)>,
    monitor_sessions: HashMap<String, MonitorSessionRecord>,
    /// (started_at, session id), for newest-first listing.
    monitor_order: BTreeSet<(Timestamp, String)>,
}

pub struct MemoryStore {
    inner: RwLock<Inner>,
    max_ended_calls: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(200_000)
    }
}

impl MemoryStore {
    /// A store keeping at most `max_ended_calls` ended calls.
    pub fn new(max_ended_calls: usize) -> Self {
        MemoryStore {
            inner: RwLock::new(Inner::default()),
            max_ended_calls: max_ended_calls.max(1),
        }
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Inner>, StoreError> {
        self.inner
            .read()
            .map_err(|_| StoreError::Unavailable("embedded store lock poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Inner>, StoreError> {
        self.inner
            .write()
            .map_err(|_| StoreError::Unavailable("embedded store lock poisoned".into()))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        self.write()?.agents.insert(agent.id.clone(), agent.clone());
        Ok(())
    }

    async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self.read()?.agents.get(id).cloned())
    }

    async fn list_agents(
        &self,
        after: Option<&AgentId>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let inner = self.read()?;
        let iter: Box<dyn Iterator<Item = &AgentRecord>> = match after {
            Some(a) => Box::new(
                inner
                    .agents
                    .range::<AgentId, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                    .map(|(_, v)| v),
            ),
            None => Box::new(inner.agents.values()),
        };
        Ok(iter.take(limit).cloned().collect())
    }

    async fn put_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        let newly_ended = call.status == CallStatus::Ended
            && inner
                .calls
                .get(&call.id)
                .is_none_or(|c| c.status != CallStatus::Ended);
        if let Some(old) = inner.calls.insert(call.id.clone(), call.clone()) {
            inner.call_order.remove(&(old.enqueued_at, old.id));
        }
        inner.call_order.insert((call.enqueued_at, call.id.clone()));
        if newly_ended {
            inner.ended.push_back(call.id.clone());
            while inner.ended.len() > self.max_ended_calls {
                if let Some(id) = inner.ended.pop_front() {
                    if let Some(old) = inner.calls.remove(&id) {
                        inner.call_order.remove(&(old.enqueued_at, old.id));
                    }
                }
            }
        }
        Ok(())
    }

    async fn reserve(&self, agent: &AgentRecord, call: &CallRecord) -> Result<(), StoreError> {
        {
            let inner = self.read()?;
            if let Some(current) = inner.agents.get(&agent.id) {
                if current.state != AgentState::Available {
                    return Err(StoreError::Conflict(format!(
                        "agent {} is {}",
                        agent.id,
                        current.state.as_str()
                    )));
                }
            }
        }
        // One writer (the engine task) at a time, so check-then-write holds.
        self.put_agent(agent).await?;
        self.put_call(call).await
    }

    async fn get_call(&self, id: &CallId) -> Result<Option<CallRecord>, StoreError> {
        Ok(self.read()?.calls.get(id).cloned())
    }

    async fn list_calls(
        &self,
        filter: &CallFilter,
        after: Option<&CallCursor>,
        limit: usize,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let inner = self.read()?;
        let iter: Box<dyn Iterator<Item = &(Timestamp, CallId)>> = match after {
            Some(c) => Box::new(inner.call_order.range(..c.clone()).rev()),
            None => Box::new(inner.call_order.iter().rev()),
        };
        Ok(iter
            .filter_map(|(_, id)| inner.calls.get(id))
            .filter(|c| filter.matches(c))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn append_contact(&self, contact: &ContactRecord) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        let list = inner.contacts.entry(contact.customer_key.clone()).or_default();
        list.push_front(contact.clone());
        list.truncate(CONTACTS_PER_CUSTOMER);
        Ok(())
    }

    async fn contacts_of(&self, customer_key: &str, limit: usize) -> Result<Vec<ContactRecord>, StoreError> {
        let inner = self.read()?;
        let mut out: Vec<ContactRecord> = inner
            .contacts
            .get(customer_key)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        out.sort_by_key(|c| std::cmp::Reverse(c.wrap_up_ended_at));
        out.truncate(limit);
        Ok(out)
    }

    async fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        if let Some(old) = inner.recordings.insert(rec.call.clone(), rec.clone()) {
            inner.recording_order.remove(&(old.started_at, old.call));
        }
        inner.recording_order.insert((rec.started_at, rec.call.clone()));
        Ok(())
    }

    async fn get_recording(&self, call: &CallId) -> Result<Option<RecordingRecord>, StoreError> {
        Ok(self.read()?.recordings.get(call).cloned())
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        after: Option<&RecordingCursor>,
        limit: usize,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        let inner = self.read()?;
        let iter: Box<dyn Iterator<Item = &(Timestamp, CallId)>> = match after {
            Some(c) => Box::new(inner.recording_order.range(..c.clone()).rev()),
            None => Box::new(inner.recording_order.iter().rev()),
        };
        Ok(iter
            .filter_map(|(_, id)| inner.recordings.get(id))
            .filter(|r| filter.matches(r))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn put_monitor_session(&self, session: &MonitorSessionRecord) -> Result<(), StoreError> {
        let mut inner = self.write()?;
        if let Some(old) = inner.monitor_sessions.insert(session.id.clone(), session.clone()) {
            inner.monitor_order.remove(&(old.started_at, old.id));
        }
        inner
            .monitor_order
            .insert((session.started_at, session.id.clone()));
        Ok(())
    }

    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .monitor_order
            .iter()
            .rev()
            .filter_map(|(_, id)| inner.monitor_sessions.get(id))
            .filter(|s| call.is_none_or(|c| &s.call == c))
            .take(limit)
            .cloned()
            .collect())
    }
}
