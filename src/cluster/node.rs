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

use super::link::{ClusterClient, Reach, Route};
use super::protocol::NodeCredentials;
use crate::acd::{AgentState, Router, RouterConfig};
use crate::engine::{self, Command};
use crate::error::Error;
use crate::store::{CallFilter, RedisStore, Store, StoreError, STEPPED_DOWN};
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

/// How long a success keeps a node healthy: three quarters of a lease, so
/// that with the health timer's tenth, NOT_SERVING shows within a lease of
/// the last success, while two or three beats or probes (every third or
/// quarter lease) may still be late without a false alarm.
fn reach_window(lease: Duration) -> Duration {
    lease * 3 / 4
}

/// Why a term ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum StepDown {
    /// The lease lapsed or another node took it: stop now.
    Lost,
    /// This node shuts down while it still holds the lease.
    Graceful,
}

/// This node's term as routing node.
struct Term {
    epoch: u64,
    /// "node|addr|epoch", the lease value.
    token: String,
    last_renewed: Instant,
    /// No node is declared lost before this: every node must have had two
    /// leases to heartbeat while this one reached the store (after the
    /// takeover, and again after every time the store did not answer).
    reap_from: Instant,
    stop_engine: watch::Sender<bool>,
    engine: tokio::task::JoinHandle<()>,
}

/// Everything the node loop needs.
pub struct Node {
    pub opts: NodeOptions,
    /// The settings of the routing core the catalog does not hold.
    pub router_base: RouterConfig,
    /// Skills and queues (and agents' skills) as the admin catalog holds
    /// them: what this node routes by when it takes over.
    pub catalog: crate::admin::LiveCatalog,
    /// Callback timing, for the engine this node runs when it routes.
    pub callbacks: crate::callback::TrackerSettings,
    pub store: Arc<RedisStore>,
    /// Token this node presents to the others.
    pub node_token: String,
    /// How this node reaches the others (TLS when it serves TLS).
    pub peers: crate::tls::PeerTls,
    /// Where this node's media is; its record there is this node's
    /// address and liveness for its peers' relays.
    pub directory: super::directory::MediaDirectory,
    pub route: watch::Sender<Route>,
    pub health: tonic_health::server::HealthReporter,
    /// Health names to flip with the store's reachability.
    pub health_names: Vec<&'static str>,
    /// This node's callback dialler, given to the engine it runs when it
    /// routes (callbacks accepted anywhere are dialled by the routing node).
    pub dialer: Option<crate::dialer::Dialer>,
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
        let store_reach = Reach::new(reach_window(self.opts.lease));
        let health = tokio::spawn(report_health(
            self.health.clone(),
            self.health_names.clone(),
            self.route.subscribe(),
            store_reach.clone(),
            self.catalog.loaded(),
            self.opts.lease,
            self.opts.node_id.clone(),
        ));
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
            // And where it is, kept past the beat so a routing node can ask
            // a node that missed its beats whether it really is gone.
            let beat: Result<(), _> = redis::pipe()
                .atomic()
                .zadd(
                    self.key("nodes"),
                    &self.opts.node_id,
                    Timestamp::now_wall().as_millis(),
                )
                .ignore()
                .hset(self.key("nodeaddrs"), &self.opts.node_id, &self.opts.advertise)
                .ignore()
                .query_async(&mut conn)
                .await;
            let listed = self.directory.heartbeat().await;
            if let Err(e) = &listed {
                warn!(error = %e, "cluster: cannot renew this node's address record");
            }
            let beat_ok = beat.is_ok() && listed.is_ok();
            crate::metrics::events::store_reachable(beat_ok);
            if beat_ok {
                store_reach.ok();
            } else if let Some(t) = term.as_mut() {
                // Others could not beat either: give them time once it is back.
                t.reap_from = Instant::now() + self.opts.lease * 2;
            }
            self.lead_or_follow(&mut conn, &mut term, &mut remote).await;
        }
        health.abort();
        if let Some(t) = term.take() {
            let token = t.token.clone();
            self.step_down(Some(t), StepDown::Graceful).await;
            let _: Result<i64, _> = Script::new(RELEASE)
                .key(self.key("leader"))
                .arg(token)
                .invoke_async(&mut conn)
                .await;
        }
        self.route
            .send_replace(Route::Down("this node is shutting down".into()));
        self.directory.leave().await;
        let _: Result<(), _> = redis::pipe()
            .zrem(self.key("nodes"), &self.opts.node_id)
            .ignore()
            .hdel(self.key("nodeaddrs"), &self.opts.node_id)
            .ignore()
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
                    if Instant::now() >= t.reap_from {
                        self.reap_lost_nodes(conn).await;
                    }
                    return;
                }
                Ok(_) => warn!(
                    epoch = t.epoch,
                    "cluster: routing lease taken over; stepping down"
                ),
                Err(e) if t.last_renewed.elapsed() < self.opts.lease => {
                    warn!(error = %e, "cluster: cannot renew the routing lease yet");
                    t.reap_from = Instant::now() + self.opts.lease * 2;
                    return;
                }
                Err(e) => warn!(error = %e, "cluster: routing lease lapsed; stepping down"),
            }
            self.step_down(term.take(), StepDown::Lost).await;
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
        if let Err(e) = self.catalog.ensure_seeded().await {
            warn!(error = %e, "taking over with the catalog as last read: the store's changes could not be read");
        }
        let mut router = Router::new(
            self.catalog
                .read()
                .router_config(&self.router_base, crate::admin::zone),
        )?;
        let now = crate::time::MonotonicClock::process().both();
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
        let feed = engine::CatalogFeed::new(self.catalog.clone(), self.router_base.clone());
        let (handle, engine) = engine::spawn(router, desk, store, self.dialer.clone(), Some(feed), stop_rx);
        self.route.send_replace(Route::Local {
            engine: handle,
            term: epoch,
        });
        Ok(Term {
            epoch,
            token: format!("{}|{}|{epoch}", self.opts.node_id, self.opts.advertise),
            last_renewed: Instant::now(),
            reap_from: Instant::now() + self.opts.lease * 2,
            stop_engine,
            engine,
        })
    }

    /// Stops routing. A lost lease fences this node's writes at once and
    /// stops taking commands before the engine has stopped: its queued work
    /// fails fast instead of each write waiting on an unreachable store, and
    /// the node loop (heartbeat, health) goes on within a lease. A graceful
    /// stop lets the engine write its last records first.
    async fn step_down(&self, term: Option<Term>, how: StepDown) {
        let Some(t) = term else { return };
        if how == StepDown::Lost {
            self.store.fence().store(STEPPED_DOWN, Ordering::SeqCst);
            self.route
                .send_replace(Route::Down("the routing node changed; retry".into()));
        }
        let _ = t.stop_engine.send(true);
        let mut engine = t.engine;
        if tokio::time::timeout(self.opts.lease, &mut engine).await.is_err() {
            // Stuck on a read the store does not answer: its state is
            // worthless now (fenced), so end it; streams close with it.
            warn!(
                epoch = t.epoch,
                "cluster: the engine did not stop within a lease; aborting it"
            );
            engine.abort();
        }
        self.store.fence().store(STEPPED_DOWN, Ordering::SeqCst);
        info!(node = %self.opts.node_id, epoch = t.epoch, "cluster: this node no longer routes");
    }

    /// Whether the node at `addr` answers a Ping within a quarter lease.
    async fn answers(&self, addr: &str) -> bool {
        let quarter = self.opts.lease / 4;
        match self.client(addr, |e| e.connect_timeout(quarter)) {
            Ok(mut client) => ping(&mut client, quarter).await.is_some(),
            Err(_) => false,
        }
    }

    /// A client of the node at `addr`, with this node's credentials.
    fn client(
        &self,
        addr: &str,
        endpoint: impl FnOnce(tonic::transport::Endpoint) -> tonic::transport::Endpoint,
    ) -> Result<ClusterClient, Error> {
        let channel = self
            .peers
            .endpoint(addr)
            .map_err(|e| Error::Internal(format!("node address {addr}: {e}")))?;
        Ok(
            crate::proto::cluster::cluster_client::ClusterClient::with_interceptor(
                endpoint(channel).connect_lazy(),
                NodeCredentials::new(&self.node_token)?,
            ),
        )
    }

    /// The route to the routing node named by the lease value
    /// "node|addr|epoch". Its connection sends HTTP/2 keepalives, so a
    /// routing node that vanished without a word (paused, cut off) fails
    /// the streams proxied through it within a lease, and a probe task
    /// keeps the route's [`Reach`] for health and fail-fast commands.
    fn remote_route(&self, leader: &str) -> Result<Route, Error> {
        let mut parts = leader.split('|');
        let (node, addr, term) = match (parts.next(), parts.next(), parts.next().map(str::parse::<u64>)) {
            (Some(n), Some(a), Some(Ok(e))) => (n.to_string(), a.to_string(), e),
            _ => return Err(Error::Internal(format!("leader record {leader:?}"))),
        };
        let lease = self.opts.lease;
        let client = self.client(&addr, |e| {
            e.connect_timeout(lease.min(Duration::from_secs(2)))
                .http2_keep_alive_interval(lease / 2)
                .keep_alive_timeout(lease / 2)
                .keep_alive_while_idle(true)
        })?;
        let reach = Reach::new(reach_window(lease));
        tokio::spawn(probe_routing_node(
            client.clone(),
            Arc::downgrade(&reach),
            term,
            lease,
        ));
        Ok(Route::Remote {
            node,
            term,
            client: Box::new(client),
            reach,
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
        let Ok(mut nodes) = nodes else { return };
        let lapsed: Result<Vec<String>, _> = redis::cmd("ZRANGE")
            .arg(self.key("nodes"))
            .arg("-inf")
            .arg(format!("({horizon}"))
            .arg("BYSCORE")
            .query_async(conn)
            .await;
        let Ok(lapsed) = lapsed else { return };
        if !lapsed.is_empty() {
            let addrs: Result<Vec<Option<String>>, _> = redis::cmd("HMGET")
                .arg(self.key("nodeaddrs"))
                .arg(&lapsed)
                .query_async(conn)
                .await;
            let Ok(addrs) = addrs else { return };
            // Evidence, not only silence: a node that answers is alive (cut
            // from the store, not gone) and its callers are still on the
            // line. Asked all at once, so the loop waits a quarter lease at most.
            let answers = futures::future::join_all(
                addrs
                    .iter()
                    .map(|a| async move { matches!(a, Some(a) if self.answers(a).await) }),
            )
            .await;
            for (node, answers) in lapsed.into_iter().zip(answers) {
                if answers {
                    warn!(node = %node, "cluster: node missed its heartbeats but answers; its calls are kept");
                    nodes.push(node);
                    continue;
                }
                warn!(node = %node, "cluster: node lost (no heartbeat for two leases, does not answer); its calls end");
                let _: Result<(), _> = redis::pipe()
                    .zrem(self.key("nodes"), &node)
                    .ignore()
                    .hdel(self.key("nodeaddrs"), &node)
                    .ignore()
                    .query_async(conn)
                    .await;
            }
        }
        if let Route::Local { engine, .. } = &*self.route.borrow() {
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

/// Keeps this node's health true to what it can do, on its own timer (the
/// node loop may be waiting on an unreachable store): SERVING while the
/// store answered within a lease, the catalog was read from it, and the
/// routing node is this one or was reached within a lease.
async fn report_health(
    reporter: tonic_health::server::HealthReporter,
    names: Vec<&'static str>,
    route: watch::Receiver<Route>,
    store: Arc<Reach>,
    catalog: watch::Receiver<bool>,
    lease: Duration,
    node: String,
) {
    let mut serving: Option<bool> = None;
    let mut tick = tokio::time::interval(lease / 10);
    loop {
        tick.tick().await;
        let (healthy, why) = {
            let route = route.borrow();
            if !store.fresh() {
                (false, "the store does not answer".to_string())
            } else if !*catalog.borrow() {
                (
                    false,
                    "the catalog has not been read from the store yet".to_string(),
                )
            } else {
                match &*route {
                    Route::Local { .. } => (true, String::new()),
                    Route::Remote { reach, .. } if reach.fresh() => (true, String::new()),
                    Route::Remote { node, .. } => (false, format!("the routing node {node} does not answer")),
                    Route::Down(why) => (false, why.clone()),
                }
            }
        };
        if serving == Some(healthy) {
            continue;
        }
        serving = Some(healthy);
        let status = if healthy {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in &names {
            reporter.set_service_status(*name, status).await;
        }
        crate::metrics::events::health(healthy);
        if healthy {
            info!(node = %node, "serving");
        } else {
            warn!(node = %node, reason = %why, "not serving");
        }
    }
}

/// Pings the routing node of `term` while its route is in use (until the
/// route and its [`Reach`] are dropped), so this node knows whether its
/// forwarded commands can get through.
/// What a node answered to a Ping.
enum Pong {
    /// It routes in this term (0: it does not route).
    Term(u64),
    /// A node of the previous release (protocol 4), which has no Ping: it
    /// lives, its term unknown.
    Old,
}

/// Pings a node; None if it did not answer within `within`.
async fn ping(client: &mut ClusterClient, within: Duration) -> Option<Pong> {
    let mut req = tonic::Request::new(crate::proto::cluster::PingRequest {});
    req.set_timeout(within);
    match tokio::time::timeout(within, client.ping(req)).await {
        Ok(Ok(r)) => Some(Pong::Term(r.get_ref().epoch)),
        Ok(Err(s)) if s.code() == tonic::Code::Unimplemented => Some(Pong::Old),
        _ => None,
    }
}

async fn probe_routing_node(
    mut client: ClusterClient,
    reach: std::sync::Weak<Reach>,
    term: u64,
    lease: Duration,
) {
    let mut tick = tokio::time::interval(lease / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(reach) = reach.upgrade() else { return };
        match ping(&mut client, lease / 3).await {
            Some(Pong::Term(t)) if t == term => reach.ok(),
            Some(Pong::Old) => reach.ok(),
            _ => {}
        }
    }
}
