//! The Redis store: the production backend, shared by every hotline node.
//!
//! Key schema (all keys share the hash tag `{NS}` so a Lua script may touch
//! any of them in Redis Cluster; NS is `store.namespace`, default `hotline`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{NS}:agent:<id>` | string | JSON `AgentRecord` |
//! | `{NS}:agents` | sorted set, score 0 | agent ids, for paging in id order (ZRANGEBYLEX) |
//! | `{NS}:call:<id>` | string | JSON `CallRecord` |
//! | `{NS}:calls` | sorted set, score = enqueued ms | every kept call, newest-first paging |
//! | `{NS}:calls:ended` | sorted set, score = ended ms | ended calls, oldest evicted past the bound |
//! | `{NS}:contacts:<customer>` | list, newest first | JSON `ContactRecord`s (bounded) |
//! | `{NS}:epoch` | integer | fencing token: the routing node's epoch |
//! | `{NS}:recording:<call>` | string | JSON `RecordingRecord` (unfenced) |
//! | `{NS}:recordings` | sorted set, score = started ms | recordings, newest-first paging |
//! | `{NS}:monitor:<session>` | string | JSON `MonitorSessionRecord` (unfenced) |
//! | `{NS}:monitors` | sorted set, score = started ms | monitoring audit, newest first |
//! | `{NS}:contactlog` | sorted set, score = wrap-up end ms | every contact's JSON, for time-range reports |
//! | `{NS}:callback:<id>` | string | JSON `CallbackRecord` (fenced) |
//! | `{NS}:callbacks` | sorted set, score = created ms | callbacks, newest-first paging |
//! | `{NS}:callbacks:live` | set | callbacks that can still fire: what a new routing node restores |
//! | `{NS}:grades` | sorted set, score = graded ms | JSON `GradeRecord`s |
//! | `{NS}:survey:<call>` | string | JSON `SurveyRecord` |
//! | `{NS}:surveys` | sorted set, score = rated ms | call ids of surveys |
//! | `{NS}:agentday:<day ms>:<agent>` | string | JSON `AgentDayRecord` (fenced) |
//! | `{NS}:agentdays` | sorted set, score = day ms | `<day ms>:<agent>` of agent days |
//! | `{NS}:reply:<principal>:<request id>` | string, expires | JSON reply of a mutating request, for retries (idempotency) |
//! | `{NS}:cat:*` | | the admin catalog (`catalog/redis.rs`) |
//!
//! Invariants: every write is one Lua script, so a record and its indexes
//! change together or not at all; a write carrying a fencing token other
//! than the current `{NS}:epoch` is refused (`StoreError::Fenced`), so a
//! node that lost the routing role can never overwrite its successor's
//! state. Keyspace notifications and pub/sub are never the state of record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script};

use super::{CallCursor, CallFilter, CallbackCursor, CallbackFilter, Store, StoreError, Write};
use crate::acd::{AgentRecord, CallRecord, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::quality::{GradeRecord, SurveyRecord};
use crate::recording::{MonitorSessionRecord, RecordingCursor, RecordingFilter, RecordingRecord};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

/// Contacts kept per customer; enough for ownership and FCR windows.
mod erase;
mod prune;
mod writes;

const CONTACTS_PER_CUSTOMER: isize = 200;

const FENCE_CHECK: &str = r#"
if ARGV[1] ~= '0' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED stale routing epoch ' .. ARGV[1])
end
"#;

/// KEYS: epoch, agent key, agents index. ARGV: fence, id, json.
const PUT_AGENT: &str = r#"
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return 1
"#;

/// KEYS: epoch, call key, calls index, ended index.
/// ARGV: fence, id, json, enqueued ms, ended ms or -1, max ended, call key prefix.
const PUT_CALL: &str = r#"
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
if ARGV[5] ~= '-1' then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
  local over = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[6])
  if over > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, over - 1)) do
      redis.call('DEL', ARGV[7] .. id)
      redis.call('ZREM', KEYS[3], id)
      redis.call('ZREM', KEYS[4], id)
    end
  end
end
return 1
"#;

/// KEYS: epoch, agent key, agents index, call key, calls index.
/// ARGV: fence, agent id, agent json, call id, call json, enqueued ms.
const RESERVE: &str = r#"
local current = redis.call('GET', KEYS[2])
if current then
  local state = cjson.decode(current)['state']
  if state ~= 'available' then
    return redis.error_reply('CONFLICT agent ' .. ARGV[2] .. ' is ' .. tostring(state))
  end
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('SET', KEYS[4], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[4])
return 1
"#;

/// KEYS: epoch, record key, index. ARGV: fence, member, json, score.
const PUT_INDEXED: &str = r#"
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
"#;

/// KEYS: epoch, contacts list, contact log. ARGV: fence, json, keep, score.
const APPEND_CONTACT: &str = r#"
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
"#;

/// KEYS: epoch, callback key, callbacks index, live set.
/// ARGV: fence, id, json, created ms, live ('1' or '0').
const PUT_CALLBACK: &str = r#"
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[4], ARGV[2])
else
  redis.call('SREM', KEYS[4], ARGV[2])
end
return 1
"#;

/// Key names for one namespace.
#[derive(Clone, Debug)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(namespace: &str) -> Self {
        Keys {
            prefix: format!("{{{namespace}}}"),
        }
    }
    fn epoch(&self) -> String {
        format!("{}:epoch", self.prefix)
    }
    fn agent(&self, id: &str) -> String {
        format!("{}:agent:{id}", self.prefix)
    }
    fn agents(&self) -> String {
        format!("{}:agents", self.prefix)
    }
    fn call_prefix(&self) -> String {
        format!("{}:call:", self.prefix)
    }
    fn call(&self, id: &str) -> String {
        format!("{}{id}", self.call_prefix())
    }
    fn calls(&self) -> String {
        format!("{}:calls", self.prefix)
    }
    fn ended(&self) -> String {
        format!("{}:calls:ended", self.prefix)
    }
    fn contacts(&self, customer: &str) -> String {
        format!("{}:contacts:{customer}", self.prefix)
    }
    fn recording(&self, call: &str) -> String {
        format!("{}:recording:{call}", self.prefix)
    }
    fn recordings(&self) -> String {
        format!("{}:recordings", self.prefix)
    }
    fn monitor_session(&self, id: &str) -> String {
        format!("{}:monitor:{id}", self.prefix)
    }
    fn monitor_sessions(&self) -> String {
        format!("{}:monitors", self.prefix)
    }
    fn contact_log(&self) -> String {
        format!("{}:contactlog", self.prefix)
    }
    fn callback(&self, id: &str) -> String {
        format!("{}:callback:{id}", self.prefix)
    }
    fn callbacks(&self) -> String {
        format!("{}:callbacks", self.prefix)
    }
    fn live_callbacks(&self) -> String {
        format!("{}:callbacks:live", self.prefix)
    }
    fn grades(&self) -> String {
        format!("{}:grades", self.prefix)
    }
    fn survey(&self, call: &str) -> String {
        format!("{}:survey:{call}", self.prefix)
    }
    fn surveys(&self) -> String {
        format!("{}:surveys", self.prefix)
    }
    fn agent_day(&self, member: &str) -> String {
        format!("{}:agentday:{member}", self.prefix)
    }
    fn reply(&self, key: &str) -> String {
        format!("{}:reply:{key}", self.prefix)
    }

    fn agent_days(&self) -> String {
        format!("{}:agentdays", self.prefix)
    }
}

/// How the store talks to Redis.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// `redis://host:port/db`.
    pub url: String,
    /// Key namespace (the hash tag), so several deployments can share a server.
    pub namespace: String,
    /// Ended calls kept for listing.
    pub max_ended_calls: usize,
    /// A command not answered in this time fails, so callers get UNAVAILABLE
    /// instead of hanging while Redis is away.
    pub response_timeout: Duration,
}

pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    max_ended_calls: usize,
    /// The fencing token writes carry; 0 writes unfenced (single node),
    /// [`STEPPED_DOWN`] refuses every fenced write without asking Redis.
    fence: Arc<AtomicU64>,
    put_agent: Script,
    put_call: Script,
    append_contact: Script,
    reserve: Script,
    put_callback: Script,
    put_agent_day: Script,
}

/// The fence of a node that has just stopped routing: its writes are
/// refused here, at once, while the old term's queued work drains (they
/// would be refused by Redis anyway, but only after a round trip, or a
/// timeout each while Redis is unreachable).
pub const STEPPED_DOWN: u64 = u64::MAX;

fn unavailable(e: RedisError) -> StoreError {
    if e.to_string().contains("FENCED") {
        StoreError::Fenced(e.to_string())
    } else if e.to_string().contains("CONFLICT") {
        StoreError::Conflict(e.to_string())
    } else {
        StoreError::Unavailable(format!("redis: {e}"))
    }
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        key: "(encoding)".into(),
        reason: e.to_string(),
    })
}

impl RedisStore {
    /// Connects lazily: a node starts even while Redis is down, reports
    /// itself unavailable, and reconnects in the background.
    pub fn connect(opts: &RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(opts.url.as_str())
            .map_err(|e| StoreError::Unavailable(format!("redis url {}: {e}", opts.url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.response_timeout))
            .set_response_timeout(Some(opts.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError::Unavailable(format!("redis: {e}")))?;
        Ok(RedisStore {
            conn,
            keys: Keys::new(&opts.namespace),
            max_ended_calls: opts.max_ended_calls.max(1),
            fence: Arc::new(AtomicU64::new(0)),
            put_agent: Script::new(&format!("{FENCE_CHECK}{PUT_AGENT}")),
            put_call: Script::new(&format!("{FENCE_CHECK}{PUT_CALL}")),
            append_contact: Script::new(&format!("{FENCE_CHECK}{APPEND_CONTACT}")),
            reserve: Script::new(&format!("{FENCE_CHECK}{RESERVE}")),
            put_callback: Script::new(&format!("{FENCE_CHECK}{PUT_CALLBACK}")),
            put_agent_day: Script::new(&format!("{FENCE_CHECK}{PUT_INDEXED}")),
        })
    }

    /// The admin catalog, on this store's connection and namespace.
    pub fn catalog(&self) -> super::catalog::RedisCatalog {
        super::catalog::RedisCatalog::new(self.conn(), &self.keys.prefix)
    }

    /// The audit trail, on this store's connection and namespace.
    pub fn audit(&self) -> super::audit::RedisAudit {
        super::audit::RedisAudit::new(self.conn(), &self.keys.prefix)
    }

    /// The cases, on this store's connection and namespace.
    pub fn cases(&self) -> super::cases::RedisCases {
        super::cases::RedisCases::new(self.conn(), &self.keys.prefix)
    }

    /// The revoked sign-ins, on this store's connection and namespace.
    pub fn sessions(&self) -> super::sessions::RedisSessions {
        super::sessions::RedisSessions::new(self.conn(), &self.keys.prefix)
    }

    /// The fencing token shared with whoever holds the routing role.
    pub fn fence(&self) -> Arc<AtomicU64> {
        self.fence.clone()
    }

    /// The token a fenced write carries; refused at once after a step-down.
    fn fence_token(&self) -> Result<u64, StoreError> {
        match self.fence.load(Ordering::SeqCst) {
            STEPPED_DOWN => Err(StoreError::Fenced(
                "this node stepped down from routing; its writes are refused".into(),
            )),
            fence => Ok(fence),
        }
    }

    /// Every write script, for loading them after Redis lost its cache.
    fn scripts(&self) -> [&Script; 6] {
        [
            &self.put_agent,
            &self.put_call,
            &self.append_contact,
            &self.reserve,
            &self.put_callback,
            &self.put_agent_day,
        ]
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn mget<T: serde::de::DeserializeOwned>(&self, keys: Vec<String>) -> Result<Vec<T>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = self.conn().mget(&keys).await.map_err(unavailable)?;
        keys.iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| decode(k, &v)))
            .collect()
    }

    /// Pages newest first through the records indexed by `index` (a sorted
    /// set scored by milliseconds, each member the id of one JSON record at
    /// `record_key(id)`), strictly after `after`, keeping those `keep` accepts.
    async fn newest_first<T: serde::de::DeserializeOwned>(
        &self,
        index: &str,
        after: Option<&(Timestamp, impl AsRef<str>)>,
        limit: usize,
        record_key: impl Fn(&str) -> String,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        let max = after
            .map(|(t, _)| t.as_millis().to_string())
            .unwrap_or_else(|| "+inf".into());
        let batch = limit.clamp(16, 500);
        let mut offset = 0usize;
        let mut out = Vec::new();
        while out.len() < limit {
            // Newest first; members with equal scores come in descending id
            // order, the same total order as (score, id).
            let page: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(index)
                .arg(&max)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(offset)
                .arg(batch)
                .arg("WITHSCORES")
                .query_async(&mut self.conn())
                .await
                .map_err(unavailable)?;
            if page.is_empty() {
                break;
            }
            offset += page.len();
            let keys: Vec<String> = page
                .iter()
                .filter(|(id, score)| match after {
                    Some((t, cursor)) => (*score as u64) < t.as_millis() || id.as_str() < cursor.as_ref(),
                    None => true,
                })
                .map(|(id, _)| record_key(id))
                .collect();
            for record in self.mget::<T>(keys).await? {
                if keep(&record) {
                    out.push(record);
                    if out.len() == limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The JSON record at `key`, if any.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, key: String) -> Result<Option<T>, StoreError> {
        let v: Option<String> = self.conn().get(&key).await.map_err(unavailable)?;
        v.map(|v| decode(&key, &v)).transpose()
    }

    /// Members of the sorted set `index` scored in `[from, to)`, oldest
    /// first, at most `limit`: JSON records themselves, or ids of records at
    /// `record_key(id)`.
    async fn between<T: serde::de::DeserializeOwned>(
        &self,
        index: &str,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
        record_key: Option<&(dyn Fn(&str) -> String + Sync)>,
    ) -> Result<Vec<T>, StoreError> {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(index)
            .arg(from.as_millis())
            .arg(format!("({}", to.as_millis()))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        match record_key {
            Some(key) => self.mget(members.iter().map(|m| key(m)).collect()).await,
            None => members.iter().map(|m| decode(index, m)).collect(),
        }
    }

    /// Writes a JSON record and its newest-first index entry together.
    async fn put_indexed<T: serde::Serialize>(
        &self,
        key: &str,
        index: &str,
        id: &str,
        score: Timestamp,
        value: &T,
    ) -> Result<(), StoreError> {
        let _: () = redis::pipe()
            .atomic()
            .set(key, encode(value)?)
            .ignore()
            .zadd(index, id, score.as_millis())
            .ignore()
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        self.invoke(self.agent_write(agent, self.fence_token()?)?).await
    }

    async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        self.get_json(self.keys.agent(id.as_str())).await
    }

    async fn list_agents(
        &self,
        after: Option<&AgentId>,
        limit: usize,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let min = match after {
            Some(a) => format!("({a}"),
            None => "-".to_string(),
        };
        let ids: Vec<String> = redis::cmd("ZRANGEBYLEX")
            .arg(self.keys.agents())
            .arg(min)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        self.mget(ids.iter().map(|id| self.keys.agent(id)).collect())
            .await
    }

    async fn put_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        self.invoke(self.call_write(call, self.fence_token()?)?).await
    }

    async fn reserve(&self, agent: &AgentRecord, call: &CallRecord) -> Result<(), StoreError> {
        self.invoke(self.reserve_write(agent, call, self.fence_token()?)?)
            .await
    }

    async fn write_batch(&self, writes: &[Write]) -> Vec<Result<(), StoreError>> {
        self.pipelined(writes).await
    }

    async fn get_call(&self, id: &CallId) -> Result<Option<CallRecord>, StoreError> {
        self.get_json(self.keys.call(id.as_str())).await
    }

    async fn list_calls(
        &self,
        filter: &CallFilter,
        after: Option<&CallCursor>,
        limit: usize,
    ) -> Result<Vec<CallRecord>, StoreError> {
        self.newest_first(
            &self.keys.calls(),
            after,
            limit,
            |id| self.keys.call(id),
            |c| filter.matches(c),
        )
        .await
    }

    async fn append_contact(&self, contact: &ContactRecord) -> Result<(), StoreError> {
        self.invoke(self.contact_write(contact, self.fence_token()?)?)
            .await
    }

    async fn contacts_of(&self, customer_key: &str, limit: usize) -> Result<Vec<ContactRecord>, StoreError> {
        let key = self.keys.contacts(customer_key);
        let values: Vec<String> = self
            .conn()
            .lrange(&key, 0, CONTACTS_PER_CUSTOMER - 1)
            .await
            .map_err(unavailable)?;
        let mut out = values
            .iter()
            .map(|v| decode::<ContactRecord>(&key, v))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|c| std::cmp::Reverse(c.wrap_up_ended_at));
        out.truncate(limit);
        Ok(out)
    }

    async fn prune(
        &self,
        kind: super::RecordKind,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.prune_kind(kind, before, limit).await
    }

    async fn erase_customer(
        &self,
        erasure: &super::erasure::CustomerErasure,
    ) -> Result<super::erasure::Erased, StoreError> {
        self.erase(erasure).await
    }

    async fn put_recording(&self, rec: &RecordingRecord) -> Result<(), StoreError> {
        let id = rec.call.as_str();
        self.put_indexed(
            &self.keys.recording(id),
            &self.keys.recordings(),
            id,
            rec.started_at,
            rec,
        )
        .await
    }

    async fn get_recording(&self, call: &CallId) -> Result<Option<RecordingRecord>, StoreError> {
        self.get_json(self.keys.recording(call.as_str())).await
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        after: Option<&RecordingCursor>,
        limit: usize,
    ) -> Result<Vec<RecordingRecord>, StoreError> {
        self.newest_first(
            &self.keys.recordings(),
            after,
            limit,
            |id| self.keys.recording(id),
            |r| filter.matches(r),
        )
        .await
    }

    async fn put_monitor_session(&self, session: &MonitorSessionRecord) -> Result<(), StoreError> {
        let id = session.id.as_str();
        self.put_indexed(
            &self.keys.monitor_session(id),
            &self.keys.monitor_sessions(),
            id,
            session.started_at,
            session,
        )
        .await
    }

    async fn monitor_sessions(
        &self,
        call: Option<&CallId>,
        after: Option<&(Timestamp, String)>,
        limit: usize,
    ) -> Result<Vec<MonitorSessionRecord>, StoreError> {
        self.newest_first(
            &self.keys.monitor_sessions(),
            after,
            limit,
            |id| self.keys.monitor_session(id),
            |s: &MonitorSessionRecord| call.is_none_or(|c| &s.call == c),
        )
        .await
    }

    async fn contacts_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        self.between(&self.keys.contact_log(), from, to, limit, None)
            .await
    }

    async fn put_callback(&self, cb: &CallbackRecord) -> Result<(), StoreError> {
        self.invoke(self.callback_write(cb, self.fence_token()?)?).await
    }

    async fn get_callback(&self, id: &CallbackId) -> Result<Option<CallbackRecord>, StoreError> {
        self.get_json(self.keys.callback(id.as_str())).await
    }

    async fn list_callbacks(
        &self,
        filter: &CallbackFilter,
        after: Option<&CallbackCursor>,
        limit: usize,
    ) -> Result<Vec<CallbackRecord>, StoreError> {
        self.newest_first(
            &self.keys.callbacks(),
            after,
            limit,
            |id| self.keys.callback(id),
            |c| filter.matches(c),
        )
        .await
    }

    async fn live_callbacks(&self) -> Result<Vec<CallbackRecord>, StoreError> {
        let ids: Vec<String> = self
            .conn()
            .smembers(self.keys.live_callbacks())
            .await
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            out.extend(
                self.mget::<CallbackRecord>(chunk.iter().map(|id| self.keys.callback(id)).collect())
                    .await?,
            );
        }
        Ok(out)
    }

    async fn put_grade(&self, grade: &GradeRecord) -> Result<(), StoreError> {
        let _: i64 = self
            .conn()
            .zadd(self.keys.grades(), encode(grade)?, grade.graded_at.as_millis())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn grades_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<GradeRecord>, StoreError> {
        self.between(&self.keys.grades(), from, to, limit, None).await
    }

    async fn put_survey(&self, survey: &SurveyRecord) -> Result<(), StoreError> {
        let id = survey.call.as_str();
        self.put_indexed(&self.keys.survey(id), &self.keys.surveys(), id, survey.at, survey)
            .await
    }

    async fn surveys_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<SurveyRecord>, StoreError> {
        let key = |id: &str| self.keys.survey(id);
        self.between(&self.keys.surveys(), from, to, limit, Some(&key))
            .await
    }

    async fn put_agent_day(&self, day: &AgentDayRecord) -> Result<(), StoreError> {
        // Written by the routing node: fenced like its other records.
        let fence = self.fence_token()?;
        let member = format!("{}:{}", day.day.as_millis(), day.agent);
        let _: i64 = self
            .put_agent_day
            .key(self.keys.epoch())
            .key(self.keys.agent_day(&member))
            .key(self.keys.agent_days())
            .arg(fence)
            .arg(&member)
            .arg(encode(day)?)
            .arg(day.day.as_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn agent_days_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<AgentDayRecord>, StoreError> {
        let key = |m: &str| self.keys.agent_day(m);
        self.between(&self.keys.agent_days(), from, to, limit, Some(&key))
            .await
    }

    async fn keep_reply(&self, key: &str, reply: &str, ttl: Duration) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(self.keys.reply(key))
            .arg(reply)
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn kept_reply(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn().get(self.keys.reply(key)).await.map_err(unavailable)
    }
}
