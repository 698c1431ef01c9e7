use std::collections::BTreeMap;
use std::time::Duration;

use super::erlang::Target;
use super::forecast::{ForecastSettings, Forecaster};
use super::intervals::{interval_figures, window_figures, Grid, IntervalFigures};
use super::plan::{staff, PlanRules};
use super::synthetic;
use crate::acd::{CallOutcome, CallRecord};
use crate::time::Timestamp;

/// `got` is within `tolerance` of `want`, or the test fails naming `what`.
pub(super) fn close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got}, expected {want} ± {tolerance}"
    );
}

/// Monday 2026-01-05 00:00 UTC.
const MONDAY: Timestamp = Timestamp(1_767_571_200_000);
const DAY_MS: u64 = 86_400_000;

#[test]
fn the_forecast_beats_the_last_interval_on_a_week_with_a_daily_peak() {
    // A week to learn from, then a week to forecast, interval by interval,
    // each forecast reading only the days before it.
    let history = synthetic::history(MONDAY, 14, 40.0, 240_000, 7);
    let settings = ForecastSettings::default();
    let f = Forecaster::new(Grid::QUARTER_HOUR, &settings, &history, MONDAY);
    let second_week = Timestamp(MONDAY.as_millis() + 7 * DAY_MS);
    let a = f.backtest(second_week, Timestamp(second_week.as_millis() + 7 * DAY_MS));
    assert_eq!(a.intervals, 7 * 96);
    assert!(
        a.forecast_mae < 0.8 * a.naive_mae,
        "forecast {:.2} calls per interval off, naive {:.2}",
        a.forecast_mae,
        a.naive_mae
    );
    assert!(a.forecast_wape < a.naive_wape);
}

#[test]
fn the_forecast_follows_the_daily_shape_and_reads_only_known_days() {
    let history = synthetic::history(MONDAY, 8, 40.0, 240_000, 3);
    let settings = ForecastSettings::default();
    let f = Forecaster::new(Grid::QUARTER_HOUR, &settings, &history, MONDAY);
    let day8 = MONDAY.as_millis() + 7 * DAY_MS;
    let at = |hour: u64| Timestamp(day8 + hour * 3_600_000 + 45 * 60_000);
    let peak = f.forecast(at(10)).map(|e| e.calls).unwrap_or(0.0);
    let night = f.forecast(at(3)).map(|e| e.calls).unwrap_or(f64::MAX);
    assert!(peak > 30.0 && night < 5.0, "peak {peak}, night {night}");
    let e = f.forecast(at(10)).unwrap_or_else(|| panic!("a forecast"));
    assert_eq!(
        e.samples, 7,
        "seven earlier days; the week before starts the history"
    );
    assert_eq!(e.handle, Some(Duration::from_secs(240)));
    // The first day has nothing earlier: no forecast rather than zero.
    assert_eq!(f.forecast(Timestamp(MONDAY.as_millis() + 3_600_000)), None);
    // Days not over yet are unknown too: planning day 8's 10:45 at noon
    // on day 2 reads days 1 and 2 only.
    let early = Forecaster::new(Grid::QUARTER_HOUR, &settings, &history, MONDAY)
        .known_until(Timestamp(MONDAY.as_millis() + DAY_MS + 12 * 3_600_000));
    assert_eq!(early.forecast(at(10)).map(|e| e.samples), Some(2));
}

#[test]
fn the_same_interval_is_the_same_local_time_across_a_clock_change() {
    // Europe/Berlin moved from UTC+1 to UTC+2 on Sunday 2026-03-29: 10:00
    // local on the Monday after is 08:00 UTC, on the Saturday before 09:00.
    let zone = jiff::tz::TimeZone::get("Europe/Berlin").ok();
    let Some(zone) = zone.or_else(|| jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").ok()) else {
        panic!("a zone with daylight saving")
    };
    let saturday_10 = Timestamp(1_774_688_400_000); // 2026-03-28T09:00Z
    let monday_10 = Timestamp(1_774_857_600_000); // 2026-03-30T08:00Z
    let mut history = BTreeMap::new();
    history.insert(
        saturday_10,
        IntervalFigures {
            offered: 40,
            ..Default::default()
        },
    );
    let settings = ForecastSettings {
        zone,
        days: 2,
        decay: 1.0,
        weeks: 0,
    };
    let f = Forecaster::new(
        Grid::QUARTER_HOUR,
        &settings,
        &history,
        Timestamp(saturday_10.as_millis() - DAY_MS),
    );
    let e = f.forecast(monday_10).unwrap_or_else(|| panic!("a forecast"));
    // Saturday 10:00 smoothed (40 · 1/2) and Sunday (nothing), equally weighted.
    assert!((e.calls - 10.0).abs() < 1e-9, "{}", e.calls);
}

fn call(id: &str, queued_s: u64, outcome: CallOutcome, waited_s: u64) -> CallRecord {
    let at = Timestamp(MONDAY.as_millis() + queued_s * 1000);
    let mut c = CallRecord::arrived(
        crate::ids::CallId::new(id),
        String::new(),
        String::new(),
        crate::ids::QueueName::new("billing"),
        crate::acd::Tier::Regular,
        at,
    );
    let end = Some(at.plus(Duration::from_secs(waited_s)));
    match outcome {
        CallOutcome::Answered => c.answered_at = end,
        _ => c.ended_at = end,
    }
    c.outcome = Some(outcome);
    c
}

#[test]
fn interval_figures_count_demand_the_agents_could_serve() {
    let calls = vec![
        call("a", 10, CallOutcome::Answered, 30),
        call("b", 20, CallOutcome::Abandoned, 60),
        call("c", 30, CallOutcome::Abandoned, 2), // a short abandon
        call("d", 40, CallOutcome::Rejected, 0),  // refused at entry
        call("e", 16 * 60, CallOutcome::Answered, 8),
    ];
    let f = interval_figures(&Grid::QUARTER_HOUR, &calls, &[], Duration::from_secs(5), MONDAY);
    let billing = &f[&crate::ids::QueueName::new("billing")];
    let first = billing[&MONDAY];
    assert_eq!((first.offered, first.answered, first.abandoned), (3, 1, 1));
    assert_eq!(first.waited_ms, 92_000);
    assert_eq!(first.patience(), Some(Duration::from_secs(92)));
    assert_eq!(billing[&Timestamp(MONDAY.as_millis() + 900_000)].offered, 1);
    // A window need not line up with the grid: the last 15 minutes from
    // 00:10 hold the second interval's call only.
    let from = Timestamp(MONDAY.as_millis() + 10 * 60_000);
    let w = window_figures(
        &calls,
        &[],
        from,
        from.plus(Duration::from_secs(900)),
        Duration::from_secs(5),
        MONDAY,
    );
    assert_eq!(w[&crate::ids::QueueName::new("billing")].offered, 1);
}

#[test]
fn a_plan_uses_erlang_a_only_when_enough_callers_gave_up() {
    let rules = PlanRules {
        target: Target {
            threshold: Duration::from_secs(20),
            service_level: 0.8,
            max_occupancy: 1.0,
        },
        default_handle: Duration::from_secs(180),
        min_abandons: 20,
    };
    let half_hour = Duration::from_secs(1800);
    let few = staff(
        &rules,
        100.0,
        half_hour,
        None,
        Some((Duration::from_secs(60), 3)),
        Some(12),
    );
    assert_eq!(few.erlang_a, None);
    assert_eq!(few.required().agents, 14, "Erlang C with the default handle time");
    assert!(few.on_duty.is_some_and(|o| o.service_level < 0.8));
    let many = staff(
        &rules,
        100.0,
        half_hour,
        None,
        Some((Duration::from_secs(60), 40)),
        Some(12),
    );
    let a = many.erlang_a.unwrap_or_else(|| panic!("Erlang A"));
    assert!(a.agents <= 14);
    assert_eq!(many.required().agents, a.agents);
    assert!(many.on_duty.is_some_and(|o| o.abandon_probability > 0.0));
}
