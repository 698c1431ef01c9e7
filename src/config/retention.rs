//! `[retention]`: how long each kind of stored record is kept. Recordings'
//! files and their metadata follow `[media] retention_days`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::store::RecordKind;

/// Days are at most this (a century): larger is a typo, not a policy.
const MAX_DAYS: u64 = 36_500;

/// Days each kind is kept; 0 keeps it for ever.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Handled contacts (what FCR, ownership and reports read).
    pub contacts_days: u64,
    /// Ended calls.
    pub calls_days: u64,
    /// Callbacks no longer live.
    pub callbacks_days: u64,
    /// Supervisors' grades.
    pub grades_days: u64,
    /// Customers' survey ratings.
    pub surveys_days: u64,
    /// Agents' time per state per day.
    pub agent_days_days: u64,
    /// Listening-in sessions (the monitoring audit).
    pub monitor_sessions_days: u64,
    /// The audit trail.
    pub audit_days: u64,
    /// Closed cases (complaints, repair requests, inquiries), by when they
    /// closed; open ones are kept however old.
    pub cases_days: u64,
    /// How often each node sweeps (at start, then this often).
    pub sweep_every_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        // Thirteen months: this month against the same month last year.
        let reports = 400;
        RetentionConfig {
            contacts_days: reports,
            calls_days: reports,
            callbacks_days: reports,
            grades_days: reports,
            surveys_days: reports,
            agent_days_days: reports,
            monitor_sessions_days: reports,
            // Seven years, as audit records are commonly kept.
            audit_days: 2_557,
            cases_days: reports,
            sweep_every_secs: 3_600,
        }
    }
}

impl RetentionConfig {
    fn fields(&self) -> [(&'static str, u64); 9] {
        [
            ("retention.contacts_days", self.contacts_days),
            ("retention.calls_days", self.calls_days),
            ("retention.callbacks_days", self.callbacks_days),
            ("retention.grades_days", self.grades_days),
            ("retention.surveys_days", self.surveys_days),
            ("retention.agent_days_days", self.agent_days_days),
            ("retention.monitor_sessions_days", self.monitor_sessions_days),
            ("retention.audit_days", self.audit_days),
            ("retention.cases_days", self.cases_days),
        ]
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (field, days) in self.fields() {
            if days > MAX_DAYS {
                return Err(invalid(
                    field,
                    format!("at most {MAX_DAYS} days (0 keeps for ever)"),
                ));
            }
        }
        if !(60..=86_400).contains(&self.sweep_every_secs) {
            return Err(invalid("retention.sweep_every_secs", "must be 60 to 86400"));
        }
        Ok(())
    }

    /// How long each kind is kept (kinds kept for ever are left out);
    /// recordings' metadata for `recording_days` (`[media]`).
    pub fn policy(&self, recording_days: u64) -> Vec<(RecordKind, Duration)> {
        let days = |d: u64| (d > 0).then(|| Duration::from_secs(d * 86_400));
        [
            (RecordKind::Contacts, self.contacts_days),
            (RecordKind::Calls, self.calls_days),
            (RecordKind::Callbacks, self.callbacks_days),
            (RecordKind::Grades, self.grades_days),
            (RecordKind::Surveys, self.surveys_days),
            (RecordKind::AgentDays, self.agent_days_days),
            (RecordKind::MonitorSessions, self.monitor_sessions_days),
            (RecordKind::Recordings, recording_days),
        ]
        .into_iter()
        .filter_map(|(kind, d)| days(d).map(|keep| (kind, keep)))
        .collect()
    }

    /// How long closed cases are kept; none: for ever.
    pub fn cases(&self) -> Option<Duration> {
        (self.cases_days > 0).then(|| Duration::from_secs(self.cases_days * 86_400))
    }

    /// How long the audit trail is kept; none: for ever.
    pub fn audit(&self) -> Option<Duration> {
        (self.audit_days > 0).then(|| Duration::from_secs(self.audit_days * 86_400))
    }
}
