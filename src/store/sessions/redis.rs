//! Revocations in Redis: a hash `{NS}:revoked` (subject -> JSON) and a
//! counter `{NS}:revoked:rev` bumped in the same transaction, so a node
//! polls the counter and reads the hash only when it moved.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{Revocation, SessionStore};
use crate::store::StoreError;

pub struct RedisSessions {
    conn: ConnectionManager,
    /// `{NS}:revoked`.
    hash: String,
    /// `{NS}:revoked:rev`.
    revision: String,
}

fn unavailable(e: ::redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

impl RedisSessions {
    /// The revocations under `tag` (`{NS}`, the store's hash tag).
    pub(crate) fn new(conn: ConnectionManager, tag: &str) -> Self {
        RedisSessions {
            conn,
            hash: format!("{tag}:revoked"),
            revision: format!("{tag}:revoked:rev"),
        }
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let json = serde_json::to_string(revocation)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode a revocation: {e}")))?;
        let _: () = ::redis::pipe()
            .atomic()
            .hset(&self.hash, &revocation.subject, json)
            .ignore()
            .incr(&self.revision, 1)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn revocations_revision(&self) -> Result<u64, StoreError> {
        let rev: Option<u64> = self.conn.clone().get(&self.revision).await.map_err(unavailable)?;
        Ok(rev.unwrap_or(0))
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let all: Vec<(String, String)> = self.conn.clone().hgetall(&self.hash).await.map_err(unavailable)?;
        all.into_iter()
            .map(|(subject, json)| {
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    key: format!("{}/{subject}", self.hash),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}
