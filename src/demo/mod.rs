//! `hotline demo`: a whole call center in one process, over real gRPC.
//!
//! The server runs with the given configuration on an ephemeral loopback port.
//! Simulated agents (every agent of the directory) log in with their skills,
//! answer offers after a short ring, talk for a random time, wrap up with a
//! disposition and now and then take a break. Simulated callers arrive as a
//! Poisson process across the entry points and customer tiers, and some hang
//! up while waiting. Everything goes through the public API with real tokens.
//! Randomness is seeded (`--seed`) so runs can be compared.
//!
//! With audio: every agent's softphone and every caller is a WebRTC peer on
//! loopback saying speech-like tone syllables (agents lower-pitched than
//! callers), so callers hear hold music while they wait, the parties hear
//! each other, and every answered call leaves a stereo recording in
//! `media.recordings_dir` (`recordings/` by default).

mod history;
mod report;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tracing::debug;

use crate::auth::{Role, TokenKeys};
use crate::client::softphone::{connect, speech, Party};
use crate::client::{self, Clients};
use crate::config::Config;
use crate::error::Error;
use crate::media::webrtc::{AudioCodec, WebRtcEndpoint, WebRtcSettings};
use crate::proto;
use crate::proto::agent_event::Event as Ev;
use crate::time::Timestamp;

pub use report::DemoReport;

/// How the demo behaves.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// How long callers keep arriving.
    pub duration: Duration,
    /// Mean arrivals per second across all entry points.
    pub calls_per_second: f64,
    /// Mean talk time.
    pub mean_talk: Duration,
    /// Mean time a caller is willing to wait before hanging up.
    pub mean_patience: Duration,
    pub seed: u64,
    /// Print a status line every this often (none = quiet).
    pub status_every: Option<Duration>,
    /// Serve `/metrics` here (none: a free port on 127.0.0.1).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Serve the web app here, to watch the demo from the supervisor
    /// console (none: a free port on 127.0.0.1).
    pub web_listen: Option<std::net::SocketAddr>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            duration: Duration::from_secs(30),
            calls_per_second: 2.5,
            mean_talk: Duration::from_secs(7),
            mean_patience: Duration::from_secs(25),
            seed: 1,
            status_every: Some(Duration::from_secs(2)),
            metrics_listen: None,
            web_listen: None,
        }
    }
}

/// Runs the demo against an in-process server and returns its report.
pub async fn run(mut config: Config, opts: DemoOptions) -> Result<DemoReport, Error> {
    config.server.grpc_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // One process on loopback: no load balancer to drain.
    config.server.drain_secs = 0;
    // Each demo starts from an empty call center: nothing from an earlier
    // run (or a real deployment's data file) mixes into its report.
    config.store.data_file.clear();
    config.metrics.listen = opts
        .metrics_listen
        .map(|a| a.to_string())
        .unwrap_or_else(|| "127.0.0.1:0".into());
    config.web.listen = opts
        .web_listen
        .map(|a| a.to_string())
        .unwrap_or_else(|| "127.0.0.1:0".into());
    // The demo's callers are WebRTC peers: no trunk (and no port 5060 taken).
    config.sip.listen.clear();
    // A demo lasts minutes: the quality gauges refresh fast enough to move.
    config.metrics.quality_every_secs = config.metrics.quality_every_secs.min(5);
    // ...and so does staffing (required against on duty per queue).
    config.staffing.refresh_secs = config.staffing.refresh_secs.min(2);
    // Everyone is on this machine: media stays on loopback.
    config.media.include_loopback = true;
    config.media.ips = vec!["127.0.0.1".into()];
    // Agents' softphones speak Opus (as browsers do), callers PCMU (as the
    // phone network does): the bridge transcodes between them.
    let loopback = |codec: AudioCodec| {
        WebRtcEndpoint::new(&WebRtcSettings {
            udp_ports: None,
            ips: vec![[127, 0, 0, 1].into()],
            include_loopback: true,
            jitter_frames: config.media.jitter_frames,
            codecs: vec![codec],
        })
        .map(Arc::new)
    };
    let softphones = loopback(AudioCodec::Opus)?;
    let endpoint = loopback(AudioCodec::Pcmu)?;
    let server = crate::server::start(&config).await?;
    let addr = server.addr;
    // A past week around this time of day, so staffing forecasts at once.
    let queues: Vec<String> = config.queues.keys().cloned().collect();
    let agent = config.agents.first().map(|a| a.id.clone()).unwrap_or_default();
    let started_ms = Timestamp::now_wall().as_millis() as i64;
    history::seed(server.store.as_ref(), &queues, &agent, Timestamp::now_wall()).await?;
    server.staffing.reread();
    if let (Some(m), Some(_)) = (server.metrics_addr, opts.status_every) {
        println!("metrics: http://{m}/metrics");
    }
    let keys = TokenKeys::new(config.auth.secret.as_bytes());
    let ttl = opts.duration + Duration::from_secs(3600);
    let now = Timestamp::now_wall();
    let channel = client::channel(addr).await?;
    client::wait_serving(&channel, Duration::from_secs(10)).await?;
    let telephony = Clients::new(
        channel.clone(),
        &keys.mint(Role::Telephony, "demo-edge", ttl, now)?,
    )?;
    let supervisor_token = keys.mint(Role::Supervisor, "demo-supervisor", ttl, now)?;
    let supervisor = Clients::new(channel.clone(), &supervisor_token)?;
    if let (Some(w), Some(_)) = (server.web_addr, opts.status_every) {
        // The token rides in the fragment, which the browser never sends.
        println!("supervisor console: http://{w}/supervisor.html#token={supervisor_token}");
    }

    let stop_agents = Arc::new(AtomicBool::new(false));
    let mut agents = JoinSet::new();
    for (i, a) in config.agents.iter().enumerate() {
        let clients = Clients::new(channel.clone(), &keys.mint(Role::Agent, &a.id, ttl, now)?)?;
        let rng = SmallRng::seed_from_u64(opts.seed.wrapping_mul(1000).wrapping_add(i as u64));
        agents.spawn(simulated_agent(
            a.id.clone(),
            clients,
            rng,
            opts.clone(),
            stop_agents.clone(),
            softphones.clone(),
        ));
    }
    // Let agents log in before the first caller.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let busiest = report::Busiest::default();
    let staffing = tokio::spawn(report::watch_staffing(supervisor.clone(), busiest.clone()));
    let status = opts.status_every.map(|every| {
        tokio::spawn(print_status(
            supervisor.clone(),
            every,
            config.clone(),
            started_ms,
        ))
    });

    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let numbers: Vec<String> = config.customers.iter().flat_map(|c| c.numbers.clone()).collect();
    let dnis: Vec<String> = config.entry_points.keys().cloned().collect();
    if dnis.is_empty() {
        return Err(Error::invalid(
            "entry_points",
            "the demo needs at least one entry point",
        ));
    }
    let gap = Exp::new(opts.calls_per_second.max(0.01))
        .map_err(|e| Error::invalid("calls_per_second", e.to_string()))?;
    let started = tokio::time::Instant::now();
    let mut callers = JoinSet::new();
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut seq = 0u64;
    while started.elapsed() < opts.duration {
        tokio::time::sleep(Duration::from_secs_f64(gap.sample(&mut rng))).await;
        seq += 1;
        // One caller in five is a known customer (their tier comes from the directory).
        let ani = if !numbers.is_empty() && rng.random_bool(0.2) {
            numbers[rng.random_range(0..numbers.len())].clone()
        } else {
            format!("+86139{:08}", rng.random_range(0..100_000_000u32))
        };
        let d = dnis[rng.random_range(0..dnis.len())].clone();
        let patience = Duration::from_secs_f64(
            Exp::new(1.0 / opts.mean_patience.as_secs_f64().max(0.1))
                .map(|e| e.sample(&mut rng))
                .unwrap_or(20.0),
        );
        let hangs_up_mid_call = rng.random_bool(0.05);
        // Two in three answered callers rate the call, mostly well.
        let satisfaction = rng.random_bool(0.66).then(|| match rng.random_range(0..100) {
            0..=4 => 1,
            5..=11 => 2,
            12..=26 => 3,
            27..=59 => 4,
            _ => 5,
        });
        callers.spawn(simulated_caller(
            telephony.clone(),
            Caller {
                ani,
                dnis: d,
                patience,
                hangs_up_mid_call,
                seq,
                satisfaction,
            },
            closing_rx.clone(),
            endpoint.clone(),
        ));
    }
    // Calls in progress get a little time to finish; then the remaining
    // callers hang up, so the demo ends soon after --duration.
    let natural = tokio::time::timeout(opts.mean_talk, async {
        while callers.join_next().await.is_some() {}
    });
    let _ = natural.await;
    let _ = closing.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while callers.join_next().await.is_some() {}
    })
    .await;
    callers.abort_all();
    stop_agents.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while agents.join_next().await.is_some() {}
    })
    .await;
    agents.abort_all();
    if let Some(s) = status {
        s.abort();
    }
    staffing.abort();
    let busiest = busiest.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let report = report::collect(supervisor, &config, started_ms)
        .await
        .map(|mut r| {
            r.staffing = busiest;
            r
        });
    server.shutdown().await?;
    report
}

/// Prints a status line every `every`: the queues live, and the call counts
/// tallied from the calls exactly as the final report tallies them.
async fn print_status(mut sup: Clients, every: Duration, config: Config, since_ms: i64) {
    let req = proto::WatchQueuesRequest {
        interval_ms: u32::try_from(every.as_millis())
            .unwrap_or(2000)
            .clamp(100, 60_000),
    };
    let Ok(stream) = sup.supervisor.watch_queues(req).await else {
        return;
    };
    let mut stream = stream.into_inner();
    let started = std::time::Instant::now();
    while let Some(Ok(snap)) = stream.next().await {
        let Ok(mut calls) = sup.all_calls().await else {
            continue;
        };
        calls.retain(|c| c.enqueued_at_unix_ms >= since_ms);
        let tally = report::Tally::of(&calls, &config);
        let mut states: HashMap<i32, u32> = HashMap::new();
        if let Ok(page) = sup
            .supervisor
            .list_agents(proto::ListAgentsRequest {
                page_size: 500,
                ..Default::default()
            })
            .await
        {
            for a in page.into_inner().agents {
                *states.entry(a.state).or_default() += 1;
            }
        }
        println!("{}", status_line(started.elapsed(), &snap, &states, &tally));
    }
}

/// One status line. The call counts come from `tally` alone (the queues'
/// own counters count a call once per queue it passed through).
fn status_line(
    elapsed: Duration,
    snap: &proto::QueueSnapshot,
    states: &HashMap<i32, u32>,
    tally: &report::Tally,
) -> String {
    let waiting: u32 = snap.queues.iter().map(|q| q.waiting).sum();
    let oldest = snap.queues.iter().map(|q| q.oldest_wait_ms).max().unwrap_or(0);
    let st = |s: proto::AgentState| states.get(&(s as i32)).copied().unwrap_or(0);
    format!(
        "[{:>3}s] waiting {:>3} (oldest {:>5.1}s) | agents avail {:>2} ringing {:>2} talking {:>2} wrap-up {:>2} not-ready {:>2} | offered {:>4} answered {:>4} abandoned {:>3} | SL {:>5.1}%",
        elapsed.as_secs(),
        waiting,
        oldest as f64 / 1000.0,
        st(proto::AgentState::Available),
        st(proto::AgentState::Reserved),
        st(proto::AgentState::OnCall),
        st(proto::AgentState::WrapUp),
        st(proto::AgentState::NotReady),
        tally.offered,
        tally.answered,
        tally.abandoned,
        100.0 * tally.service_level()
    )
}

/// Resolves when the demo tells callers to hang up.
async fn demo_closing(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// One caller: starts a call, waits (hanging up when patience runs out), talks
/// until the agent hangs up (or, rarely, hangs up mid-call).
/// Who a simulated caller is and how they behave.
struct Caller {
    ani: String,
    dnis: String,
    patience: Duration,
    hangs_up_mid_call: bool,
    seq: u64,
    /// The 1-5 rating given after an answered call, if any.
    satisfaction: Option<i32>,
}

async fn simulated_caller(
    mut edge: Clients,
    caller: Caller,
    mut closing: tokio::sync::watch::Receiver<bool>,
    endpoint: Arc<WebRtcEndpoint>,
) {
    let Caller {
        ani,
        dnis,
        patience,
        hangs_up_mid_call,
        seq,
        satisfaction,
    } = caller;
    let start = edge
        .call
        .start_call(proto::StartCallRequest {
            ani,
            dnis,
            request_id: format!("demo-call-{seq}"),
            ..Default::default()
        })
        .await;
    let Ok(call) = start.map(|r| r.into_inner()) else {
        return;
    };
    if call.status == proto::CallStatus::Ended as i32 {
        return;
    }
    let call_id = call.call_id.clone();
    // The caller's voice; the call goes on without it if media fails.
    let phone = match connect(
        &mut edge,
        &endpoint,
        Party::Caller(&call_id),
        speech(220.0, seq),
        false,
    )
    .await
    {
        Ok(p) => Some(p),
        Err(e) => {
            debug!(call = %call_id, error = %e, "demo caller has no audio");
            None
        }
    };
    let _hang_up_on_return = phone;
    let Ok(stream) = edge
        .call
        .watch_call(proto::GetCallRequest {
            call_id: call_id.clone(),
        })
        .await
    else {
        return;
    };
    let mut stream = stream.into_inner();
    let give_up = tokio::time::sleep(patience);
    tokio::pin!(give_up);
    let mut connected = false;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(Ok(c)) = msg else { return };
                if c.status == proto::CallStatus::Ended as i32 {
                    if let (true, Some(rating)) = (connected, satisfaction) {
                        let _ = edge
                            .call
                            .submit_survey(proto::SubmitSurveyRequest { call_id: call_id.clone(), satisfaction: rating })
                            .await;
                    }
                    return;
                }
                if c.status == proto::CallStatus::Connected as i32 && !connected {
                    connected = true;
                    if hangs_up_mid_call {
                        give_up.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(2));
                    }
                }
            }
            _ = demo_closing(&mut closing) => {
                let _ = edge.call.end_call(proto::EndCallRequest { call_id: call_id.clone(), request_id: String::new() }).await;
                return;
            }
            _ = &mut give_up, if !connected || hangs_up_mid_call => {
                let _ = edge.call.end_call(proto::EndCallRequest { call_id: call_id.clone(), request_id: String::new() }).await;
                return;
            }
        }
    }
}

/// One agent: logs in, becomes available, and works offers from its event
/// stream until told to stop.
async fn simulated_agent(
    id: String,
    mut c: Clients,
    mut rng: SmallRng,
    opts: DemoOptions,
    stop: Arc<AtomicBool>,
    endpoint: Arc<WebRtcEndpoint>,
) {
    let login = c
        .agent
        .login(proto::LoginRequest {
            agent_id: id.clone(),
            start_available: true,
            ..Default::default()
        })
        .await;
    if let Err(e) = login {
        debug!(agent = %id, error = %e, "demo agent could not log in");
        return;
    }
    let Ok(stream) = c
        .agent
        .events(proto::EventsRequest { agent_id: id.clone() })
        .await
    else {
        return;
    };
    let mut events = stream.into_inner();
    let voice = rng.random_range(110.0..160.0);
    let phone = match connect(
        &mut c,
        &endpoint,
        Party::Agent(&id),
        speech(voice, rng.random()),
        false,
    )
    .await
    {
        Ok(p) => Some(p),
        Err(e) => {
            debug!(agent = %id, error = %e, "demo agent has no softphone audio");
            None
        }
    };
    let _hang_up_on_return = phone;
    let talk = Exp::new(1.0 / opts.mean_talk.as_secs_f64().max(0.1)).ok();
    let action = |call_id: &str| proto::CallActionRequest {
        agent_id: id.clone(),
        call_id: call_id.to_string(),
        request_id: String::new(),
    };
    // The call being talked on, when the agent will end it, and the
    // callback it dials if it is a callback's work item.
    let mut talking: Option<(String, tokio::time::Instant, Option<String>)> = None;
    loop {
        if stop.load(Ordering::SeqCst) && talking.is_none() {
            let _ = c
                .agent
                .logout(proto::LogoutRequest {
                    agent_id: id.clone(),
                    request_id: String::new(),
                })
                .await;
            return;
        }
        let hang_up_at = talking.as_ref().map(|(_, t, _)| *t);
        let next = tokio::select! {
            e = events.next() => e,
            _ = async { match hang_up_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                match talking.take() {
                    // A callback: say how dialling went (this ends the item).
                    Some((_, _, Some(callback_id))) => {
                        let outcome = if rng.random_bool(0.75) {
                            proto::AttemptOutcome::Reached
                        } else {
                            proto::AttemptOutcome::NoAnswer
                        };
                        let _ = c
                            .callback
                            .record_attempt(proto::RecordAttemptRequest {
                                callback_id,
                                agent_id: id.clone(),
                                outcome: outcome as i32,
                                request_id: String::new(),
                            })
                            .await;
                    }
                    Some((call_id, _, None)) => {
                        let _ = c.agent.hangup(action(&call_id)).await;
                    }
                    None => {}
                }
                continue;
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
        };
        let Some(Ok(event)) = next else { return };
        match event.event {
            Some(Ev::CallOffered(offer)) => {
                let Some(call) = offer.call else { continue };
                tokio::time::sleep(Duration::from_millis(rng.random_range(200..900))).await;
                if rng.random_bool(0.04) {
                    let _ = c.agent.decline(action(&call.call_id)).await;
                } else if c.agent.accept(action(&call.call_id)).await.is_ok() {
                    let secs = talk.map(|t| t.sample(&mut rng)).unwrap_or(5.0).clamp(1.0, 30.0);
                    let callback = (!call.callback_id.is_empty()).then_some(call.callback_id);
                    talking = Some((
                        call.call_id,
                        tokio::time::Instant::now() + Duration::from_secs_f64(secs),
                        callback,
                    ));
                }
            }
            Some(Ev::CallEnded(ended))
                if talking
                    .as_ref()
                    .is_some_and(|(id, _, _)| ended.call.as_ref().is_some_and(|c| &c.call_id == id)) =>
            {
                talking = None;
            }
            Some(Ev::WrapUpStarted(w)) => {
                tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
                let (disposition, category) = match rng.random_range(0..10) {
                    0 => (proto::Disposition::Unresolved, "repairs/escalated"),
                    1 => (proto::Disposition::CallbackNeeded, "billing/dispute"),
                    2..=4 => (proto::Disposition::Resolved, "billing/question"),
                    _ => (proto::Disposition::Resolved, "general/information"),
                };
                // What is left open becomes a case, for callers the
                // directory knows: a fault to repair, a billing dispute.
                let kind = match disposition {
                    proto::Disposition::Unresolved => Some(proto::CaseKind::Repair),
                    proto::Disposition::CallbackNeeded => Some(proto::CaseKind::Complaint),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let opened = c
                        .case
                        .open_case(proto::OpenCaseRequest {
                            kind: kind as i32,
                            call_id: w.call_id.clone(),
                            category: category.into(),
                            summary: "raised on the call".into(),
                            ..Default::default()
                        })
                        .await;
                    if let Err(e) = opened {
                        debug!(agent = %id, error = %e, "no case for this caller");
                    }
                }
                let _ = c
                    .agent
                    .complete_wrap_up(proto::CompleteWrapUpRequest {
                        agent_id: id.clone(),
                        call_id: w.call_id,
                        disposition: disposition as i32,
                        category: category.into(),
                        notes: String::new(),
                        request_id: String::new(),
                    })
                    .await;
                // Now and then a short break.
                if rng.random_bool(0.05) && !stop.load(Ordering::SeqCst) {
                    let set = |state: proto::RequestedState, reason: &str| proto::SetStateRequest {
                        agent_id: id.clone(),
                        state: state as i32,
                        reason: reason.into(),
                        request_id: String::new(),
                    };
                    let _ = c
                        .agent
                        .set_state(set(proto::RequestedState::NotReady, "break"))
                        .await;
                    tokio::time::sleep(Duration::from_secs(rng.random_range(2..5))).await;
                    let _ = c.agent.set_state(set(proto::RequestedState::Available, "")).await;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, queue: &str, outcome: proto::CallOutcome, waited_ms: i64) -> proto::Call {
        let answered = outcome == proto::CallOutcome::Answered;
        proto::Call {
            call_id: id.into(),
            queue: queue.into(),
            outcome: outcome as i32,
            enqueued_at_unix_ms: 1_000,
            answered_at_unix_ms: if answered { 1_000 + waited_ms } else { 0 },
            ended_at_unix_ms: 1_000 + waited_ms + 60_000 * i64::from(answered),
            agent_id: if answered { "alice".into() } else { String::new() },
            ..Default::default()
        }
    }

    #[test]
    fn the_status_line_counts_offered_as_the_report_does_once_per_call() {
        let config =
            Config::from_toml(include_str!("../../deploy/hotline.example.toml")).expect("example config");
        // One call overflowed from billing and answered in sales: each
        // queue's own counter counts it, the center took it once.
        let calls = [
            call("c1", "sales", proto::CallOutcome::Answered, 3_000),
            call("c2", "billing", proto::CallOutcome::Abandoned, 1_000),
        ];
        let snap = proto::QueueSnapshot {
            queues: vec![
                proto::QueueStats {
                    queue: "billing".into(),
                    offered_today: 2,
                    ..Default::default()
                },
                proto::QueueStats {
                    queue: "sales".into(),
                    offered_today: 1,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let tally = report::Tally::of(&calls, &config);
        assert_eq!((tally.offered, tally.answered), (2, 1));
        assert_eq!(
            (tally.abandoned, tally.short_abandons),
            (0, 1),
            "a 1 s hang-up is a short abandon"
        );
        let line = status_line(Duration::from_secs(3), &snap, &HashMap::new(), &tally);
        assert!(
            line.contains("offered    2 answered    1 abandoned   0"),
            "{line}"
        );
        // A call still connected counts toward service level as it will
        // when it ends: answered in 2 s is within the threshold.
        let mut talking = call("c3", "sales", proto::CallOutcome::Unspecified, 2_000);
        talking.agent_id = "bob".into();
        talking.answered_at_unix_ms = 3_000;
        let tally = report::Tally::of(&[talking], &config);
        assert_eq!((tally.answered, tally.answered_within_threshold), (1, 1));
        assert_eq!(tally.service_level(), 1.0);
    }
}
