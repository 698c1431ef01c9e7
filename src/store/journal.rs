//! The embedded store's disk: a redb file with the records of lasting value
//! (callbacks, contacts, ended calls, recordings, the monitoring audit,
//! grades, surveys, agent days), so a single node that restarts loses none
//! of them. Live agent and call state is not kept here: on a single node a
//! restart ends every live call anyway (the callers' audio went with the
//! process), and agents sign in again.
//!
//! Invariants: a write returns only once it is committed with
//! `Durability::Immediate` (fsynced); values are the same JSON the Redis
//! store writes; blocking file work runs on tokio's blocking pool, never on
//! the engine's thread.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::StoreError;

/// One table per kind of record: key -> JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Callbacks,
    Contacts,
    EndedCalls,
    Recordings,
    Monitors,
    Grades,
    Surveys,
    AgentDays,
    /// The admin catalog: `kind\nid` -> JSON (revision, body or none).
    CatalogObjects,
    /// The catalog's audit: zero-padded revision -> JSON `AuditRecord`.
    CatalogAudit,
    /// Revoked sign-ins: subject -> JSON `Revocation` (`sessions::MemorySessions`).
    Revocations,
    /// The audit trail: zero-padded `ms-seq` -> JSON `AuditEvent`
    /// (`audit::MemoryAudit`).
    Audit,
    /// Cases: id -> JSON `CaseRecord` (`cases::MemoryCases`).
    Cases,
}

impl Table {
    pub const ALL: [Table; 13] = [
        Table::Callbacks,
        Table::Contacts,
        Table::EndedCalls,
        Table::Recordings,
        Table::Monitors,
        Table::Grades,
        Table::Surveys,
        Table::AgentDays,
        Table::CatalogObjects,
        Table::CatalogAudit,
        Table::Revocations,
        Table::Audit,
        Table::Cases,
    ];

    fn definition(self) -> TableDefinition<'static, &'static str, &'static str> {
        TableDefinition::new(match self {
            Table::Callbacks => "callbacks",
            Table::Contacts => "contacts",
            Table::EndedCalls => "ended_calls",
            Table::Recordings => "recordings",
            Table::Monitors => "monitors",
            Table::Grades => "grades",
            Table::Surveys => "surveys",
            Table::AgentDays => "agent_days",
            Table::CatalogObjects => "catalog_objects",
            Table::CatalogAudit => "catalog_audit",
            Table::Revocations => "revocations",
            Table::Audit => "audit",
            Table::Cases => "cases",
        })
    }
}

fn failed(path: &str) -> impl Fn(redb::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("embedded store file {path}: {e}"))
}

#[derive(Clone)]
pub struct Journal {
    db: Arc<Database>,
    /// For error messages.
    path: Arc<str>,
}

impl Journal {
    /// Opens (or creates) the file, and its folder.
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| failed(&shown)(e.into()))?;
        let journal = Journal {
            db: Arc::new(db),
            path: shown.into(),
        };
        // Create every table up front so reads of a new file find them.
        journal.write_blocking(|txn| {
            for t in Table::ALL {
                txn.open_table(t.definition())?;
            }
            Ok(())
        })?;
        Ok(journal)
    }

    /// Every (key, JSON) of `table`, in key order.
    pub fn load(&self, table: Table) -> Result<Vec<(String, String)>, StoreError> {
        let read = || -> Result<Vec<(String, String)>, redb::Error> {
            let txn = self.db.begin_read()?;
            let t = txn.open_table(table.definition())?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                out.push((k.value().to_string(), v.value().to_string()));
            }
            Ok(out)
        };
        read().map_err(failed(&self.path))
    }

    fn write_blocking(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        let run = || -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            f(&txn)?;
            txn.commit()?;
            Ok(())
        };
        run().map_err(failed(&self.path))
    }

    /// Writes `key` (and removes `remove`) in one committed transaction.
    pub async fn put(
        &self,
        table: Table,
        key: String,
        json: String,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        let journal = self.clone();
        tokio::task::spawn_blocking(move || {
            journal.write_blocking(|txn| {
                let mut t = txn.open_table(table.definition())?;
                t.insert(key.as_str(), json.as_str())?;
                for k in &remove {
                    t.remove(k.as_str())?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("embedded store writer: {e}")))?
    }

    /// Removes `keys` of `table` in one committed transaction.
    pub async fn remove(&self, table: Table, keys: Vec<String>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let journal = self.clone();
        tokio::task::spawn_blocking(move || {
            journal.write_blocking(|txn| {
                let mut t = txn.open_table(table.definition())?;
                for k in &keys {
                    t.remove(k.as_str())?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("embedded store writer: {e}")))?
    }

    /// Writes (some) and removes (none) rows of several tables in one
    /// committed transaction, on this thread: for a caller that must hold
    /// its own lock until the rows are on disk (the catalog's revisions).
    pub fn write_now(&self, rows: Vec<(Table, String, Option<String>)>) -> Result<(), StoreError> {
        self.write_blocking(|txn| {
            for (table, key, value) in &rows {
                let mut t = txn.open_table(table.definition())?;
                match value {
                    Some(v) => {
                        t.insert(key.as_str(), v.as_str())?;
                    }
                    None => {
                        t.remove(key.as_str())?;
                    }
                }
            }
            Ok(())
        })
    }
}
