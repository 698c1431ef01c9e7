//! Contact-center reports over a time range, for supervisors: the records
//! are read from the store and the figures computed by the core's pure
//! functions (`hotline_core::report`), under the configured report rules.

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::fcr::{FcrRow, GroupBy};
use crate::report::{self, ReportRules};
use crate::time::Timestamp;
use hotline_core::report::{AgentStats, QueueStats};

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

    pub async fn agent_stats(
        &self,
        p: &Principal,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<AgentStats>, Error> {
        let (from, to, input) = self.report_input(p, from_ms, to_ms).await?;
        Ok(report::agent_stats(
            Timestamp::now_wall(),
            from,
            to,
            &self.report_rules,
            &input,
        ))
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
