//! Cases in Redis: `{NS}:case:<id>` (JSON) and `{NS}:case:<id>:v` (its
//! version), indexed by opened time in `{NS}:cases`, `{NS}:cases:open`
//! and `{NS}:cases:customer:<id>`, and by closing time in
//! `{NS}:cases:closed` (sorted sets of ids). The change feed is
//! `{NS}:cases:feed`, ids scored by their latest write's position, taken
//! from the counter `{NS}:cases:seq`. One Lua script checks the version
//! and writes the record, its indexes and its feed position together.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{version, CaseCursor, CaseFilter, CaseStore};
use crate::store::StoreError;
use crate::time::Timestamp;
use hotline_core::case::CaseRecord;
use hotline_core::ids::CaseId;

/// KEYS: case, version, cases, open cases, the customer's cases, closed
/// cases, the feed's counter, the feed.
/// ARGV: json, version read ('' for a new case), new version, opened ms,
/// id, open ('1' or '0'), closed ms ('' while open).
const PUT_CASE: &str = r#"
local v = redis.call('GET', KEYS[2])
if ARGV[2] == '' then
  if v then return redis.error_reply('CONFLICT case ' .. ARGV[5] .. ' exists') end
elseif v ~= ARGV[2] then
  return redis.error_reply('CONFLICT case ' .. ARGV[5] .. ' moved on to version ' .. tostring(v))
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[5])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
else
  redis.call('ZREM', KEYS[4], ARGV[5])
end
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[5])
end
redis.call('ZADD', KEYS[8], redis.call('INCR', KEYS[7]), ARGV[5])
return 1
"#;

/// Index entries read at a time while listing.
const PAGE: usize = 200;

pub struct RedisCases {
    conn: ConnectionManager,
    /// `{NS}`.
    tag: String,
    put: Script,
}

fn unavailable(e: ::redis::RedisError) -> StoreError {
    match e.code() {
        Some("CONFLICT") => StoreError::Conflict(e.detail().unwrap_or("case moved on").to_string()),
        _ => StoreError::Unavailable(format!("redis: {e}")),
    }
}

impl RedisCases {
    /// The cases under `tag` (`{NS}`, the store's hash tag).
    pub(crate) fn new(conn: ConnectionManager, tag: &str) -> Self {
        RedisCases {
            conn,
            tag: tag.to_string(),
            put: Script::new(PUT_CASE),
        }
    }

    fn case_key(&self, id: &str) -> String {
        format!("{}:case:{id}", self.tag)
    }
}

#[async_trait]
impl CaseStore for RedisCases {
    async fn put_case(&self, case: &CaseRecord, read: Option<u64>) -> Result<(), StoreError> {
        let json = serde_json::to_string(case)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode a case: {e}")))?;
        let id = case.id.as_str();
        let key = self.case_key(id);
        self.put
            .key(&key)
            .key(format!("{key}:v"))
            .key(format!("{}:cases", self.tag))
            .key(format!("{}:cases:open", self.tag))
            .key(format!("{}:cases:customer:{}", self.tag, case.customer))
            .key(format!("{}:cases:closed", self.tag))
            .key(format!("{}:cases:seq", self.tag))
            .key(format!("{}:cases:feed", self.tag))
            .arg(json)
            .arg(read.map(|v| v.to_string()).unwrap_or_default())
            .arg(version(case))
            .arg(case.opened_at.as_millis())
            .arg(id)
            .arg(if case.is_open() { "1" } else { "0" })
            .arg(
                case.closed_at
                    .map(|t| t.as_millis().to_string())
                    .unwrap_or_default(),
            )
            .invoke_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn prune_closed(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError> {
        let closed = format!("{}:cases:closed", self.tag);
        let mut conn = self.conn.clone();
        let ids: Vec<String> = ::redis::cmd("ZRANGE")
            .arg(&closed)
            .arg("-inf")
            .arg(format!("({}", before.as_millis()))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = ids.iter().map(|id| self.case_key(id)).collect();
        let found: Vec<Option<String>> = conn.mget(&keys).await.map_err(unavailable)?;
        let mut tx = ::redis::pipe();
        tx.atomic();
        for ((id, key), json) in ids.iter().zip(&keys).zip(found) {
            if let Some(c) = json.and_then(|j| serde_json::from_str::<CaseRecord>(&j).ok()) {
                tx.zrem(format!("{}:cases:customer:{}", self.tag, c.customer), id)
                    .ignore();
            }
            tx.del(key)
                .ignore()
                .del(format!("{key}:v"))
                .ignore()
                .zrem(format!("{}:cases", self.tag), id)
                .ignore()
                .zrem(format!("{}:cases:open", self.tag), id)
                .ignore()
                .zrem(&closed, id)
                .ignore()
                .zrem(format!("{}:cases:feed", self.tag), id)
                .ignore();
        }
        tx.query_async::<()>(&mut conn).await.map_err(unavailable)?;
        Ok(ids.len() as u64)
    }

    async fn feed_head(&self) -> Result<u64, StoreError> {
        let head: Option<u64> = self
            .conn
            .clone()
            .get(format!("{}:cases:seq", self.tag))
            .await
            .map_err(unavailable)?;
        Ok(head.unwrap_or(0))
    }

    async fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<(u64, CaseRecord)>, StoreError> {
        let mut conn = self.conn.clone();
        let page: Vec<(String, u64)> = ::redis::cmd("ZRANGE")
            .arg(format!("{}:cases:feed", self.tag))
            .arg(format!("({after}"))
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = page.iter().map(|(id, _)| self.case_key(id)).collect();
        let found: Vec<Option<String>> = conn.mget(&keys).await.map_err(unavailable)?;
        let mut out = Vec::with_capacity(page.len());
        // A case deleted between the two reads is gone: skipped.
        for (((_, at), key), json) in page.into_iter().zip(keys).zip(found) {
            let Some(json) = json else { continue };
            let c = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                key,
                reason: e.to_string(),
            })?;
            out.push((at, c));
        }
        Ok(out)
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<CaseRecord>, StoreError> {
        let key = self.case_key(id.as_str());
        let json: Option<String> = self.conn.clone().get(&key).await.map_err(unavailable)?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StoreError::Corrupt {
                key,
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<&CaseCursor>,
        limit: usize,
    ) -> Result<Vec<CaseRecord>, StoreError> {
        let index = match (&filter.customer, filter.open_only) {
            (Some(c), _) => format!("{}:cases:customer:{c}", self.tag),
            (None, true) => format!("{}:cases:open", self.tag),
            (None, false) => format!("{}:cases", self.tag),
        };
        let max = after.map_or("+inf".to_string(), |(t, _)| t.as_millis().to_string());
        let mut out = Vec::new();
        let mut skip = 0;
        let mut conn = self.conn.clone();
        while out.len() < limit {
            // Newest first from the cursor's time; ids at that very time
            // that are not before the cursor's id are stepped over.
            let page: Vec<(String, u64)> = ::redis::cmd("ZRANGE")
                .arg(&index)
                .arg(&max)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(skip)
                .arg(PAGE)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            skip += page.len();
            let last = page.len() < PAGE;
            let ids: Vec<String> = page
                .into_iter()
                .filter(|(id, at)| {
                    after.is_none_or(|(t, cursor)| *at < t.as_millis() || id.as_str() < cursor.as_str())
                })
                .map(|(id, _)| id)
                .collect();
            if !ids.is_empty() {
                let keys: Vec<String> = ids.iter().map(|id| self.case_key(id)).collect();
                let found: Vec<Option<String>> = conn.mget(&keys).await.map_err(unavailable)?;
                for (key, json) in keys.into_iter().zip(found) {
                    let Some(json) = json else { continue };
                    let c: CaseRecord = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                        key,
                        reason: e.to_string(),
                    })?;
                    if filter.matches(&c) && out.len() < limit {
                        out.push(c);
                    }
                }
            }
            if last {
                break;
            }
        }
        Ok(out)
    }
}
