//! Erlang A: the M/M/N+M queue, callers who give up (Palm's model; Garnett,
//! Mandelbaum and Reiman, "Designing a Call Center with Impatient
//! Customers", Manufacturing & Service Operations Management 4(3), 2002).
//!
//! Calls arrive at rate λ, are handled at rate μ each by `N` agents, and a
//! waiting caller hangs up at rate θ (mean patience 1/θ). The number of
//! callers in the system is a birth-death chain with death rate
//! `min(k, N)·μ + max(k - N, 0)·θ`; its stationary law gives, by PASTA and
//! Little's law:
//! - the probability of waiting, `P(K >= N)`;
//! - the probability of abandoning, `θ·E[queue] / λ`;
//! - the average wait of all callers, `E[queue] / λ`;
//! - the occupancy, `λ·(1 - P(abandon)) / (N·μ)`.
//!
//! The law above `N` is written relative to `P(K = N)` through Erlang B
//! (`sum_{k<N} P(K=k) / P(K=N) = 1/B(N, R) - 1`), so no power or factorial
//! is formed. The service level, `P(answered within t)`, follows a waiting
//! caller's place in line: with `i` callers ahead, the line moves at
//! `N·μ + i·θ` and the caller leaves at `θ`; that absorbing chain is solved
//! by uniformisation (exact to the truncation, about 1e-12).
//!
//! With θ = μ the chain is the M/M/∞ queue, so the probability of waiting
//! is a Poisson tail; as θ → 0 it tends to Erlang C. The tests check both.

use std::time::Duration;

use super::erlang::{erlang_b, Demand, Outlook};

/// Terms of the queue's law kept at most; with patience long enough to
/// need more the queue behaves as Erlang C's (and the tail is cut there).
const MAX_TERMS: usize = 200_000;
/// Mass below which the tail of a law is dropped.
const NEGLIGIBLE: f64 = 1e-15;
/// Uniformisation steps at most (a threshold beyond it is answered as
/// the limit).
const MAX_STEPS: usize = 200_000;

/// The outlook for `agents` serving `demand` when callers wait `patience`
/// on average before hanging up; the service level is the share of all
/// callers answered within `threshold` (callers who gave up count as not).
pub fn outlook(agents: u32, demand: &Demand, patience: Duration, threshold: Duration) -> Outlook {
    let interval = demand.interval.as_secs_f64();
    let handle = demand.handle.as_secs_f64();
    let lambda = if interval > 0.0 {
        demand.calls / interval
    } else {
        0.0
    };
    if lambda <= 0.0 || handle <= 0.0 {
        return Outlook {
            agents,
            wait_probability: 0.0,
            abandon_probability: 0.0,
            service_level: 1.0,
            asa: Duration::ZERO,
            occupancy: 0.0,
        };
    }
    let traffic = lambda * handle;
    let n = f64::from(agents);
    if patience.is_zero() {
        // Nobody waits: the loss system of Erlang B.
        let b = erlang_b(agents, traffic);
        return Outlook {
            agents,
            wait_probability: b,
            abandon_probability: b,
            service_level: 1.0 - b,
            asa: Duration::ZERO,
            occupancy: if agents == 0 { 0.0 } else { traffic * (1.0 - b) / n },
        };
    }
    if agents == 0 {
        return Outlook {
            agents,
            wait_probability: 1.0,
            abandon_probability: 1.0,
            service_level: 0.0,
            asa: patience,
            occupancy: 0.0,
        };
    }
    let mu = 1.0 / handle;
    let theta = 1.0 / patience.as_secs_f64();
    let line = Line::new(lambda, n * mu, theta);
    let b = erlang_b(agents, traffic);
    // P(K = N); an Erlang B too small to represent means nobody waits.
    let at_n = if b > 0.0 {
        1.0 / (1.0 / b - 1.0 + line.sum)
    } else {
        0.0
    };
    let wait_probability = (at_n * line.sum).min(1.0);
    let queue = at_n * line.mean_ahead_sum;
    let abandon_probability = (theta * queue / lambda).min(1.0);
    let answered_waiting = line.answered_within(at_n, threshold.as_secs_f64());
    Outlook {
        agents,
        wait_probability,
        abandon_probability,
        service_level: ((1.0 - wait_probability) + answered_waiting).clamp(0.0, 1.0),
        asa: Duration::try_from_secs_f64(queue / lambda).unwrap_or(Duration::MAX),
        occupancy: (traffic * (1.0 - abandon_probability) / n).clamp(0.0, 1.0),
    }
}

/// The queue above `N` busy agents, relative to `P(K = N)`.
struct Line {
    /// `P(K = N + j) / P(K = N)` for `j = 0..`.
    terms: Vec<f64>,
    sum: f64,
    /// `sum j·terms[j]`: the mean queue, relative to `P(K = N)`.
    mean_ahead_sum: f64,
    /// `N·μ`: the rate the line moves with no one giving up.
    service: f64,
    theta: f64,
}

impl Line {
    fn new(lambda: f64, service: f64, theta: f64) -> Line {
        let mut terms = vec![1.0];
        let (mut sum, mut mean_ahead_sum, mut t) = (1.0, 0.0, 1.0);
        for j in 1..MAX_TERMS {
            let down = service + j as f64 * theta;
            t *= lambda / down;
            sum += t;
            mean_ahead_sum += j as f64 * t;
            terms.push(t);
            // Past the point where the line shrinks, a negligible term
            // leaves a negligible (geometrically falling) tail.
            if down > lambda && t < NEGLIGIBLE * sum {
                break;
            }
        }
        Line {
            terms,
            sum,
            mean_ahead_sum,
            service,
            theta,
        }
    }

    /// The probability an arriving caller waits and is answered within
    /// `t` seconds, given `P(K = N) = at_n`.
    fn answered_within(&self, at_n: f64, t: f64) -> f64 {
        if t <= 0.0 || at_n <= 0.0 {
            return 0.0;
        }
        // Places in line, cut where the rest holds no mass worth counting.
        let total: f64 = self.sum;
        let mut kept = 0.0;
        let mut places = self.terms.len();
        for (j, term) in self.terms.iter().enumerate() {
            kept += term;
            if total - kept < 1e-12 * total {
                places = j + 1;
                break;
            }
        }
        let mut at: Vec<f64> = self.terms[..places].iter().map(|x| x * at_n).collect();
        let uniform = self.service + places as f64 * self.theta;
        let x = uniform * t;
        let steps = ((x + 10.0 * x.sqrt() + 30.0).ceil() as usize).min(MAX_STEPS);
        let moves: Vec<f64> = (0..places)
            .map(|i| (self.service + i as f64 * self.theta) / uniform)
            .collect();
        let leaves = self.theta / uniform;
        let (mut answered, mut result, mut ln_factorial) = (0.0, 0.0, 0.0);
        let ln_x = x.ln();
        let mut next = vec![0.0; places];
        for step in 0..=steps {
            if step > 0 {
                ln_factorial += (step as f64).ln();
                answered += at[0] * moves[0];
                for i in 0..places {
                    let stay = at[i] * (1.0 - moves[i] - leaves);
                    let from_behind = if i + 1 < places {
                        at[i + 1] * moves[i + 1]
                    } else {
                        0.0
                    };
                    next[i] = stay + from_behind;
                }
                std::mem::swap(&mut at, &mut next);
            }
            // Poisson(x) weight of `step` jumps, in logs (x may be large).
            let weight = (-x + step as f64 * ln_x - ln_factorial).exp();
            result += weight * answered;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::erlang::{self, agents_needed, fewest_agents, Model, Target};
    use super::super::tests::close;
    use super::*;

    /// `traffic` Erlangs as calls per hour with handle time `handle_secs`.
    fn demand(traffic: f64, handle_secs: u64) -> Demand {
        Demand {
            calls: traffic * 3600.0 / handle_secs as f64,
            interval: Duration::from_secs(3600),
            handle: Duration::from_secs(handle_secs),
        }
    }

    /// With patience equal to the handle time, every caller in the system
    /// leaves at rate μ whether served or waiting: the M/M/∞ queue
    /// (Garnett, Mandelbaum and Reiman 2002, §3), so the number in the
    /// system is Poisson with mean R and the probability of waiting is
    /// `P(X >= N)`. Published cumulative Poisson tables (e.g. CRC Standard
    /// Probability and Statistics Tables, Poisson distribution) give
    /// `P(X <= 9 | 10) = 0.4579`, `P(X <= 6 | 5) = 0.7622`,
    /// `P(X <= 12 | 10) = 0.7916` and `P(X <= 13 | 10) = 0.8645`.
    #[test]
    fn erlang_a_with_patience_equal_to_handle_time_matches_the_poisson_table() {
        let d10 = demand(10.0, 180);
        let patience = Duration::from_secs(180);
        let t = Duration::from_secs(20);
        let o = outlook(10, &d10, patience, t);
        close(o.wait_probability, 1.0 - 0.4579, 0.0005, "P(wait), R 10, N 10");
        let o = outlook(7, &demand(5.0, 180), patience, t);
        close(o.wait_probability, 1.0 - 0.7622, 0.0005, "P(wait), R 5, N 7");
        // The fewest agents keeping P(wait) at or under 20%: P(X >= 13) =
        // 0.2084 is too many, P(X >= 14) = 0.1355 is enough.
        let needed = fewest_agents(Model::Abandon { patience }, &d10, t, |o| {
            o.wait_probability <= 0.2
        });
        assert_eq!(needed.agents, 14);
        close(
            needed.wait_probability,
            1.0 - 0.8645,
            0.0005,
            "P(wait), R 10, N 14",
        );
    }

    /// As patience grows without bound Erlang A becomes Erlang C: the
    /// published worked example (10 Erlangs, 14 agents: P(wait) 0.174,
    /// service level 0.888 within 20 s) holds for very patient callers.
    #[test]
    fn erlang_a_with_endless_patience_is_erlang_c() {
        let d = demand(10.0, 180);
        let patience = Duration::from_secs(1_000_000_000);
        let t = Duration::from_secs(20);
        let a = outlook(14, &d, patience, t);
        let c = erlang::outlook(14, &d, t);
        close(
            a.wait_probability,
            c.wait_probability,
            c.wait_probability * 0.001,
            "P(wait)",
        );
        close(a.wait_probability, 0.174, 0.0005, "P(wait) as published");
        close(a.service_level, c.service_level, 0.001, "service level");
        close(a.asa.as_secs_f64(), c.asa.as_secs_f64(), 0.01, "ASA");
        assert!(a.abandon_probability < 1e-5);
        let target = Target {
            threshold: t,
            service_level: 0.8,
            max_occupancy: 1.0,
        };
        assert_eq!(agents_needed(Model::Abandon { patience }, &d, &target).agents, 14);
    }

    #[test]
    fn impatient_callers_need_fewer_agents_and_some_give_up() {
        let d = demand(10.0, 180);
        let t = Duration::from_secs(20);
        let target = Target {
            threshold: t,
            service_level: 0.8,
            max_occupancy: 1.0,
        };
        let c = agents_needed(Model::WaitForever, &d, &target);
        let a = agents_needed(
            Model::Abandon {
                patience: Duration::from_secs(60),
            },
            &d,
            &target,
        );
        assert!(a.agents <= c.agents, "{} > {}", a.agents, c.agents);
        // Fewer agents than the traffic: Erlang C cannot keep up, Erlang
        // A finds a steady state where the callers who give up make room.
        // A discrete-event simulation of this queue (about 1.1 million
        // calls) gave 21.25% abandoned and 62.69% answered within 20 s.
        let short = outlook(9, &d, Duration::from_secs(60), t);
        close(short.abandon_probability, 0.2125, 0.002, "abandoned, 9 agents");
        close(short.service_level, 0.6269, 0.002, "service level, 9 agents");
        close(
            short.occupancy,
            10.0 * (1.0 - short.abandon_probability) / 9.0,
            1e-9,
            "occupancy",
        );
        // Service level rises with every agent added.
        let mut last = 0.0;
        for n in 5..20 {
            let o = outlook(n, &d, Duration::from_secs(60), t);
            assert!(o.service_level >= last, "{n}: {} < {last}", o.service_level);
            last = o.service_level;
        }
    }

    #[test]
    fn edge_cases_stay_finite() {
        let d = demand(10.0, 180);
        let t = Duration::from_secs(20);
        let none = outlook(0, &d, Duration::from_secs(60), t);
        assert_eq!((none.service_level, none.abandon_probability), (0.0, 1.0));
        let loss = outlook(10, &d, Duration::ZERO, t);
        close(loss.wait_probability, erlang_b(10, 10.0), 1e-12, "loss system");
        let idle = outlook(3, &Demand { calls: 0.0, ..d }, Duration::from_secs(60), t);
        assert_eq!(idle.service_level, 1.0);
        let huge = outlook(500, &demand(480.0, 300), Duration::from_secs(90), t);
        assert!(huge.service_level.is_finite() && huge.wait_probability.is_finite());
    }
}
