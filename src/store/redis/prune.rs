//! Retention on Redis: the oldest members of a kind's time index (its
//! score is the record's time), their records checked where a live one
//! must stay (callbacks, monitoring sessions, recordings), then each
//! record and its index entries removed in one MULTI/EXEC per pass.
//!
//! Unfenced: only records that no longer change are removed, so any node
//! may sweep; two nodes sweeping at once remove each record once (a
//! second DEL or ZREM of it does nothing).

use redis::AsyncCommands;

use super::{decode, unavailable, RedisStore};
use crate::acd::ContactRecord;
use crate::callback::CallbackRecord;
use crate::recording::{MonitorSessionRecord, RecordingRecord};
use crate::store::{RecordKind, StoreError};
use crate::time::Timestamp;

impl RedisStore {
    /// The members of `index` scored before `before`, oldest first, from
    /// the `skip`th.
    async fn older(
        &self,
        index: &str,
        before: Timestamp,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        redis::cmd("ZRANGE")
            .arg(index)
            .arg("-inf")
            .arg(format!("({}", before.as_millis()))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(skip)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    /// Up to `limit` members of `index` scored before `before` whose
    /// record (at `key(id)`) `done` says may go: live ones are stepped
    /// over, however many come first.
    async fn older_finished<T: serde::de::DeserializeOwned>(
        &self,
        index: &str,
        before: Timestamp,
        limit: usize,
        key: impl Fn(&str) -> String,
        done: impl Fn(&T) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut skip = 0;
        let mut conn = self.conn();
        while out.len() < limit {
            let page = self.older(index, before, skip, limit).await?;
            skip += page.len();
            let last = page.len() < limit;
            if page.is_empty() {
                break;
            }
            // The page's records in one round trip.
            let keys: Vec<String> = page.iter().map(|id| key(id)).collect();
            let records: Vec<Option<String>> = conn.mget(&keys).await.map_err(unavailable)?;
            for ((id, k), json) in page.into_iter().zip(&keys).zip(records) {
                match json {
                    Some(json) if !done(&decode::<T>(k, &json)?) => {}
                    // A record already gone leaves only its index entry.
                    _ => out.push(id),
                }
            }
            if last {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    pub(super) async fn prune_kind(
        &self,
        kind: RecordKind,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let keys = &self.keys;
        let mut tx = redis::pipe();
        tx.atomic();
        let n = match kind {
            RecordKind::Contacts => {
                let log = keys.contact_log();
                let members = self.older(&log, before, 0, limit).await?;
                for m in &members {
                    let c: ContactRecord = decode(&log, m)?;
                    tx.zrem(&log, m)
                        .ignore()
                        .lrem(keys.contacts(&c.customer_key), 0, m)
                        .ignore();
                }
                members.len()
            }
            RecordKind::Calls => {
                let ids = self.older(&keys.ended(), before, 0, limit).await?;
                for id in &ids {
                    tx.del(keys.call(id))
                        .ignore()
                        .zrem(keys.calls(), id)
                        .ignore()
                        .zrem(keys.ended(), id)
                        .ignore();
                }
                ids.len()
            }
            RecordKind::Callbacks => {
                let ids = self
                    .older_finished(
                        &keys.callbacks(),
                        before,
                        limit,
                        |id| keys.callback(id),
                        |cb: &CallbackRecord| !cb.is_live(),
                    )
                    .await?;
                for id in &ids {
                    tx.del(keys.callback(id))
                        .ignore()
                        .zrem(keys.callbacks(), id)
                        .ignore()
                        .srem(keys.live_callbacks(), id)
                        .ignore();
                }
                ids.len()
            }
            RecordKind::Grades => {
                let members = self.older(&keys.grades(), before, 0, limit).await?;
                for m in &members {
                    tx.zrem(keys.grades(), m).ignore();
                }
                members.len()
            }
            RecordKind::Surveys => {
                let ids = self.older(&keys.surveys(), before, 0, limit).await?;
                for id in &ids {
                    tx.del(keys.survey(id)).ignore().zrem(keys.surveys(), id).ignore();
                }
                ids.len()
            }
            RecordKind::AgentDays => {
                let members = self.older(&keys.agent_days(), before, 0, limit).await?;
                for m in &members {
                    tx.del(keys.agent_day(m))
                        .ignore()
                        .zrem(keys.agent_days(), m)
                        .ignore();
                }
                members.len()
            }
            RecordKind::MonitorSessions => {
                let ids = self
                    .older_finished(
                        &keys.monitor_sessions(),
                        before,
                        limit,
                        |id| keys.monitor_session(id),
                        |s: &MonitorSessionRecord| s.ended_at.is_some(),
                    )
                    .await?;
                for id in &ids {
                    tx.del(keys.monitor_session(id))
                        .ignore()
                        .zrem(keys.monitor_sessions(), id)
                        .ignore();
                }
                ids.len()
            }
            RecordKind::Recordings => {
                let ids = self
                    .older_finished(
                        &keys.recordings(),
                        before,
                        limit,
                        |id| keys.recording(id),
                        |r: &RecordingRecord| !r.live,
                    )
                    .await?;
                for id in &ids {
                    tx.del(keys.recording(id))
                        .ignore()
                        .zrem(keys.recordings(), id)
                        .ignore();
                }
                ids.len()
            }
        };
        if n > 0 {
            tx.query_async::<()>(&mut self.conn())
                .await
                .map_err(unavailable)?;
        }
        Ok(n as u64)
    }
}
