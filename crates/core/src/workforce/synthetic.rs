//! A synthetic history with a daily peak: arrivals per interval drawn from
//! a Poisson law whose rate follows the clock (a night floor, a morning
//! peak at 11:00 and a smaller one at 15:00). It is what the forecast is
//! checked on (its tests and `benches/staffing_forecast.rs`) and what the
//! demo seeds its history with. Deterministic: a seed gives one history.

use std::collections::BTreeMap;

use super::intervals::{Grid, IntervalFigures};
use crate::time::Timestamp;

/// Calls expected in the 15-minute interval starting `minute` after
/// midnight, at `scale` calls per interval at the morning peak.
pub fn rate(minute: u32, scale: f64) -> f64 {
    let hour = f64::from(minute) / 60.0 + 0.125;
    let bump = |centre: f64, width: f64| (-((hour - centre) / width).powi(2)).exp();
    scale * (0.05 + 0.95 * bump(11.0, 2.0) + 0.6 * bump(15.0, 1.5))
}

/// A small, fast, seedable generator (xorshift64*): statistics good enough
/// for arrivals, with no dependency.
struct Draw(u64);

impl Draw {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Knuth's method: fine for the means used here (under a few hundred).
    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// `days` days of 15-minute intervals from `from` (a midnight, UTC): the
/// calls offered per interval, each handled in `handle_ms`, with `scale`
/// calls per interval at the morning peak.
pub fn history(
    from: Timestamp,
    days: u32,
    scale: f64,
    handle_ms: u64,
    seed: u64,
) -> BTreeMap<Timestamp, IntervalFigures> {
    let grid = Grid::QUARTER_HOUR;
    let mut draw = Draw(seed.max(1));
    let mut out = BTreeMap::new();
    for i in 0..u64::from(days) * 96 {
        let minute = (i % 96) as u32 * 15;
        let calls = draw.poisson(rate(minute, scale));
        if calls > 0 {
            out.insert(
                grid.after(from, i),
                IntervalFigures {
                    offered: calls,
                    answered: calls,
                    handled: calls,
                    handle_ms: u64::from(calls) * handle_ms,
                    ..Default::default()
                },
            );
        }
    }
    out
}
