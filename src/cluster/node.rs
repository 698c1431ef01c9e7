//! One node's part in the cluster: a heartbeat, the routing lease, and the
//! route the API follows.
//!
//! Invariants: at most one node holds `{NS}:leader` at a time (SET NX PX);
//! acquiring it increments `{NS}:epoch`, and the holder writes with that
//! epoch as fencing token, so writes from a node whose lease lapsed fail.
//! A node steps down as soon as it cannot renew within the lease. A new
//! routing node rebuilds the router from the store (`Router::handle_restore`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use super::link::Route;
use super::protocol::NodeCredentials;
use crate::acd::{AgentState, Router, RouterConfig};
use crate::engine::{self, Command};
use crate::error::Error;
use crate::store::{CallFilter, RedisStore, Store, StoreError};
use crate::time::Timestamp;

/// KEYS: leader, epoch. ARGV: "node|addr", lease ms. Returns the new epoch or nil.
const ACQUIRE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return epoch
"#;

/// KEYS: leader. ARGV: "node|addr|epoch", lease ms. 1 if still ours.
const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// KEYS: leader. ARGV: "node|addr|epoch".
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// How this node takes part.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub node_id: String,
    /// Where other nodes reach this node's gRPC port.
    pub advertise: String,
    pub lease: Duration,
    pub namespace: String,
    pub redis_url: String,
    pub redis_timeout: Duration,
}

/// This node's term as routing node.
struct Term {
    epoch: u64,
    /// "node|addr|epoch", the lease value.
    token: String,
    last_renewed: Instant,
    stop_engine: watch::Sender<bool>,
    engine: tokio::task::JoinHandle<()>,
}

/// Everything the node loop needs.
pub struct Node {
    pub opts: NodeOptions,
    pub router_config: RouterConfig,
    /// Callback timing, for the engine this node runs when it routes.
    pub callbacks: crate::callback::TrackerSettings,
    pub store: Arc<RedisStore>,
    /// Token this node presents to the others.
    pub node_token: String,
    /// Where this node's media is; its record there is this node's
    /// address and liveness for its peers' relays.
    pub directory: super::directory::MediaDirectory,
    pub route: watch::Sender<Route>,
    pub health: tonic_health::server::HealthReporter,
    /// Health names to flip with the store's reachability.
    pub health_names: Vec<&'static str>,
}

impl Node {
    fn key(&self, suffix: &str) -> String {
        format!("{{{}}}:{suffix}", self.opts.namespace)
    }

    /// Runs until `shutdown`; then releases the lease so another node takes
    /// over at once, and stops the engine.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let client = match redis::Client::open(self.opts.redis_url.as_str()) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "cluster: bad redis url; this node will not route");
                return;
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.opts.redis_timeout))
            .set_response_timeout(Some(self.opts.redis_timeout))
            .set_number_of_retries(1);
        let mut conn = match ConnectionManager::new_lazy_with_config(client, config) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "cluster: cannot create redis connection");
                return;
            }
        };
        let mut term: Option<Term> = None;
        let mut remote: Option<String> = None;
        let mut serving: Option<bool> = None;
        let mut tick = tokio::time::interval(self.opts.lease / 3);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
            // Heartbeat: tells the routing node this node (and its callers) lives.
            let beat: Result<i64, _> = redis::cmd("ZADD")
                .arg(self.key("nodes"))
                .arg(Timestamp::now_wall().as_millis())
                .arg(&self.opts.node_id)
                .query_async(&mut conn)
                .await;
            let listed = self.directory.heartbeat().await;
            if let Err(e) = &listed {
                warn!(error = %e, "cluster: cannot renew this node's address record");
            }
            let beat_ok = beat.is_ok() && listed.is_ok();
            crate::metrics::events::store_reachable(beat_ok);
            self.lead_or_follow(&mut conn, &mut term, &mut remote).await;
            // Serving: the store answers and a routing node is known.
            let healthy = beat_ok && !matches!(&*self.route.borrow(), Route::Down(_));
            if serving != Some(healthy) {
                serving = Some(healthy);
                let status = if healthy {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                for name in &self.health_names {
                    self.health.set_service_status(*name, status).await;
                }
                crate::metrics::events::health(healthy);
                if healthy {
                    info!(node = %self.opts.node_id, "serving");
                } else {
                    warn!(node = %self.opts.node_id, "not serving: store unreachable or no routing node");
                }
            }
        }
        if let Some(t) = term.take() {
            let token = t.token.clone();
            self.step_down(Some(t)).await;
            let _: Result<i64, _> = Script::new(RELEASE)
                .key(self.key("leader"))
                .arg(token)
                .invoke_async(&mut conn)
                .await;
        }
        self.route
            .send_replace(Route::Down("this node is shutting down".into()));
        self.directory.leave().await;
        let _: Result<i64, _> = redis::cmd("ZREM")
            .arg(self.key("nodes"))
            .arg(&self.opts.node_id)
            .query_async(&mut conn)
            .await;
    }

    /// One round of the routing role: renew it, take it, or find who has it.
    async fn lead_or_follow(
        &self,
        conn: &mut ConnectionManager,
        term: &mut Option<Term>,
        remote: &mut Option<String>,
    ) {
        if let Some(t) = term.as_mut() {
            let renewed: Result<i64, _> = Script::new(RENEW)
                .key(self.key("leader"))
                .arg(&t.token)
                .arg(self.opts.lease.as_millis() as u64)
                .invoke_async(conn)
                .await;
            match renewed {
                Ok(1) => {
                    t.last_renewed = Instant::now();
                    self.reap_lost_nodes(conn).await;
                    return;
                }
                Ok(_) => warn!(
                    epoch = t.epoch,
                    "cluster: routing lease taken over; stepping down"
                ),
                Err(e) if t.last_renewed.elapsed() < self.opts.lease => {
                    warn!(error = %e, "cluster: cannot renew the routing lease yet");
                    return;
                }
                Err(e) => warn!(error = %e, "cluster: routing lease lapsed; stepping down"),
            }
            self.step_down(term.take()).await;
            self.route
                .send_replace(Route::Down("the routing node changed; retry".into()));
            return;
        }
        let acquired: Result<Option<u64>, _> = Script::new(ACQUIRE)
            .key(self.key("leader"))
            .key(self.key("epoch"))
            .arg(format!("{}|{}", self.opts.node_id, self.opts.advertise))
            .arg(self.opts.lease.as_millis() as u64)
            .invoke_async(conn)
            .await;
        match acquired {
            Ok(Some(epoch)) => match self.take_over(epoch).await {
                Ok(t) => {
                    *remote = None;
                    *term = Some(t);
                }
                Err(e) => {
                    warn!(error = %e, "cluster: could not take over routing; releasing the lease");
                    let token = format!("{}|{}|{epoch}", self.opts.node_id, self.opts.advertise);
                    let _: Result<i64, _> = Script::new(RELEASE)
                        .key(self.key("leader"))
                        .arg(token)
                        .invoke_async(conn)
                        .await;
                }
            },
            Ok(None) => {
                let leader: Result<Option<String>, _> =
                    redis::cmd("GET").arg(self.key("leader")).query_async(conn).await;
                match leader {
                    Ok(Some(value)) => {
                        if remote.as_deref() != Some(value.as_str()) {
                            match self.remote_route(&value) {
                                Ok(route) => {
                                    info!(leader = %value, "cluster: routing node found");
                                    self.route.send_replace(route);
                                    *remote = Some(value);
                                }
                                Err(e) => warn!(error = %e, "cluster: bad leader record"),
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        *remote = None;
                        self.route
                            .send_replace(Route::Down(format!("store unreachable: {e}")));
                    }
                }
            }
            Err(e) => {
                *remote = None;
                self.route
                    .send_replace(Route::Down(format!("store unreachable: {e}")));
            }
        }
    }

    /// Becomes the routing node for `epoch`: fence, restore, start the engine.
    async fn take_over(&self, epoch: u64) -> Result<Term, Error> {
        self.store.fence().store(epoch, Ordering::SeqCst);
        let store: Arc<dyn Store> = Arc::new(crate::store::Metered::new(self.store.clone(), "redis"));
        let (agents, calls) = load_snapshot(store.as_ref()).await?;
        let mut router = Router::new(self.router_config.clone())?;
        let now = Timestamp::now_wall();
        info!(
            node = %self.opts.node_id,
            epoch,
            agents = agents.len(),
            calls = calls.len(),
            "cluster: this node routes now"
        );
        router.handle_restore(now, agents, calls);
        let desk = engine::restore_desk(&mut router, store.as_ref(), self.callbacks.clone(), now).await?;
        let (stop_engine, stop_rx) = watch::channel(false);
        let (handle, engine) = engine::spawn(router, desk, store, stop_rx);
        self.route.send_replace(Route::Local(handle));
        Ok(Term {
            epoch,
            token: format!("{}|{}|{epoch}", self.opts.node_id, self.opts.advertise),
            last_renewed: Instant::now(),
            stop_engine,
            engine,
        })
    }

    async fn step_down(&self, term: Option<Term>) {
        if let Some(t) = term {
            let _ = t.stop_engine.send(true);
            let _ = t.engine.await;
            info!(node = %self.opts.node_id, epoch = t.epoch, "cluster: this node no longer routes");
        }
    }

    fn remote_route(&self, leader: &str) -> Result<Route, Error> {
        let mut parts = leader.split('|');
        let (node, addr) = match (parts.next(), parts.next()) {
            (Some(n), Some(a)) => (n.to_string(), a.to_string()),
            _ => return Err(Error::Internal(format!("leader record {leader:?}"))),
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::Internal(format!("leader address {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy();
        let client = crate::proto::cluster::cluster_client::ClusterClient::with_interceptor(
            channel,
            NodeCredentials::new(&self.node_token)?,
        );
        Ok(Route::Remote {
            node,
            client: Box::new(client),
        })
    }

    /// Ends the calls held by nodes whose heartbeat lapsed (none for two
    /// leases), and forgets those nodes.
    async fn reap_lost_nodes(&self, conn: &mut ConnectionManager) {
        let horizon = Timestamp::now_wall()
            .as_millis()
            .saturating_sub(self.opts.lease.as_millis() as u64 * 2);
        let nodes: Result<Vec<String>, _> = redis::cmd("ZRANGE")
            .arg(self.key("nodes"))
            .arg(horizon)
            .arg("+inf")
            .arg("BYSCORE")
            .query_async(conn)
            .await;
        let Ok(nodes) = nodes else { return };
        let _: Result<i64, _> = redis::cmd("ZREMRANGEBYSCORE")
            .arg(self.key("nodes"))
            .arg("-inf")
            .arg(format!("({horizon}"))
            .query_async(conn)
            .await;
        if let Route::Local(engine) = &*self.route.borrow() {
            let engine = engine.clone();
            tokio::spawn(async move {
                let _ = engine.execute(None, Command::NodesAlive { nodes }).await;
            });
        }
    }
}

/// Every agent, every live call, and the ended calls agents still wrap up.
async fn load_snapshot(
    store: &dyn Store,
) -> Result<(Vec<crate::acd::AgentRecord>, Vec<crate::acd::CallRecord>), StoreError> {
    let mut agents = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_agents(after.as_ref(), 500).await?;
        let done = page.len() < 500;
        after = page.last().map(|a| a.id.clone());
        agents.extend(page);
        if done {
            break;
        }
    }
    let mut calls = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_calls(&CallFilter::default(), cursor.as_ref(), 500)
            .await?;
        let done = page.len() < 500;
        cursor = page.last().map(|c| (c.enqueued_at, c.id.clone()));
        calls.extend(page);
        if done {
            break;
        }
    }
    for a in &agents {
        if a.state == AgentState::WrapUp {
            if let Some(id) = &a.current_call {
                if !calls.iter().any(|c| &c.id == id) {
                    if let Some(c) = store.get_call(id).await? {
                        calls.push(c);
                    }
                }
            }
        }
    }
    Ok((agents, calls))
}
