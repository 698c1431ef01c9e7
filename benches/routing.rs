//! Routing decisions with 10,000 agents across 200 skills.
//!
//! - `agent_available/10k_waiting`: 10,000 calls wait; an agent finishing
//!   wrap-up becomes available and the router picks its call (the decision).
//! - `call_arrived/10k_agents/<strategy>`: thousands of agents are free; a call
//!   arrives and the router picks its agent.
//!
//! Criterion measures the mean; afterwards a plain loop times each of 100,000
//! single decisions and prints p50 / p99 / p99.9 and decisions per second,
//! since criterion does not report tail latency. Under `cargo test` (no
//! `--bench` flag) everything runs once, briefly, as a smoke test.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use hotline::acd::{
    AgentLogin, IncomingCall, QueueSettings, Requirement, Router, RouterConfig, SkillLevel, Strategy, Tier,
};
use hotline::ids::{AgentId, CallId, QueueName, SkillName};
use hotline::time::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const AGENTS: usize = 10_000;
const SKILLS: usize = 200;
/// Queues each need one of the first QUEUES skills; the rest are languages and
/// products that calls may ask for on top.
const QUEUES: usize = 40;
const WAITING: usize = 10_000;

struct Fixture {
    router: Router,
    now: Timestamp,
    rng: SmallRng,
    next_call: u64,
    agents: Vec<AgentId>,
}

fn skill(i: usize) -> SkillName {
    SkillName::new(format!("s{i}"))
}

impl Fixture {
    fn new(strategy: Strategy) -> Fixture {
        let queues = (0..QUEUES)
            .map(|q| QueueSettings {
                strategy,
                max_queue_len: WAITING,
                ring_timeout_secs: 30,
                wrap_up_secs: 3600,
                ..QueueSettings::named(&format!("q{q}")).with_skill(&format!("s{q}"), 3)
            })
            .collect();
        let router = Router::new(RouterConfig {
            skills: (0..SKILLS).map(skill).collect(),
            queues,
            ..Default::default()
        })
        .expect("bench config");
        Fixture {
            router,
            now: Timestamp(1_700_000_000_000),
            rng: SmallRng::seed_from_u64(42),
            next_call: 0,
            agents: (0..AGENTS).map(|i| AgentId::new(format!("agent-{i}"))).collect(),
        }
    }

    fn tick(&mut self) -> Timestamp {
        self.now = self.now.plus(Duration::from_millis(1));
        self.now
    }

    /// Two queue skills and two other skills per agent.
    fn login_all(&mut self, available: bool) {
        for i in 0..AGENTS {
            let mut skills = vec![
                (self.rng.random_range(0..QUEUES), self.rng.random_range(3..=10u8)),
                (self.rng.random_range(0..QUEUES), self.rng.random_range(1..=10u8)),
                (
                    self.rng.random_range(QUEUES..SKILLS),
                    self.rng.random_range(1..=10u8),
                ),
                (
                    self.rng.random_range(QUEUES..SKILLS),
                    self.rng.random_range(1..=10u8),
                ),
            ];
            skills.sort();
            skills.dedup_by_key(|s| s.0);
            let now = self.tick();
            self.router
                .handle_agent_login(
                    now,
                    AgentLogin {
                        id: self.agents[i].clone(),
                        display_name: String::new(),
                        skills: skills
                            .into_iter()
                            .map(|(s, p)| SkillLevel {
                                skill: skill(s),
                                proficiency: p,
                            })
                            .collect(),
                        start_available: available,
                    },
                )
                .expect("login");
        }
        self.drain();
    }

    /// A call to a random queue; a third ask for an extra skill, mostly optional.
    fn arrive(&mut self) {
        let q = self.rng.random_range(0..QUEUES);
        let extra = if self.rng.random_bool(0.3) {
            vec![Requirement {
                skill: skill(self.rng.random_range(QUEUES..SKILLS)),
                min_proficiency: 2,
                optional: !self.rng.random_bool(0.1),
            }]
        } else {
            vec![]
        };
        self.next_call += 1;
        let now = self.tick();
        let call = IncomingCall {
            id: CallId::new(format!("call-{}", self.next_call)),
            ani: "+8613800000000".into(),
            dnis: "800100".into(),
            customer: None,
            tier: Tier::ALL[self.rng.random_range(0..4)],
            queue: QueueName::new(format!("q{q}")),
            extra_requirements: extra,
            preferred_agent: None,
            node: None,
            callback: None,
        };
        self.router.handle_call_arrived(now, call).expect("arrive");
    }

    fn drain(&mut self) -> usize {
        let mut n = 0;
        while self.router.poll_event().is_some() {
            n += 1;
        }
        n
    }

    /// The offered call of an agent, if any.
    fn offered(&self, agent: &AgentId) -> Option<CallId> {
        self.router.agent(agent).and_then(|a| a.current_call.clone())
    }

    /// Accept and hang up, leaving the agent in wrap-up (untimed work).
    fn talk(&mut self, agent: &AgentId) {
        if let Some(call) = self.offered(agent) {
            let now = self.tick();
            let _ = self.router.handle_offer_accepted(now, agent, &call);
            let _ = self.router.handle_agent_hangup(now, agent, &call);
        }
        self.drain();
    }
}

/// Steady state with 10,000 waiting calls and every agent busy: each step
/// frees one agent (the timed decision) and tops the queue back up.
struct AgentAvailable {
    f: Fixture,
    cursor: usize,
}

impl AgentAvailable {
    fn new() -> Self {
        let mut f = Fixture::new(Strategy::LongestIdle);
        f.login_all(false);
        for _ in 0..WAITING {
            f.arrive();
        }
        f.drain();
        // Everyone takes one call and goes to wrap-up, so each later step
        // starts from an agent in wrap-up.
        for i in 0..AGENTS {
            let a = f.agents[i].clone();
            let now = f.tick();
            let _ = f.router.handle_set_available(now, &a, "bench");
            f.talk(&a);
            f.arrive();
        }
        f.drain();
        AgentAvailable { f, cursor: 0 }
    }

    /// Untimed preparation, then the timed decision; returns its duration.
    fn step(&mut self) -> Duration {
        let a = self.f.agents[self.cursor % AGENTS].clone();
        self.cursor += 1;
        let call = self.f.router.agent(&a).and_then(|r| r.current_call.clone());
        let now = self.f.tick();
        let start = Instant::now();
        // Wrap-up ends: the agent becomes available and the router picks its call.
        if let Some(c) = call {
            let _ = black_box(
                self.f
                    .router
                    .handle_wrap_up_completed(now, &a, &c, None, None, None),
            );
        }
        let took = start.elapsed();
        self.f.drain();
        self.f.talk(&a);
        self.f.arrive();
        self.f.drain();
        took
    }
}

/// Thousands of free agents; each step is one arriving call (the timed
/// decision), answered and wrapped up untimed so the pool stays free.
struct CallArrived {
    f: Fixture,
}

impl CallArrived {
    fn new(strategy: Strategy) -> Self {
        let mut f = Fixture::new(strategy);
        f.login_all(true);
        CallArrived { f }
    }

    fn step(&mut self) -> Duration {
        let start = Instant::now();
        self.f.arrive();
        let took = start.elapsed();
        let id = CallId::new(format!("call-{}", self.f.next_call));
        let agent = self.f.router.call(&id).and_then(|c| c.agent);
        self.f.drain();
        if let Some(a) = agent {
            self.f.talk(&a);
            if let Some(c) = self.f.router.agent(&a).and_then(|r| r.current_call.clone()) {
                let now = self.f.tick();
                let _ = self
                    .f
                    .router
                    .handle_wrap_up_completed(now, &a, &c, None, None, None);
            }
        } else {
            // Nobody qualified: the call waits; take it away again.
            let now = self.f.tick();
            let _ = self.f.router.handle_caller_hangup(now, &id);
        }
        self.f.drain();
        took
    }
}

fn bench_routing(c: &mut Criterion) {
    let mut g = c.benchmark_group("routing");
    g.sample_size(20);
    let mut s = AgentAvailable::new();
    g.bench_function("agent_available/10k_waiting", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| s.step()).sum())
    });
    for strategy in [Strategy::LongestIdle, Strategy::MostProficient] {
        let mut s = CallArrived::new(strategy);
        g.bench_function(format!("call_arrived/10k_agents/{}", strategy.as_str()), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| s.step()).sum())
        });
    }
    g.finish();
}

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let at = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)];
    let total: Duration = samples.iter().sum();
    println!(
        "{name}: {n} decisions, {:.0} decisions/s (timed part), p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        n as f64 / total.as_secs_f64(),
        at(0.50),
        at(0.99),
        at(0.999),
        samples[n - 1]
    );
}

fn tail_latency(full: bool) {
    let n = if full { 100_000 } else { 200 };
    let mut s = AgentAvailable::new();
    percentiles("agent_available/10k_waiting", (0..n).map(|_| s.step()).collect());
    for strategy in [Strategy::LongestIdle, Strategy::MostProficient] {
        let mut s = CallArrived::new(strategy);
        percentiles(
            &format!("call_arrived/10k_agents/{}", strategy.as_str()),
            (0..n).map(|_| s.step()).collect(),
        );
    }
}

criterion_group!(benches, bench_routing);

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    benches();
    Criterion::default().configure_from_args().final_summary();
    tail_latency(full);
}
