//! Erlang B and Erlang C, and the staffing they give.
//!
//! Erlang C (M/M/N: Poisson arrivals, exponential handle times, callers
//! who wait as long as it takes) gives the probability a call waits, the
//! service level (answered within a threshold), the average speed of
//! answer and the occupancy for a number of agents; the agents needed are
//! the fewest meeting the service-level target without exceeding the
//! occupancy cap.
//!
//! Erlang C is computed from Erlang B by the recursion
//! `B(0) = 1, B(n) = A·B(n-1) / (n + A·B(n-1))`, `C = N·B / (N - A·(1 - B))`,
//! which never forms `A^N` or `N!`: it stays exact to rounding for
//! thousands of agents.

use std::time::Duration;

/// Erlang B: the probability a call finds all `agents` busy and is lost,
/// for `traffic` Erlangs offered.
pub fn erlang_b(agents: u32, traffic: f64) -> f64 {
    if traffic <= 0.0 {
        return if agents == 0 { 1.0 } else { 0.0 };
    }
    let mut b = 1.0;
    for n in 1..=agents {
        b = traffic * b / (f64::from(n) + traffic * b);
    }
    b
}

/// Erlang C: the probability a call waits, for `agents` and `traffic`
/// Erlangs; 1 when the agents cannot keep up (`traffic >= agents`).
pub fn erlang_c(agents: u32, traffic: f64) -> f64 {
    let n = f64::from(agents);
    if traffic <= 0.0 {
        return 0.0;
    }
    if n <= traffic {
        return 1.0;
    }
    let b = erlang_b(agents, traffic);
    n * b / (n - traffic * (1.0 - b))
}

/// What a queue is offered in an interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Demand {
    /// Calls offered in the interval.
    pub calls: f64,
    pub interval: Duration,
    /// Average handle time (talk + hold + wrap-up).
    pub handle: Duration,
}

impl Demand {
    /// The traffic in Erlangs: calls per second times seconds per call.
    pub fn traffic(&self) -> f64 {
        let interval = self.interval.as_secs_f64();
        if interval <= 0.0 {
            return 0.0;
        }
        self.calls / interval * self.handle.as_secs_f64()
    }
}

/// How a number of agents would serve a demand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outlook {
    pub agents: u32,
    /// The probability a call waits at all.
    pub wait_probability: f64,
    /// The probability a caller hangs up before an answer (0 under
    /// Erlang C, whose callers wait as long as it takes).
    pub abandon_probability: f64,
    /// The share answered within the threshold.
    pub service_level: f64,
    /// Average wait, over all calls (Erlang C: the average speed of
    /// answer; Erlang A: callers who gave up count with the time they
    /// waited).
    pub asa: Duration,
    /// Share of the agents' time spent on calls (1 when they cannot keep
    /// up).
    pub occupancy: f64,
}

/// The outlook for `agents` serving `demand`, answering within `threshold`.
pub fn outlook(agents: u32, demand: &Demand, threshold: Duration) -> Outlook {
    let a = demand.traffic();
    let n = f64::from(agents);
    let handle = demand.handle.as_secs_f64();
    if n <= a || handle <= 0.0 {
        let idle = a <= 0.0;
        return Outlook {
            agents,
            wait_probability: if idle { 0.0 } else { 1.0 },
            abandon_probability: 0.0,
            service_level: if idle { 1.0 } else { 0.0 },
            asa: if idle { Duration::ZERO } else { Duration::MAX },
            occupancy: if idle { 0.0 } else { 1.0 },
        };
    }
    let c = erlang_c(agents, a);
    let service_level = 1.0 - c * (-(n - a) * threshold.as_secs_f64() / handle).exp();
    Outlook {
        agents,
        wait_probability: c,
        abandon_probability: 0.0,
        service_level,
        asa: Duration::from_secs_f64(c * handle / (n - a)),
        occupancy: a / n,
    }
}

/// What the staffing must meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// Answered within this...
    pub threshold: Duration,
    /// ...for at least this share of calls (0..=1).
    pub service_level: f64,
    /// Agents busy at most this share of the time (0..=1; 1 for no cap).
    pub max_occupancy: f64,
}

/// The most agents ever proposed: a demand needing more is a typo.
pub const MAX_AGENTS: u32 = 100_000;

/// How callers behave while they wait.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// Callers wait as long as it takes (Erlang C).
    WaitForever,
    /// Callers give up after an exponentially distributed patience of this
    /// mean (Erlang A).
    Abandon { patience: Duration },
}

/// The outlook for `agents` serving `demand` under `model`.
pub fn outlook_under(model: Model, agents: u32, demand: &Demand, threshold: Duration) -> Outlook {
    match model {
        Model::WaitForever => outlook(agents, demand, threshold),
        Model::Abandon { patience } => super::abandon::outlook(agents, demand, patience, threshold),
    }
}

/// The fewest agents whose outlook under `model` `meets`, and that
/// outlook; `MAX_AGENTS` when none does. `meets` must hold for every
/// number above one it holds for (more agents never serve worse), so the
/// answer is found by doubling, then halving: a few outlooks, not one per
/// agent.
pub fn fewest_agents(
    model: Model,
    demand: &Demand,
    threshold: Duration,
    meets: impl Fn(&Outlook) -> bool,
) -> Outlook {
    // Under Erlang C fewer agents than the traffic never keep up; under
    // Erlang A they can (callers leave), so the search starts at one.
    let low = match model {
        Model::WaitForever => (demand.traffic().floor() as u32).saturating_add(1).max(1),
        Model::Abandon { .. } => 1,
    }
    .min(MAX_AGENTS);
    let at = |n: u32| outlook_under(model, n, demand, threshold);
    let first = at(low);
    if meets(&first) {
        return first;
    }
    // `fails` never meets; `holds` meets (or is the cap).
    let (mut fails, mut step) = (low, 1u32);
    let mut holds = loop {
        let n = fails.saturating_add(step).min(MAX_AGENTS);
        let o = at(n);
        if meets(&o) || n == MAX_AGENTS {
            break o;
        }
        fails = n;
        step = step.saturating_mul(2);
    };
    while holds.agents - fails > 1 {
        let mid = fails + (holds.agents - fails) / 2;
        let o = at(mid);
        if meets(&o) {
            holds = o;
        } else {
            fails = mid;
        }
    }
    holds
}

/// The fewest agents meeting `target` for `demand` under `model`, and
/// their outlook.
pub fn agents_needed(model: Model, demand: &Demand, target: &Target) -> Outlook {
    fewest_agents(model, demand, target.threshold, |o| {
        o.service_level >= target.service_level && o.occupancy <= target.max_occupancy
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::close;
    use super::*;

    /// Standard Erlang B tables (as printed in teletraffic handbooks and
    /// vendors' traffic tables) give the traffic `N` trunks carry at a 1%
    /// grade of service: 10 trunks 4.461 E, 20 trunks 12.031 E, 50 trunks
    /// 37.901 E, 100 trunks 84.064 E.
    #[test]
    fn erlang_b_matches_the_published_table_at_one_percent() {
        for (trunks, erlangs) in [(10, 4.461), (20, 12.031), (50, 37.901), (100, 84.064)] {
            close(
                erlang_b(trunks, erlangs),
                0.01,
                0.0001,
                &format!("B({trunks}, {erlangs})"),
            );
        }
    }

    /// The common worked Erlang C example, with the expected values the
    /// pyworkforce package publishes in its test suite
    /// (`test_expected_erlangc_results`, PyPI `pyworkforce`): 100 calls in
    /// 30 minutes, 3 minutes each (10 Erlangs), 80% answered within 20 s:
    /// 14 agents, probability of waiting 0.174, service level 0.888,
    /// occupancy 0.714.
    #[test]
    fn erlang_c_matches_the_published_worked_example() {
        let demand = Demand {
            calls: 100.0,
            interval: Duration::from_secs(30 * 60),
            handle: Duration::from_secs(180),
        };
        close(demand.traffic(), 10.0, 1e-9, "traffic");
        let target = Target {
            threshold: Duration::from_secs(20),
            service_level: 0.8,
            max_occupancy: 1.0,
        };
        let o = agents_needed(Model::WaitForever, &demand, &target);
        assert_eq!(o.agents, 14);
        close(o.wait_probability, 0.174, 0.0005, "probability of waiting");
        close(o.service_level, 0.888, 0.0005, "service level");
        close(o.occupancy, 0.714, 0.0005, "occupancy");
        // 13 agents fall short of the target: the answer is the fewest.
        assert!(outlook(13, &demand, target.threshold).service_level < 0.8);
    }

    #[test]
    fn an_occupancy_cap_adds_agents_and_overload_is_never_enough() {
        let demand = Demand {
            calls: 100.0,
            interval: Duration::from_secs(30 * 60),
            handle: Duration::from_secs(180),
        };
        let capped = Target {
            threshold: Duration::from_secs(20),
            service_level: 0.8,
            max_occupancy: 0.65,
        };
        assert_eq!(
            agents_needed(Model::WaitForever, &demand, &capped).agents,
            16,
            "10 / 16 = 0.625"
        );
        let overloaded = outlook(10, &demand, Duration::from_secs(20));
        assert_eq!(
            (overloaded.wait_probability, overloaded.service_level),
            (1.0, 0.0)
        );
        let idle = Demand { calls: 0.0, ..demand };
        assert_eq!(agents_needed(Model::WaitForever, &idle, &capped).agents, 1);
    }
}
