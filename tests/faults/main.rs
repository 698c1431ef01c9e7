//! The cluster under faults, as a Jepsen test would put it: three real
//! `hotline serve` nodes and a real Redis, each in its own network
//! namespace, under load (agents on every node, calls arriving on every
//! node), through seven faults: the routing node cut from Redis for 6 s and
//! for 20 s, a follower cut from the routing node for 8 s, the routing node
//! paused (SIGSTOP) for 3.5 s and for 10 s, Redis restarted at once, and
//! Redis down for 5 s. After each fault and at the end it checks:
//!
//! - no agent holds two offers or calls at once;
//! - no call is answered by two agents;
//! - no offer is made for a call without a record;
//! - every acknowledged call ends recorded, and no retried StartCall made
//!   a second call;
//! - callbacks survive;
//! - every write from a stale epoch is refused (Redis' MONITOR feed);
//! - health matches what the node can do (NOT_SERVING within a lease of
//!   losing the store or the routing node, SERVING again after the heal);
//! - routing resumes within a lease of the heal, and no agent is pushed to
//!   not ready by offers it never saw;
//! - no call of a live node ends "node lost" (a node paused past two
//!   leases is indistinguishable from a dead one, and may be).
//!
//! It prints, per fault, the time from the heal to the first offer
//! delivered and the calls refused during the fault. Needs root, `ip` and
//! `nft` (see `common/netns.rs`); `./scripts/test` runs it.

#[path = "../common/mod.rs"]
mod common;
mod load;
mod monitor;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::netns::Net;
use hotline::auth::Role;
use hotline::client::Clients;
use hotline::proto;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;

const NODES: [&str; 3] = ["n1", "n2", "n3"];
const LEASE: Duration = Duration::from_millis(2000);
/// Slack for sampling and a loaded CI machine on top of "within a lease".
const SLACK: Duration = Duration::from_millis(500);
const PORT: u16 = 50051;
const REDIS_PORT: u16 = 6379;
const NS: &str = "faults";
const AGENTS: usize = 24;

fn config(redis: &str, dir: &std::path::Path) -> String {
    let mut c = format!(
        r#"
skills = ["billing"]
[auth]
secret = "{secret}"
[store]
url = "redis://{redis}:{REDIS_PORT}/0"
namespace = "{NS}"
redis_timeout_ms = 500
[cluster]
lease_ms = {lease}
[presence]
grace_secs = 120
[metrics]
listen = "127.0.0.1:0"
[web]
listen = ""
[media]
recordings_dir = "{rec}"
[entry_points]
"100" = "billing"
[queues.billing]
required_skills = [{{ skill = "billing", min_proficiency = 1 }}]
# Longer than the longest store outage, so an offer the store kept from
# being answered does not count as the agent's miss.
ring_timeout_secs = 8
# The test's agents answer every offer they see: one miss is an offer that
# never reached its agent.
max_consecutive_misses = 1
wrap_up_secs = 30
max_queue_len = 5000
"#,
        secret = load::SECRET,
        lease = LEASE.as_millis(),
        rec = dir.join("recordings").display(),
    );
    for i in 0..AGENTS {
        c.push_str(&format!(
            "[[agents]]\nid = \"agent-{i:02}\"\nskills = {{ billing = 5 }}\n"
        ));
    }
    c
}

/// One health check: when, which node, what it said (None: no answer).
type Sample = (Instant, &'static str, Option<ServingStatus>);

/// Redis, three nodes, their network and what watches them.
struct World {
    net: Net,
    dir: tempfile::TempDir,
    redis: Option<Child>,
    nodes: BTreeMap<&'static str, Child>,
    channels: BTreeMap<&'static str, Channel>,
    monitor: monitor::Monitor,
    /// Nodes silent long enough to be declared lost: which, from, to (wall ms).
    silenced: Vec<(&'static str, i64, i64)>,
    /// Health samples.
    health: Arc<Mutex<Vec<Sample>>>,
}

impl World {
    fn start() -> World {
        let hosts: Vec<&str> = std::iter::once("redis").chain(NODES).collect();
        let net = Net::new(&hosts).unwrap_or_else(|e| panic!("the fault-injection test needs: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let mut w = World {
            net,
            dir,
            redis: None,
            nodes: BTreeMap::new(),
            channels: BTreeMap::new(),
            monitor: monitor::Monitor::new(),
            silenced: Vec::new(),
            health: Arc::new(Mutex::new(Vec::new())),
        };
        w.start_redis();
        std::fs::write(
            w.dir.path().join("hotline.toml"),
            config(&w.net.ip("redis").to_string(), w.dir.path()),
        )
        .unwrap();
        for node in NODES {
            w.start_node(node);
            // n1 first, so it routes.
            if node == "n1" {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        w
    }

    fn redis_addr(&self) -> String {
        self.net.ip("redis").to_string()
    }

    fn start_redis(&mut self) {
        let epoch = self.epoch_now().unwrap_or(0);
        let child = self
            .net
            .command("redis", "redis-server")
            .args(["--bind", &self.redis_addr(), "--port", &REDIS_PORT.to_string()])
            .args(["--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            // Clients come from the other namespaces, not loopback.
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (./scripts/test installs it)");
        self.redis = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.epoch_now().is_none() {
            assert!(Instant::now() < deadline, "redis did not start in its namespace");
            std::thread::sleep(Duration::from_millis(20));
        }
        let epoch = epoch.max(self.epoch_now().unwrap_or(0));
        self.monitor.follow(&self.redis_addr(), REDIS_PORT, epoch);
    }

    fn kill_redis(&mut self) {
        if let Some(mut c) = self.redis.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The routing epoch in Redis; None if Redis does not answer.
    fn epoch_now(&self) -> Option<u64> {
        let client = redis::Client::open(format!("redis://{}:{REDIS_PORT}/0", self.redis_addr())).ok()?;
        let mut c = client
            .get_connection_with_timeout(Duration::from_millis(300))
            .ok()?;
        let epoch: Option<u64> = redis::cmd("GET")
            .arg(format!("{{{NS}}}:epoch"))
            .query(&mut c)
            .ok()?;
        Some(epoch.unwrap_or(0))
    }

    fn redis_get(&self, key: &str) -> Option<String> {
        let client = redis::Client::open(format!("redis://{}:{REDIS_PORT}/0", self.redis_addr())).ok()?;
        let mut c = client.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
        redis::cmd("GET").arg(key).query(&mut c).ok()?
    }

    /// The node that routes now, from the lease in Redis.
    fn routing_node(&self) -> &'static str {
        let leader = self.redis_get(&format!("{{{NS}}}:leader")).unwrap_or_default();
        let name = leader.split('|').next().unwrap_or("");
        NODES
            .into_iter()
            .find(|n| *n == name)
            .unwrap_or_else(|| panic!("no routing node in the lease: {leader:?}"))
    }

    fn start_node(&mut self, node: &'static str) {
        let ip = self.net.ip(node);
        let log = std::fs::File::create(self.log_path(node)).unwrap();
        let child = self
            .net
            // FAULTS_HOTLINE_BIN runs the faults against another build
            // (an older release, to see a check fail without its fix).
            .command(
                node,
                &std::env::var("FAULTS_HOTLINE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hotline").into()),
            )
            .arg("--config")
            .arg(self.dir.path().join("hotline.toml"))
            .args(["serve", "--listen", &format!("{ip}:{PORT}")])
            .env("HOTLINE_CLUSTER__NODE_ID", node)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hotline binary");
        self.nodes.insert(node, child);
        let channel = Endpoint::from_shared(format!("http://{ip}:{PORT}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(1))
            // A softphone notices a node that stopped answering.
            .http2_keep_alive_interval(Duration::from_millis(500))
            .keep_alive_timeout(Duration::from_millis(1000))
            .keep_alive_while_idle(true)
            .connect_lazy();
        self.channels.insert(node, channel);
    }

    fn log_path(&self, node: &str) -> std::path::PathBuf {
        match std::env::var_os("TEST_NODE_LOGS") {
            Some(d) => std::path::PathBuf::from(d).join(format!("faults-{node}.log")),
            None => self.dir.path().join(format!("{node}.log")),
        }
    }

    fn signal(&self, node: &str, sig: &str) {
        let pid = self.nodes[node].id().to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} {pid}");
    }

    fn edges(&self) -> Vec<Clients> {
        NODES
            .iter()
            .map(|n| Clients::new(self.channels[n].clone(), &load::token(Role::Telephony, "edge")).unwrap())
            .collect()
    }

    /// Samples every node's health every 100 ms until `stop`.
    fn sample_health(&self, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
        NODES
            .iter()
            .map(|&node| {
                let mut client =
                    tonic_health::pb::health_client::HealthClient::new(self.channels[node].clone());
                let samples = self.health.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let asked = Instant::now();
                        let r = tokio::time::timeout(
                            Duration::from_millis(300),
                            client.check(tonic_health::pb::HealthCheckRequest::default()),
                        )
                        .await;
                        let status = match r {
                            Ok(Ok(r)) => ServingStatus::try_from(r.into_inner().status).ok(),
                            _ => None,
                        };
                        samples.lock().unwrap().push((asked, node, status));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            })
            .collect()
    }

    /// The first time in `[from, to)` `node` said `status`.
    fn first_said(&self, node: &str, status: ServingStatus, from: Instant, to: Instant) -> Option<Duration> {
        self.health
            .lock()
            .unwrap()
            .iter()
            .find(|(t, n, s)| *n == node && *t >= from && *t < to && *s == Some(status))
            .map(|(t, _, _)| *t - from)
    }

    /// Waits until every node says SERVING; how long that took, or None
    /// if they did not within `within`.
    async fn all_serving(&self, since: Instant, within: Duration) -> Option<Duration> {
        let deadline = Instant::now() + within;
        loop {
            let now = Instant::now();
            let serving = NODES.iter().all(|n| {
                self.health
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .find(|(_, node, _)| node == n)
                    .is_some_and(|(t, _, s)| *t >= since && *s == Some(ServingStatus::Serving))
            });
            if serving {
                return Some(now - since);
            }
            if now >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for (_, mut node) in std::mem::take(&mut self.nodes) {
            let _ = node.kill();
            let _ = node.wait();
        }
        self.kill_redis();
    }
}

/// One fault: what it does to the cluster, and how long it lasts.
#[derive(Clone, Copy, Debug)]
enum Fault {
    RoutingNodeCutFromRedis(Duration),
    FollowerCutFromRoutingNode(Duration),
    RoutingNodePaused(Duration),
    RedisRestarted,
    RedisDown(Duration),
}

/// What a fault's run measured.
struct Figures {
    name: String,
    heal_to_offer: Duration,
    /// The longest time no offer reached any agent, from the fault to the
    /// first offer after the heal (calls kept arriving throughout).
    longest_gap: Duration,
    started: usize,
    /// StartCall attempts refused during the fault.
    attempts_refused: usize,
    /// Calls whose every attempt (8 s of retries) was refused.
    refused: usize,
    went_not_serving: String,
    serving_again: Duration,
    /// Checks that failed (all are gathered, so a run shows every one).
    problems: Vec<String>,
}

async fn run_fault(w: &mut World, fault: Fault, seen: &load::Shared) -> Figures {
    let routing = w.routing_node();
    let follower = NODES.into_iter().find(|n| *n != routing).unwrap();
    let began = Instant::now();
    // Who must say NOT_SERVING, within a lease (plus slack) of the fault.
    let mut must_go_down: Vec<&str> = Vec::new();
    let name = match fault {
        Fault::RoutingNodeCutFromRedis(d) => {
            w.net.cut(routing, "redis");
            must_go_down.push(routing);
            tokio::time::sleep(d).await;
            w.net.heal(routing);
            format!("routing node {routing} cut from Redis for {d:?}")
        }
        Fault::FollowerCutFromRoutingNode(d) => {
            w.net.cut(follower, routing);
            must_go_down.push(follower);
            tokio::time::sleep(d).await;
            w.net.heal(follower);
            format!("follower {follower} cut from the routing node {routing} for {d:?}")
        }
        Fault::RoutingNodePaused(d) => {
            let from = hotline::time::Timestamp::now_wall().as_millis() as i64;
            w.signal(routing, "-STOP");
            tokio::time::sleep(d).await;
            w.signal(routing, "-CONT");
            // Silent for more than two leases, it may be declared lost.
            if d > LEASE * 2 {
                let to = hotline::time::Timestamp::now_wall().as_millis() as i64 + LEASE.as_millis() as i64;
                w.silenced.push((routing, from, to));
            }
            format!("routing node {routing} paused for {d:?}")
        }
        Fault::RedisRestarted => {
            w.kill_redis();
            w.start_redis();
            "Redis restarted at once".to_string()
        }
        Fault::RedisDown(d) => {
            w.kill_redis();
            must_go_down.extend(NODES);
            tokio::time::sleep(d).await;
            w.start_redis();
            format!("Redis down for {d:?}")
        }
    };
    let healed = Instant::now();
    let mut problems = Vec::new();
    // Health told the truth during the fault.
    let mut went_not_serving = Vec::new();
    for node in &must_go_down {
        match w.first_said(node, ServingStatus::NotServing, began, healed) {
            None => problems.push(format!("{name}: {node} never said NOT_SERVING")),
            Some(took) if took > LEASE + SLACK => problems.push(format!(
                "{name}: {node} said NOT_SERVING only after {took:?} (lease {LEASE:?})"
            )),
            Some(took) => went_not_serving.push(format!("{node} {}ms", took.as_millis())),
        }
    }
    // Service and routing come back within a lease of the heal.
    let serving_again = w.all_serving(healed, LEASE * 5).await.unwrap_or_else(|| {
        problems.push(format!(
            "{name}: the nodes were not all SERVING {:?} after the heal",
            LEASE * 5
        ));
        LEASE * 5
    });
    let heal_to_offer = loop {
        let first = seen
            .lock()
            .unwrap()
            .offers
            .iter()
            .find(|(t, _, _)| *t >= healed)
            .map(|(t, _, _)| *t - healed);
        if let Some(d) = first {
            break d;
        }
        if healed.elapsed() > LEASE * 5 {
            problems.push(format!(
                "{name}: no offer reached an agent within {:?} of the heal",
                LEASE * 5
            ));
            break healed.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if heal_to_offer > LEASE + SLACK {
        problems.push(format!(
            "{name}: the first offer after the heal took {heal_to_offer:?}"
        ));
    }
    let longest_gap = {
        let s = seen.lock().unwrap();
        let mut times: Vec<Instant> = s
            .offers
            .iter()
            .map(|(t, _, _)| *t)
            .filter(|t| *t >= began && *t <= healed + heal_to_offer)
            .collect();
        times.insert(0, began);
        times.push(healed + heal_to_offer);
        times.sort();
        times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
    };
    let (started, attempts_refused, refused) = {
        let s = seen.lock().unwrap();
        let during = |t: &Instant| *t >= began && *t < healed;
        (
            s.started.iter().filter(|t| during(t)).count(),
            s.attempts_refused.iter().filter(|t| during(t)).count(),
            s.refused.iter().filter(|(t, _)| during(t)).count(),
        )
    };
    problems.extend(check_safety(w, seen, &name));
    Figures {
        name,
        heal_to_offer,
        longest_gap,
        started,
        attempts_refused,
        refused,
        went_not_serving: went_not_serving.join(", "),
        serving_again,
        problems,
    }
}

/// The invariants that hold at every moment; what broke them (each once:
/// the observations are drained).
fn check_safety(w: &World, seen: &load::Shared, when: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut s = seen.lock().unwrap();
    for d in std::mem::take(&mut s.double_offers) {
        problems.push(format!("{when}: {d}"));
    }
    let twice: Vec<_> = s.connected.iter().filter(|(_, a)| a.len() > 1).collect();
    if !twice.is_empty() {
        problems.push(format!("{when}: calls answered by two agents: {twice:?}"));
    }
    s.connected.retain(|_, a| a.len() <= 1);
    let missed = std::mem::take(&mut s.missed);
    if !missed.is_empty() {
        let agents: Vec<_> = missed.iter().map(|(_, a)| a.as_str()).collect();
        problems.push(format!(
            "{when}: agents set not ready for offers they never saw: {agents:?}"
        ));
    }
    let mut f = w.monitor.fencing.lock().unwrap();
    for v in std::mem::take(&mut f.violations) {
        problems.push(format!("{when}: fencing: {v}"));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seven_faults_under_load_lose_nothing_and_routing_resumes_within_a_lease() {
    let mut w = World::start();
    for ch in w.channels.values() {
        common::wait_serving(ch).await;
    }
    let stop_health = Arc::new(AtomicBool::new(false));
    let samplers = w.sample_health(stop_health.clone());
    let seen: load::Shared = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    // Agents: a third at home on each node.
    let agents: Vec<_> = (0..AGENTS)
        .map(|i| {
            let home = i % NODES.len();
            let channels = (0..NODES.len())
                .map(|k| w.channels[NODES[(home + k) % NODES.len()]].clone())
                .collect();
            tokio::spawn(load::agent(
                channels,
                format!("agent-{i:02}"),
                seen.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // Callbacks promised before the faults, due in two hours.
    let mut sup = Clients::new(w.channels["n2"].clone(), &load::token(Role::Supervisor, "sup")).unwrap();
    let due = hotline::time::Timestamp::now_wall().as_millis() as i64 + 2 * 3600 * 1000;
    let mut callbacks = Vec::new();
    for i in 0..5 {
        let cb = sup
            .callback
            .create_callback(proto::CreateCallbackRequest {
                number: format!("+3100000{i}"),
                queue: "billing".into(),
                not_before_unix_ms: due,
                ..Default::default()
            })
            .await
            .expect("callback")
            .into_inner();
        callbacks.push(cb);
    }
    // Calls arrive on every node, one every 300 ms each.
    let callers = Arc::new(Mutex::new(Vec::new()));
    let generators: Vec<_> = (0..NODES.len())
        .map(|k| {
            let mut edges = w.edges();
            edges.rotate_left(k);
            let seen = seen.clone();
            let stop = stop.clone();
            let callers = callers.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let ani = format!("+9{k}{n:06}");
                    let task = tokio::spawn(load::caller(edges.clone(), ani, seen.clone()));
                    callers.lock().unwrap().push(task);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut problems = check_safety(&w, &seen, "before the faults");

    let faults = [
        Fault::RoutingNodeCutFromRedis(Duration::from_secs(6)),
        Fault::RoutingNodeCutFromRedis(Duration::from_secs(20)),
        Fault::FollowerCutFromRoutingNode(Duration::from_secs(8)),
        Fault::RoutingNodePaused(Duration::from_millis(3500)),
        Fault::RoutingNodePaused(Duration::from_secs(10)),
        Fault::RedisRestarted,
        Fault::RedisDown(Duration::from_secs(5)),
    ];
    let mut figures = Vec::new();
    for fault in faults {
        let mut fig = run_fault(&mut w, fault, &seen).await;
        problems.append(&mut fig.problems);
        figures.push(fig);
        // Calm before the next one.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Drain: no new calls; every caller is done (answered, or hung up).
    stop.store(true, Ordering::SeqCst);
    for g in generators {
        g.await.unwrap();
    }
    let tasks: Vec<_> = std::mem::take(&mut *callers.lock().unwrap());
    for t in tasks {
        t.await.unwrap();
    }
    for a in agents {
        let _ = a.await;
    }
    stop_health.store(true, Ordering::SeqCst);
    for s in samplers {
        let _ = s.await;
    }
    problems.extend(check_safety(&w, &seen, "at the end"));

    // Against the records.
    let calls = sup.all_calls().await.expect("calls");
    let by_id: BTreeMap<_, _> = calls.iter().map(|c| (c.call_id.clone(), c)).collect();
    let (acknowledged, offers) = {
        let s = seen.lock().unwrap();
        (s.acknowledged.clone(), s.offers.clone())
    };
    for (ani, id) in &acknowledged {
        match by_id.get(id) {
            None => problems.push(format!("acknowledged call {id} ({ani}) has no record")),
            Some(c) if c.status != proto::CallStatus::Ended as i32 => {
                problems.push(format!("acknowledged call not ended: {c:?}"))
            }
            Some(_) => {}
        }
    }
    let mut per_request: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &calls {
        *per_request.entry(c.ani.as_str()).or_default() += 1;
        // Only a node that was silent past two leases (paused) may be
        // declared lost, and only while it was.
        let excused = w.silenced.iter().any(|(node, from, to)| {
            c.end_reason.contains(&format!("node lost: {node} "))
                && (*from..=*to).contains(&c.ended_at_unix_ms)
        });
        if c.end_reason.contains("node lost") && !excused {
            problems.push(format!(
                "no node was lost, yet {} ended \"{}\"",
                c.call_id, c.end_reason
            ));
        }
    }
    let doubled: Vec<_> = per_request.iter().filter(|(_, n)| **n > 1).collect();
    if !doubled.is_empty() {
        problems.push(format!("retried StartCalls made second calls: {doubled:?}"));
    }
    for (_, _, call) in &offers {
        if !by_id.contains_key(call) {
            problems.push(format!("an offer for call {call}, which has no record"));
        }
    }
    for cb in &callbacks {
        let got = sup
            .callback
            .get_callback(proto::CallbackRef {
                callback_id: cb.callback_id.clone(),
                ..Default::default()
            })
            .await;
        match got {
            Ok(got)
                if got.get_ref().status == cb.status
                    && got.get_ref().deadline_unix_ms == cb.deadline_unix_ms => {}
            other => problems.push(format!("callback {} did not survive: {other:?}", cb.callback_id)),
        }
    }
    let f = w.monitor.fencing.lock().unwrap();
    assert!(f.fenced_writes > 0, "the monitor saw the nodes' writes");

    println!(
        "\nfault | heal -> first offer | longest time without an offer | calls started / attempts refused / calls refused during | NOT_SERVING after | all SERVING after heal"
    );
    for fig in &figures {
        println!(
            "{} | {} ms | {} ms | {} / {} / {} | {} | {} ms",
            fig.name,
            fig.heal_to_offer.as_millis(),
            fig.longest_gap.as_millis(),
            fig.started,
            fig.attempts_refused,
            fig.refused,
            if fig.went_not_serving.is_empty() {
                "-"
            } else {
                &fig.went_not_serving
            },
            fig.serving_again.as_millis()
        );
    }
    println!(
        "acknowledged calls {}, offers {}, fenced writes {}, stale writes refused {:?}",
        acknowledged.len(),
        offers.len(),
        f.fenced_writes,
        f.stale_attempts
    );
    assert!(
        problems.is_empty(),
        "{} checks failed:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
