//! Persistent and shared state: agents, calls, handled contacts, callbacks,
//! recordings, grades and surveys.
//!
//! The routing core decides; the store records what was decided so that every
//! reader (supervisors on any node, reports, first-contact ownership) sees one
//! truth. Writes are whole records, last writer wins per record; contacts are
//! append-only. Recording metadata and the monitoring audit come from the
//! node carrying a call's audio, so they are never fenced; callbacks come from
//! the routing node and are fenced like calls. Time-range reads
//! (`*_between`) are oldest first over `[from, to)`. Every backend must pass
//! [`conformance::run`].

pub mod audit;
pub mod cases;
pub mod catalog;
/// The contract every backend must meet; for tests (`cargo test` enables
/// it through the `test-support` feature), not in the shipped binary.
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
pub mod erasure;
pub mod journal;
pub mod memory;
pub mod metered;
pub mod redis;
pub mod retention;
pub mod sessions;

use async_trait::async_trait;

use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::callback::{CallbackRecord, CallbackStatus};
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::quality::{GradeRecord, SurveyRecord};
use crate::recording::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

pub use memory::MemoryStore;
pub use metered::Metered;
pub use redis::{RedisOptions, RedisStore, STEPPED_DOWN};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    /// The write carried a stale fencing token: another node routes now.
    #[error("store write refused: {0}")]
    Fenced(String),
    /// A claim found the agent no longer available.
    #[error("claim refused: {0}")]
    Conflict(String),
}

/// A store refusal as handlers send it (through the domain error, which
/// maps to a status in one place).
impl From<StoreError> for tonic::Status {
    fn from(e: StoreError) -> Self {
        crate::status::status(e.into())
    }
}

impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        use crate::error::Error;
        match e {
            StoreError::Fenced(_) | StoreError::Conflict(_) => Error::Aborted(e.to_string()),
            _ => Error::Unavailable(e.to_string()),
        }
    }
}

/// Which calls `list_calls` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub queue: Option<QueueName>,
    pub include_ended: bool,
}

impl CallFilter {
    pub fn matches(&self, call: &CallRecord) -> bool {
        (self.include_ended || call.status != crate::acd::CallStatus::Ended)
            && self.queue.as_ref().is_none_or(|q| &call.queue == q)
    }
}

/// Which callbacks `list_callbacks` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackFilter {
    /// Any of these statuses (all when empty).
    pub statuses: Vec<CallbackStatus>,
    pub queue: Option<QueueName>,
    pub customer_key: Option<String>,
    pub owner: Option<AgentId>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
}

impl CallbackFilter {
    pub fn matches(&self, cb: &CallbackRecord) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&cb.status))
            && self
                .queue
                .as_ref()
                .is_none_or(|q| cb.details.queue.as_ref() == Some(q))
            && self
                .customer_key
                .as_ref()
                .is_none_or(|k| &cb.details.customer_key == k)
            && self
                .owner
                .as_ref()
                .is_none_or(|o| cb.details.owner.as_ref() == Some(o))
            && self.from.is_none_or(|f| cb.created_at >= f)
            && self.to.is_none_or(|t| cb.created_at < t)
    }
}

/// Position after which a callback listing continues: newest first by
/// (created_at, id).
pub type CallbackCursor = (Timestamp, CallbackId);

/// Position after which a call listing continues: calls are listed newest
/// first by (enqueued_at, id).
pub type CallCursor = (Timestamp, CallId);

/// The kinds of stored records retention trims, each by its own time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// By the end of wrap-up (contact log and per-customer lists).
    Contacts,
    /// Ended calls, by when they ended.
    Calls,
    /// Callbacks no longer live, by when they were created.
    Callbacks,
    /// By when graded.
    Grades,
    /// By when rated.
    Surveys,
    /// By the day.
    AgentDays,
    /// Listening-in sessions, by when they started.
    MonitorSessions,
    /// Finished recordings' metadata, by when they started (the files
    /// follow `[media] retention_days`).
    Recordings,
}

impl RecordKind {
    pub const ALL: [RecordKind; 8] = [
        RecordKind::Contacts,
        RecordKind::Calls,
        RecordKind::Callbacks,
        RecordKind::Grades,
        RecordKind::Surveys,
        RecordKind::AgentDays,
        RecordKind::MonitorSessions,
        RecordKind::Recordings,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contacts => "contacts",
            RecordKind::Calls => "calls",
            RecordKind::Callbacks => "callbacks",
            RecordKind::Grades => "grades",
            RecordKind::Surveys => "surveys",
            RecordKind::AgentDays => "agent_days",
            RecordKind::MonitorSessions => "monitor_sessions",
            RecordKind::Recordings => "recordings",
        }
    }
}

/// One write of the routing engine, sent with others by
/// [`Store::write_batch`].
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Agent(AgentRecord),
    Call(CallRecord),
    Contact(ContactRecord),
    Callback(CallbackRecord),
    /// The atomic claim of [`Store::reserve`].
    Reserve {
        agent: AgentRecord,
        call: CallRecord,
    },
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Carries out `writes` in order, one result per write, in one round
    /// trip where the backend can pipeline them (Redis). Each write is
    /// fenced and atomic on its own, as when sent alone; a failed write
    /// does not stop the ones after it. When the store cannot be reached
    /// every write fails `Unavailable`, though some may have landed; the
    /// engine retries whole-record puts (a failed claim as the plain puts
    /// of its agent and call), which is safe to repeat.
    async fn write_batch(&self, writes: &[Write]) -> Vec<Result<(), StoreError>> {
        let mut results = Vec::with_capacity(writes.len());
        for w in writes {
            results.push(match w {
                Write::Agent(a) => self.put_agent(a).await,
                Write::Call(c) => self.put_call(c).await,
                Write::Contact(c) => self.append_contact(c).await,
                Write::Callback(c) => self.put_callback(c).await,
                Write::Reserve { agent, call } => self.reserve(agent, call).await,
            });
        }
        results
    }
    /// Cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Creates or replaces an agent's record.
    async fn put_agent(&self, agent: &AgentRecord) -> Result<(), StoreError>;
    async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError>;
    /// Agents ordered by id, strictly after `after`, at most `limit`.
    async fn list_agents(
        &self,
        after: Option<&AgentId>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError>;
    /// Creates or replaces a call's record.
    async fn put_call(&self, call: &CallRecord) -> Result<(), StoreError>;
    async fn get_call(&self, id: &CallId) -> Result<Option<CallRecord>, StoreError>;
    /// Calls newest first, strictly after `after`, at most `limit`.
    async fn list_calls(
        &self,
        filter: &CallFilter,
        after: Option<&CallCursor>,
        limit: usize,
    ) -> Result<Vec<CallRecord>, StoreError>;
    /// Claims an agent for a call in one atomic step: the agent's record
    /// (now reserved) and the call's (now offering) are written together, and
    /// only if the stored agent is still available. `Conflict` otherwise.
    async fn reserve(&self, agent: &AgentRecord, call: &CallRecord) -> Result<(), StoreError> {
        self.put_agent(agent).await?;
        self.put_call(call).await
    }
    /// Appends a handled contact.
    async fn append_contact(&self, contact: &ContactRecord) -> Result<(), StoreError>;
    /// A customer's contacts, newest first (by end of wrap-up), at most `limit`.
    async fn contacts_of(&self, customer_key: &str, limit: usize) -> Result<Vec<ContactRecord>, StoreError>;
    /// Creates or replaces a recording's metadata.
    async fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError>;
    async fn get_recording(&self, call: &CallId) -> Result<Option<RecordingRecord>, StoreError>;
    /// Recordings newest first (by start), strictly after `after`, at most `limit`.
    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        after: Option<&RecordingCursor>,
        limit: usize,
    ) -> Result<Vec<RecordingRecord>, StoreError>;
    /// Creates or replaces a monitoring session's audit entry.
    async fn put_monitor_session(&self, session: &MonitorSessionRecord) -> Result<(), StoreError>;
    /// Monitoring sessions newest first, of one call or of all, strictly
    /// older than `after` (start time, session id), at most `limit`.
    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        after: Option<&(Timestamp, String)>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError>;
    /// Contacts whose wrap-up ended in `[from, to)`, oldest first, at most `limit`.
    async fn contacts_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<ContactRecord>, StoreError>;
    /// Creates or replaces a callback, with the routing node's fence.
    async fn put_callback(&self, cb: &CallbackRecord) -> Result<(), StoreError>;
    async fn get_callback(&self, id: &CallbackId) -> Result<Option<CallbackRecord>, StoreError>;
    /// Callbacks newest first (by creation), strictly after `after`, at most `limit`.
    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&CallbackCursor>,
        limit: usize,
    ) -> Result<Vec<CallbackRecord>, StoreError>;
    /// Every callback that can still fire (open, or reached with its request
    /// still to close): what a restarted or new routing node restores.
    async fn live_callbacks(&self) -> Result<Vec<CallbackRecord>, StoreError>;
    /// Stores a grade (a call may be graded more than once).
    async fn put_grade(&self, grade: &GradeRecord) -> Result<(), StoreError>;
    /// Grades given in `[from, to)`, oldest first, at most `limit`.
    async fn grades_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<GradeRecord>, StoreError>;
    /// Stores a call's satisfaction rating (one per call: the last one wins).
    async fn put_survey(&self, survey: &SurveyRecord) -> Result<(), StoreError>;
    /// Ratings given in `[from, to)`, oldest first, at most `limit`.
    async fn surveys_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<SurveyRecord>, StoreError>;
    /// Creates or replaces an agent's time in each state over one UTC day.
    async fn put_agent_day(&self, day: &AgentDayRecord) -> Result<(), StoreError>;
    /// Agent days starting in `[from, to)`, at most `limit`.
    async fn agent_days_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<AgentDayRecord>, StoreError>;
    /// Keeps a mutating request's reply under its idempotency key for `ttl`,
    /// so a retry gets it even from another routing node. Opaque text.
    async fn keep_reply(&self, key: &str, reply: &str, ttl: std::time::Duration) -> Result<(), StoreError>;
    /// A kept reply that has not expired.
    async fn kept_reply(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Deletes at most `limit` records of `kind` older than `before`
    /// (retention), never a live one; how many it deleted. Called again
    /// while it deletes `limit`.
    async fn prune(&self, kind: RecordKind, before: Timestamp, limit: usize) -> Result<u64, StoreError>;
    /// Blanks one customer's personal data in their ended records and files
    /// them under a pseudonym (see [`erasure`]); idempotent.
    async fn erase_customer(&self, erasure: &erasure::CustomerErasure)
        -> Result<erasure::Erased, StoreError>;
}
