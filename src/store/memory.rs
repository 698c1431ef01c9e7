//! The embedded store: in-process maps behind a lock, for a single node,
//! with an optional [`Journal`] file under it so records of lasting value
//! survive a restart (see `journal.rs` for what is kept).
//!
//! The lock is a std `RwLock` held only for map operations, never across an
//! await. A journalled record is on disk before it is in the maps, so
//! nothing is visible that a crash could lose. Ended calls are kept up to a
//! bound (oldest evicted first, from disk too) so a long-running node does
//! not grow without limit.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::RwLock;

use async_trait::async_trait;

mod prune;

use super::erasure::{CustomerErasure, Erased};
use super::journal::{Journal, Table};
use super::{CallCursor, CallFilter, CallbackCursor, CallbackFilter, Store, StoreError};
use crate::acd::{AgentRecord, AgentState, CallRecord, CallStatus, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::quality::{GradeRecord, SurveyRecord};
use crate::recording::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

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
    /// Every contact by (end of wrap-up, call, agent), for time-range reads.
    contact_log: BTreeMap<(Timestamp, CallId, AgentId), ContactRecord>,
    callbacks: HashMap<CallbackId, CallbackRecord>,
    /// (created_at, id), for newest-first listing.
    callback_order: BTreeSet<(Timestamp, CallbackId)>,
    /// By (graded_at, id).
    grades: BTreeMap<(Timestamp, String), GradeRecord>,
    surveys: HashMap<CallId, SurveyRecord>,
    /// (at, call), for time-range reads.
    survey_order: BTreeSet<(Timestamp, CallId)>,
    agent_days: BTreeMap<(Timestamp, AgentId), AgentDayRecord>,
    /// Kept replies by idempotency key, with their expiry (not journaled:
    /// the engine keeps its own for a single node's lifetime).
    replies: HashMap<String, (String, std::time::Instant)>,
}

/// Replies kept at most (the oldest-expiring go first past it).
const MAX_KEPT_REPLIES: usize = 100_000;

pub struct MemoryStore {
    inner: RwLock<Inner>,
    max_ended_calls: usize,
    /// The file under the maps; none for a store that forgets on exit.
    journal: Option<Journal>,
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(format!("cannot encode a record: {e}")))
}

fn contact_key(c: &ContactRecord) -> String {
    format!("{:020}:{}:{}", c.wrap_up_ended_at.as_millis(), c.call, c.agent)
}

fn day_key(d: &AgentDayRecord) -> String {
    format!("{:020}:{}", d.day.as_millis(), d.agent)
}

impl Inner {
    fn insert_call(&mut self, call: &CallRecord, max_ended: usize) -> Vec<CallId> {
        let newly_ended = call.status == CallStatus::Ended
            && self
                .calls
                .get(&call.id)
                .is_none_or(|c| c.status != CallStatus::Ended);
        if let Some(old) = self.calls.insert(call.id.clone(), call.clone()) {
            self.call_order.remove(&(old.enqueued_at, old.id));
        }
        self.call_order.insert((call.enqueued_at, call.id.clone()));
        let mut evicted = Vec::new();
        if newly_ended {
            self.ended.push_back(call.id.clone());
            while self.ended.len() > max_ended {
                if let Some(id) = self.ended.pop_front() {
                    if let Some(old) = self.calls.remove(&id) {
                        self.call_order.remove(&(old.enqueued_at, old.id));
                    }
                    evicted.push(id);
                }
            }
        }
        evicted
    }

    /// The ended calls `insert_call` would evict to make room for one more.
    fn would_evict(&self, call: &CallRecord, max_ended: usize) -> Vec<CallId> {
        let newly_ended = call.status == CallStatus::Ended
            && self
                .calls
                .get(&call.id)
                .is_none_or(|c| c.status != CallStatus::Ended);
        let over = (self.ended.len() + usize::from(newly_ended)).saturating_sub(max_ended);
        self.ended.iter().take(over).cloned().collect()
    }

    fn insert_contact(&mut self, contact: &ContactRecord) {
        let list = self.contacts.entry(contact.customer_key.clone()).or_default();
        list.push_front(contact.clone());
        list.truncate(CONTACTS_PER_CUSTOMER);
        self.contact_log.insert(
            (
                contact.wrap_up_ended_at,
                contact.call.clone(),
                contact.agent.clone(),
            ),
            contact.clone(),
        );
    }

    fn insert_recording(&mut self, rec: &RecordingRecord) {
        if let Some(old) = self.recordings.insert(rec.call.clone(), rec.clone()) {
            self.recording_order.remove(&(old.started_at, old.call));
        }
        self.recording_order.insert((rec.started_at, rec.call.clone()));
    }

    fn insert_monitor(&mut self, session: &MonitorSessionRecord) {
        if let Some(old) = self.monitor_sessions.insert(session.id.clone(), session.clone()) {
            self.monitor_order.remove(&(old.started_at, old.id));
        }
        self.monitor_order
            .insert((session.started_at, session.id.clone()));
    }

    fn insert_callback(&mut self, cb: &CallbackRecord) {
        if let Some(old) = self.callbacks.insert(cb.id.clone(), cb.clone()) {
            self.callback_order.remove(&(old.created_at, old.id));
        }
        self.callback_order.insert((cb.created_at, cb.id.clone()));
    }

    fn insert_grade(&mut self, g: &GradeRecord) {
        self.grades.insert((g.graded_at, g.id.clone()), g.clone());
    }

    fn insert_survey(&mut self, s: &SurveyRecord) {
        if let Some(old) = self.surveys.insert(s.call.clone(), s.clone()) {
            self.survey_order.remove(&(old.at, old.call));
        }
        self.survey_order.insert((s.at, s.call.clone()));
    }

    fn insert_agent_day(&mut self, d: &AgentDayRecord) {
        self.agent_days.insert((d.day, d.agent.clone()), d.clone());
    }
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
            journal: None,
        }
    }

    /// A store whose records of lasting value live in the file at `path`
    /// (created if missing), loaded back now.
    pub fn open(path: &std::path::Path, max_ended_calls: usize) -> Result<Self, StoreError> {
        let journal = Journal::open(path)?;
        let mut store = Self::new(max_ended_calls);
        {
            let inner = store
                .inner
                .get_mut()
                .map_err(|_| StoreError::Unavailable("embedded store lock poisoned".into()))?;
            for table in Table::ALL {
                for (key, json) in journal.load(table)? {
                    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                        key: format!("{table:?}/{key}"),
                        reason: e.to_string(),
                    };
                    match table {
                        Table::Callbacks => {
                            inner.insert_callback(&serde_json::from_str(&json).map_err(corrupt)?)
                        }
                        Table::Contacts => {
                            inner.insert_contact(&serde_json::from_str(&json).map_err(corrupt)?)
                        }
                        Table::EndedCalls => {
                            inner.insert_call(&serde_json::from_str(&json).map_err(corrupt)?, usize::MAX);
                        }
                        Table::Recordings => {
                            inner.insert_recording(&serde_json::from_str(&json).map_err(corrupt)?)
                        }
                        Table::Monitors => {
                            inner.insert_monitor(&serde_json::from_str(&json).map_err(corrupt)?)
                        }
                        Table::Grades => inner.insert_grade(&serde_json::from_str(&json).map_err(corrupt)?),
                        Table::Surveys => inner.insert_survey(&serde_json::from_str(&json).map_err(corrupt)?),
                        Table::AgentDays => {
                            inner.insert_agent_day(&serde_json::from_str(&json).map_err(corrupt)?)
                        }
                        // Tables with their own readers (`catalog::MemoryCatalog`,
                        // `sessions::MemorySessions`, `audit::MemoryAudit`).
                        Table::CatalogObjects
                        | Table::CatalogAudit
                        | Table::Revocations
                        | Table::Audit
                        | Table::Cases => break,
                    }
                }
            }
        }
        store.journal = Some(journal);
        Ok(store)
    }

    /// The file under the store, for the catalog to keep its tables in.
    pub fn journal(&self) -> Option<Journal> {
        self.journal.clone()
    }

    /// Puts `json` under `key` on disk first, when journalled.
    async fn persist(
        &self,
        table: Table,
        key: String,
        json: impl FnOnce() -> Result<String, StoreError>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        match &self.journal {
            Some(j) => j.put(table, key, json()?, remove).await,
            None => Ok(()),
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
        if call.status == CallStatus::Ended && self.journal.is_some() {
            let evict = self.read()?.would_evict(call, self.max_ended_calls);
            let evict = evict.iter().map(|id| id.to_string()).collect();
            self.persist(Table::EndedCalls, call.id.to_string(), || encode(call), evict)
                .await?;
        }
        self.write()?.insert_call(call, self.max_ended_calls);
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
        self.persist(
            Table::Contacts,
            contact_key(contact),
            || encode(contact),
            Vec::new(),
        )
        .await?;
        self.write()?.insert_contact(contact);
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

    async fn prune(
        &self,
        kind: super::RecordKind,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.prune_kind(kind, before, limit).await
    }

    async fn erase_customer(&self, e: &CustomerErasure) -> Result<Erased, StoreError> {
        // The rewritten records, worked out under the read lock...
        let (contacts, calls, callbacks, recordings) = {
            let inner = self.read()?;
            let contacts: Vec<ContactRecord> = e
                .keys
                .iter()
                .filter_map(|k| inner.contacts.get(k))
                .flatten()
                .map(|c| e.contact(c))
                .collect();
            let calls: Vec<CallRecord> = e
                .calls
                .iter()
                .filter_map(|id| inner.calls.get(id).and_then(|c| e.call(c)))
                .collect();
            let callbacks: Vec<CallbackRecord> = e
                .callbacks
                .iter()
                .filter_map(|id| inner.callbacks.get(id).and_then(|c| e.callback(c)))
                .collect();
            let recordings: Vec<RecordingRecord> = e
                .calls
                .iter()
                .filter_map(|id| inner.recordings.get(id).and_then(|r| e.recording(r)))
                .collect();
            (contacts, calls, callbacks, recordings)
        };
        // ...on disk first (each under its own key, so the old one is
        // overwritten)...
        for c in &contacts {
            self.persist(Table::Contacts, contact_key(c), || encode(c), Vec::new())
                .await?;
        }
        for c in &calls {
            self.persist(Table::EndedCalls, c.id.to_string(), || encode(c), Vec::new())
                .await?;
        }
        for cb in &callbacks {
            self.persist(Table::Callbacks, cb.id.to_string(), || encode(cb), Vec::new())
                .await?;
        }
        for r in &recordings {
            self.persist(Table::Recordings, r.call.to_string(), || encode(r), Vec::new())
                .await?;
        }
        // ...then in the maps.
        let mut inner = self.write()?;
        for key in &e.keys {
            inner.contacts.remove(key);
        }
        // Oldest first, so the pseudonym's list ends newest first.
        let mut sorted = contacts.clone();
        sorted.sort_by_key(|c| c.wrap_up_ended_at);
        for c in &sorted {
            inner.insert_contact(c);
        }
        for c in &calls {
            inner.calls.insert(c.id.clone(), c.clone());
        }
        for cb in &callbacks {
            inner.callbacks.insert(cb.id.clone(), cb.clone());
        }
        for r in &recordings {
            inner.insert_recording(r);
        }
        Ok(Erased {
            contacts: contacts.len() as u64,
            calls: calls.len() as u64,
            callbacks: callbacks.len() as u64,
            recordings: recordings.len() as u64,
            cases: 0,
        })
    }

    async fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError> {
        self.persist(
            Table::Recordings,
            rec.call.to_string(),
            || encode(rec),
            Vec::new(),
        )
        .await?;
        self.write()?.insert_recording(rec);
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
        self.persist(
            Table::Monitors,
            session.id.clone(),
            || encode(session),
            Vec::new(),
        )
        .await?;
        self.write()?.insert_monitor(session);
        Ok(())
    }

    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        after: Option<&(Timestamp, String)>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError> {
        let inner = self.read()?;
        let iter: Box<dyn Iterator<Item = &(Timestamp, String)>> = match after {
            Some(c) => Box::new(inner.monitor_order.range(..c.clone()).rev()),
            None => Box::new(inner.monitor_order.iter().rev()),
        };
        Ok(iter
            .filter_map(|(_, id)| inner.monitor_sessions.get(id))
            .filter(|s| call.is_none_or(|c| &s.call == c))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn contacts_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .contact_log
            .range((from, CallId::new(""), AgentId::new(""))..)
            .take_while(|((t, _, _), _)| *t < to)
            .take(limit)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn put_callback(&self, cb: &CallbackRecord) -> Result<(), StoreError> {
        self.persist(Table::Callbacks, cb.id.to_string(), || encode(cb), Vec::new())
            .await?;
        self.write()?.insert_callback(cb);
        Ok(())
    }

    async fn get_callback(&self, id: &CallbackId) -> Result<Option<CallbackRecord>, StoreError> {
        Ok(self.read()?.callbacks.get(id).cloned())
    }

    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&CallbackCursor>,
        limit: usize,
    ) -> Result<Vec<CallbackRecord>, StoreError> {
        let inner = self.read()?;
        let iter: Box<dyn Iterator<Item = &(Timestamp, CallbackId)>> = match after {
            Some(c) => Box::new(inner.callback_order.range(..c.clone()).rev()),
            None => Box::new(inner.callback_order.iter().rev()),
        };
        Ok(iter
            .filter_map(|(_, id)| inner.callbacks.get(id))
            .filter(|c| filter.matches(c))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn live_callbacks(&self) -> Result<Vec<CallbackRecord>, StoreError> {
        Ok(self
            .read()?
            .callbacks
            .values()
            .filter(|c| c.is_live())
            .cloned()
            .collect())
    }

    async fn put_grade(&self, grade: &GradeRecord) -> Result<(), StoreError> {
        let key = format!("{:020}:{}", grade.graded_at.as_millis(), grade.id);
        self.persist(Table::Grades, key, || encode(grade), Vec::new())
            .await?;
        self.write()?.insert_grade(grade);
        Ok(())
    }

    async fn grades_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<GradeRecord>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .grades
            .range((from, String::new())..)
            .take_while(|((t, _), _)| *t < to)
            .take(limit)
            .map(|(_, g)| g.clone())
            .collect())
    }

    async fn put_survey(&self, survey: &SurveyRecord) -> Result<(), StoreError> {
        self.persist(
            Table::Surveys,
            survey.call.to_string(),
            || encode(survey),
            Vec::new(),
        )
        .await?;
        self.write()?.insert_survey(survey);
        Ok(())
    }

    async fn surveys_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .survey_order
            .range((from, CallId::new(""))..)
            .take_while(|(t, _)| *t < to)
            .filter_map(|(_, id)| inner.surveys.get(id))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn put_agent_day(&self, day: &AgentDayRecord) -> Result<(), StoreError> {
        self.persist(Table::AgentDays, day_key(day), || encode(day), Vec::new())
            .await?;
        self.write()?.insert_agent_day(day);
        Ok(())
    }

    async fn agent_days_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<AgentDayRecord>, StoreError> {
        let inner = self.read()?;
        Ok(inner
            .agent_days
            .range((from, AgentId::new(""))..)
            .take_while(|((t, _), _)| *t < to)
            .take(limit)
            .map(|(_, d)| d.clone())
            .collect())
    }

    async fn keep_reply(&self, key: &str, reply: &str, ttl: std::time::Duration) -> Result<(), StoreError> {
        let now = std::time::Instant::now();
        let mut inner = self.write()?;
        inner.replies.retain(|_, (_, until)| *until > now);
        if inner.replies.len() >= MAX_KEPT_REPLIES {
            let oldest = inner
                .replies
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                inner.replies.remove(&k);
            }
        }
        inner
            .replies
            .insert(key.to_string(), (reply.to_string(), now + ttl));
        Ok(())
    }

    async fn kept_reply(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = std::time::Instant::now();
        Ok(self
            .read()?
            .replies
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(reply, _)| reply.clone()))
    }
}
