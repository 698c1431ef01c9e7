//! The catalog in Redis, shared by every node.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{NS}:cat:rev` | integer | the catalog's revision counter |
//! | `{NS}:cat:obj:<kind>` | hash | id -> `<revision>\n<JSON>` (`<revision>\n` once deleted) |
//! | `{NS}:cat:log` | sorted set, score = revision | `<kind>\n<id>`, each object once at its latest revision |
//! | `{NS}:cat:audit` | sorted set, score = revision | JSON `AuditRecord`s (bounded) |
//!
//! Every write is one Lua script over all of these keys, so revisions are
//! handed out in the order writes land: a reader of the log that has seen
//! revision `r` has seen every write up to `r`.

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use async_trait::async_trait;

use super::*;

/// Audit records kept at most; the oldest go first.
const MAX_AUDIT: usize = 1_000_000;

/// KEYS: revision, log, audit, then one object hash per kind in
/// `Kind::ALL` order. ARGV: actor, at ms, only-if-empty ('1'/'0'), max
/// audit, count, then per write: kind index (1-based), kind name, id,
/// expect ('any', 'absent' or a revision), body ('' deletes).
const WRITE: &str = r#"
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1}
end
local n = tonumber(ARGV[5])
local current = {}
for i = 0, n - 1 do
  local b = 6 + i * 5
  local stored = redis.call('HGET', KEYS[3 + tonumber(ARGV[b])], ARGV[b + 2])
  local rev, body = 0, false
  if stored then
    local nl = string.find(stored, '\n', 1, true)
    rev = tonumber(string.sub(stored, 1, nl - 1))
    local rest = string.sub(stored, nl + 1)
    if rest ~= '' then body = rest end
  end
  local expect = ARGV[b + 3]
  if expect == 'absent' and body then
    return {-2, i, rev}
  end
  if expect ~= 'any' and expect ~= 'absent' and ((not body) or tostring(rev) ~= expect) then
    if body then return {-3, i, rev} end
    return {-3, i, 0}
  end
  current[i + 1] = {rev, body}
end
local out = {0}
for i = 0, n - 1 do
  local b = 6 + i * 5
  local new = ARGV[b + 4]
  local before = current[i + 1][2]
  if (new == '' and not before) or (new ~= '' and before == new) then
    out[#out + 1] = current[i + 1][1]
  else
    local rev = redis.call('INCR', KEYS[1])
    redis.call('HSET', KEYS[3 + tonumber(ARGV[b])], ARGV[b + 2], rev .. '\n' .. new)
    redis.call('ZADD', KEYS[2], rev, ARGV[b + 1] .. '\n' .. ARGV[b + 2])
    local after = cjson.null
    if new ~= '' then after = new end
    local record = cjson.encode({revision = rev, at = tonumber(ARGV[2]), actor = ARGV[1],
      kind = ARGV[b + 1], id = ARGV[b + 2], before = before or cjson.null, after = after})
    redis.call('ZADD', KEYS[3], rev, record)
    out[#out + 1] = rev
  end
end
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if over > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
end
return out
"#;

/// KEYS: log, then one object hash per kind in `Kind::ALL` order. ARGV:
/// after revision, limit, then the kind names in `Kind::ALL` order.
/// Returns flat triples: kind name, id, stored value.
const CHANGES: &str = r#"
local index = {}
for i = 3, #ARGV do index[ARGV[i]] = i - 2 end
local members = redis.call('ZRANGE', KEYS[1], '(' .. ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(members) do
  local nl = string.find(m, '\n', 1, true)
  local kind = string.sub(m, 1, nl - 1)
  local id = string.sub(m, nl + 1)
  local stored = redis.call('HGET', KEYS[1 + index[kind]], id)
  if stored then
    out[#out + 1] = kind
    out[#out + 1] = id
    out[#out + 1] = stored
  end
end
return out
"#;

pub struct RedisCatalog {
    conn: ConnectionManager,
    /// `{NS}:cat`.
    prefix: String,
    write: Script,
    changes: Script,
}

fn unavailable(e: ::redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn corrupt(key: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// `<revision>\n<JSON>` (or `<revision>\n`) as revision and body.
fn parse_stored(key: &str, stored: &str) -> Result<(Revision, Option<String>), StoreError> {
    let (rev, body) = stored
        .split_once('\n')
        .ok_or_else(|| corrupt(key, "no revision"))?;
    let rev = rev.parse().map_err(|_| corrupt(key, "bad revision"))?;
    Ok((Revision(rev), (!body.is_empty()).then(|| body.to_string())))
}

impl RedisCatalog {
    /// The catalog under `tag` (`{NS}`, the store's hash tag).
    pub(crate) fn new(conn: ConnectionManager, tag: &str) -> Self {
        RedisCatalog {
            conn,
            prefix: format!("{tag}:cat"),
            write: Script::new(WRITE),
            changes: Script::new(CHANGES),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn object_hash(&self, kind: Kind) -> String {
        self.key(&format!("obj:{}", kind.as_str()))
    }

    async fn write(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
        only_if_empty: bool,
    ) -> Result<Option<Vec<Revision>>, StoreError> {
        distinct(writes)?;
        let mut inv = self.write.prepare_invoke();
        inv.key(self.key("rev"))
            .key(self.key("log"))
            .key(self.key("audit"));
        for k in Kind::ALL {
            inv.key(self.object_hash(k));
        }
        inv.arg(actor)
            .arg(at.as_millis())
            .arg(if only_if_empty { "1" } else { "0" })
            .arg(MAX_AUDIT)
            .arg(writes.len());
        for w in writes {
            let index = Kind::ALL.iter().position(|k| *k == w.kind).unwrap_or(0) + 1;
            let expect = match w.expect {
                Expect::Any => "any".to_string(),
                Expect::Absent => "absent".to_string(),
                Expect::At(r) => r.0.to_string(),
            };
            inv.arg(index)
                .arg(w.kind.as_str())
                .arg(&w.id)
                .arg(expect)
                .arg(w.body.as_deref().unwrap_or(""));
        }
        let reply: Vec<i64> = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [-1] => Ok(None),
            [code, i, rev] if *code == -2 || *code == -3 => {
                let w = writes
                    .get(usize::try_from(*i).unwrap_or(usize::MAX))
                    .ok_or_else(|| corrupt("catalog write", "reply names no write"))?;
                Err(stale(w, (*rev > 0).then_some(Revision(*rev as u64))))
            }
            [0, revs @ ..] => Ok(Some(revs.iter().map(|r| Revision(*r as u64)).collect())),
            _ => Err(corrupt("catalog write", "unexpected reply")),
        }
    }
}

#[async_trait]
impl CatalogStore for RedisCatalog {
    async fn catalog_write(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<Vec<Revision>, StoreError> {
        Ok(self.write(actor, at, writes, false).await?.unwrap_or_default())
    }

    async fn catalog_seed(
        &self,
        actor: &str,
        at: Timestamp,
        writes: &[CatalogWrite],
    ) -> Result<bool, StoreError> {
        Ok(self.write(actor, at, writes, true).await?.is_some())
    }

    async fn catalog_changes(&self, since: Revision, limit: usize) -> Result<Vec<StoredObject>, StoreError> {
        let mut inv = self.changes.prepare_invoke();
        inv.key(self.key("log"));
        for k in Kind::ALL {
            inv.key(self.object_hash(k));
        }
        inv.arg(since.0).arg(limit);
        for k in Kind::ALL {
            inv.arg(k.as_str());
        }
        let flat: Vec<String> = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        flat.chunks_exact(3)
            .map(|t| {
                let kind = Kind::parse(&t[0]).ok_or_else(|| corrupt(&t[0], "unknown kind"))?;
                let (revision, body) = parse_stored(&t[1], &t[2])?;
                Ok(StoredObject {
                    kind,
                    id: t[1].clone(),
                    revision,
                    body,
                })
            })
            .collect()
    }

    async fn catalog_revision(&self) -> Result<Revision, StoreError> {
        let r: Option<u64> = ::redis::cmd("GET")
            .arg(self.key("rev"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(Revision(r.unwrap_or(0)))
    }

    async fn catalog_get(&self, kind: Kind, id: &str) -> Result<Option<StoredObject>, StoreError> {
        let stored: Option<String> = ::redis::cmd("HGET")
            .arg(self.object_hash(kind))
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        stored
            .map(|s| {
                let (revision, body) = parse_stored(id, &s)?;
                Ok(StoredObject {
                    kind,
                    id: id.to_string(),
                    revision,
                    body,
                })
            })
            .transpose()
    }

    async fn catalog_audit(
        &self,
        filter: &AuditFilter,
        before: Option<Revision>,
        limit: usize,
    ) -> Result<(Vec<AuditRecord>, Option<Revision>), StoreError> {
        let mut max = before
            .map(|b| format!("({}", b.0))
            .unwrap_or_else(|| "+inf".into());
        let mut out = Vec::new();
        let mut scanned = 0;
        let mut last: Option<Revision> = None;
        let mut exhausted = false;
        while out.len() < limit && scanned < AUDIT_SCAN {
            let page: Vec<String> = ::redis::cmd("ZRANGE")
                .arg(self.key("audit"))
                .arg(&max)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(0)
                .arg(500)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            if page.is_empty() {
                exhausted = true;
                break;
            }
            for json in &page {
                scanned += 1;
                let r: AuditRecord = serde_json::from_str(json).map_err(|e| corrupt("catalog audit", e))?;
                last = Some(r.revision);
                max = format!("({}", r.revision.0);
                if filter.matches(&r) {
                    out.push(r);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok((out, if exhausted { None } else { last }))
    }
}
