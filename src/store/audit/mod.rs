//! The audit trail: one append-only log of every sensitive action, on
//! every node's behalf (monitoring, recording playback and download, PCI
//! pauses, forced agent states, grades, callback changes, admin changes,
//! sign-ins and revocations, customer exports and erasures).
//!
//! Invariants every backend keeps (checked by [`conformance`]):
//! - an appended event is never changed; the log only grows, and drops its
//!   oldest events beyond [`MAX_EVENTS`];
//! - every event gets an id, ordered by when the store appended it, the
//!   same order on every node that reads it;
//! - [`AuditLog::audit_events`] lists newest first, continues strictly
//!   after its cursor, and looks through at most [`SCAN`] events per call
//!   (a filter that matches little never scans the whole log at once; the
//!   returned cursor goes on from where it stopped).

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
mod memory;
mod redis;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::time::Timestamp;

pub use memory::MemoryAudit;
pub use redis::RedisAudit;

/// Events kept at most (about 300 bytes each); the oldest go first.
pub const MAX_EVENTS: usize = 1_000_000;
/// Events one listing looks through at most.
pub const SCAN: usize = 5_000;

/// What was done. Events are named in the past tense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    MonitorStarted,
    RecordingPlayed,
    RecordingDownloaded,
    RecordingPaused,
    RecordingResumed,
    AgentStateForced,
    CallGraded,
    CallbackRescheduled,
    CallbackCancelled,
    CatalogChanged,
    CatalogImported,
    SignedIn,
    SessionsRevoked,
    CustomerExported,
    CustomerErased,
    /// A case was opened or changed (the change is named in the detail;
    /// the case's own timeline has every word).
    CaseChanged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = [
        AuditAction::MonitorStarted,
        AuditAction::RecordingPlayed,
        AuditAction::RecordingDownloaded,
        AuditAction::RecordingPaused,
        AuditAction::RecordingResumed,
        AuditAction::AgentStateForced,
        AuditAction::CallGraded,
        AuditAction::CallbackRescheduled,
        AuditAction::CallbackCancelled,
        AuditAction::CatalogChanged,
        AuditAction::CatalogImported,
        AuditAction::SignedIn,
        AuditAction::SessionsRevoked,
        AuditAction::CustomerExported,
        AuditAction::CustomerErased,
        AuditAction::CaseChanged,
    ];

    /// Its kebab-case name, as stored, filtered on and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::MonitorStarted => "monitor-started",
            AuditAction::RecordingPlayed => "recording-played",
            AuditAction::RecordingDownloaded => "recording-downloaded",
            AuditAction::RecordingPaused => "recording-paused",
            AuditAction::RecordingResumed => "recording-resumed",
            AuditAction::AgentStateForced => "agent-state-forced",
            AuditAction::CallGraded => "call-graded",
            AuditAction::CallbackRescheduled => "callback-rescheduled",
            AuditAction::CallbackCancelled => "callback-cancelled",
            AuditAction::CatalogChanged => "catalog-changed",
            AuditAction::CatalogImported => "catalog-imported",
            AuditAction::SignedIn => "signed-in",
            AuditAction::SessionsRevoked => "sessions-revoked",
            AuditAction::CustomerExported => "customer-exported",
            AuditAction::CustomerErased => "customer-erased",
            AuditAction::CaseChanged => "case-changed",
        }
    }

    pub fn parse(s: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One sensitive action: who (subject and role), what, on what, when, on
/// which node, with a short detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Its place in the log, given by the store (empty until appended).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub at: Timestamp,
    pub actor: String,
    pub role: String,
    pub action: AuditAction,
    /// `kind:id`, e.g. `call:0193...`, `agent:alice`, `customer:acme`.
    pub target: String,
    pub detail: String,
    /// The node that carried it out ("local" alone).
    pub node: String,
}

/// Which events a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// The target exactly, or every target of a kind with `kind:`.
    pub target: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl AuditQuery {
    pub fn matches(&self, e: &AuditEvent) -> bool {
        self.actor.as_ref().is_none_or(|a| *a == e.actor)
            && self.action.is_none_or(|a| a == e.action)
            && self.target.as_ref().is_none_or(|t| {
                if t.ends_with(':') {
                    e.target.starts_with(t.as_str())
                } else {
                    *t == e.target
                }
            })
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
    }
}

#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Appends `event` (its `id` is ignored); the id it got.
    async fn audit_append(&self, event: &AuditEvent) -> Result<String, StoreError>;

    /// Events matching `query`, newest first, after cursor `before` (an
    /// event id; none: from the newest), at most `limit`; and where to go
    /// on from (none: the log's start was reached).
    async fn audit_events(
        &self,
        query: &AuditQuery,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<String>), StoreError>;

    /// Deletes the events from before `before` (retention); how many.
    async fn audit_prune(&self, before: crate::time::Timestamp) -> Result<u64, StoreError>;
}

/// `ms-seq` as a pair that orders like the log.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
