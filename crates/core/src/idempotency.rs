//! Results of recent mutating requests, keyed by caller and request id, so a
//! client that retries after a lost reply gets the first result and causes no
//! second effect. Bounded in count and age; only successes are kept, since a
//! failed request changed nothing.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::command::Reply;
use crate::error::Error;
use crate::time::Timestamp;

/// Who asked (the token's role and subject) and their request id: two callers
/// can never collide. `digest` fingerprints the whole request, so a request
/// id reused with a different body is refused rather than answered with the
/// first body's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub principal: String,
    pub request_id: String,
    /// Hex SHA-256 of the request as the client encoded it; empty when
    /// unknown (a forward from a node that predates it).
    pub digest: String,
}

impl IdempotencyKey {
    /// The key under which the store keeps the reply: both parts are
    /// bounded labels, and the principal's length keeps two callers whose
    /// texts join alike apart.
    pub fn stored(&self) -> String {
        format!("{}:{}:{}", self.principal.len(), self.principal, self.request_id)
    }

    /// Refuses a repeat whose method or body differs from the first use.
    pub fn check_repeat(&self, first_method: &str, first_digest: &str, method: &str) -> Result<(), Error> {
        if first_method != method {
            return Err(Error::invalid(
                "request_id",
                format!("already used for {first_method}; use a new request_id for {method}"),
            ));
        }
        if !first_digest.is_empty() && !self.digest.is_empty() && first_digest != self.digest {
            return Err(Error::invalid(
                "request_id",
                format!("already used for a different {method} request; use a new request_id"),
            ));
        }
        Ok(())
    }
}

/// The method, the request's digest, the reply, and when it was kept.
type Entry = (&'static str, String, Reply, Timestamp);

pub struct IdempotencyCache {
    /// By [`IdempotencyKey::stored`].
    entries: HashMap<String, Entry>,
    /// Insertion order, for eviction by age and count.
    order: VecDeque<(String, Timestamp)>,
    capacity: usize,
    ttl: Duration,
}

impl IdempotencyCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        IdempotencyCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            ttl,
        }
    }

    /// The first reply to `key`, if kept; an error if `key` was first used
    /// for another method or body.
    pub fn get(
        &mut self,
        key: &IdempotencyKey,
        method: &str,
        now: Timestamp,
    ) -> Result<Option<Reply>, Error> {
        self.evict(now);
        let Some((m, digest, reply, _)) = self.entries.get(&key.stored()) else {
            return Ok(None);
        };
        key.check_repeat(m, digest, method)?;
        Ok(Some(reply.clone()))
    }

    pub fn insert(&mut self, key: IdempotencyKey, method: &'static str, value: Reply, now: Timestamp) {
        let stored = key.stored();
        self.order.push_back((stored.clone(), now));
        self.entries.insert(stored, (method, key.digest, value, now));
        self.evict(now);
    }

    fn evict(&mut self, now: Timestamp) {
        while let Some((key, at)) = self.order.front() {
            let expired = now.since(*at) > self.ttl;
            if !expired && self.order.len() <= self.capacity {
                break;
            }
            if self.entries.get(key).is_some_and(|(_, _, _, t)| t == at) {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
    }
}
