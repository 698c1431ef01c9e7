//! A day's interval plan, per queue: the forecast of each interval (from
//! the days before it, as far as they are over), the agents it needs, and
//! what came, for the intervals that are over; with how well the forecast
//! did over the week before the day, next to the naive forecast.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Date;

use super::{pooled, rules, source};
use crate::acd::QueueSettings;
use crate::config::StaffingConfig;
use crate::error::Error;
use crate::store::Store;
use crate::time::Timestamp;
use hotline_core::ids::QueueName;
use hotline_core::workforce::forecast::{Accuracy, Expected, Forecaster};
use hotline_core::workforce::intervals::{interval_figures, IntervalFigures};
use hotline_core::workforce::plan::{staff, Staffing};

/// Longest accepted date text ("2026-11-30").
const MAX_DATE_LEN: usize = 10;

/// One queue's interval.
#[derive(Clone, Debug)]
pub struct PlanRow {
    pub queue: QueueName,
    pub start: Timestamp,
    /// Local start, "HH:MM".
    pub local: String,
    /// None without any earlier day to learn from.
    pub expected: Option<Expected>,
    pub staffing: Option<Staffing>,
    /// What came (zero for intervals not over, or quiet).
    pub observed: IntervalFigures,
}

/// A day's plan.
#[derive(Clone, Debug)]
pub struct DayPlan {
    pub date: Date,
    pub time_zone: String,
    pub interval: Duration,
    pub rows: Vec<PlanRow>,
    /// Per queue, over the 7 days before the day.
    pub accuracy: BTreeMap<QueueName, Accuracy>,
}

/// A plan's date, "YYYY-MM-DD"; INVALID_ARGUMENT naming `date`.
pub fn date(text: &str) -> Result<Date, Error> {
    if text.len() > MAX_DATE_LEN {
        let prefix: String = text.chars().take(MAX_DATE_LEN).collect();
        return Err(Error::invalid(
            "date",
            format!("{prefix:?}... is not a date (YYYY-MM-DD)"),
        ));
    }
    text.parse::<Date>()
        .map_err(|_| Error::invalid("date", format!("{text:?} is not a date (YYYY-MM-DD)")))
}

fn millis(z: &jiff::Zoned) -> Timestamp {
    Timestamp(u64::try_from(z.timestamp().as_millisecond()).unwrap_or(0))
}

/// The plan for `date` in the center's zone, for `queues`.
pub async fn day_plan(
    store: &dyn Store,
    config: &StaffingConfig,
    queues: &[QueueSettings],
    short_abandon: Duration,
    date: Date,
    now: Timestamp,
) -> Result<DayPlan, Error> {
    let forecast = config.forecast();
    let grid = config.grid();
    let day_start = date
        .to_zoned(forecast.zone.clone())
        .map_err(|e| Error::invalid("date", format!("{date} has no start in the zone: {e}")))?;
    let day_end = day_start
        .tomorrow()
        .map_err(|e| Error::invalid("date", format!("{date} has no next day: {e}")))?;
    let (start, end) = (millis(&day_start), millis(&day_end));
    let from = Timestamp(
        start
            .as_millis()
            .saturating_sub(u64::from(config.history_days) * 86_400_000),
    );
    let (calls, contacts) = source::load(store, from, end.min(now)).await?;
    let since = source::history_begins(&calls, now);
    let history = interval_figures(&grid, &calls, &contacts, short_abandon, now);
    let empty = BTreeMap::new();
    let mut rows = Vec::new();
    let mut accuracy = BTreeMap::new();
    for settings in queues {
        let Some(queue) = settings.name.clone() else {
            continue;
        };
        let history = history.get(&queue).unwrap_or(&empty);
        let rules = rules(config, settings);
        let f = Forecaster::new(grid, &forecast, history, since).known_until(now);
        let all = pooled(history);
        let patience = all.patience().map(|p| (p, all.abandoned));
        for at in grid.starts(start, end) {
            let expected = f.forecast(at);
            let staffing = expected.map(|e| {
                staff(
                    &rules,
                    e.calls,
                    grid.length(),
                    e.handle.or(all.average_handle()),
                    patience,
                    None,
                )
            });
            let local = jiff::Timestamp::from_millisecond(at.as_millis() as i64)
                .map(|t| t.to_zoned(forecast.zone.clone()).strftime("%H:%M").to_string())
                .unwrap_or_default();
            rows.push(PlanRow {
                queue: queue.clone(),
                start: at,
                local,
                expected,
                staffing,
                observed: history.get(&at).copied().unwrap_or_default(),
            });
        }
        let week_before = Timestamp(start.as_millis().saturating_sub(7 * 86_400_000));
        accuracy.insert(queue, f.backtest(week_before, start.min(now)));
    }
    Ok(DayPlan {
        date,
        time_zone: config.time_zone.clone(),
        interval: grid.length(),
        rows,
        accuracy,
    })
}
