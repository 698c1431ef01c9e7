//! Staffing: how well the forecast does, and what a day's plan costs.
//!
//! Figures printed:
//! - on a synthetic week with a daily peak (40 calls per quarter hour at
//!   11:00, a smaller peak at 15:00, a night floor; Poisson arrivals), the
//!   forecast's error interval by interval over the second week, learning
//!   from the days before each, next to the naive forecast "the same as
//!   the last interval": mean absolute error (calls per interval) and
//!   weighted absolute percentage error, for three seeds;
//! - the CPU a day's plan (96 quarter hours, Erlang C and Erlang A for
//!   each) takes for a queue.
//!
//! Under `cargo test` (no `--bench`) it runs one seed and one plan, as a
//! smoke test.

use std::time::{Duration, Instant};

use hotline::workforce::erlang::Target;
use hotline::workforce::forecast::{ForecastSettings, Forecaster};
use hotline::workforce::intervals::Grid;
use hotline::workforce::plan::{staff, PlanRules};
use hotline::workforce::synthetic;
use hotline_time::Timestamp;

const MONDAY: Timestamp = Timestamp(1_767_571_200_000);
const DAY_MS: u64 = 86_400_000;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seeds: &[u64] = if full { &[7, 11, 13] } else { &[7] };
    let settings = ForecastSettings::default();
    let week2 = Timestamp(MONDAY.as_millis() + 7 * DAY_MS);
    for &seed in seeds {
        let history = synthetic::history(MONDAY, 14, 40.0, 240_000, seed);
        let f = Forecaster::new(Grid::QUARTER_HOUR, &settings, &history, MONDAY);
        let a = f.backtest(week2, Timestamp(week2.as_millis() + 7 * DAY_MS));
        println!(
            "forecast, seed {seed}: {} intervals; forecast MAE {:.2} calls ({:.1}% WAPE), same-as-last-interval MAE {:.2} calls ({:.1}% WAPE)",
            a.intervals,
            a.forecast_mae,
            a.forecast_wape * 100.0,
            a.naive_mae,
            a.naive_wape * 100.0
        );
    }
    let history = synthetic::history(MONDAY, 14, 40.0, 240_000, 7);
    let f = Forecaster::new(Grid::QUARTER_HOUR, &settings, &history, MONDAY);
    let rules = PlanRules {
        target: Target {
            threshold: Duration::from_secs(20),
            service_level: 0.8,
            max_occupancy: 0.85,
        },
        default_handle: Duration::from_secs(240),
        min_abandons: 20,
    };
    let runs = if full { 21 } else { 1 };
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut agents = 0;
        for start in Grid::QUARTER_HOUR.starts(week2, Timestamp(week2.as_millis() + DAY_MS)) {
            let e = f.forecast(start).unwrap_or_else(|| panic!("a forecast"));
            let s = staff(
                &rules,
                e.calls,
                Grid::QUARTER_HOUR.length(),
                e.handle,
                Some((Duration::from_secs(90), 100)),
                Some(8),
            );
            agents += s.required().agents + s.erlang_c.agents;
        }
        assert!(agents > 0);
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "a day's plan (96 intervals, forecast + Erlang C + Erlang A + on-duty outlook): {:.2} ms (p50 of {runs}; min {:.2}, max {:.2})",
        ms[ms.len() / 2],
        ms[0],
        ms[ms.len() - 1]
    );
}
