//! Where cases are kept (complaints, repair requests, inquiries; the pure
//! flow is `hotline_core::case`). A separate store, like the revoked
//! sign-ins and the audit trail: cases are written from any node (by the
//! case service, not the routing engine), so they are unfenced and
//! guarded by their own version instead.
//!
//! Invariants every backend keeps (checked by [`conformance`]):
//! - a case's version is the length of its timeline, which every change
//!   grows: a write names the version it read (none for a new case) and is
//!   refused with `Conflict` if the stored case moved on, so two
//!   supervisors' changes never silently overwrite each other;
//! - a customer's cases, and the open cases, are found without a scan;
//! - listings are newest opened first, paged by (opened, id);
//! - every write takes the next position of the store's change feed, and
//!   a case is found in the feed at its latest write: a node follows every
//!   case change made anywhere by reading the feed after the position it
//!   last read (`changes_since`), without a scan.
//!
//! The case service (`app::cases`) writes them; a customer's erasure
//! blanks their closed cases and retention sweeps closed ones, like every
//! other record.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
mod memory;
mod redis;

use async_trait::async_trait;

use super::StoreError;
use crate::time::Timestamp;
use hotline_core::case::{CaseKind, CaseRecord, CaseStatus};
use hotline_core::ids::{AgentId, CaseId, CustomerId};

pub use memory::MemoryCases;
pub use redis::RedisCases;

/// Where a listing goes on from: the last case's (opened, id).
pub type CaseCursor = (Timestamp, CaseId);

/// Which cases a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub customer: Option<CustomerId>,
    /// Only cases not closed.
    pub open_only: bool,
    /// Any of these statuses (all when empty).
    pub statuses: Vec<CaseStatus>,
    /// Only cases this agent owns.
    pub owner: Option<AgentId>,
    pub kind: Option<CaseKind>,
    pub category: Option<String>,
    /// Only cases handed to this team.
    pub team: Option<String>,
}

impl CaseFilter {
    pub fn matches(&self, c: &CaseRecord) -> bool {
        self.customer.as_ref().is_none_or(|id| &c.customer == id)
            && (!self.open_only || c.is_open())
            && (self.statuses.is_empty() || self.statuses.contains(&c.status))
            && self.owner.as_ref().is_none_or(|o| c.owner.as_ref() == Some(o))
            && self.kind.is_none_or(|k| c.kind == k)
            && self.category.as_ref().is_none_or(|k| &c.category == k)
            && self.team.as_ref().is_none_or(|t| c.team.as_ref() == Some(t))
    }
}

/// A case's version: the length of its timeline.
pub fn version(c: &CaseRecord) -> u64 {
    c.timeline.len() as u64
}

#[async_trait]
pub trait CaseStore: Send + Sync + 'static {
    /// Writes `case` if the stored one is at `read` (its version when it was
    /// read; none: there must be no such case yet).
    async fn put_case(&self, case: &CaseRecord, read: Option<u64>) -> Result<(), StoreError>;
    async fn get_case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError>;
    /// Cases matching `filter`, newest opened first, after `after`, at
    /// most `limit`.
    async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<&CaseCursor>,
        limit: usize,
    ) -> Result<Vec<CaseRecord>, StoreError>;
    /// The feed's last position (0 before any write).
    async fn feed_head(&self) -> Result<u64, StoreError>;
    /// Cases written after position `after`, at their latest write, in
    /// feed order (at most `limit`), each with that write's position.
    async fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<(u64, CaseRecord)>, StoreError>;
    /// Deletes at most `limit` cases closed before `before` (retention);
    /// how many. Open cases are kept however old.
    async fn prune_closed(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError>;
}
