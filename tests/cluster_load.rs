//! Two real `hotline serve` processes on one Redis, under load: 200 agents
//! spread over both nodes, 2,000 calls started alternately on both. The
//! counts are asserted from the records in the store, not from logs.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::process::{connect, Node};
use common::redis::RedisServer;
use hotline::auth::{Role, TokenKeys};
use hotline::client::Clients;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use hotline::time::Timestamp;
use tokio_stream::StreamExt;

const SECRET: &str = "load-secret-0123456789abcdef";

fn config(redis: &RedisServer, agents: usize) -> String {
    let mut c = format!(
        r#"
skills = ["billing"]
[auth]
secret = "{SECRET}"
[store]
url = "{}"
namespace = "load"
[cluster]
lease_ms = 1000
[metrics]
listen = "127.0.0.1:0"
[web]
listen = ""
[entry_points]
"100" = "billing"
[queues.billing]
required_skills = [{{ skill = "billing", min_proficiency = 1 }}]
ring_timeout_secs = 3
wrap_up_secs = 30
max_queue_len = 5000
"#,
        redis.url()
    );
    for i in 0..agents {
        c.push_str(&format!(
            "[[agents]]\nid = \"agent-{i:03}\"\nskills = {{ billing = 5 }}\n"
        ));
    }
    c
}

fn token(role: Role, sub: &str) -> String {
    TokenKeys::new(SECRET.as_bytes())
        .mint(role, sub, Duration::from_secs(3600), Timestamp::now_wall())
        .unwrap()
}

/// A simulated agent: answers every offer, talks briefly, wraps up. Counts
/// offers that arrive while it already holds a call (must stay zero). If its
/// node goes away, its softphone reconnects to the next node.
async fn agent(
    channels: Vec<tonic::transport::Channel>,
    id: String,
    double: Arc<AtomicU32>,
    stop: Arc<AtomicU32>,
) {
    let mut node = 0;
    'connect: while stop.load(Ordering::SeqCst) == 0 {
        let mut c = Clients::new(channels[node % channels.len()].clone(), &token(Role::Agent, &id)).unwrap();
        node += 1;
        let login = c
            .agent
            .login(proto::LoginRequest {
                agent_id: id.clone(),
                start_available: true,
                ..Default::default()
            })
            .await;
        let events = match login {
            Ok(_) => {
                c.agent
                    .events(proto::EventsRequest { agent_id: id.clone() })
                    .await
            }
            Err(e) => Err(e),
        };
        let Ok(events) = events else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut events = events.into_inner();
        // A reconnected softphone asks to be available again.
        let _ = c
            .agent
            .set_state(proto::SetStateRequest {
                agent_id: id.clone(),
                state: proto::RequestedState::Available as i32,
                ..Default::default()
            })
            .await;
        let act = |call: &str| proto::CallActionRequest {
            agent_id: id.clone(),
            call_id: call.into(),
            request_id: String::new(),
        };
        let mut holding: Option<String> = None;
        while stop.load(Ordering::SeqCst) == 0 {
            let ev = match tokio::time::timeout(Duration::from_millis(200), events.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(ev))) => ev,
                Ok(_) => continue 'connect,
            };
            match ev.event {
                Some(Ev::CallOffered(o)) => {
                    let call = o.call.unwrap().call_id;
                    if holding.is_some() {
                        double.fetch_add(1, Ordering::SeqCst);
                    }
                    holding = Some(call.clone());
                    if c.agent.accept(act(&call)).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let _ = c.agent.hangup(act(&call)).await;
                    }
                }
                Some(Ev::OfferRescinded(_)) => holding = None,
                Some(Ev::StateChanged(s)) => {
                    let Some(a) = s.agent else { continue };
                    // Offers withdrawn by a takeover arrive as a state change.
                    if a.current_call_id.is_empty() {
                        holding = None;
                    }
                    // A reconnected softphone finishes what it was doing.
                    if a.state == proto::AgentState::OnCall as i32 {
                        let _ = c.agent.hangup(act(&a.current_call_id)).await;
                    } else if a.state == proto::AgentState::WrapUp as i32 {
                        let _ = c
                            .agent
                            .complete_wrap_up(proto::CompleteWrapUpRequest {
                                agent_id: id.clone(),
                                call_id: a.current_call_id.clone(),
                                disposition: proto::Disposition::Resolved as i32,
                                category: "billing/x".into(),
                                notes: String::new(),
                                request_id: String::new(),
                            })
                            .await;
                    }
                }
                Some(Ev::WrapUpStarted(w)) => {
                    holding = None;
                    let _ = c
                        .agent
                        .complete_wrap_up(proto::CompleteWrapUpRequest {
                            agent_id: id.clone(),
                            call_id: w.call_id,
                            disposition: proto::Disposition::Resolved as i32,
                            category: "billing/x".into(),
                            notes: String::new(),
                            request_id: String::new(),
                        })
                        .await;
                }
                _ => {}
            }
        }
    }
}

/// One caller: starts a call (at the next node if one is down), waits for
/// it to end; one in twenty gives up early.
async fn caller(edges: Vec<Clients>, n: usize) -> Option<String> {
    let mut started = None;
    for attempt in 0..20 {
        let mut edge = edges[(n + attempt) % edges.len()].clone();
        let r = edge
            .call
            .start_call(proto::StartCallRequest {
                ani: format!("+86{n:08}"),
                dnis: "100".into(),
                request_id: format!("load-{n}"),
                ..Default::default()
            })
            .await;
        match r {
            Ok(call) => {
                started = Some((edge, call.into_inner()));
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let (mut edge, call) = started?;
    let id = call.call_id.clone();
    // A watch that cannot start (the routing node died just after it
    // took the call) is retried below like one that broke: this caller's
    // own node is up, so its line is too.
    let mut watch = edge
        .call
        .watch_call(proto::GetCallRequest { call_id: id.clone() })
        .await
        .ok()
        .map(|w| w.into_inner());
    let give_up = n.is_multiple_of(20);
    let mut rewatches = 0;
    loop {
        let next = match watch.as_mut() {
            Some(w) => {
                tokio::time::timeout(Duration::from_millis(if give_up { 5 } else { 30_000 }), w.next()).await
            }
            None => Ok(None),
        };
        match next {
            Ok(Some(Ok(c))) if c.status == proto::CallStatus::Ended as i32 => return Some(id),
            Ok(Some(Ok(_))) => continue,
            // The watch broke (the routing node it ran through died): a
            // caller's line is still up, so watch again through a node that
            // answers, as an edge does, until the call is no longer live.
            Ok(_) if rewatches < 50 => {
                rewatches += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut again = None;
                for e in &edges {
                    match e
                        .clone()
                        .call
                        .watch_call(proto::GetCallRequest { call_id: id.clone() })
                        .await
                    {
                        Ok(w) => {
                            again = Some(w.into_inner());
                            break;
                        }
                        // Not live any more: it ended.
                        Err(s) if s.code() == tonic::Code::NotFound => return Some(id),
                        Err(_) => {}
                    }
                }
                watch = again;
            }
            Ok(_) => return Some(id),
            Err(_) => {
                let _ = edge
                    .call
                    .end_call(proto::EndCallRequest {
                        call_id: id.clone(),
                        request_id: String::new(),
                    })
                    .await;
                return Some(id);
            }
        }
    }
}

/// Every call, as recorded.
async fn recorded_calls(channel: tonic::transport::Channel) -> Vec<proto::Call> {
    let mut sup = Clients::new(channel, &token(Role::Supervisor, "sup")).unwrap();
    sup.all_calls().await.unwrap()
}

/// No agent's answered calls overlap in time.
fn assert_no_agent_held_two_calls(calls: &[proto::Call]) {
    let mut by_agent: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for c in calls {
        if c.outcome == proto::CallOutcome::Answered as i32 {
            by_agent
                .entry(c.agent_id.clone())
                .or_default()
                .push((c.answered_at_unix_ms, c.ended_at_unix_ms));
        }
    }
    for (agent, mut spans) in by_agent {
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "{agent} held two calls at once: {w:?}");
        }
    }
}

/// Redis, two `hotline serve` processes and simulated agents spread over
/// both (each failing over to the other node).
struct Cluster {
    nodes: Vec<Node>,
    channels: Vec<tonic::transport::Channel>,
    edges: Vec<Clients>,
    agents: Vec<tokio::task::JoinHandle<()>>,
    double: Arc<AtomicU32>,
    stop: Arc<AtomicU32>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(redis: &RedisServer, agents: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.toml");
        std::fs::write(&path, config(redis, agents)).unwrap();
        let mut nodes = Vec::new();
        let mut channels = Vec::new();
        // n1 starts first, so it routes.
        // TEST_NODE_LOGS=<dir> keeps each node's log there, to read after a
        // failure (one file per node and test: <tempdir>-<node>.log).
        let logs = std::env::var_os("TEST_NODE_LOGS").map(std::path::PathBuf::from);
        let run = dir
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for name in ["n1", "n2"] {
            let log = logs.as_ref().map(|d| d.join(format!("{run}-{name}.log")));
            let env: Vec<(&str, String)> = std::env::var("TEST_NODE_RUST_LOG")
                .map(|l| vec![("RUST_LOG", l)])
                .unwrap_or_default();
            let node = Node::start_with(&path, name, &env, log.as_deref());
            channels.push(connect(node.addr).await);
            nodes.push(node);
        }
        let double = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicU32::new(0));
        let tasks = (0..agents)
            .map(|i| {
                let mine = vec![channels[i % 2].clone(), channels[(i + 1) % 2].clone()];
                tokio::spawn(agent(mine, format!("agent-{i:03}"), double.clone(), stop.clone()))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let edges = channels
            .iter()
            .map(|ch| Clients::new(ch.clone(), &token(Role::Telephony, "edge")).unwrap())
            .collect();
        Cluster {
            nodes,
            channels,
            edges,
            agents: tasks,
            double,
            stop,
            _dir: dir,
        }
    }

    /// Stops the agents; returns how many offers reached an agent already
    /// holding a call.
    async fn stop_agents(&mut self) -> u32 {
        self.stop.store(1, Ordering::SeqCst);
        for a in self.agents.drain(..) {
            let _ = a.await;
        }
        self.double.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_200_agents_2000_calls_no_double_offers_no_lost_calls() {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start(&redis, 200).await;
    let channels = cluster.channels.clone();
    let edges = cluster.edges.clone();
    let permits = Arc::new(tokio::sync::Semaphore::new(100));
    let mut callers = Vec::new();
    for n in 0..2000 {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let edges = edges.clone();
        callers.push(tokio::spawn(async move {
            let r = caller(edges, n).await;
            drop(permit);
            r
        }));
    }
    let mut started = 0;
    for c in callers {
        if c.await.unwrap().is_some() {
            started += 1;
        }
    }
    let double = cluster.stop_agents().await;
    assert_eq!(started, 2000, "every call was accepted by a node");
    assert_eq!(double, 0, "an agent was offered a call while holding one");

    // From the records: every call ended answered or abandoned, and no agent's
    // answered calls overlap in time.
    let calls = recorded_calls(channels[0].clone()).await;
    assert_eq!(calls.len(), 2000, "no call lost");
    let mut by_outcome: HashMap<i32, usize> = HashMap::new();
    for c in &calls {
        assert_eq!(
            c.status,
            proto::CallStatus::Ended as i32,
            "{} not ended",
            c.call_id
        );
        *by_outcome.entry(c.outcome).or_default() += 1;
    }
    let answered = by_outcome
        .get(&(proto::CallOutcome::Answered as i32))
        .copied()
        .unwrap_or(0);
    let abandoned = by_outcome
        .get(&(proto::CallOutcome::Abandoned as i32))
        .copied()
        .unwrap_or(0);
    assert_eq!(
        answered + abandoned,
        2000,
        "only answered or abandoned: {by_outcome:?}"
    );
    assert!(answered >= 1800, "{by_outcome:?}");
    assert_no_agent_held_two_calls(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_routing_node_mid_load_frees_its_agents_and_routing_goes_on() {
    let redis = RedisServer::start();
    let mut cluster = Cluster::start(&redis, 20).await;
    let channels = cluster.channels.clone();
    let edges = cluster.edges.clone();
    let permits = Arc::new(tokio::sync::Semaphore::new(20));
    let mut callers = Vec::new();
    let mut killed_at = None;
    for n in 0..400 {
        if n == 150 {
            // n1 started first, so it routes: kill it without warning.
            cluster.nodes[0].kill();
            killed_at = Some(std::time::Instant::now());
        }
        let permit = permits.clone().acquire_owned().await.unwrap();
        let edges = edges.clone();
        callers.push(tokio::spawn(async move {
            let r = caller(edges, n).await;
            drop(permit);
            r
        }));
    }
    // Within the lease plus a ring timeout, no agent is left reserved from
    // before the kill: reservations of the dead node came back into service.
    let killed_at = killed_at.unwrap();
    tokio::time::sleep(Duration::from_millis(1000 + 3000 + 500).saturating_sub(killed_at.elapsed())).await;
    let kill_ms = Timestamp::now_wall().as_millis() as i64 - killed_at.elapsed().as_millis() as i64;
    let mut sup = Clients::new(channels[1].clone(), &token(Role::Supervisor, "sup")).unwrap();
    let floor = sup
        .supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let stuck: Vec<_> = floor
        .agents
        .iter()
        .filter(|a| a.state == proto::AgentState::Reserved as i32 && a.state_since_unix_ms < kill_ms)
        .map(|a| a.agent_id.clone())
        .collect();
    assert!(
        stuck.is_empty(),
        "agents still reserved from before the kill: {stuck:?}"
    );

    for c in callers {
        c.await.unwrap();
    }
    assert_eq!(cluster.stop_agents().await, 0);
    let calls = recorded_calls(channels[1].clone()).await;
    // Calls started after the kill went to n2 and were answered there.
    let after: Vec<_> = calls
        .iter()
        .filter(|c| c.enqueued_at_unix_ms > kill_ms + 1000)
        .collect();
    assert!(!after.is_empty(), "calls after the kill were routed");
    let answered_after = after
        .iter()
        .filter(|c| c.outcome == proto::CallOutcome::Answered as i32)
        .count();
    assert!(
        answered_after * 10 >= after.len() * 8,
        "routing goes on: {answered_after}/{}",
        after.len()
    );
    for c in &calls {
        assert_eq!(
            c.status,
            proto::CallStatus::Ended as i32,
            "{} not ended: {c:?}",
            c.call_id
        );
    }
    assert_no_agent_held_two_calls(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restart_mid_load_loses_nothing_acknowledged() {
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut cluster = Cluster::start(&redis, 20).await;
    let channels = cluster.channels.clone();
    let edges = cluster.edges.clone();
    // Calls keep arriving; each acknowledged StartCall is remembered.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let load_stop = Arc::new(AtomicU32::new(0));
    let mut load = Vec::new();
    for w in 0..4 {
        let mut edge = edges[w % 2].clone();
        let acknowledged = acknowledged.clone();
        let load_stop = load_stop.clone();
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while load_stop.load(Ordering::SeqCst) == 0 {
                n += 1;
                let r = edge
                    .call
                    .start_call(proto::StartCallRequest {
                        ani: format!("+87{w}{n:06}"),
                        dnis: "100".into(),
                        ..Default::default()
                    })
                    .await;
                if let Ok(call) = r {
                    acknowledged.lock().unwrap().push(call.into_inner().call_id);
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.kill();
    // Both nodes notice and say so.
    let mut health: Vec<_> = channels
        .iter()
        .map(|c| tonic_health::pb::health_client::HealthClient::new(c.clone()))
        .collect();
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    for h in health.iter_mut() {
        let mut down = false;
        for _ in 0..100 {
            let s = h
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .expect("the node keeps serving health while Redis is down")
                .into_inner()
                .status;
            if s == not_serving {
                down = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(down, "a node reported NOT_SERVING");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    for c in &channels {
        common::wait_serving(c).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    load_stop.store(1, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }
    let double = cluster.stop_agents().await;
    // Both processes lived through it, and every acknowledged call is on record.
    let calls = recorded_calls(channels[1].clone()).await;
    let recorded: std::collections::HashSet<_> = calls.iter().map(|c| c.call_id.clone()).collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 20, "load ran: {}", acknowledged.len());
    let missing: Vec<_> = acknowledged.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged calls missing after the restart: {missing:?}"
    );
    assert_eq!(double, 0);
    assert_no_agent_held_two_calls(&calls);
}
