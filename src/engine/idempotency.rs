//! Results of recent mutating requests, keyed by caller and request id, so a
//! client that retries after a lost reply gets the first result and causes no
//! second effect. Bounded in count and age; only successes are kept, since a
//! failed request changed nothing.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::Reply;
use crate::time::Timestamp;

/// Who asked (the token's role and subject) and their request id: two callers
/// can never collide.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    pub principal: String,
    pub request_id: String,
}

impl IdempotencyKey {
    /// The key under which the store keeps the reply: both parts are
    /// bounded labels, and the principal's length keeps two callers whose
    /// texts join alike apart.
    pub fn stored(&self) -> String {
        format!("{}:{}:{}", self.principal.len(), self.principal, self.request_id)
    }
}

type Entry = (&'static str, Reply, Timestamp);

pub(super) struct IdempotencyCache {
    entries: HashMap<IdempotencyKey, Entry>,
    /// Insertion order, for eviction by age and count.
    order: VecDeque<(IdempotencyKey, Timestamp)>,
    capacity: usize,
    ttl: Duration,
}

impl IdempotencyCache {
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        IdempotencyCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            ttl,
        }
    }

    pub(super) fn get(&mut self, key: &IdempotencyKey, now: Timestamp) -> Option<(&'static str, Reply)> {
        self.evict(now);
        self.entries.get(key).map(|(m, v, _)| (*m, v.clone()))
    }

    pub(super) fn insert(&mut self, key: IdempotencyKey, method: &'static str, value: Reply, now: Timestamp) {
        self.order.push_back((key.clone(), now));
        self.entries.insert(key, (method, value, now));
        self.evict(now);
    }

    fn evict(&mut self, now: Timestamp) {
        while let Some((key, at)) = self.order.front() {
            let expired = now.since(*at) > self.ttl;
            if !expired && self.order.len() <= self.capacity {
                break;
            }
            if self.entries.get(key).is_some_and(|(_, _, t)| t == at) {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
    }
}
