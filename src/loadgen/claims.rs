//! `hotline loadgen claims`: how many atomic agent claims per second a store
//! takes, and how long one takes (p50/p99), the store-side cost of every
//! routing decision. Workers each own a slice of agents and alternate a
//! claim (reserve agent + write its offer, one atomic step) with the release
//! that makes the agent available again; both count toward the wall time,
//! only claims toward the latency figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::acd::{AgentRecord, CallRecord, Tier};
use crate::acd::{AgentState, CallStatus};
use crate::error::Error;
use crate::ids::CallId;
use crate::ids::{AgentId, QueueName};
use crate::store::Store;
use crate::time::Timestamp;

/// What one run measured.
#[derive(Clone, Debug)]
pub struct ClaimReport {
    pub claims: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl std::fmt::Display for ClaimReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} claims in {:.2?}: {:.0} claims/s (each with its release), claim latency p50 {:?} p99 {:?} max {:?}",
            self.claims,
            self.elapsed,
            self.claims as f64 / self.elapsed.as_secs_f64(),
            self.p50,
            self.p99,
            self.max
        )
    }
}

/// Runs `workers` concurrent claim/release loops over `agents` agents for
/// `duration`.
pub async fn claims(
    store: Arc<dyn Store>,
    agents: usize,
    workers: usize,
    duration: Duration,
) -> Result<ClaimReport, Error> {
    let workers = workers.clamp(1, agents.max(1));
    for i in 0..agents {
        store.put_agent(&available(&format!("lg-agent-{i}"))).await?;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            // Each worker owns its own agents, so claims never contend.
            let mine: Vec<usize> = (w..agents).step_by(workers).collect();
            while started.elapsed() < duration {
                let id = format!("lg-agent-{}", mine[n as usize % mine.len()]);
                let mut agent = available(&id);
                let mut call = CallRecord::arrived(
                    CallId::new(format!("lg-call-{w}-{n}")),
                    "+15550000".into(),
                    "100".into(),
                    QueueName::new("q"),
                    Tier::Regular,
                    Timestamp(1_000 + n),
                );
                call.status = CallStatus::Offering;
                call.agent = Some(agent.id.clone());
                agent.state = AgentState::Reserved;
                agent.current_call = Some(CallId::new(call.id.as_str()));
                let t = Instant::now();
                store.reserve(&agent, &call).await?;
                latencies.push(t.elapsed());
                agent.state = AgentState::Available;
                agent.current_call = None;
                store.put_agent(&agent).await?;
                n += 1;
            }
            Ok::<_, Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| Error::Internal(e.to_string()))??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
    };
    Ok(ClaimReport {
        claims: all.len() as u64,
        elapsed,
        p50: at(0.5).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
        max: all.last().copied().unwrap_or_default(),
    })
}

/// A logged-in, available agent record.
fn available(id: &str) -> AgentRecord {
    let mut agent =
        AgentRecord::logged_out(AgentId::new(id), format!("Agent {id}"), Timestamp(1), "logged in");
    agent.state = crate::acd::AgentState::Available;
    agent
}
