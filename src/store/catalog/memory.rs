//! The embedded catalog: maps behind a lock, journalled to the embedded
//! store's file when it has one (an object and its audit record are on
//! disk, in one transaction, before they are in the maps).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::store::journal::{Journal, Table};

/// Audit records kept at most; the oldest go first.
const MAX_AUDIT: usize = 1_000_000;

#[derive(Default)]
struct Inner {
    revision: Revision,
    /// (kind, id) -> (revision, body; none = deleted).
    objects: HashMap<(Kind, String), (Revision, Option<String>)>,
    /// The change log: each object once, at its latest revision.
    log: BTreeMap<Revision, (Kind, String)>,
    audit: BTreeMap<Revision, AuditRecord>,
}

pub struct MemoryCatalog {
    /// Held for map operations only; a journalled write holds it across
    /// the (blocking, short) file transaction so revisions land in order.
    inner: Mutex<Inner>,
    journal: Option<Journal>,
}

fn object_key(kind: Kind, id: &str) -> String {
    format!("{}\n{id}", kind.as_str())
}

fn audit_key(r: Revision) -> String {
    format!("{:020}", r.0)
}

fn corrupt(key: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

fn lock_failed<T>(_: T) -> StoreError {
    StoreError::Unavailable("embedded catalog: a writer panicked".into())
}

impl MemoryCatalog {
    /// A catalog kept in `journal`'s file (reloaded from it), or in memory
    /// only.
    pub fn open(journal: Option<Journal>) -> Result<Self, StoreError> {
        let mut inner = Inner::default();
        if let Some(j) = &journal {
            for (key, value) in j.load(Table::CatalogObjects)? {
                let (kind, id) = key.split_once('\n').ok_or_else(|| corrupt(&key, "no kind"))?;
                let kind = Kind::parse(kind).ok_or_else(|| corrupt(&key, "unknown kind"))?;
                let stored: (Revision, Option<String>) =
                    serde_json::from_str(&value).map_err(|e| corrupt(&key, e))?;
                inner.revision = inner.revision.max(stored.0);
                inner.log.insert(stored.0, (kind, id.to_string()));
                inner.objects.insert((kind, id.to_string()), stored);
            }
            for (key, value) in j.load(Table::CatalogAudit)? {
                let r: AuditRecord = serde_json::from_str(&value).map_err(|e| corrupt(&key, e))?;
                inner.revision = inner.revision.max(r.revision);
                inner.audit.insert(r.revision, r);
            }
        }
        Ok(MemoryCatalog {
            inner: Mutex::new(inner),
            journal,
        })
    }

    fn write(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
        only_if_empty: bool,
    ) -> Result<Option<Vec<Revision>>, StoreError> {
        distinct(writes)?;
        let mut inner = self.inner.lock().map_err(lock_failed)?;
        if only_if_empty && inner.revision != Revision(0) {
            return Ok(None);
        }
        for w in writes {
            let current = inner
                .objects
                .get(&(w.kind, w.id.clone()))
                .filter(|(_, body)| body.is_some())
                .map(|(r, _)| *r);
            let ok = match w.expect {
                Expect::Any => true,
                Expect::Absent => current.is_none(),
                Expect::At(r) => current == Some(r),
            };
            if !ok {
                return Err(stale(w, current));
            }
        }
        let mut next = inner.revision;
        let mut revisions = Vec::with_capacity(writes.len());
        let mut changed: Vec<(usize, Revision, Option<String>)> = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            let (rev, before) = inner
                .objects
                .get(&(w.kind, w.id.clone()))
                .cloned()
                .unwrap_or((Revision(0), None));
            if before == w.body {
                revisions.push(rev);
                continue;
            }
            next = Revision(next.0 + 1);
            revisions.push(next);
            changed.push((i, next, before));
        }
        let audit: Vec<AuditRecord> = changed
            .iter()
            .map(|(i, rev, before)| AuditRecord {
                revision: *rev,
                at,
                actor: actor.to_string(),
                kind: writes[*i].kind,
                id: writes[*i].id.clone(),
                before: before.clone(),
                after: writes[*i].body.clone(),
            })
            .collect();
        if let Some(j) = &self.journal {
            let mut rows = Vec::with_capacity(changed.len() * 2);
            for ((i, rev, _), record) in changed.iter().zip(&audit) {
                let w = &writes[*i];
                let stored = serde_json::to_string(&(rev, &w.body)).map_err(|e| corrupt(&w.id, e))?;
                rows.push((Table::CatalogObjects, object_key(w.kind, &w.id), Some(stored)));
                let json = serde_json::to_string(record).map_err(|e| corrupt(&w.id, e))?;
                rows.push((Table::CatalogAudit, audit_key(*rev), Some(json)));
            }
            let over = (inner.audit.len() + audit.len()).saturating_sub(MAX_AUDIT);
            for old in inner.audit.keys().take(over) {
                rows.push((Table::CatalogAudit, audit_key(*old), None));
            }
            j.write_now(rows)?;
        }
        for ((i, rev, _), record) in changed.into_iter().zip(audit) {
            let w = &writes[i];
            let key = (w.kind, w.id.clone());
            if let Some((old, _)) = inner.objects.insert(key.clone(), (rev, w.body.clone())) {
                inner.log.remove(&old);
            }
            inner.log.insert(rev, key);
            inner.audit.insert(rev, record);
        }
        while inner.audit.len() > MAX_AUDIT {
            inner.audit.pop_first();
        }
        inner.revision = next;
        Ok(Some(revisions))
    }
}

#[async_trait]
impl CatalogStore for MemoryCatalog {
    async fn catalog_write(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<Vec<Revision>, StoreError> {
        Ok(self.write(actor, at, writes, false)?.unwrap_or_default())
    }

    async fn catalog_seed(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<bool, StoreError> {
        Ok(self.write(actor, at, writes, true)?.is_some())
    }

    async fn catalog_changes(&self, since: Revision, limit: usize) -> Result<Vec<StoredObject>, StoreError> {
        let inner = self.inner.lock().map_err(lock_failed)?;
        Ok(inner
            .log
            .range(Revision(since.0 + 1)..)
            .take(limit)
            .filter_map(|(rev, (kind, id))| {
                let (_, body) = inner.objects.get(&(*kind, id.clone()))?;
                Some(StoredObject {
                    kind: *kind,
                    id: id.clone(),
                    revision: *rev,
                    body: body.clone(),
                })
            })
            .collect())
    }

    async fn catalog_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.lock().map_err(lock_failed)?.revision)
    }

    async fn catalog_get(&self, kind: Kind, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let inner = self.inner.lock().map_err(lock_failed)?;
        Ok(inner
            .objects
            .get(&(kind, id.to_string()))
            .map(|(revision, body)| StoredObject {
                kind,
                id: id.to_string(),
                revision: *revision,
                body: body.clone(),
            }))
    }

    async fn catalog_audit(
        &self,
        filter: &AuditFilter,
        before: Option<Revision>,
        limit: usize,
    ) -> Result<(Vec<AuditRecord>, Option<Revision>), StoreError> {
        let inner = self.inner.lock().map_err(lock_failed)?;
        let end = before.unwrap_or(Revision(u64::MAX));
        let mut out = Vec::new();
        let mut last = None;
        for (rev, r) in inner.audit.range(..end).rev().take(AUDIT_SCAN) {
            last = Some(*rev);
            if filter.matches(r) {
                out.push(r.clone());
                if out.len() >= limit {
                    break;
                }
            }
        }
        let more = last.filter(|l| inner.audit.range(..*l).next().is_some());
        Ok((out, more))
    }
}
