//! Revocations in this process, journalled to the embedded store's file
//! when it has one (on disk before they are in the map, so a restart does
//! not bring a revoked sign-in back).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Revocation, SessionStore};
use crate::store::journal::{Journal, Table};
use crate::store::StoreError;

#[derive(Default)]
struct Inner {
    revision: u64,
    by_subject: HashMap<String, Revocation>,
}

#[derive(Default)]
pub struct MemorySessions {
    /// Held across the (short, blocking) journal write so the file and the
    /// map agree on which revocation is the latest.
    inner: Mutex<Inner>,
    journal: Option<Journal>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("embedded sessions: a writer panicked".into())
}

impl MemorySessions {
    /// Revocations kept in `journal`'s file (reloaded from it), or in
    /// memory only.
    pub fn open(journal: Option<Journal>) -> Result<Self, StoreError> {
        let mut inner = Inner::default();
        if let Some(j) = &journal {
            for (key, json) in j.load(Table::Revocations)? {
                let r: Revocation = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    key: format!("revocations/{key}"),
                    reason: e.to_string(),
                })?;
                inner.by_subject.insert(r.subject.clone(), r);
            }
            inner.revision = inner.by_subject.len() as u64;
        }
        Ok(MemorySessions {
            inner: Mutex::new(inner),
            journal,
        })
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(poisoned)?;
        if let Some(j) = &self.journal {
            let json = serde_json::to_string(revocation)
                .map_err(|e| StoreError::Unavailable(format!("cannot encode a revocation: {e}")))?;
            j.write_now(vec![(Table::Revocations, revocation.subject.clone(), Some(json))])?;
        }
        inner
            .by_subject
            .insert(revocation.subject.clone(), revocation.clone());
        inner.revision += 1;
        Ok(())
    }

    async fn revocations_revision(&self) -> Result<u64, StoreError> {
        Ok(self.inner.lock().map_err(poisoned)?.revision)
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        Ok(self
            .inner
            .lock()
            .map_err(poisoned)?
            .by_subject
            .values()
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_sessions_meet_the_contract_and_keep_revocations_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.redb");
        {
            let journal = Journal::open(&path).unwrap();
            super::super::conformance::run(&MemorySessions::open(Some(journal)).unwrap()).await;
        }
        let reopened = MemorySessions::open(Some(Journal::open(&path).unwrap())).unwrap();
        assert_eq!(reopened.revocations().await.unwrap().len(), 2);
        assert_ne!(reopened.revocations_revision().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_in_memory_sessions_meet_the_contract() {
        super::super::conformance::run(&MemorySessions::default()).await;
    }
}
