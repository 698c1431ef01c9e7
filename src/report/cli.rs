//! `hotline report`: the contact-center reports of `ReportService`, printed
//! as aligned text for people or written as CSV for spreadsheets.

use std::io::Write;

use crate::client::Clients;
use crate::error::Error;
use crate::proto;

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    Queues,
    Agents,
    Fcr,
    /// Cases opened in the range, in total and by kind, category, target
    /// and owner.
    Cases,
    /// A day's interval plan per queue (`--date`, `--queue`): forecast,
    /// agents required by Erlang C and A, what came; then the forecast's
    /// error over the week before, against the naive forecast.
    Staffing,
}

/// What a report is asked for.
#[derive(Clone, Debug)]
pub struct Ask {
    /// `[from_ms, to_ms)`, for range reports.
    pub from_ms: i64,
    pub to_ms: i64,
    pub by: FcrBy,
    /// The staffing plan's day, "YYYY-MM-DD" (the center's zone).
    pub date: String,
    /// Only this queue (staffing); empty: every queue.
    pub queue: String,
}

/// How FCR rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FcrBy {
    Agent,
    Queue,
    Category,
    Day,
}

/// A report as a table: a header row and data rows, plus the counting rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub rules: String,
}

fn remote(s: tonic::Status) -> Error {
    crate::status::from_remote(&s)
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}", v * 100.0)).unwrap_or_default()
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn secs(ms: i64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

fn fcr_cells(f: Option<&proto::FcrFigures>) -> Vec<String> {
    let f = f.cloned().unwrap_or_default();
    vec![
        format!("{:.1}", f.declared_rate * 100.0),
        format!("{:.1}", f.observed_rate * 100.0),
        if f.provisional {
            "provisional".into()
        } else {
            "final".into()
        },
    ]
}

fn common_cells(c: Option<&proto::CommonFigures>) -> Vec<String> {
    let c = c.cloned().unwrap_or_default();
    let mut v = vec![
        c.handled.to_string(),
        secs(c.average_handle_time_ms),
        c.callbacks_met.to_string(),
        c.callbacks_missed.to_string(),
        c.callbacks_open.to_string(),
    ];
    v.extend(fcr_cells(c.fcr.as_ref()));
    v.push(num(c.quality_average));
    v.push(num(c.satisfaction_average));
    let s = c.signals.unwrap_or_default();
    v.push(s.analysed.to_string());
    v.push(pct(s.agent_talk_share));
    v.push(s.mean_overtalk_ms.map(secs).unwrap_or_default());
    v.push((s.long_holds_to_check + s.long_holds_without_apology).to_string());
    v.push(s.long_holds_without_apology.to_string());
    v
}

/// The columns of a group of case figures.
const CASES: [&str; 12] = [
    "opened",
    "not_standing",
    "resolved",
    "closed",
    "reopens",
    "reopen_rate_pct",
    "overdue",
    "due_met",
    "due_missed",
    "time_to_resolve_s",
    "satisfaction",
    "rated",
];

fn case_cells(f: Option<&proto::CaseFigures>) -> Vec<String> {
    let f = f.cloned().unwrap_or_default();
    vec![
        f.opened.to_string(),
        f.not_standing.to_string(),
        f.resolved.to_string(),
        f.closed.to_string(),
        f.reopens.to_string(),
        pct(f.reopen_rate),
        f.overdue.to_string(),
        f.due_met.to_string(),
        f.due_missed.to_string(),
        secs(f.average_time_to_resolve_ms),
        num(f.satisfaction_average),
        f.rated_at_closing.to_string(),
    ]
}

const COMMON: [&str; 15] = [
    "handled",
    "aht_s",
    "callbacks_met",
    "callbacks_missed",
    "callbacks_open",
    "fcr_declared_pct",
    "fcr_observed_pct",
    "fcr_status",
    "quality",
    "satisfaction",
    "recordings_analysed",
    "agent_talk_pct",
    "mean_overtalk_s",
    "long_holds",
    "long_holds_no_apology",
];

/// Fetches one report over `[from_ms, to_ms)`.
pub async fn fetch(c: &mut Clients, kind: ReportKind, ask: &Ask) -> Result<Table, Error> {
    let (from_ms, to_ms, by) = (ask.from_ms, ask.to_ms, ask.by);
    let range = proto::ReportRequest {
        from_unix_ms: from_ms,
        to_unix_ms: to_ms,
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match kind {
        ReportKind::Queues => {
            let r = c
                .report
                .get_queue_stats(range)
                .await
                .map_err(remote)?
                .into_inner();
            let mut header = strings(&[
                "queue",
                "offered",
                "answered",
                "abandoned",
                "short_abandons",
                "service_level_pct",
                "asa_s",
            ]);
            header.extend(strings(&COMMON));
            let rows = r
                .queues
                .iter()
                .map(|q| {
                    let mut row = vec![
                        q.queue.clone(),
                        q.offered.to_string(),
                        q.answered.to_string(),
                        q.abandoned.to_string(),
                        q.short_abandons.to_string(),
                        pct(q.service_level),
                        secs(q.average_speed_of_answer_ms),
                    ];
                    row.extend(common_cells(q.common.as_ref()));
                    row
                })
                .collect();
            Ok(Table {
                header,
                rows,
                rules: r.rules,
            })
        }
        ReportKind::Agents => {
            let r = c
                .report
                .get_agent_stats(range)
                .await
                .map_err(remote)?
                .into_inner();
            let mut header = strings(&["agent", "occupancy_pct", "staffed_s"]);
            header.extend(strings(&COMMON));
            header.extend(strings(&["complaints_against", "complaints_stood"]));
            header.extend(CASES.iter().map(|c| format!("owned_{c}")));
            let rows = r
                .agents
                .iter()
                .map(|a| {
                    let mut row = vec![a.agent_id.clone(), pct(a.occupancy), secs(a.staffed_ms)];
                    row.extend(common_cells(a.common.as_ref()));
                    let cases = a.cases.clone().unwrap_or_default();
                    row.push(cases.complaints_against.to_string());
                    row.push(cases.complaints_against_stood.to_string());
                    row.extend(case_cells(cases.owned.as_ref()));
                    row
                })
                .collect();
            Ok(Table {
                header,
                rows,
                rules: r.rules,
            })
        }
        ReportKind::Cases => {
            let r = c
                .report
                .get_case_stats(proto::CaseStatsRequest {
                    from_unix_ms: from_ms,
                    to_unix_ms: to_ms,
                    kind: proto::CaseKind::Unspecified as i32,
                })
                .await
                .map_err(remote)?
                .into_inner();
            let mut header = strings(&["group"]);
            header.extend(strings(&CASES));
            let mut rows = vec![{
                let mut row = vec!["total".to_string()];
                row.extend(case_cells(r.total.as_ref()));
                row
            }];
            for (prefix, groups) in [
                ("kind", &r.by_kind),
                ("category", &r.by_category),
                ("target", &r.by_target),
                ("owner", &r.by_owner),
            ] {
                for g in groups {
                    let mut row = vec![format!("{prefix}:{}", g.key)];
                    row.extend(case_cells(Some(g)));
                    rows.push(row);
                }
            }
            Ok(Table {
                header,
                rows,
                rules: r.rules,
            })
        }
        ReportKind::Staffing => {
            let r = c
                .report
                .get_staffing_plan(proto::StaffingPlanRequest {
                    date: ask.date.clone(),
                    queue: ask.queue.clone(),
                })
                .await
                .map_err(remote)?
                .into_inner();
            Ok(super::staffing::table(&r))
        }
        ReportKind::Fcr => {
            let group_by = match by {
                FcrBy::Agent => proto::FcrGroupBy::Agent,
                FcrBy::Queue => proto::FcrGroupBy::Queue,
                FcrBy::Category => proto::FcrGroupBy::Category,
                FcrBy::Day => proto::FcrGroupBy::Day,
            } as i32;
            let r = c
                .report
                .get_first_call_resolution(proto::FcrRequest {
                    from_unix_ms: from_ms,
                    to_unix_ms: to_ms,
                    group_by,
                })
                .await
                .map_err(remote)?
                .into_inner();
            let header = strings(&[
                "group",
                "contacts",
                "declared_resolved",
                "fcr_declared_pct",
                "issues",
                "observed_resolved",
                "fcr_observed_pct",
                "open_issues",
                "fcr_status",
            ]);
            let rows = r
                .rows
                .iter()
                .map(|f| {
                    vec![
                        f.key.clone(),
                        f.contacts.to_string(),
                        f.declared_resolved.to_string(),
                        format!("{:.1}", f.declared_rate * 100.0),
                        f.issues.to_string(),
                        f.observed_resolved.to_string(),
                        format!("{:.1}", f.observed_rate * 100.0),
                        f.open_issues.to_string(),
                        if f.provisional {
                            "provisional".into()
                        } else {
                            "final".into()
                        },
                    ]
                })
                .collect();
            Ok(Table {
                header,
                rows,
                rules: r.rules,
            })
        }
    }
}

impl Table {
    /// Writes the table as CSV (header first).
    pub fn write_csv(&self, out: impl Write) -> Result<(), Error> {
        let mut w = csv::Writer::from_writer(out);
        let failed = |e: csv::Error| Error::Unavailable(format!("writing CSV: {e}"));
        w.write_record(&self.header).map_err(failed)?;
        for row in &self.rows {
            w.write_record(row).map_err(failed)?;
        }
        w.flush()
            .map_err(|e| Error::Unavailable(format!("writing CSV: {e}")))
    }
}

/// Aligned columns, then the rules the figures follow.
impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, String::len))
                    .chain([self.header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut std::fmt::Formatter<'_>, cells: &[String]| -> std::fmt::Result {
            for (i, c) in cells.iter().enumerate() {
                if i == 0 {
                    write!(f, "{c:<w$}", w = widths[i])?;
                } else {
                    write!(f, "  {c:>w$}", w = widths[i])?;
                }
            }
            writeln!(f)
        };
        line(f, &self.header)?;
        for r in &self.rows {
            line(f, r)?;
        }
        if self.rows.is_empty() {
            writeln!(f, "(nothing in this range)")?;
        }
        writeln!(f, "rules: {}", self.rules)
    }
}
