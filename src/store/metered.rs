//! A store that times every operation for the metrics: the same trait over
//! any backend, so the engine, the API and the media plane are measured
//! without knowing it.
//!
//! Invariants: every call reaches the inner store unchanged and returns its
//! result unchanged; an operation is reported once, with its backend, name
//! and whether it succeeded; a success after the store was found unreachable
//! is counted as a reconnect (Redis's connection manager reconnects on its
//! own; this is where it shows).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{CallCursor, CallFilter, CallbackCursor, CallbackFilter, Store, StoreError, Write};
use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::quality::{GradeRecord, SurveyRecord};
use crate::recording::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

pub struct Metered {
    inner: Arc<dyn Store>,
    /// The `backend` label: `memory` or `redis`.
    backend: &'static str,
    /// The last operation found the store unreachable.
    unreachable: AtomicBool,
}

impl Metered {
    pub fn new(inner: Arc<dyn Store>, backend: &'static str) -> Self {
        crate::metrics::events::store_opened(backend);
        Metered {
            inner,
            backend,
            unreachable: AtomicBool::new(false),
        }
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = f.await;
        crate::metrics::events::store_operation(
            self.backend,
            op,
            result.is_ok(),
            started.elapsed().as_secs_f64(),
        );
        match &result {
            Err(StoreError::Unavailable(_)) => self.unreachable.store(true, Ordering::Relaxed),
            // Refusals (fenced, conflict) and corrupt records are answers.
            _ => {
                if self.unreachable.swap(false, Ordering::Relaxed) {
                    crate::metrics::events::store_reconnected(self.backend);
                }
            }
        }
        result
    }
}

#[async_trait]
impl Store for Metered {
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }
    /// One operation for the whole batch (one round trip), failed if any
    /// write in it failed other than a refused claim.
    async fn write_batch(&self, writes: &[Write]) -> Vec<Result<(), StoreError>> {
        let started = Instant::now();
        let results = self.inner.write_batch(writes).await;
        let down = results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Unavailable(_))));
        let ok = results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_))));
        crate::metrics::events::store_operation(
            self.backend,
            "write_batch",
            ok,
            started.elapsed().as_secs_f64(),
        );
        if down {
            self.unreachable.store(true, Ordering::Relaxed);
        } else if self.unreachable.swap(false, Ordering::Relaxed) {
            crate::metrics::events::store_reconnected(self.backend);
        }
        results
    }
    async fn put_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        self.timed("put_agent", self.inner.put_agent(agent)).await
    }
    async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        self.timed("get_agent", self.inner.get_agent(id)).await
    }
    async fn list_agents(
        &self,
        after: Option<&AgentId>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        self.timed("list_agents", self.inner.list_agents(after, limit))
            .await
    }
    async fn put_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        self.timed("put_call", self.inner.put_call(call)).await
    }
    async fn get_call(&self, id: &CallId) -> Result<Option<CallRecord>, StoreError> {
        self.timed("get_call", self.inner.get_call(id)).await
    }
    async fn list_calls(
        &self,
        filter: &CallFilter,
        after: Option<&CallCursor>,
        limit: usize,
    ) -> Result<Vec<CallRecord>, StoreError> {
        self.timed("list_calls", self.inner.list_calls(filter, after, limit))
            .await
    }
    async fn reserve(&self, agent: &AgentRecord, call: &CallRecord) -> Result<(), StoreError> {
        self.timed("reserve", self.inner.reserve(agent, call)).await
    }
    async fn append_contact(&self, contact: &ContactRecord) -> Result<(), StoreError> {
        self.timed("append_contact", self.inner.append_contact(contact))
            .await
    }
    async fn contacts_of(&self, customer_key: &str, limit: usize) -> Result<Vec<ContactRecord>, StoreError> {
        self.timed("contacts_of", self.inner.contacts_of(customer_key, limit))
            .await
    }
    async fn prune(
        &self,
        kind: super::RecordKind,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.timed("prune", self.inner.prune(kind, before, limit)).await
    }
    async fn erase_customer(
        &self,
        erasure: &super::erasure::CustomerErasure,
    ) -> Result<super::erasure::Erased, StoreError> {
        self.timed("erase_customer", self.inner.erase_customer(erasure))
            .await
    }
    async fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError> {
        self.timed("put_recording", self.inner.put_recording(rec)).await
    }
    async fn get_recording(&self, call: &CallId) -> Result<Option<RecordingRecord>, StoreError> {
        self.timed("get_recording", self.inner.get_recording(call)).await
    }
    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        after: Option<&RecordingCursor>,
        limit: usize,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        self.timed(
            "list_recordings",
            self.inner.list_recordings(filter, after, limit),
        )
        .await
    }
    async fn put_monitor_session(&self, session: &MonitorSessionRecord) -> Result<(), StoreError> {
        self.timed("put_monitor_session", self.inner.put_monitor_session(session))
            .await
    }
    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        after: Option<&(Timestamp, String)>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError> {
        self.timed(
            "monitor_sessions",
            self.inner.monitor_sessions(call, after, limit),
        )
        .await
    }
    async fn contacts_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        self.timed("contacts_between", self.inner.contacts_between(from, to, limit))
            .await
    }
    async fn put_callback(&self, cb: &CallbackRecord) -> Result<(), StoreError> {
        self.timed("put_callback", self.inner.put_callback(cb)).await
    }
    async fn get_callback(&self, id: &CallbackId) -> Result<Option<CallbackRecord>, StoreError> {
        self.timed("get_callback", self.inner.get_callback(id)).await
    }
    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&CallbackCursor>,
        limit: usize,
    ) -> Result<Vec<CallbackRecord>, StoreError> {
        self.timed("list_callbacks", self.inner.list_callbacks(filter, after, limit))
            .await
    }
    async fn live_callbacks(&self) -> Result<Vec<CallbackRecord>, StoreError> {
        self.timed("live_callbacks", self.inner.live_callbacks()).await
    }
    async fn put_grade(&self, grade: &GradeRecord) -> Result<(), StoreError> {
        self.timed("put_grade", self.inner.put_grade(grade)).await
    }
    async fn grades_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<GradeRecord>, StoreError> {
        self.timed("grades_between", self.inner.grades_between(from, to, limit))
            .await
    }
    async fn put_survey(&self, survey: &SurveyRecord) -> Result<(), StoreError> {
        self.timed("put_survey", self.inner.put_survey(survey)).await
    }
    async fn surveys_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        self.timed("surveys_between", self.inner.surveys_between(from, to, limit))
            .await
    }
    async fn put_agent_day(&self, day: &AgentDayRecord) -> Result<(), StoreError> {
        self.timed("put_agent_day", self.inner.put_agent_day(day)).await
    }
    async fn keep_reply(&self, key: &str, reply: &str, ttl: std::time::Duration) -> Result<(), StoreError> {
        self.timed("keep_reply", self.inner.keep_reply(key, reply, ttl))
            .await
    }

    async fn kept_reply(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.timed("kept_reply", self.inner.kept_reply(key)).await
    }

    async fn agent_days_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<AgentDayRecord>, StoreError> {
        self.timed(
            "agent_days_between",
            self.inner.agent_days_between(from, to, limit),
        )
        .await
    }
}
