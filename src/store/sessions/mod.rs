//! Where revoked sign-ins are kept: "sign this person out everywhere".
//!
//! A revocation names a subject (the principal's `sub`, an agent's id for
//! agents) and a time: every token of that subject whose sign-in
//! (`auth_time`, else `iat`) is older is refused from then on, on every
//! node. A later revocation of the same subject replaces the earlier one,
//! so the set holds at most one record per subject and never needs
//! trimming.
//!
//! Invariants every backend keeps (checked by [`conformance`]):
//! - a revocation that returned is in [`SessionStore::revocations`] of
//!   every reader that reads after it;
//! - [`SessionStore::revocations_revision`] changes with every revocation
//!   written, so a node polls one number and reads the set only when it
//!   moved.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
mod memory;
mod redis;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::time::Timestamp;

pub use memory::MemorySessions;
pub use redis::RedisSessions;

/// One subject's sign-ins before `at` are over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub subject: String,
    pub at: Timestamp,
    /// Who revoked them (for the audit and the console).
    pub actor: String,
    pub reason: String,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Records `revocation`, replacing any earlier one of its subject.
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError>;
    /// A number that moves with every revocation written (0: none ever).
    async fn revocations_revision(&self) -> Result<u64, StoreError>;
    /// Every revocation, one per subject.
    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;
}
