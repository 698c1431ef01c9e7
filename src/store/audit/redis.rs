//! The audit trail in Redis: a stream `{NS}:audit` (one field, the event's
//! JSON), capped near [`MAX_EVENTS`]. Stream ids are given by Redis, so
//! events from every node share one order.

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{AuditEvent, AuditLog, AuditQuery, MAX_EVENTS, SCAN};
use crate::store::StoreError;

pub struct RedisAudit {
    conn: ConnectionManager,
    /// `{NS}:audit`.
    key: String,
}

fn unavailable(e: ::redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

/// Stream entries read at a time.
const PAGE: usize = 500;

impl RedisAudit {
    /// The trail under `tag` (`{NS}`, the store's hash tag).
    pub(crate) fn new(conn: ConnectionManager, tag: &str) -> Self {
        RedisAudit {
            conn,
            key: format!("{tag}:audit"),
        }
    }
}

#[async_trait]
impl AuditLog for RedisAudit {
    async fn audit_prune(&self, before: crate::time::Timestamp) -> Result<u64, StoreError> {
        // Stream ids are `ms-seq`: everything before `before` ms goes.
        ::redis::cmd("XTRIM")
            .arg(&self.key)
            .arg("MINID")
            .arg(format!("{}-0", before.as_millis()))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| StoreError::Unavailable(format!("trimming the audit trail: {e}")))
    }

    async fn audit_append(&self, event: &AuditEvent) -> Result<String, StoreError> {
        let mut stored = event.clone();
        stored.id = String::new();
        let json = serde_json::to_string(&stored)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode an audit event: {e}")))?;
        ::redis::cmd("XADD")
            .arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_EVENTS)
            .arg("*")
            .arg("e")
            .arg(json)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn audit_events(
        &self,
        query: &AuditQuery,
        before: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, Option<String>), StoreError> {
        if let Some(b) = before {
            if super::parse_id(b).is_none() {
                return Err(StoreError::Corrupt {
                    key: "audit cursor".into(),
                    reason: "not an event id".into(),
                });
            }
        }
        let mut end = before.map(|b| format!("({b}")).unwrap_or_else(|| "+".into());
        let mut out = Vec::new();
        let mut scanned = 0;
        let mut last: Option<String> = None;
        loop {
            let want = PAGE.min(SCAN - scanned);
            let page: Vec<(String, Vec<String>)> = ::redis::cmd("XREVRANGE")
                .arg(&self.key)
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(want)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            let exhausted = page.len() < want;
            for (id, fields) in page {
                if out.len() >= limit || scanned >= SCAN {
                    return Ok((out, last));
                }
                scanned += 1;
                let json = fields.get(1).ok_or_else(|| StoreError::Corrupt {
                    key: format!("{}/{id}", self.key),
                    reason: "no event".into(),
                })?;
                let mut e: AuditEvent = serde_json::from_str(json).map_err(|err| StoreError::Corrupt {
                    key: format!("{}/{id}", self.key),
                    reason: err.to_string(),
                })?;
                end = format!("({id}");
                last = Some(id.clone());
                if query.matches(&e) {
                    e.id = id;
                    out.push(e);
                }
            }
            if exhausted {
                return Ok((out, None));
            }
            if out.len() >= limit || scanned >= SCAN {
                return Ok((out, last));
            }
        }
    }
}
