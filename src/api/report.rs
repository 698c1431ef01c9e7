//! `hotline.v1.ReportService`: contact-center reports over a time range
//! (`app::reports`), on the wire.

use tonic::{Request, Response, Status};

use crate::app::App;
use crate::auth::principal;
use crate::error::Error;
use crate::fcr::{FcrRow, GroupBy};
use crate::proto;
use crate::proto::report_service_server::ReportService;
use crate::report::Common;
use crate::status::status;
use hotline_core::case::report::{AgentCaseFigures, CaseFigures};

pub struct ReportApi {
    pub app: App,
}

/// A group's case figures on the wire.
pub fn case_figures(key: &str, f: &CaseFigures) -> proto::CaseFigures {
    proto::CaseFigures {
        key: key.to_string(),
        opened: f.opened,
        not_standing: f.not_standing,
        resolved: f.resolved,
        closed: f.closed,
        reopens: f.reopens,
        reopened_cases: f.reopened_cases,
        reopen_rate: f.reopen_rate(),
        overdue: f.overdue,
        due_met: f.due_met,
        due_missed: f.due_missed,
        average_time_to_resolve_ms: f.average_time_to_resolve_ms().unwrap_or(0) as i64,
        satisfaction_average: f.satisfaction_average(),
        rated_at_closing: f.rated_at_closing,
    }
}

fn agent_cases(f: AgentCaseFigures) -> proto::AgentCaseFigures {
    proto::AgentCaseFigures {
        complaints_against: f.complaints_against,
        complaints_against_stood: f.complaints_against_stood,
        owned: Some(case_figures("", &f.owned)),
    }
}

fn groups<K: AsRef<str>>(m: &std::collections::BTreeMap<K, CaseFigures>) -> Vec<proto::CaseFigures> {
    m.iter().map(|(k, f)| case_figures(k.as_ref(), f)).collect()
}

pub fn fcr(r: &FcrRow) -> proto::FcrFigures {
    proto::FcrFigures {
        key: r.key.clone(),
        contacts: r.contacts,
        declared_resolved: r.declared_resolved,
        declared_rate: r.declared_rate(),
        issues: r.issues,
        observed_resolved: r.observed_resolved,
        observed_rate: r.observed_rate(),
        open_issues: r.open_issues,
        provisional: r.provisional(),
    }
}

fn common(c: &Common) -> proto::CommonFigures {
    proto::CommonFigures {
        handled: c.handled,
        average_handle_time_ms: c.average_handle_time.map(|d| d.as_millis() as i64).unwrap_or(0),
        callbacks_met: c.callbacks_met,
        callbacks_missed: c.callbacks_missed,
        callbacks_open: c.callbacks_open,
        fcr: Some(fcr(&c.fcr)),
        quality_average: c.quality_average,
        graded: c.graded,
        satisfaction_average: c.satisfaction_average,
        surveys: c.surveys,
        signals: Some(signal_figures(&c.signals)),
    }
}

fn signal_figures(s: &hotline_core::report::SignalFigures) -> proto::SignalFigures {
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    proto::SignalFigures {
        analysed: s.analysed,
        agent_talk_share: s.agent_talk_share,
        mean_overtalk_ms: s.mean_overtalk.map(ms),
        mean_longest_silence_ms: s.mean_longest_silence.map(ms),
        long_holds_to_check: s.long_holds_to_check,
        long_holds_without_apology: s.long_holds_without_apology,
    }
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_queue_stats(
        &self,
        req: Request<proto::ReportRequest>,
    ) -> Result<Response<proto::QueueStatsReport>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let rows = self
            .app
            .queue_stats(&p, r.from_unix_ms, r.to_unix_ms)
            .await
            .map_err(status)?;
        let rules = self.app.report_rules();
        Ok(Response::new(proto::QueueStatsReport {
            queues: rows
                .iter()
                .map(|q| proto::QueueReportRow {
                    queue: q.queue.to_string(),
                    offered: q.offered,
                    answered: q.answered,
                    abandoned: q.abandoned,
                    short_abandons: q.short_abandons,
                    overflowed: q.overflowed,
                    rejected: q.rejected,
                    answered_within_threshold: q.answered_within_threshold,
                    service_level: q.service_level,
                    average_speed_of_answer_ms: q
                        .average_speed_of_answer
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0),
                    common: Some(common(&q.common)),
                })
                .collect(),
            rules: rules.describe(),
        }))
    }

    async fn get_agent_stats(
        &self,
        req: Request<proto::ReportRequest>,
    ) -> Result<Response<proto::AgentStatsReport>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let (rows, mut cases) = self
            .app
            .agent_stats(&p, r.from_unix_ms, r.to_unix_ms)
            .await
            .map_err(status)?;
        let rules = self.app.report_rules();
        let mut agents: Vec<proto::AgentReportRow> = rows
            .iter()
            .map(|a| proto::AgentReportRow {
                agent_id: a.agent.to_string(),
                occupancy: a.occupancy,
                staffed_ms: a.staffed.as_millis() as i64,
                common: Some(common(&a.common)),
                cases: Some(agent_cases(cases.remove(a.agent.as_str()).unwrap_or_default())),
            })
            .collect();
        // Agents with case figures only (a complaint against someone who
        // took no call in the range).
        agents.extend(cases.into_iter().map(|(agent_id, f)| proto::AgentReportRow {
            agent_id,
            cases: Some(agent_cases(f)),
            ..Default::default()
        }));
        Ok(Response::new(proto::AgentStatsReport {
            agents,
            rules: format!("{}; {}", rules.describe(), hotline_core::case::report::RULES),
        }))
    }

    async fn get_first_call_resolution(
        &self,
        req: Request<proto::FcrRequest>,
    ) -> Result<Response<proto::FcrReport>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let by = match proto::FcrGroupBy::try_from(r.group_by) {
            Ok(proto::FcrGroupBy::Agent) => GroupBy::Agent,
            Ok(proto::FcrGroupBy::Queue) => GroupBy::Queue,
            Ok(proto::FcrGroupBy::Category) => GroupBy::Category,
            Ok(proto::FcrGroupBy::Day) => GroupBy::Day,
            _ => {
                return Err(status(Error::invalid(
                    "group_by",
                    "must be AGENT, QUEUE, CATEGORY or DAY",
                )))
            }
        };
        let rows = self
            .app
            .first_call_resolution(&p, r.from_unix_ms, r.to_unix_ms, by)
            .await
            .map_err(status)?;
        let rules = self.app.report_rules();
        Ok(Response::new(proto::FcrReport {
            rows: rows.iter().map(fcr).collect(),
            window_days: (rules.fcr_window.as_secs() / 86_400) as u32,
            rules: rules.describe(),
        }))
    }

    async fn get_case_stats(
        &self,
        req: Request<proto::CaseStatsRequest>,
    ) -> Result<Response<proto::CaseStatsReport>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let kind = match r.kind {
            0 => None,
            k => Some(crate::api::case::kind_from(k).map_err(status)?),
        };
        let report = self
            .app
            .case_stats(&p, r.from_unix_ms, r.to_unix_ms, kind)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::CaseStatsReport {
            total: Some(case_figures("", &report.total)),
            by_kind: groups(&report.by_kind),
            by_category: groups(&report.by_category),
            by_target: groups(&report.by_target),
            by_owner: groups(&report.by_owner),
            rules: hotline_core::case::report::RULES.to_string(),
        }))
    }

    async fn get_staffing_plan(
        &self,
        req: Request<proto::StaffingPlanRequest>,
    ) -> Result<Response<proto::StaffingPlan>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let plan = self
            .app
            .staffing_plan(&p, &r.date, &r.queue)
            .await
            .map_err(status)?;
        Ok(Response::new(crate::api::staffing::day_plan(&plan)))
    }
}
