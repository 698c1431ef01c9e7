//! A customer's erasure on Redis (see `store::erasure`): each record read,
//! blanked in Rust and written back. A customer's contacts move in one
//! MULTI/EXEC: each contact's JSON leaves the contact log and its old list
//! and the blanked JSON enters both under the pseudonym (the log's members
//! are the very strings the lists hold, so the old one is removed exactly).
//!
//! Unfenced on purpose: only records that no longer change are rewritten,
//! so no routing term can race them, and an erasure must work from any
//! node. Not atomic across records, but idempotent: a run cut short is
//! finished by the next.

use redis::AsyncCommands;

use super::{decode, encode, unavailable, RedisStore, CONTACTS_PER_CUSTOMER};
use crate::acd::ContactRecord;
use crate::store::erasure::{CustomerErasure, Erased};
use crate::store::StoreError;

impl RedisStore {
    pub(super) async fn erase(&self, e: &CustomerErasure) -> Result<Erased, StoreError> {
        let mut conn = self.conn();
        let mut erased = Erased::default();
        let log = self.keys.contact_log();
        let target = self.keys.contacts(&e.pseudonym);
        // Every contact of every key, read first...
        let mut moved: Vec<(String, String, u64, ContactRecord)> = Vec::new();
        let mut lists = Vec::new();
        for key in &e.keys {
            let list = self.keys.contacts(key);
            let raw: Vec<String> = conn.lrange(&list, 0, -1).await.map_err(unavailable)?;
            for old in raw {
                let contact: ContactRecord = decode(&list, &old)?;
                let blanked = e.contact(&contact);
                let at = contact.wrap_up_ended_at.as_millis();
                moved.push((old, encode(&blanked)?, at, blanked));
            }
            lists.push(list);
        }
        // ...then moved in one transaction, the pseudonym's list newest
        // first and bounded like any customer's.
        if !moved.is_empty() {
            moved.sort_by_key(|m| std::cmp::Reverse(m.2));
            let mut tx = redis::pipe();
            tx.atomic();
            for (old, blanked, at, _) in &moved {
                tx.zrem(&log, old).ignore().zadd(&log, blanked, *at).ignore();
            }
            for list in &lists {
                tx.del(list).ignore();
            }
            for (_, blanked, _, _) in &moved {
                tx.rpush(&target, blanked).ignore();
            }
            tx.ltrim(&target, 0, CONTACTS_PER_CUSTOMER - 1).ignore();
            tx.query_async::<()>(&mut conn).await.map_err(unavailable)?;
            erased.contacts = moved.len() as u64;
        }
        for id in &e.calls {
            erased.calls += self.rewrite(&self.keys.call(id.as_str()), |c| e.call(c)).await?;
            erased.recordings += self
                .rewrite(&self.keys.recording(id.as_str()), |r| e.recording(r))
                .await?;
        }
        for id in &e.callbacks {
            erased.callbacks += self
                .rewrite(&self.keys.callback(id.as_str()), |c| e.callback(c))
                .await?;
        }
        Ok(erased)
    }

    /// The record at `key` replaced by what `blank` makes of it (none:
    /// left alone); 1 when it was rewritten.
    async fn rewrite<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &str,
        blank: impl Fn(&T) -> Option<T>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let Some(json) = conn.get::<_, Option<String>>(key).await.map_err(unavailable)? else {
            return Ok(0);
        };
        let Some(blanked) = blank(&decode::<T>(key, &json)?) else {
            return Ok(0);
        };
        conn.set::<_, _, ()>(key, encode(&blanked)?)
            .await
            .map_err(unavailable)?;
        Ok(1)
    }
}
