//! Where the admin catalog is kept: every object as JSON with the revision
//! of its last write, a change log by revision, and the audit of every
//! change (who, when, the object, before and after).
//!
//! Invariants every backend keeps (checked by `conformance::catalog`):
//! - a call of [`CatalogStore::catalog_write`] lands whole or not at all;
//!   each object it changes takes the next revision of one counter, in
//!   order, and leaves one audit record;
//! - a write expecting a revision the object no longer has (a stale etag)
//!   or expecting no object where one is fails, naming it, and nothing of
//!   its call is written ([`StoreError::Conflict`]);
//! - writing an object's current body again changes nothing: no revision,
//!   no audit (so re-running an import or a seed is harmless);
//! - [`CatalogStore::catalog_changes`] after revision `r` returns every
//!   object written since, oldest first, each once at its latest revision,
//!   a deleted one without a body: a reader that applies them in order and
//!   remembers the last revision misses nothing and never goes back.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
pub mod memory;
pub mod redis;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::time::Timestamp;
use hotline_core::catalog::{Kind, Revision};

pub use memory::MemoryCatalog;
pub use redis::RedisCatalog;

/// An object as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub kind: Kind,
    pub id: String,
    /// Its etag: the revision of its last write (or of its deletion).
    pub revision: Revision,
    /// Its JSON; none once deleted.
    pub body: Option<String>,
}

/// What a write requires of the object's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: an unconditional write (an import, an update without etag).
    Any,
    /// No object (a create).
    Absent,
    /// The object, at exactly this revision (an update or delete with etag).
    At(Revision),
}

/// One object's write within a [`CatalogStore::catalog_write`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogWrite {
    pub kind: Kind,
    pub id: String,
    pub expect: Expect,
    /// The new JSON; none deletes.
    pub body: Option<String>,
}

/// What an audit record says happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    Created,
    Updated,
    Deleted,
}

/// One change of one object: who made it, when, and the object before and
/// after (JSON; none where it did not exist).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub revision: Revision,
    pub at: Timestamp,
    pub actor: String,
    pub kind: Kind,
    pub id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl AuditRecord {
    pub fn action(&self) -> AuditAction {
        match (&self.before, &self.after) {
            (None, _) => AuditAction::Created,
            (Some(_), Some(_)) => AuditAction::Updated,
            (Some(_), None) => AuditAction::Deleted,
        }
    }
}

/// Which audit records a listing returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub kind: Option<Kind>,
    pub id: Option<String>,
}

impl AuditFilter {
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.kind.is_none_or(|k| k == r.kind) && self.id.as_ref().is_none_or(|id| *id == r.id)
    }
}

/// Audit records a listing looks through per call at most, so a filter
/// that matches little never scans the whole log at once (the listing's
/// cursor goes on from where it stopped).
pub const AUDIT_SCAN: usize = 5_000;

#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Carries out `writes` whole or not at all (see the module's
    /// invariants), as `actor` at `at`; the revision each object has after
    /// it, in order. Two writes of one object in one call are refused.
    async fn catalog_write(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<Vec<Revision>, StoreError>;

    /// [`Self::catalog_write`] only if the catalog was never written:
    /// whether it wrote. Several nodes starting on an empty store seed it
    /// once.
    async fn catalog_seed(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<bool, StoreError>;

    /// Objects written after `since`, oldest first, at most `limit`.
    async fn catalog_changes(&self, since: Revision, limit: usize) -> Result<Vec<StoredObject>, StoreError>;

    /// The revision of the catalog's last write (0: never written).
    async fn catalog_revision(&self) -> Result<Revision, StoreError>;

    async fn catalog_get(&self, kind: Kind, id: &str) -> Result<Option<StoredObject>, StoreError>;

    /// Audit records matching `filter`, newest first, older than `before`
    /// (all when none), at most `limit`; looks through at most
    /// [`AUDIT_SCAN`] records, and says where it stopped (the `before` to
    /// go on from; none at the log's start).
    async fn catalog_audit(
        &self,
        filter: &AuditFilter,
        before: Option<Revision>,
        limit: usize,
    ) -> Result<(Vec<AuditRecord>, Option<Revision>), StoreError>;
}

/// Refuses a call that writes one object twice.
fn distinct(writes: &[CatalogWrite]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    for w in writes {
        if !seen.insert((w.kind, w.id.as_str())) {
            return Err(StoreError::Conflict(format!(
                "{} {} is written twice in one change",
                w.kind, w.id
            )));
        }
    }
    Ok(())
}

/// The refusal of a write whose expectation failed.
fn stale(w: &CatalogWrite, current: Option<Revision>) -> StoreError {
    let id = hotline_core::error::quote(&w.id);
    StoreError::Conflict(match (w.expect, current) {
        (Expect::Absent, _) => format!("{} {id} already exists", w.kind),
        (Expect::At(r), Some(c)) => {
            format!("{} {id} changed since etag {r} (now {c}); read it again", w.kind)
        }
        (_, _) => format!("{} {id} does not exist", w.kind),
    })
}
