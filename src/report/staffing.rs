//! `hotline report staffing`: a day's interval plan as a table.

use super::cli::Table;
use crate::proto;

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// The plan's rows, then one row per queue with the forecast's error.
pub fn table(r: &proto::StaffingPlan) -> Table {
    let header = strings(&[
        "queue",
        "interval",
        "forecast_calls",
        "handle_secs",
        "patience_secs",
        "required_agents",
        "required_erlang_c",
        "required_erlang_a",
        "expected_service_level_pct",
        "expected_occupancy_pct",
        "expected_asa_secs",
        "offered",
        "answered",
        "abandoned",
        "observed_handle_secs",
    ]);
    let opt = |has: bool, v: String| if has { v } else { "-".to_string() };
    let mut rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let f = row.forecast;
            vec![
                row.queue.clone(),
                format!("{} {}", r.date, row.local_time),
                opt(f, format!("{:.1}", row.forecast_calls)),
                opt(f, row.handle_secs.to_string()),
                opt(f && row.patience_secs > 0, row.patience_secs.to_string()),
                opt(f, row.required_agents.to_string()),
                opt(f, row.required_erlang_c.to_string()),
                opt(f && row.required_erlang_a > 0, row.required_erlang_a.to_string()),
                opt(f, format!("{:.1}", row.expected_service_level * 100.0)),
                opt(f, format!("{:.1}", row.expected_occupancy * 100.0)),
                opt(f, row.expected_asa_secs.to_string()),
                row.offered.to_string(),
                row.answered.to_string(),
                row.abandoned.to_string(),
                opt(row.observed_handle_secs > 0, row.observed_handle_secs.to_string()),
            ]
        })
        .collect();
    for a in &r.accuracy {
        let mut row = vec![
            a.queue.clone(),
            format!("accuracy over the {} intervals of the week before", a.intervals),
        ];
        row.push(format!(
            "forecast MAE {:.2} ({:.1}% WAPE); same-as-last-interval MAE {:.2} ({:.1}% WAPE)",
            a.forecast_mae,
            a.forecast_wape * 100.0,
            a.naive_mae,
            a.naive_wape * 100.0
        ));
        row.resize(header.len(), String::new());
        rows.push(row);
    }
    Table {
        header,
        rows,
        rules: format!(
            "{}-minute intervals, local time {}; forecast = the same interval on the 7 days before (yesterday weighing most) and on the same weekday of earlier weeks, smoothed with its neighbours; required agents meet the queue's service-level target under the occupancy cap, by Erlang A where callers are seen giving up, else Erlang C",
            r.interval_minutes, r.time_zone
        ),
    }
}
