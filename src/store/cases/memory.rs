//! Cases in this process, journalled to the embedded store's file when it
//! has one (on disk before they are in the maps).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{version, CaseCursor, CaseFilter, CaseStore};
use crate::store::journal::{Journal, Table};
use crate::store::StoreError;
use crate::time::Timestamp;
use hotline_core::case::CaseRecord;
use hotline_core::ids::{CaseId, CustomerId};

#[derive(Default)]
struct Inner {
    cases: HashMap<CaseId, CaseRecord>,
    /// (opened, id) of every case, for newest-first listing.
    order: BTreeSet<(Timestamp, CaseId)>,
    /// The same, of the cases not closed.
    open: BTreeSet<(Timestamp, CaseId)>,
    /// The same, per customer.
    by_customer: HashMap<CustomerId, BTreeSet<(Timestamp, CaseId)>>,
    /// The change feed: each case at its latest write's position.
    feed: BTreeMap<u64, CaseId>,
    /// Each case's position in `feed`.
    fed_at: HashMap<CaseId, u64>,
    /// The last position given.
    head: u64,
}

impl Inner {
    fn insert(&mut self, c: &CaseRecord) {
        let key = (c.opened_at, c.id.clone());
        self.order.insert(key.clone());
        self.by_customer
            .entry(c.customer.clone())
            .or_default()
            .insert(key.clone());
        if c.is_open() {
            self.open.insert(key);
        } else {
            self.open.remove(&key);
        }
        self.cases.insert(c.id.clone(), c.clone());
        self.head += 1;
        if let Some(old) = self.fed_at.insert(c.id.clone(), self.head) {
            self.feed.remove(&old);
        }
        self.feed.insert(self.head, c.id.clone());
    }
}

#[derive(Default)]
pub struct MemoryCases {
    /// Held across the (short, blocking) journal write, so the version
    /// check and the write are one step.
    inner: Mutex<Inner>,
    journal: Option<Journal>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("embedded cases: a writer panicked".into())
}

impl MemoryCases {
    /// Cases kept in `journal`'s file (reloaded from it), or in memory only.
    pub fn open(journal: Option<Journal>) -> Result<Self, StoreError> {
        let mut inner = Inner::default();
        if let Some(j) = &journal {
            for (key, json) in j.load(Table::Cases)? {
                let c: CaseRecord = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    key: format!("cases/{key}"),
                    reason: e.to_string(),
                })?;
                inner.insert(&c);
            }
        }
        Ok(MemoryCases {
            inner: Mutex::new(inner),
            journal,
        })
    }
}

#[async_trait]
impl CaseStore for MemoryCases {
    async fn put_case(&self, case: &CaseRecord, read: Option<u64>) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(poisoned)?;
        let stored = inner.cases.get(&case.id).map(version);
        if stored != read {
            return Err(StoreError::Conflict(match stored {
                Some(v) => format!("case {} moved on to version {v}", case.id),
                None => format!("case {} is not stored", case.id),
            }));
        }
        if let Some(j) = &self.journal {
            let json = serde_json::to_string(case)
                .map_err(|e| StoreError::Unavailable(format!("cannot encode a case: {e}")))?;
            j.write_now(vec![(Table::Cases, case.id.to_string(), Some(json))])?;
        }
        inner.insert(case);
        Ok(())
    }

    async fn prune_closed(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let mut inner = self.inner.lock().map_err(poisoned)?;
        let old: Vec<CaseRecord> = inner
            .cases
            .values()
            .filter(|c| c.closed_at.is_some_and(|t| t < before))
            .take(limit)
            .cloned()
            .collect();
        if let Some(j) = &self.journal {
            j.write_now(
                old.iter()
                    .map(|c| (Table::Cases, c.id.to_string(), None))
                    .collect(),
            )?;
        }
        for c in &old {
            let key = (c.opened_at, c.id.clone());
            inner.order.remove(&key);
            inner.open.remove(&key);
            if let Some(set) = inner.by_customer.get_mut(&c.customer) {
                set.remove(&key);
            }
            inner.cases.remove(&c.id);
            if let Some(at) = inner.fed_at.remove(&c.id) {
                inner.feed.remove(&at);
            }
        }
        Ok(old.len() as u64)
    }

    async fn feed_head(&self) -> Result<u64, StoreError> {
        Ok(self.inner.lock().map_err(poisoned)?.head)
    }

    async fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<(u64, CaseRecord)>, StoreError> {
        let inner = self.inner.lock().map_err(poisoned)?;
        Ok(inner
            .feed
            .range(after.saturating_add(1)..)
            .filter_map(|(&at, id)| inner.cases.get(id).map(|c| (at, c.clone())))
            .take(limit)
            .collect())
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        Ok(self.inner.lock().map_err(poisoned)?.cases.get(id).cloned())
    }

    async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<&CaseCursor>,
        limit: usize,
    ) -> Result<Vec<CaseRecord>, StoreError> {
        let inner = self.inner.lock().map_err(poisoned)?;
        let empty = BTreeSet::new();
        let index = match (&filter.customer, filter.open_only) {
            (Some(c), _) => inner.by_customer.get(c).unwrap_or(&empty),
            (None, true) => &inner.open,
            (None, false) => &inner.order,
        };
        let keys: Box<dyn Iterator<Item = &(Timestamp, CaseId)>> = match after {
            Some(cursor) => Box::new(index.range(..cursor.clone()).rev()),
            None => Box::new(index.iter().rev()),
        };
        Ok(keys
            .filter_map(|(_, id)| inner.cases.get(id))
            .filter(|c| filter.matches(c))
            .take(limit)
            .cloned()
            .collect())
    }
}
