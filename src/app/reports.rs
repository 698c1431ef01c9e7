//! Contact-center reports over a time range, for supervisors: the records
//! are read from the store and the figures computed by the core's pure
//! functions (`hotline_core::report`), under the configured report rules.

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::fcr::{FcrRow, GroupBy};
use crate::report::{self, ReportRules};
use crate::time::Timestamp;
use hotline_core::case::report::{agent_case_figures, case_report, AgentCaseFigures, CaseReport};
use hotline_core::case::{CaseKind, CaseRecord};
use hotline_core::ids::CaseId;
use hotline_core::report::{AgentStats, QueueStats};
use std::collections::BTreeMap;

/// Most cases one report reads: a range holding more is refused, to be
/// asked in shorter ranges.
pub const MAX_REPORT_CASES: usize = 200_000;
/// Cases read per round trip.
const CASE_PAGE: usize = 500;

/// A report's range: from a non-negative time to a later one.
fn range(from: i64, to: i64) -> Result<(Timestamp, Timestamp), Error> {
    if from < 0 {
        return Err(Error::invalid("from_unix_ms", "must not be negative"));
    }
    if to <= from {
        return Err(Error::invalid("to_unix_ms", "must be after from_unix_ms"));
    }
    Ok((Timestamp(from as u64), Timestamp(to as u64)))
}

impl App {
    async fn report_input(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Timestamp, Timestamp, report::ReportInput), Error> {
        p.require(&[Role::Supervisor])?;
        let (from, to) = range(from_ms, to_ms)?;
        let input = report::source::load(self.store.as_ref(), &self.report_rules, from, to).await?;
        Ok((from, to, input))
    }

    /// The rules reports count by.
    pub fn report_rules(&self) -> &ReportRules {
        &self.report_rules
    }

    pub async fn queue_stats(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<QueueStats>, Error> {
        let (from, to, input) = self.report_input(p, from_ms, to_ms).await?;
        Ok(report::queue_stats(
            Timestamp::now_wall(),
            from,
            to,
            &self.report_rules,
            &input,
        ))
    }

    /// Per agent: the contact figures, and the case figures of cases
    /// opened in the range (an agent with only case figures gets a row).
    pub async fn agent_stats(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<AgentStats>, BTreeMap<String, AgentCaseFigures>), Error> {
        let (from, to, input) = self.report_input(p, from_ms, to_ms).await?;
        let now = Timestamp::now_wall();
        let stats = report::agent_stats(now, from, to, &self.report_rules, &input);
        let cases = self.cases_opened(from, to, None).await?;
        Ok((stats, agent_case_figures(&cases, now)))
    }

    /// Case figures over the cases opened in the range (of one kind, or
    /// all).
    pub async fn case_stats(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
        kind: Option<CaseKind>,
    ) -> Result<CaseReport, Error> {
        p.require(&[Role::Supervisor])?;
        let (from, to) = range(from_ms, to_ms)?;
        let cases = self.cases_opened(from, to, kind).await?;
        Ok(case_report(&cases, Timestamp::now_wall()))
    }

    /// The cases opened in `[from, to)`, of `kind` when given.
    async fn cases_opened(
        &self,
        from: Timestamp,
        to: Timestamp,
        kind: Option<CaseKind>,
    ) -> Result<Vec<CaseRecord>, Error> {
        let mut out = Vec::new();
        // Newest first from just before `to` (no id sorts before "").
        let mut after = (to, CaseId::new(""));
        loop {
            let page = self
                .cases
                .list_cases(&Default::default(), Some(&after), CASE_PAGE)
                .await?;
            let full = page.len() == CASE_PAGE;
            let Some(last) = page.last() else { break };
            after = (last.opened_at, last.id.clone());
            let past = last.opened_at < from;
            out.extend(
                page.into_iter()
                    .filter(|c| c.opened_at >= from && kind.is_none_or(|k| c.kind == k)),
            );
            if out.len() > MAX_REPORT_CASES {
                return Err(Error::FailedPrecondition(format!(
                    "more than {MAX_REPORT_CASES} cases in the range: ask for a shorter one"
                )));
            }
            if past || !full {
                break;
            }
        }
        Ok(out)
    }

    /// A day's interval plan for every queue, or the one named.
    pub async fn staffing_plan(
        &self,
        p: &Principal,
        date: &str,
        queue: &str,
    ) -> Result<crate::staffing::plan::DayPlan, Error> {
        p.require(&[Role::Supervisor])?;
        let date = crate::staffing::plan::date(date)?;
        let queues: Vec<crate::acd::QueueSettings> = {
            let catalog = self.catalog.read();
            catalog
                .list::<crate::acd::QueueSettings>()
                .map(|q| q.value.clone())
                .filter(|q| queue.is_empty() || q.name.as_ref().is_some_and(|n| n.as_str() == queue))
                .collect()
        };
        if queues.is_empty() && !queue.is_empty() {
            return Err(Error::NotFound {
                what: "queue",
                id: crate::validate::id("queue", queue)?.to_string(),
            });
        }
        crate::staffing::plan::day_plan(
            self.store.as_ref(),
            &self.staffing.config,
            &queues,
            self.report_rules.short_abandon,
            date,
            Timestamp::now_wall(),
        )
        .await
    }

    pub async fn first_call_resolution(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
        by: GroupBy,
    ) -> Result<Vec<FcrRow>, Error> {
        let (from, to, input) = self.report_input(p, from_ms, to_ms).await?;
        Ok(report::first_call_resolution(
            Timestamp::now_wall(),
            from,
            to,
            &self.report_rules,
            &input,
            by,
        ))
    }
}
