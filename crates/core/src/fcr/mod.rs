//! First-call resolution: "solve it in one contact, so the customer never has
//! to call again about the same problem" (DOMAIN.md), measured two ways.
//!
//! - **Declared**: the agent's disposition at wrap-up; every contact counts.
//! - **Observed**: an issue is the first contact of a customer (customer id,
//!   else caller number) about a category; any later contact by the same
//!   customer about the same category within `window` of the previous one
//!   is a repeat of that issue, attributed to the issue's first agent and
//!   queue (the repeat is not a new issue). An issue is resolved first time
//!   if it had no repeat. While an issue's window is still open the figure is
//!   provisional, and says so.
//!
//! Sans-IO like the router: contacts come in with their times, reports are
//! computed for a given `now`; no clock.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::acd::Disposition;
use crate::ids::{AgentId, CallId, QueueName};
use crate::time::Timestamp;

/// A handled contact, as FCR sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub call: CallId,
    pub customer_key: String,
    /// Issue category from wrap-up; contacts without one are not issues.
    pub category: Option<String>,
    pub disposition: Option<Disposition>,
    pub agent: AgentId,
    pub queue: QueueName,
    pub at: Timestamp,
}

/// What a report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Agent,
    Queue,
    Category,
    /// UTC day of the (first) contact, "YYYY-MM-DD".
    Day,
}

/// One group's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FcrRow {
    pub key: String,
    /// Contacts handled (declared FCR's denominator).
    pub contacts: u32,
    /// Of those, declared resolved at wrap-up.
    pub declared_resolved: u32,
    /// Issues first handled here (observed FCR's denominator).
    pub issues: u32,
    /// Issues with no repeat (so far, for those still in their window).
    pub observed_resolved: u32,
    /// Issues whose window is still open: the observed figure may still drop.
    pub open_issues: u32,
}

impl FcrRow {
    pub fn declared_rate(&self) -> f64 {
        ratio(self.declared_resolved, self.contacts)
    }

    pub fn observed_rate(&self) -> f64 {
        ratio(self.observed_resolved, self.issues)
    }

    /// Some issue may still be repeated: the observed rate is not final.
    pub fn provisional(&self) -> bool {
        self.open_issues > 0
    }
}

fn ratio(n: u32, d: u32) -> f64 {
    if d == 0 {
        0.0
    } else {
        f64::from(n) / f64::from(d)
    }
}

/// An issue: a chain of contacts about one thing.
struct Issue {
    first: usize,
    /// Time of the latest contact in the chain (the window runs from it).
    last_at: Timestamp,
    repeats: u32,
}

pub struct FcrScorer {
    window: Duration,
    contacts: Vec<Contact>,
    issues: Vec<Issue>,
    /// Latest issue per (customer, category).
    open: HashMap<(String, String), usize>,
}

impl FcrScorer {
    pub fn new(window: Duration) -> Self {
        FcrScorer {
            window,
            contacts: Vec::new(),
            issues: Vec::new(),
            open: HashMap::new(),
        }
    }

    /// A contact ended its wrap-up. Contacts must come in time order.
    pub fn handle_contact(&mut self, contact: Contact) {
        let idx = self.contacts.len();
        if let Some(category) = &contact.category {
            let key = (contact.customer_key.clone(), category.clone());
            let repeat_of = self
                .open
                .get(&key)
                .copied()
                .filter(|&i| contact.at <= self.issues[i].last_at.plus(self.window));
            match repeat_of {
                Some(i) => {
                    self.issues[i].repeats += 1;
                    self.issues[i].last_at = contact.at;
                }
                None => {
                    self.open.insert(key, self.issues.len());
                    self.issues.push(Issue {
                        first: idx,
                        last_at: contact.at,
                        repeats: 0,
                    });
                }
            }
        }
        self.contacts.push(contact);
    }

    /// Figures for contacts (and issues first contacted) in `[from, to)`,
    /// as known at `now`.
    pub fn report(&self, now: Timestamp, from: Timestamp, to: Timestamp, by: GroupBy) -> Vec<FcrRow> {
        let mut rows: BTreeMap<String, FcrRow> = BTreeMap::new();
        let key = |c: &Contact| match by {
            GroupBy::Agent => c.agent.to_string(),
            GroupBy::Queue => c.queue.to_string(),
            GroupBy::Category => c.category.clone().unwrap_or_else(|| "(none)".into()),
            GroupBy::Day => day(c.at),
        };
        for c in self.contacts.iter().filter(|c| c.at >= from && c.at < to) {
            let row = rows.entry(key(c)).or_default();
            row.contacts += 1;
            if c.disposition == Some(Disposition::Resolved) {
                row.declared_resolved += 1;
            }
        }
        for issue in &self.issues {
            let first = &self.contacts[issue.first];
            if first.at < from || first.at >= to {
                continue;
            }
            let row = rows.entry(key(first)).or_default();
            row.issues += 1;
            if issue.repeats == 0 {
                row.observed_resolved += 1;
                if now < issue.last_at.plus(self.window) {
                    row.open_issues += 1;
                }
            }
        }
        rows.into_iter()
            .map(|(k, mut row)| {
                row.key = k;
                row
            })
            .collect()
    }
}

/// "YYYY-MM-DD" of a UTC time.
fn day(t: Timestamp) -> String {
    let when = std::time::UNIX_EPOCH + Duration::from_millis(t.as_millis());
    humantime::format_rfc3339(when).to_string()[..10].to_string()
}
