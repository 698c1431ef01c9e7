//! The demand of coming intervals, from the same interval on earlier days
//! and weeks.
//!
//! For an interval starting at local time `T` on day `D` (in the center's
//! zone, so a day across a daylight-saving change is matched by its clock,
//! not by 24 hours):
//! - each earlier day `D - k` (`k = 1..=days`) gives the calls offered at
//!   `T`, smoothed with the intervals either side (weights 1/4, 1/2, 1/4:
//!   Poisson noise averages out, the daily shape stays);
//! - the days are weighted `decay^(k-1)`: yesterday counts most, so a
//!   trend is followed;
//! - the same weekday on earlier weeks (`7·w` days back, `w = 1..=weeks`)
//!   gives a weekly mean, and the forecast is the mean of the daily and the
//!   weekly estimates (a Monday unlike a Sunday is learnt from Mondays);
//! - days before the history begins are unknown, not quiet: they are left
//!   out rather than counted as zero.
//!
//! Handle time and patience come from the same samples pooled (every call
//! counts once), so an interval with a few calls does not swing them.
//!
//! `backtest` measures the forecast against what came, next to the naive
//! forecast "the same as the interval before".

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::tz::TimeZone;

use super::intervals::{Grid, IntervalFigures};
use crate::time::Timestamp;

/// How the forecast reads history.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastSettings {
    /// The center's zone: "the same interval" is the same local time.
    pub zone: TimeZone,
    /// Earlier days read for the daily pattern.
    pub days: u32,
    /// Each day back weighs this much of the day after it (0..=1).
    pub decay: f64,
    /// Same weekday on earlier weeks read for the weekly pattern.
    pub weeks: u32,
}

impl Default for ForecastSettings {
    fn default() -> Self {
        ForecastSettings {
            zone: TimeZone::UTC,
            days: 7,
            decay: 0.8,
            weeks: 4,
        }
    }
}

/// What an interval is expected to bring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expected {
    pub calls: f64,
    /// None when no sample had a handled call.
    pub handle: Option<Duration>,
    /// None when no sampled caller gave up.
    pub patience: Option<Duration>,
    /// Earlier days and weeks the forecast read.
    pub samples: u32,
}

/// How close a forecast came, against the naive one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Accuracy {
    pub intervals: u32,
    /// Mean absolute error, calls per interval.
    pub forecast_mae: f64,
    pub naive_mae: f64,
    /// Absolute error over calls offered (weighted absolute percentage).
    pub forecast_wape: f64,
    pub naive_wape: f64,
}

/// One queue's history and how to read it.
pub struct Forecaster<'a> {
    grid: Grid,
    settings: &'a ForecastSettings,
    history: &'a BTreeMap<Timestamp, IntervalFigures>,
    /// Where the history begins: earlier intervals are unknown.
    since: Timestamp,
    /// Where it ends: intervals not over by then are unknown (a plan for
    /// tomorrow reads today only up to now).
    until: Timestamp,
}

impl<'a> Forecaster<'a> {
    pub fn new(
        grid: Grid,
        settings: &'a ForecastSettings,
        history: &'a BTreeMap<Timestamp, IntervalFigures>,
        since: Timestamp,
    ) -> Self {
        Forecaster {
            grid,
            settings,
            history,
            since: grid.start_of(since),
            until: Timestamp(u64::MAX),
        }
    }

    /// Intervals not over by `until` are unknown.
    pub fn known_until(mut self, until: Timestamp) -> Self {
        self.until = until;
        self
    }

    /// The interval at the same local time `days` days before `start`.
    fn days_back(&self, start: Timestamp, days: u32) -> Option<Timestamp> {
        let ms = i64::try_from(start.as_millis()).ok()?;
        let zoned = jiff::Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(self.settings.zone.clone());
        let earlier = zoned.checked_sub(jiff::Span::new().days(i64::from(days))).ok()?;
        let ms = u64::try_from(earlier.timestamp().as_millisecond()).ok()?;
        Some(self.grid.start_of(Timestamp(ms)))
            .filter(|&t| t >= self.since && t.plus(self.grid.length()) <= self.until)
    }

    fn figures(&self, start: Timestamp) -> IntervalFigures {
        self.history.get(&start).copied().unwrap_or_default()
    }

    /// Calls offered at `start`, smoothed with its neighbours.
    fn smoothed(&self, start: Timestamp) -> f64 {
        let length = self.grid.length();
        let before = Timestamp(start.as_millis().saturating_sub(length.as_millis() as u64));
        let at = |t: Timestamp| f64::from(self.figures(t).offered);
        (at(before) + 2.0 * at(start) + at(start.plus(length))) / 4.0
    }

    /// The forecast for the interval starting at `start`; none without a
    /// single earlier day to learn from.
    pub fn forecast(&self, start: Timestamp) -> Option<Expected> {
        let start = self.grid.start_of(start);
        let mut pooled = IntervalFigures::default();
        let (mut daily, mut daily_weight, mut weight) = (0.0, 0.0, 1.0);
        let mut samples = 0;
        for k in 1..=self.settings.days {
            if let Some(t) = self.days_back(start, k) {
                daily += weight * self.smoothed(t);
                daily_weight += weight;
                pooled.add(&self.figures(t));
                samples += 1;
            }
            weight *= self.settings.decay;
        }
        let (mut weekly, mut weeks) = (0.0, 0u32);
        for w in 1..=self.settings.weeks {
            if let Some(t) = self.days_back(start, 7 * w) {
                weekly += self.smoothed(t);
                weeks += 1;
                if 7 * w > self.settings.days {
                    pooled.add(&self.figures(t));
                    samples += 1;
                }
            }
        }
        let calls = match (daily_weight > 0.0, weeks > 0) {
            (true, true) => (daily / daily_weight + weekly / f64::from(weeks)) / 2.0,
            (true, false) => daily / daily_weight,
            (false, true) => weekly / f64::from(weeks),
            (false, false) => return None,
        };
        Some(Expected {
            calls,
            handle: pooled.average_handle(),
            patience: pooled.patience(),
            samples,
        })
    }

    /// The forecast's error over the intervals in `[from, to)`, against
    /// the naive forecast (the interval before); intervals the forecast
    /// cannot cover are left out of both.
    pub fn backtest(&self, from: Timestamp, to: Timestamp) -> Accuracy {
        let length = self.grid.length();
        let (mut n, mut offered, mut forecast_err, mut naive_err) = (0u32, 0.0, 0.0, 0.0);
        for start in self.grid.starts(from, to) {
            let Some(expected) = self.forecast(start) else {
                continue;
            };
            let before = Timestamp(start.as_millis().saturating_sub(length.as_millis() as u64));
            if before < self.since {
                continue;
            }
            let actual = f64::from(self.figures(start).offered);
            forecast_err += (expected.calls - actual).abs();
            naive_err += (f64::from(self.figures(before).offered) - actual).abs();
            offered += actual;
            n += 1;
        }
        let per = |e: f64, d: f64| if d > 0.0 { e / d } else { 0.0 };
        Accuracy {
            intervals: n,
            forecast_mae: per(forecast_err, f64::from(n)),
            naive_mae: per(naive_err, f64::from(n)),
            forecast_wape: per(forecast_err, offered),
            naive_wape: per(naive_err, offered),
        }
    }
}
