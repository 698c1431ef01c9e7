//! Persistent and shared state: agents, calls and handled contacts.
//!
//! The routing core decides; the store records what was decided so that every
//! reader (supervisors on any node, reports, first-contact ownership) sees one
//! truth. Writes are whole records, last writer wins per record; contacts are
//! append-only. Recording metadata and the monitoring audit come from the
//! node carrying a call's audio, so they are never fenced. Every backend must pass [`conformance::run`].

pub mod conformance;
pub mod memory;
pub mod redis;

use async_trait::async_trait;

use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::ids::{AgentId, CallId, QueueName};
use crate::media::record::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;

pub use memory::MemoryStore;
pub use redis::{RedisOptions, RedisStore};

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

/// Position after which a call listing continues: calls are listed newest
/// first by (enqueued_at, id).
pub type CallCursor = (Timestamp, CallId);

#[async_trait]
pub trait Store: Send + Sync + 'static {
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
    /// Monitoring sessions newest first, of one call or of all, at most `limit`.
    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError>;
}
