//! The audit trail in this process, journalled to the embedded store's
//! file when it has one (on disk before it is listed).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{parse_id, AuditEvent, AuditLog, AuditQuery, MAX_EVENTS, SCAN};
use crate::store::journal::{Journal, Table};
use crate::store::StoreError;

#[derive(Default)]
struct Inner {
    /// (ms, seq) -> event, its id filled in.
    events: BTreeMap<(u64, u64), AuditEvent>,
    /// The last id given: ids never go back, even if the clock does.
    last: (u64, u64),
}

#[derive(Default)]
pub struct MemoryAudit {
    /// Held across the (short, blocking) journal write so ids land in order.
    inner: Mutex<Inner>,
    journal: Option<Journal>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("embedded audit trail: a writer panicked".into())
}

fn key((ms, seq): (u64, u64)) -> String {
    format!("{ms:020}-{seq:010}")
}

impl MemoryAudit {
    /// A trail kept in `journal`'s file (reloaded from it), or in memory
    /// only.
    pub fn open(journal: Option<Journal>) -> Result<Self, StoreError> {
        let mut inner = Inner::default();
        if let Some(j) = &journal {
            for (k, json) in j.load(Table::Audit)? {
                let corrupt = |reason: String| StoreError::Corrupt {
                    key: format!("audit/{k}"),
                    reason,
                };
                let at = parse_id(&k).ok_or_else(|| corrupt("bad id".into()))?;
                let mut e: AuditEvent = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
                e.id = format!("{}-{}", at.0, at.1);
                inner.last = inner.last.max(at);
                inner.events.insert(at, e);
            }
        }
        Ok(MemoryAudit {
            inner: Mutex::new(inner),
            journal,
        })
    }
}

#[async_trait]
impl AuditLog for MemoryAudit {
    async fn audit_prune(&self, before: crate::time::Timestamp) -> Result<u64, StoreError> {
        let mut inner = self.inner.lock().map_err(poisoned)?;
        let old: Vec<(u64, u64)> = inner
            .events
            .range(..(before.as_millis(), 0))
            .map(|(k, _)| *k)
            .collect();
        if let Some(j) = &self.journal {
            j.write_now(old.iter().map(|k| (Table::Audit, key(*k), None)).collect())?;
        }
        for k in &old {
            inner.events.remove(k);
        }
        Ok(old.len() as u64)
    }

    async fn audit_append(&self, event: &AuditEvent) -> Result<String, StoreError> {
        let mut inner = self.inner.lock().map_err(poisoned)?;
        let ms = event.at.as_millis();
        let at = if ms > inner.last.0 {
            (ms, 0)
        } else {
            (inner.last.0, inner.last.1 + 1)
        };
        let mut stored = event.clone();
        stored.id = String::new();
        let json = serde_json::to_string(&stored)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode an audit event: {e}")))?;
        let dropped = (inner.events.len() >= MAX_EVENTS)
            .then(|| inner.events.keys().next().copied())
            .flatten();
        if let Some(j) = &self.journal {
            let mut rows = vec![(Table::Audit, key(at), Some(json))];
            if let Some(old) = dropped {
                rows.push((Table::Audit, key(old), None));
            }
            j.write_now(rows)?;
        }
        if let Some(old) = dropped {
            inner.events.remove(&old);
        }
        stored.id = format!("{}-{}", at.0, at.1);
        inner.last = at;
        let id = stored.id.clone();
        inner.events.insert(at, stored);
        Ok(id)
    }

    async fn audit_events(
        &self,
        query: &AuditQuery,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<String>), StoreError> {
        let before = match before {
            Some(c) => Some(parse_id(c).ok_or_else(|| StoreError::Corrupt {
                key: "audit cursor".into(),
                reason: "not an event id".into(),
            })?),
            None => None,
        };
        let inner = self.inner.lock().map_err(poisoned)?;
        let range = match before {
            Some(b) => inner.events.range(..b),
            None => inner.events.range(..),
        };
        let mut out = Vec::new();
        let mut last = None;
        let mut more = false;
        for (scanned, (at, e)) in range.rev().enumerate() {
            if out.len() >= limit || scanned >= SCAN {
                more = true;
                break;
            }
            last = Some(*at);
            if query.matches(e) {
                out.push(e.clone());
            }
        }
        Ok((out, last.filter(|_| more).map(|(ms, seq)| format!("{ms}-{seq}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_trail_meets_the_contract_and_is_kept_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.redb");
        {
            let journal = Journal::open(&path).unwrap();
            super::super::conformance::run(&MemoryAudit::open(Some(journal)).unwrap()).await;
        }
        let reopened = MemoryAudit::open(Some(Journal::open(&path).unwrap())).unwrap();
        let (page, _) = reopened
            .audit_events(&AuditQuery::default(), None, 100)
            .await
            .unwrap();
        // What retention left (the events after its cut), and nothing it
        // deleted.
        assert!(!page.is_empty());
        assert!(
            page.iter()
                .all(|e| e.action == super::super::AuditAction::CustomerExported),
            "{page:?}"
        );
    }
}
