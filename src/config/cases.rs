//! `[cases]`: the default due times of cases (complaints, repair requests,
//! inquiries), from when they are assigned. An assignment may name its own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use hotline_core::case::CaseKind;

/// Hours are at most this (90 days): more is a typo, not a target.
const MAX_HOURS: u64 = 2_160;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CasesConfig {
    /// A complaint's fix is due this long after it is assigned.
    pub complaint_due_hours: u64,
    /// A repair request's work is due this long after it is assigned (the
    /// technician's callback within 4 hours and the close within 2 hours of
    /// the work are the callback's own deadlines).
    pub repair_due_hours: u64,
    pub inquiry_due_hours: u64,
    /// Targets of particular categories, overriding their kind's
    /// ("billing/late-fee" = 24).
    pub category_due_hours: BTreeMap<String, u64>,
}

impl Default for CasesConfig {
    fn default() -> Self {
        CasesConfig {
            complaint_due_hours: 48,
            repair_due_hours: 24,
            inquiry_due_hours: 24,
            category_due_hours: BTreeMap::new(),
        }
    }
}

impl CasesConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (field, hours) in [
            ("cases.complaint_due_hours", self.complaint_due_hours),
            ("cases.repair_due_hours", self.repair_due_hours),
            ("cases.inquiry_due_hours", self.inquiry_due_hours),
        ] {
            if !(1..=MAX_HOURS).contains(&hours) {
                return Err(invalid(field, format!("must be 1 to {MAX_HOURS} hours")));
            }
        }
        for (category, &hours) in &self.category_due_hours {
            let field = "cases.category_due_hours";
            if category.is_empty() || category.len() > crate::validate::MAX_LABEL_LEN {
                return Err(invalid(field, "a category is 1 to 256 bytes"));
            }
            if !(1..=MAX_HOURS).contains(&hours) {
                return Err(invalid(field, format!("must be 1 to {MAX_HOURS} hours")));
            }
        }
        Ok(())
    }

    /// How long after assignment a case of `kind` in `category` is due by
    /// default.
    pub fn due_within(&self, kind: CaseKind, category: &str) -> Duration {
        let hours = match kind {
            _ if self.category_due_hours.contains_key(category) => self.category_due_hours[category],
            CaseKind::Complaint => self.complaint_due_hours,
            CaseKind::Repair => self.repair_due_hours,
            CaseKind::Inquiry => self.inquiry_due_hours,
        };
        Duration::from_secs(hours * 3_600)
    }
}
