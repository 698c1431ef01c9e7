//! Staffing to the wire: the live figures on the queue board and a day's
//! plan.

use std::time::Duration;

use crate::proto;
use crate::staffing::plan::DayPlan;
use crate::staffing::{Board, QueueStaffing};
use hotline_core::workforce::erlang::{Model, Outlook};

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn ms(t: crate::time::Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn outlook(o: &Outlook) -> proto::StaffingOutlook {
    proto::StaffingOutlook {
        agents: o.agents,
        service_level: o.service_level,
        wait_probability: o.wait_probability,
        abandon_probability: o.abandon_probability,
        asa_secs: secs(o.asa),
        occupancy: o.occupancy,
    }
}

fn model(m: Model) -> &'static str {
    match m {
        Model::WaitForever => "erlang-c",
        Model::Abandon { .. } => "erlang-a",
    }
}

/// One queue's live staffing.
pub fn queue_staffing(board: &Board, q: &QueueStaffing) -> proto::QueueStaffing {
    let s = &q.staffing;
    proto::QueueStaffing {
        computed_at_unix_ms: board.at.map(ms).unwrap_or(0),
        interval_minutes: secs(board.interval) / 60,
        observed_calls: q.observed.offered,
        has_forecast: q.forecast.is_some(),
        forecast_calls: q.forecast.map(|f| f.calls).unwrap_or(0.0),
        from_forecast: q.from_forecast,
        handle_secs: secs(s.demand.handle),
        patience_secs: s.patience.map(secs).unwrap_or(0),
        model: model(s.model()).into(),
        required_agents: s.required().agents,
        required_erlang_c: s.erlang_c.agents,
        on_duty_agents: q.on_duty,
        required: Some(outlook(s.required())),
        on_duty: s.on_duty.as_ref().map(outlook),
        ahead: q
            .ahead
            .iter()
            .map(|a| proto::StaffingAhead {
                start_unix_ms: ms(a.start),
                forecast_calls: a.expected.calls,
                required_agents: a.required,
            })
            .collect(),
        service_level_target_percent: (q.rules.target.service_level * 100.0).round() as u32,
    }
}

/// A day's plan.
pub fn day_plan(p: &DayPlan) -> proto::StaffingPlan {
    proto::StaffingPlan {
        date: p.date.to_string(),
        time_zone: p.time_zone.clone(),
        interval_minutes: secs(p.interval) / 60,
        rows: p
            .rows
            .iter()
            .map(|r| {
                let s = r.staffing.as_ref();
                let required = s.map(|s| *s.required());
                proto::StaffingPlanRow {
                    queue: r.queue.to_string(),
                    start_unix_ms: ms(r.start),
                    local_time: r.local.clone(),
                    forecast: r.expected.is_some(),
                    forecast_calls: r.expected.map(|e| e.calls).unwrap_or(0.0),
                    handle_secs: s.map(|s| secs(s.demand.handle)).unwrap_or(0),
                    patience_secs: s.and_then(|s| s.patience).map(secs).unwrap_or(0),
                    required_agents: required.map(|o| o.agents).unwrap_or(0),
                    required_erlang_c: s.map(|s| s.erlang_c.agents).unwrap_or(0),
                    required_erlang_a: s.and_then(|s| s.erlang_a).map(|o| o.agents).unwrap_or(0),
                    expected_service_level: required.map(|o| o.service_level).unwrap_or(0.0),
                    expected_occupancy: required.map(|o| o.occupancy).unwrap_or(0.0),
                    expected_asa_secs: required.map(|o| secs(o.asa)).unwrap_or(0),
                    offered: r.observed.offered,
                    answered: r.observed.answered,
                    abandoned: r.observed.abandoned,
                    observed_handle_secs: r.observed.average_handle().map(secs).unwrap_or(0),
                }
            })
            .collect(),
        accuracy: p
            .accuracy
            .iter()
            .map(|(q, a)| proto::ForecastAccuracy {
                queue: q.to_string(),
                intervals: a.intervals,
                forecast_mae: a.forecast_mae,
                naive_mae: a.naive_mae,
                forecast_wape: a.forecast_wape,
                naive_wape: a.naive_wape,
            })
            .collect(),
    }
}
