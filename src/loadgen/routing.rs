//! `hotline loadgen routing`: how many calls per second the routing engine
//! carries through a store, end to end, as the routing node of a cluster
//! does: every call arrives, is offered (an atomic claim), accepted, hung
//! up and wrapped up, and every change is recorded before it is
//! acknowledged. Against Redis with `appendfsync always` this is the
//! cluster's routing ceiling, set by how the engine uses store round trips.
//!
//! Each worker is one agent with a queue of its own, so every call goes to
//! a known agent and the figures measure the engine and the store, not
//! matching.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::acd::{
    AgentLogin, Disposition, IncomingCall, QueueSettings, Router, RouterConfig, SkillLevel, Tier,
};
use crate::callback::TrackerSettings;
use crate::engine::{self, Command, EngineHandle};
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName, SkillName};
use crate::store::Store;

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RoutingReport {
    /// Calls that went through every step (arrive, offer, accept, hang up,
    /// wrap up).
    pub calls: u64,
    pub elapsed: Duration,
    /// One call's five steps, end to end.
    pub p50: Duration,
    pub p99: Duration,
}

impl std::fmt::Display for RoutingReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls in {:.2?}: {:.0} calls/s routed (arrive, claim, accept, hang up, wrap up; {} engine commands each), per call p50 {:?} p99 {:?}",
            self.calls,
            self.elapsed,
            self.calls as f64 / self.elapsed.as_secs_f64(),
            STEPS,
            self.p50,
            self.p99
        )
    }
}

/// Engine commands per call.
const STEPS: usize = 4;

/// Runs `agents` concurrent agents, each taking call after call, for
/// `duration`, on an engine over `store`.
pub async fn routing(
    store: Arc<dyn Store>,
    agents: usize,
    duration: Duration,
) -> Result<RoutingReport, Error> {
    let agents = agents.max(1);
    let skill = |i: usize| SkillName::new(format!("lg-s{i}"));
    let mut router = Router::new(RouterConfig {
        skills: (0..agents).map(skill).collect(),
        queues: (0..agents)
            .map(|i| QueueSettings {
                ring_timeout_secs: 60,
                wrap_up_secs: 3600,
                ..QueueSettings::named(&format!("lg-q{i}")).with_skill(&format!("lg-s{i}"), 1)
            })
            .collect(),
        ..Default::default()
    })?;
    let desk = engine::restore_desk(
        &mut router,
        store.as_ref(),
        TrackerSettings::default(),
        crate::time::MonotonicClock::process().both(),
    )
    .await?;
    let (stop, stop_rx) = watch::channel(false);
    let (engine, task) = engine::spawn(router, desk, store, None, None, stop_rx);
    for i in 0..agents {
        engine
            .execute(
                None,
                Command::Login(AgentLogin {
                    id: AgentId::new(format!("lg-a{i}")),
                    display_name: String::new(),
                    skills: vec![SkillLevel {
                        skill: skill(i),
                        proficiency: 5,
                    }],
                    start_available: true,
                }),
            )
            .await?;
    }
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for i in 0..agents {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move { agent_loop(engine, i, until).await }));
    }
    let mut latencies = Vec::new();
    let mut failure = None;
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(Error::Internal(format!("loadgen worker: {e}"))),
        }
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    let _ = task.await;
    if let Some(e) = failure {
        return Err(e);
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(RoutingReport {
        calls: latencies.len() as u64,
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// Agent `i` takes calls of its own queue until `until`; returns each
/// call's time from arrival to the end of its wrap-up.
async fn agent_loop(engine: EngineHandle, i: usize, until: Instant) -> Result<Vec<Duration>, Error> {
    let agent = AgentId::new(format!("lg-a{i}"));
    let mut latencies = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        let call = CallId::new(format!("lg-{i}-{n}-{}", uuid::Uuid::now_v7().simple()));
        n += 1;
        let began = Instant::now();
        engine
            .execute(
                None,
                Command::StartCall(IncomingCall {
                    id: call.clone(),
                    ani: format!("+1555{i:07}"),
                    dnis: "loadgen".into(),
                    customer: None,
                    tier: Tier::Regular,
                    queue: QueueName::new(format!("lg-q{i}")),
                    extra_requirements: Vec::new(),
                    preferred_agent: None,
                    node: None,
                    callback: None,
                }),
            )
            .await?;
        // The arrival's drain offered it to this queue's one free agent.
        for cmd in [
            Command::Accept {
                agent: agent.clone(),
                call: call.clone(),
            },
            Command::Hangup {
                agent: agent.clone(),
                call: call.clone(),
            },
            Command::CompleteWrapUp {
                agent: agent.clone(),
                call: call.clone(),
                disposition: Some(Disposition::Resolved),
                category: Some("loadgen".into()),
                notes: None,
            },
        ] {
            engine.execute(None, cmd).await?;
        }
        latencies.push(began.elapsed());
    }
    Ok(latencies)
}
