//! Where media lives in the cluster: which node holds each agent's leg and
//! each call's media task, and where each live node's internal address is.
//!
//! Keys (same hash tag `{NS}` as the store):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{NS}:node:<id>` | string, expires after two leases | `<addr>|<cluster protocol>`: a live node's internal gRPC address |
//! | `{NS}:media:agent:<id>` | string | the node holding the agent's leg (softphone or SIP phone) |
//! | `{NS}:media:call:<id>` | string, expires after a day | the node running the call's media task |
//!
//! Invariants: a node's record exists only while its heartbeat runs (it
//! expires two leases after the last beat), so a location naming a node
//! without a record names a lost node; a node withdraws only locations that
//! still name it, so a leg that moved to another node is never withdrawn by
//! the node it left.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::protocol::PROTOCOL_VERSION;
use crate::error::Error;
use crate::ids::{AgentId, CallId};

/// KEYS: location. ARGV: node. Deletes the location if it names `node`.
const WITHDRAW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// KEYS: location. ARGV: node-record prefix. Returns {node, record or
/// false, ms the record has left}.
const LOCATE: &str = r#"
local node = redis.call('GET', KEYS[1])
if not node then return false end
local record = redis.call('GET', ARGV[1] .. node)
return {node, record, redis.call('PTTL', ARGV[1] .. node)}
"#;

/// How long a call's location outlives a node that never withdrew it.
const CALL_LOCATION_TTL: Duration = Duration::from_secs(24 * 3600);

/// A live node, as the directory knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddr {
    pub node: String,
    /// Its internal gRPC address (host:port).
    pub addr: String,
    /// The cluster protocol it speaks.
    pub protocol: u32,
    /// Time since its last heartbeat (by Redis's clock, so skew between
    /// nodes does not matter).
    pub silent_for: Duration,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    /// Nothing is registered (no softphone connected anywhere, no media task).
    Nowhere,
    /// Registered on a node whose heartbeat lapsed: that node is lost.
    Lost { node: String },
    /// On a live node.
    At(NodeAddr),
}

/// The cluster's media directory, in Redis.
#[derive(Clone)]
pub struct MediaDirectory {
    conn: ConnectionManager,
    prefix: String,
    /// This node.
    pub node: String,
    /// Where other nodes reach this node's internal services.
    pub advertise: String,
    /// A node record lives this long after its last heartbeat.
    record_ttl: Duration,
}

impl MediaDirectory {
    pub fn connect(
        redis_url: &str,
        namespace: &str,
        node: &str,
        advertise: &str,
        lease: Duration,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let client = redis::Client::open(redis_url)
            .map_err(|e| Error::Unavailable(format!("redis url {redis_url}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Error::Unavailable(format!("redis: {e}")))?;
        Ok(MediaDirectory {
            conn,
            prefix: format!("{{{namespace}}}"),
            node: node.to_string(),
            advertise: advertise.to_string(),
            record_ttl: lease * 2,
        })
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn agent_key(&self, agent: &AgentId) -> String {
        format!("{}:media:agent:{agent}", self.prefix)
    }

    fn call_key(&self, call: &CallId) -> String {
        format!("{}:media:call:{call}", self.prefix)
    }

    /// Says this node lives, and where it is, for two leases.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        let value = format!("{}|{PROTOCOL_VERSION}", self.advertise);
        redis::cmd("SET")
            .arg(self.node_key(&self.node))
            .arg(value)
            .arg("PX")
            .arg(self.record_ttl.as_millis().max(1) as u64)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unreachable_store)
    }

    /// Forgets this node at a clean shutdown, so its peers learn at once.
    pub async fn leave(&self) {
        let _: Result<i64, _> = redis::cmd("DEL")
            .arg(self.node_key(&self.node))
            .query_async(&mut self.conn.clone())
            .await;
    }

    /// The agent's leg is on this node now.
    pub async fn announce_agent(&self, agent: &AgentId) -> Result<(), Error> {
        redis::cmd("SET")
            .arg(self.agent_key(agent))
            .arg(&self.node)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unreachable_store)
    }

    /// The agent's leg left this node (unless it moved elsewhere meanwhile).
    pub async fn withdraw_agent(&self, agent: &AgentId) -> Result<(), Error> {
        self.withdraw(self.agent_key(agent)).await
    }

    /// The call's media task runs on this node.
    pub async fn announce_call(&self, call: &CallId) -> Result<(), Error> {
        redis::cmd("SET")
            .arg(self.call_key(call))
            .arg(&self.node)
            .arg("PX")
            .arg(CALL_LOCATION_TTL.as_millis() as u64)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unreachable_store)
    }

    pub async fn withdraw_call(&self, call: &CallId) -> Result<(), Error> {
        self.withdraw(self.call_key(call)).await
    }

    async fn withdraw(&self, key: String) -> Result<(), Error> {
        Script::new(WITHDRAW)
            .key(key)
            .arg(&self.node)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await
            .map(|_| ())
            .map_err(unreachable_store)
    }

    /// Where the agent's leg is.
    pub async fn locate_agent(&self, agent: &AgentId) -> Result<Located, Error> {
        self.locate(self.agent_key(agent)).await
    }

    /// Where the call's media task runs.
    pub async fn locate_call(&self, call: &CallId) -> Result<Located, Error> {
        self.locate(self.call_key(call)).await
    }

    /// Where a node is, if it lives.
    pub async fn node(&self, node: &str) -> Result<Located, Error> {
        let found: (Option<String>, i64) = redis::pipe()
            .cmd("GET")
            .arg(self.node_key(node))
            .cmd("PTTL")
            .arg(self.node_key(node))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unreachable_store)?;
        Ok(match found {
            (None, _) => Located::Lost {
                node: node.to_string(),
            },
            (Some(record), left_ms) => Located::At(self.addr(node, &record, left_ms)?),
        })
    }

    fn addr(&self, node: &str, record: &str, left_ms: i64) -> Result<NodeAddr, Error> {
        let left = Duration::from_millis(left_ms.max(0) as u64);
        let mut at = parse_node(node, record)?;
        at.silent_for = self.record_ttl.saturating_sub(left);
        Ok(at)
    }

    async fn locate(&self, key: String) -> Result<Located, Error> {
        let found: Option<(String, Option<String>, i64)> = Script::new(LOCATE)
            .key(key)
            .arg(format!("{}:node:", self.prefix))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unreachable_store)?;
        Ok(match found {
            None => Located::Nowhere,
            Some((node, None, _)) => Located::Lost { node },
            Some((node, Some(record), left_ms)) => Located::At(self.addr(&node, &record, left_ms)?),
        })
    }
}

fn parse_node(node: &str, record: &str) -> Result<NodeAddr, Error> {
    let (addr, protocol) = record
        .rsplit_once('|')
        .ok_or_else(|| Error::Internal(format!("node record of {node} is {record:?}")))?;
    let protocol = protocol
        .parse()
        .map_err(|_| Error::Internal(format!("node record of {node} is {record:?}")))?;
    Ok(NodeAddr {
        node: node.to_string(),
        addr: addr.to_string(),
        protocol,
        silent_for: Duration::ZERO,
    })
}

fn unreachable_store(e: redis::RedisError) -> Error {
    Error::Unavailable(format!("media directory: redis: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_record_names_its_address_and_protocol() {
        let n = parse_node("a", "10.0.0.1:50051|2").expect("parses");
        assert_eq!(n.addr, "10.0.0.1:50051");
        assert_eq!(n.protocol, 2);
        // IPv6 addresses keep their colons; only the last bar splits.
        let n = parse_node("b", "[::1]:50051|3").expect("parses");
        assert_eq!(n.addr, "[::1]:50051");
        assert!(parse_node("c", "no-bar").is_err());
        assert!(parse_node("c", "x|y").is_err());
    }
}
