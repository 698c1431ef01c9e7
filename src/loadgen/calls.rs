//! `hotline loadgen calls`: N concurrent calls between synthetic WebRTC
//! peers, each bridged caller <-> agent through a real `hotline serve`
//! process and recorded, with SRTP on both legs.
//!
//! The server runs as a child process so its CPU is measured apart from the
//! peers' (read from /proc in USER_HZ ticks). Loss is measured end to end at
//! the peers' jitter buffers: a 20 ms frame that was not there when its
//! playout slot came is lost, whether the network dropped it or the server
//! was late. The recording bandwidth is the growth of the recordings folder.
//! Mouth-to-ear delay: every party says a 100 ms burst each second, and the
//! time from a burst said to its onset heard (played out at the far peer)
//! is measured in both directions.
//!
//! Topologies: one node on the embedded store; one node on Redis; or two
//! nodes on Redis with every caller on one and every agent on the other, so
//! every call's agent audio crosses the node-to-node relay. Redis is a
//! `redis-server` the run starts on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::auth::{Role, TokenKeys};
use crate::client::softphone::{burst_delays, connect, pulses, BurstTimes, Party, SoftPhone};
use crate::client::{self, Clients};
use crate::error::Error;
use crate::media::webrtc::{AudioCodec, WebRtcEndpoint, WebRtcSettings};
use crate::proto;
use crate::time::Timestamp;

pub(super) const SECRET: &str = "loadgen-secret-0123456789abcdef";

/// Negotiations in flight at once while setting up.
const SETUP_CONCURRENCY: usize = 8;

/// Where the run's calls go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One node, embedded store.
    Single,
    /// One node on Redis (the baseline of the cross-node run).
    SingleOnRedis,
    /// Callers on one node, agents on another, one Redis.
    CrossNode,
}

impl Topology {
    fn nodes(self) -> usize {
        if self == Topology::CrossNode {
            2
        } else {
            1
        }
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Topology::Single => "one node, embedded store",
            Topology::SingleOnRedis => "one node on Redis",
            Topology::CrossNode => "callers on node A, agents on node B, one Redis",
        })
    }
}

#[derive(Clone, Debug)]
pub struct CallLoadOptions {
    pub calls: usize,
    pub topology: Topology,
    /// Time between all calls connected and the measurement.
    pub warmup: Duration,
    pub measure: Duration,
    /// The `hotline` binary to run as the server.
    pub server_exe: PathBuf,
    /// Working folder (config, recordings); removed afterwards unless kept.
    pub workdir: PathBuf,
}

/// Delays of bursts said by one party and heard by the other.
#[derive(Clone, Debug, Default)]
pub struct DelaySummary {
    pub samples: usize,
    pub mean: Duration,
    pub median: Duration,
    pub p95: Duration,
}

impl DelaySummary {
    pub fn of(mut delays: Vec<Duration>) -> DelaySummary {
        if delays.is_empty() {
            return DelaySummary::default();
        }
        delays.sort();
        let at = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
        DelaySummary {
            samples: delays.len(),
            mean: delays.iter().sum::<Duration>() / delays.len() as u32,
            median: at(0.5),
            p95: at(0.95),
        }
    }
}

impl std::fmt::Display for DelaySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mean {:.1} ms, median {:.1} ms, p95 {:.1} ms ({} bursts)",
            self.mean.as_secs_f64() * 1000.0,
            self.median.as_secs_f64() * 1000.0,
            self.p95.as_secs_f64() * 1000.0,
            self.samples
        )
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct CallLoadReport {
    pub calls: usize,
    pub topology: Topology,
    pub connected: usize,
    pub measured: Duration,
    /// Server CPU (user + system) over the window, all nodes.
    pub server_cpu: Duration,
    /// Each node's CPU over the window: the callers' node first.
    pub node_cpu: Vec<Duration>,
    /// Mouth-to-ear delay, caller to agent and agent to caller.
    pub caller_to_agent: DelaySummary,
    pub agent_to_caller: DelaySummary,
    /// The load generator's own CPU (all the peers) over the window.
    pub peers_cpu: Duration,
    /// Frames expected at the peers over the window, and lost of those.
    pub frames: u64,
    pub lost: u64,
    /// Bytes per second the recordings grew by.
    pub recording_bytes_per_sec: f64,
}

impl CallLoadReport {
    /// Server CPU milliseconds per second of one call.
    pub fn cpu_ms_per_call_second(&self) -> f64 {
        let call_seconds = self.connected as f64 * self.measured.as_secs_f64();
        if call_seconds == 0.0 {
            return 0.0;
        }
        self.server_cpu.as_secs_f64() * 1000.0 / call_seconds
    }

    /// One node's CPU milliseconds per call-second.
    pub fn node_ms_per_call_second(&self, node: usize) -> f64 {
        let call_seconds = self.connected as f64 * self.measured.as_secs_f64();
        match self.node_cpu.get(node) {
            Some(cpu) if call_seconds > 0.0 => cpu.as_secs_f64() * 1000.0 / call_seconds,
            _ => 0.0,
        }
    }

    pub fn loss_percent(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        100.0 * self.lost as f64 / self.frames as f64
    }
}

impl std::fmt::Display for CallLoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls ({} connected) over {:.1?}: server CPU {:.2?} = {:.3} ms per call-second \
             ({:.0}% of one core); packet loss {:.3}% ({} of {} frames); recordings {:.1} KB/s \
             ({:.1} KB/s per call); peers used {:.2?} CPU",
            self.calls,
            self.connected,
            self.measured,
            self.server_cpu,
            self.cpu_ms_per_call_second(),
            100.0 * self.server_cpu.as_secs_f64() / self.measured.as_secs_f64().max(1e-9),
            self.loss_percent(),
            self.lost,
            self.frames,
            self.recording_bytes_per_sec / 1000.0,
            self.recording_bytes_per_sec / 1000.0 / self.connected.max(1) as f64,
            self.peers_cpu,
        )?;
        if self.node_cpu.len() > 1 {
            write!(
                f,
                "\n  per node: callers' node {:.3} ms, agents' node {:.3} ms per call-second",
                self.node_ms_per_call_second(0),
                self.node_ms_per_call_second(1)
            )?;
        }
        write!(
            f,
            "\n  mouth-to-ear: caller to agent {}; agent to caller {}",
            self.caller_to_agent, self.agent_to_caller
        )
    }
}

/// What the cross-node relay adds: `cross` against the same calls on one
/// node (`single`).
pub fn relay_cost(single: &CallLoadReport, cross: &CallLoadReport) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "relay cost: {:+.3} ms CPU per call-second in all ({:.3} on one node, {:.3} + {:.3} on two); \
         mouth-to-ear {:+.1} ms caller to agent, {:+.1} ms agent to caller (means)",
        cross.cpu_ms_per_call_second() - single.cpu_ms_per_call_second(),
        single.cpu_ms_per_call_second(),
        cross.node_ms_per_call_second(0),
        cross.node_ms_per_call_second(1),
        ms(cross.caller_to_agent.mean) - ms(single.caller_to_agent.mean),
        ms(cross.agent_to_caller.mean) - ms(single.agent_to_caller.mean),
    )
}

/// The server process, killed on drop.
pub(super) struct ServerProcess(pub(super) Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A load run's server configuration: one billing queue on entry point
/// 100, the run's own store and recordings (beside `recordings`), media on
/// loopback, and `agents` billing agents `lg-00000`... Each load adds lines
/// to the `[media]` table (`media`), the queue (`queue`) and each agent
/// (`agent`), and whole tables (`tables`); `store` adds lines to the
/// `[store]` table (a Redis URL).
pub(super) fn server_config(
    recordings: &Path,
    agents: usize,
    store: &str,
    media: &str,
    tables: &str,
    queue: &str,
    agent: &str,
) -> String {
    let mut c = format!(
        r#"skills = ["billing"]
[auth]
secret = "{SECRET}"
[presence]
grace_secs = 0
[store]
# The run's own embedded store (not the one of the folder it runs from).
data_file = {:?}
{store}
[metrics]
listen = "127.0.0.1:0"
[web]
listen = ""
[media]
recordings_dir = {:?}
include_loopback = true
ips = ["127.0.0.1"]
{media}
{tables}
[entry_points]
"100" = "billing"
[queues.billing]
required_skills = [{{ skill = "billing", min_proficiency = 1 }}]
ring_timeout_secs = 30
max_queue_len = 100000
{queue}
"#,
        recordings.with_file_name("hotline.redb").display().to_string(),
        recordings.display().to_string()
    );
    for i in 0..agents {
        c.push_str(&format!(
            "[[agents]]\nid = \"lg-{i:05}\"\nskills = {{ billing = 5 }}\n{agent}\n"
        ));
    }
    c
}

/// CPU (user + system) a process used, from /proc (Linux).
pub(super) fn cpu_of(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after ")".
    // /proc reports them in USER_HZ, which is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

pub(super) fn folder_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => folder_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn frames(phones: &[&SoftPhone]) -> (u64, u64) {
    phones.iter().fold((0, 0), |(played, lost), p| {
        let s = p.inbound_stats();
        (played + s.played + s.lost, lost + s.lost)
    })
}

/// Starts `hotline serve` with `config` on a free port and waits until it
/// serves.
pub(super) async fn start_server(
    exe: &Path,
    config: &Path,
) -> Result<(ServerProcess, tonic::transport::Channel), Error> {
    let io = |e: std::io::Error| Error::Internal(format!("loadgen: {e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io)?
        .port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(exe)
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(io)?;
    let server = ServerProcess(child);
    let mut channel = None;
    for _ in 0..200 {
        if let Ok(ch) = client::channel(addr).await {
            if client::wait_serving(&ch, Duration::from_secs(10)).await.is_ok() {
                channel = Some(ch);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let channel = channel.ok_or_else(|| Error::Unavailable(format!("server at {addr} did not come up")))?;
    Ok((server, channel))
}

/// A `redis-server` on a free loopback port, killed on drop.
pub(crate) struct RedisProcess {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisProcess {
    pub(crate) async fn start(dir: &Path) -> Result<RedisProcess, Error> {
        let io = |e: std::io::Error| Error::Internal(format!("loadgen: {e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io)?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Error::Unavailable(format!(
                    "loadgen needs redis-server on PATH for this topology: {e}"
                ))
            })?;
        let redis = RedisProcess { child, port };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(redis);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(Error::Unavailable(format!(
            "redis-server on port {port} did not start"
        )))
    }
}

/// Every burst said in `[from, to]` paired with its onset at the far end.
fn delays(said: &[(BurstTimes, &SoftPhone)], from: Instant, to: Instant) -> DelaySummary {
    let mut all = Vec::new();
    for (starts, far) in said {
        let starts: Vec<Instant> = starts
            .lock()
            .map(|s| s.iter().copied().filter(|t| *t >= from && *t <= to).collect())
            .unwrap_or_default();
        all.extend(burst_delays(&starts, &far.onsets(), Duration::from_millis(600)));
    }
    DelaySummary::of(all)
}

/// Runs one load of `opts.calls` calls.
pub async fn run(opts: &CallLoadOptions) -> Result<CallLoadReport, Error> {
    let io = |e: std::io::Error| Error::Internal(format!("loadgen: {e}"));
    std::fs::create_dir_all(&opts.workdir).map_err(io)?;
    let redis = match opts.topology {
        Topology::Single => None,
        _ => Some(RedisProcess::start(&opts.workdir).await?),
    };
    let store = match &redis {
        Some(r) => format!(
            "url = \"redis://127.0.0.1:{}/0\"\nnamespace = \"loadgen\"",
            r.port
        ),
        None => String::new(),
    };
    // Node 0 takes the callers, node 1 (if any) the agents.
    let mut servers = Vec::new();
    let mut folders = Vec::new();
    for node in 0..opts.topology.nodes() {
        let recordings = opts.workdir.join(format!("recordings-{node}"));
        let config_path = opts.workdir.join(format!("loadgen-{node}.toml"));
        std::fs::write(
            &config_path,
            server_config(&recordings, opts.calls, &store, "", "", "", ""),
        )
        .map_err(io)?;
        servers.push(start_server(&opts.server_exe, &config_path).await?);
        folders.push(recordings);
    }
    let callers_channel = servers[0].1.clone();
    let agents_channel = servers[servers.len() - 1].1.clone();
    let pids: Vec<String> = servers.iter().map(|(p, _)| p.0.id().to_string()).collect();
    let keys = TokenKeys::new(SECRET.as_bytes());
    let clients = |channel: &tonic::transport::Channel, role: Role, sub: &str| -> Result<Clients, Error> {
        let token = keys.mint(role, sub, Duration::from_secs(24 * 3600), Timestamp::now_wall())?;
        Clients::new(channel.clone(), &token)
    };
    let endpoint = Arc::new(WebRtcEndpoint::new(&WebRtcSettings {
        udp_ports: None,
        ips: vec![[127, 0, 0, 1].into()],
        include_loopback: true,
        jitter_frames: 3,
        // G.711 calls, as the target is stated.
        codecs: vec![AudioCodec::Pcmu],
    })?);

    // Agents: log in, connect softphones, answer whatever is offered. Each
    // says a burst every second, half a second after the callers' bursts.
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut agents = Vec::with_capacity(opts.calls);
    let mut setups = futures::stream::FuturesUnordered::new();
    for i in 0..opts.calls {
        let id = format!("lg-{i:05}");
        let mut c = clients(&agents_channel, Role::Agent, &id)?;
        let endpoint = endpoint.clone();
        let gate = gate.clone();
        setups.push(async move {
            let _permit = gate.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
            c.agent
                .login(proto::LoginRequest {
                    agent_id: id.clone(),
                    start_available: true,
                    ..Default::default()
                })
                .await
                .map_err(|s| crate::status::from_remote(&s))?;
            let (source, bursts) = pulses(1000.0, 8000, 50, 25);
            let phone = connect(&mut c, &endpoint, Party::Agent(&id), source, false).await?;
            let events = c
                .agent
                .events(proto::EventsRequest { agent_id: id.clone() })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            tokio::spawn(answer_offers(c, id.clone(), events));
            Ok::<_, Error>((id, phone, bursts))
        });
    }
    while let Some(agent) = setups.next().await {
        agents.push(agent?);
    }

    // Callers: start calls and connect their audio.
    let mut callers = Vec::with_capacity(opts.calls);
    let mut setups = futures::stream::FuturesUnordered::new();
    for i in 0..opts.calls {
        let mut edge = clients(&callers_channel, Role::Telephony, "loadgen")?;
        let endpoint = endpoint.clone();
        let gate = gate.clone();
        setups.push(async move {
            let _permit = gate.acquire().await.map_err(|e| Error::Internal(e.to_string()))?;
            let call = edge
                .call
                .start_call(proto::StartCallRequest {
                    ani: format!("+1555{i:07}"),
                    dnis: "100".into(),
                    ..Default::default()
                })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            let (source, bursts) = pulses(440.0, 8000, 50, 0);
            let phone = connect(&mut edge, &endpoint, Party::Caller(&call.call_id), source, false).await?;
            Ok::<_, Error>((call.call_id, phone, bursts))
        });
    }
    while let Some(caller) = setups.next().await {
        callers.push(caller?);
    }

    // Wait until the calls are connected (or give up after a while).
    let mut sup = clients(&callers_channel, Role::Supervisor, "loadgen")?;
    let started = Instant::now();
    let mut connected = 0;
    let mut agent_of = std::collections::HashMap::new();
    while started.elapsed() < Duration::from_secs(60) {
        let calls = sup.all_calls().await?;
        let live: Vec<&proto::Call> = calls
            .iter()
            .filter(|c| c.status == proto::CallStatus::Connected as i32)
            .collect();
        connected = live.len();
        agent_of = live
            .iter()
            .map(|c| (c.call_id.clone(), c.agent_id.clone()))
            .collect();
        if connected >= opts.calls {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(opts.warmup).await;

    let self_pid = std::process::id().to_string();
    let agent_phones: Vec<&SoftPhone> = agents.iter().map(|(_, p, _)| p).collect();
    let caller_phones: Vec<&SoftPhone> = callers.iter().map(|(_, p, _)| p).collect();
    let snapshot = || {
        let (f, l) = frames(&agent_phones);
        let (f2, l2) = frames(&caller_phones);
        (
            Instant::now(),
            pids.iter().map(|p| cpu_of(p)).collect::<Vec<_>>(),
            cpu_of(&self_pid),
            f + f2,
            l + l2,
            folders.iter().map(|f| folder_bytes(f)).sum::<u64>(),
        )
    };
    let (t0, s0, p0, f0, l0, b0) = snapshot();
    tokio::time::sleep(opts.measure).await;
    let (t1, s1, p1, f1, l1, b1) = snapshot();
    let measured = t1 - t0;
    // Who talks to whom: each caller's bursts are heard by the agent on
    // their call, and the other way round.
    let agent_by_id: std::collections::HashMap<&str, (&SoftPhone, &BurstTimes)> =
        agents.iter().map(|(id, p, b)| (id.as_str(), (p, b))).collect();
    let mut caller_said = Vec::new();
    let mut agent_said = Vec::new();
    for (call, phone, bursts) in &callers {
        if let Some((agent_phone, agent_bursts)) =
            agent_of.get(call).and_then(|a| agent_by_id.get(a.as_str()))
        {
            caller_said.push((bursts.clone(), *agent_phone));
            agent_said.push(((*agent_bursts).clone(), phone));
        }
    }
    // (The window ends 600 ms early so the last bursts can be heard.)
    let caller_to_agent = delays(&caller_said, t0, t1 - Duration::from_millis(600));
    let agent_to_caller = delays(&agent_said, t0, t1 - Duration::from_millis(600));
    for p in agent_phones.iter().chain(caller_phones.iter()) {
        p.hang_up().await;
    }
    let node_cpu: Vec<Duration> = s1.iter().zip(&s0).map(|(b, a)| b.saturating_sub(*a)).collect();
    drop(servers);
    drop(redis);
    Ok(CallLoadReport {
        calls: opts.calls,
        topology: opts.topology,
        connected,
        measured,
        server_cpu: node_cpu.iter().sum(),
        node_cpu,
        caller_to_agent,
        agent_to_caller,
        peers_cpu: p1.saturating_sub(p0),
        frames: f1 - f0,
        lost: l1 - l0,
        recording_bytes_per_sec: (b1.saturating_sub(b0)) as f64 / measured.as_secs_f64(),
    })
}

/// An agent that answers every offer at once and never hangs up.
async fn answer_offers(mut c: Clients, id: String, mut events: tonic::Streaming<proto::AgentEvent>) {
    while let Some(Ok(event)) = events.next().await {
        if let Some(proto::agent_event::Event::CallOffered(offer)) = event.event {
            let Some(call) = offer.call else { continue };
            let _ = c
                .agent
                .accept(proto::CallActionRequest {
                    agent_id: id.clone(),
                    call_id: call.call_id,
                    request_id: String::new(),
                })
                .await;
        }
    }
}
