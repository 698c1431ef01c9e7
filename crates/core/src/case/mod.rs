//! Cases: complaints, repair requests and inquiries as records with an
//! owner, a state, a due time and a history (the manuals' complaint flow:
//! record, judge, assign, follow up until the customer is satisfied,
//! archive). Pure: a change is a [`CaseCommand`] applied at a given time
//! by a given principal, giving the new record and what changed, or an
//! error and no change.
//!
//! Invariants:
//! - a case moves only along the flow: `Open` -> (judged not to stand)
//!   `Closed`; `Open` -> `Assigned` -> `InProgress` -> `Resolved` (awaiting
//!   the customer's confirmation) -> `Closed` on a satisfied rating, or
//!   `Reopened` on an unsatisfied one, back to its owner -> `InProgress` ->
//!   `Resolved` again, as many times as it takes;
//! - a case is assigned only once judged to stand, resolved only once
//!   assigned, and closed only by its answer (not standing) or by the
//!   customer's satisfied rating: never silently;
//! - a closed case is archived: every command on it is refused;
//! - every applied command appends its changes to the timeline, in time
//!   order, naming who made them (a judgement that closes the case, and a
//!   satisfied rating, are followed by `Closed`); a refused one appends
//!   nothing;
//! - a rating is 1 to 5; `reopened` counts each unsatisfied rating;
//! - a due time runs while the case is assigned, in progress or reopened:
//!   it is warned and breached at most once each (new due times start
//!   afresh), and counted met or missed once, at the first resolution
//!   after it was set ([`deadlines`] fires them; the record keeps what
//!   fired, so nothing fires twice across nodes or restarts).

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, CallbackId, CaseId, CustomerId};
use crate::time::Timestamp;

pub mod deadlines;
pub mod report;
#[cfg(test)]
mod tests;

/// What a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    Complaint,
    /// A fault to repair (the repair flow: a technician calls back within
    /// 4 hours and closes within 2 after the work ends).
    Repair,
    Inquiry,
}

impl CaseKind {
    pub const ALL: [CaseKind; 3] = [CaseKind::Complaint, CaseKind::Repair, CaseKind::Inquiry];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Complaint => "complaint",
            CaseKind::Repair => "repair",
            CaseKind::Inquiry => "inquiry",
        }
    }
}

/// Where a case is in its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    /// Recorded, not yet judged or assigned.
    Open,
    /// Judged to stand and handed to a team and owner.
    Assigned,
    /// The owner is working on it.
    InProgress,
    /// Fixed; awaiting the customer's confirmation.
    Resolved,
    /// Archived: answered (it did not stand) or the customer is satisfied.
    Closed,
    /// The customer was not satisfied: back with its owner.
    Reopened,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Assigned => "assigned",
            CaseStatus::InProgress => "in-progress",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
            CaseStatus::Reopened => "reopened",
        }
    }
}

/// Whom or what a complaint is against.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "name")]
pub enum CaseTarget {
    Agent(AgentId),
    Team(String),
    /// A product or service.
    Product(String),
}

/// Whether the complaint stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "verdict")]
pub enum Judgement {
    #[default]
    Pending,
    Stands,
    /// It does not stand: the customer was given this answer.
    DoesNotStand {
        answer: String,
    },
}

/// Something a case is linked to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "id")]
pub enum CaseLink {
    Call(CallId),
    Callback(CallbackId),
}

/// One entry of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// The principal who made the change.
    pub by: String,
    pub change: CaseChange,
    /// The client's retry key of the request that made it (principal and
    /// request id): a retried request finds its change already here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// What one command changed (past tense).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum CaseChange {
    Opened,
    Judged {
        stands: bool,
    },
    Assigned {
        team: String,
        owner: AgentId,
        due: Timestamp,
    },
    Started,
    NoteAdded {
        note: String,
    },
    Linked {
        link: CaseLink,
    },
    Resolved {
        fix: String,
    },
    Rated {
        satisfaction: u8,
        satisfied: bool,
    },
    Closed,
    /// The due time is near and the case is not resolved.
    DueWarned {
        due: Timestamp,
    },
    /// The due time passed with the case not resolved.
    DueBreached {
        due: Timestamp,
    },
}

impl CaseChange {
    /// Every change's name, for bounded metric labels.
    pub const NAMES: [&'static str; 11] = [
        "opened",
        "judged",
        "assigned",
        "started",
        "note-added",
        "linked",
        "resolved",
        "rated",
        "closed",
        "due-warned",
        "due-breached",
    ];

    /// Its kebab-case name (as serialised, shown on timelines and counted).
    pub fn name(&self) -> &'static str {
        match self {
            CaseChange::Opened => "opened",
            CaseChange::Judged { .. } => "judged",
            CaseChange::Assigned { .. } => "assigned",
            CaseChange::Started => "started",
            CaseChange::NoteAdded { .. } => "note-added",
            CaseChange::Linked { .. } => "linked",
            CaseChange::Resolved { .. } => "resolved",
            CaseChange::Rated { .. } => "rated",
            CaseChange::Closed => "closed",
            CaseChange::DueWarned { .. } => "due-warned",
            CaseChange::DueBreached { .. } => "due-breached",
        }
    }
}

/// A case as the store keeps it and the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: CaseId,
    pub kind: CaseKind,
    pub customer: CustomerId,
    /// How to reach them (a number, an address).
    pub contact: String,
    /// Where it came in: "phone", "web", ...
    pub channel: String,
    pub opened_at: Timestamp,
    pub opened_by: String,
    pub category: String,
    pub target: Option<CaseTarget>,
    /// The outcome the customer wants.
    pub wanted: String,
    pub summary: String,
    pub judgement: Judgement,
    /// Higher is more urgent; the customer's tier raises it.
    pub priority: u32,
    pub team: Option<String>,
    pub owner: Option<AgentId>,
    pub due: Option<Timestamp>,
    pub status: CaseStatus,
    /// The fix, once resolved.
    pub fix: Option<String>,
    /// The customer's last rating, 1-5.
    pub satisfaction: Option<u8>,
    /// Unsatisfied ratings so far.
    pub reopened: u32,
    pub links: Vec<CaseLink>,
    pub timeline: Vec<TimelineEntry>,
    pub closed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// The due time's warning fired (reset by a new due time).
    #[serde(default)]
    pub due_warned: bool,
    /// The due time passed unresolved (reset by a new due time).
    #[serde(default)]
    pub due_breached: bool,
    /// Resolved by the due time or not: set at the first resolution after
    /// the due time was set.
    #[serde(default)]
    pub due_met: Option<bool>,
}

/// What a new case says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    pub id: CaseId,
    pub kind: CaseKind,
    pub customer: CustomerId,
    pub contact: String,
    pub channel: String,
    pub category: String,
    pub target: Option<CaseTarget>,
    pub wanted: String,
    pub summary: String,
    pub priority: u32,
}

/// A change asked of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseCommand {
    /// Whether it stands; one that does not is closed with `answer`.
    Judge {
        stands: bool,
        answer: String,
    },
    Assign {
        team: String,
        owner: AgentId,
        due: Timestamp,
    },
    Start,
    AddNote {
        note: String,
    },
    Link {
        link: CaseLink,
    },
    Resolve {
        fix: String,
    },
    /// The customer's rating at follow-up.
    Rate {
        satisfaction: u8,
    },
    /// The deadline tracker's warning (`breached` false) or breach of the
    /// due time `due`.
    MarkDue {
        due: Timestamp,
        breached: bool,
    },
}

/// Why a command does not apply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("case {0} is closed")]
    Closed(CaseId),
    #[error("case {id} is {status}: it cannot be {action}")]
    WrongStatus {
        id: CaseId,
        status: &'static str,
        action: &'static str,
    },
    #[error("a rating is 1 to 5, not {0}")]
    BadRating(u8),
    #[error("the due time {due} is not after now ({now})")]
    DueInThePast { due: Timestamp, now: Timestamp },
    #[error("an answer to the customer is needed when a complaint does not stand")]
    NoAnswer,
    /// The due time moved, stopped running or already fired: nothing to mark.
    #[error("case {0} has no such due time running")]
    DueNotRunning(CaseId),
}

/// Ratings at or above this close a case; below, it reopens (the manuals:
/// until the customer is really satisfied).
pub const SATISFIED_AT: u8 = 4;

impl CaseRecord {
    /// A case recorded at `now` by `by`.
    pub fn open(new: NewCase, by: &str, now: Timestamp) -> CaseRecord {
        CaseRecord {
            id: new.id,
            kind: new.kind,
            customer: new.customer,
            contact: new.contact,
            channel: new.channel,
            opened_at: now,
            opened_by: by.to_string(),
            category: new.category,
            target: new.target,
            wanted: new.wanted,
            summary: new.summary,
            judgement: Judgement::Pending,
            priority: new.priority,
            team: None,
            owner: None,
            due: None,
            status: CaseStatus::Open,
            fix: None,
            satisfaction: None,
            reopened: 0,
            links: Vec::new(),
            timeline: vec![TimelineEntry {
                at: now,
                by: by.to_string(),
                change: CaseChange::Opened,
                request: None,
            }],
            closed_at: None,
            updated_at: now,
            due_warned: false,
            due_breached: false,
            due_met: None,
        }
    }

    /// Marks the timeline's entries from `from` on as made by `request`
    /// (a client's retry key), so a retry finds them.
    pub fn stamp_request(&mut self, from: usize, request: &str) {
        for e in self.timeline.iter_mut().skip(from) {
            e.request = Some(request.to_string());
        }
    }

    /// Still to be worked or confirmed.
    pub fn is_open(&self) -> bool {
        self.status != CaseStatus::Closed
    }

    /// The due time while it runs: assigned, in progress or reopened.
    pub fn running_due(&self) -> Option<Timestamp> {
        matches!(
            self.status,
            CaseStatus::Assigned | CaseStatus::InProgress | CaseStatus::Reopened
        )
        .then_some(self.due)
        .flatten()
    }

    fn refuse(&self, action: &'static str) -> CaseError {
        CaseError::WrongStatus {
            id: self.id.clone(),
            status: self.status.as_str(),
            action,
        }
    }

    /// The record after `cmd` by `by` at `now`, and what changed; an error
    /// and no change when it does not apply.
    pub fn apply(
        &self,
        cmd: CaseCommand,
        by: &str,
        now: Timestamp,
    ) -> Result<(CaseRecord, CaseChange), CaseError> {
        use CaseStatus::*;
        if self.status == Closed {
            return Err(CaseError::Closed(self.id.clone()));
        }
        let mut next = self.clone();
        let mut changes = Vec::new();
        match cmd {
            CaseCommand::Judge { stands, answer } => {
                if self.status != Open || self.judgement != Judgement::Pending {
                    return Err(self.refuse("judged"));
                }
                if stands {
                    next.judgement = Judgement::Stands;
                } else {
                    if answer.trim().is_empty() {
                        return Err(CaseError::NoAnswer);
                    }
                    next.judgement = Judgement::DoesNotStand { answer };
                    next.status = Closed;
                    next.closed_at = Some(now);
                }
                changes.push(CaseChange::Judged { stands });
                if !stands {
                    changes.push(CaseChange::Closed);
                }
            }
            CaseCommand::Assign { team, owner, due } => {
                // Complaints are judged first; other kinds stand as asked.
                let judged = self.kind != CaseKind::Complaint || self.judgement == Judgement::Stands;
                if !matches!(self.status, Open | Assigned | Reopened) || !judged {
                    return Err(self.refuse("assigned"));
                }
                if due <= now {
                    return Err(CaseError::DueInThePast { due, now });
                }
                next.team = Some(team.clone());
                next.owner = Some(owner.clone());
                if self.due != Some(due) {
                    next.due_warned = false;
                    next.due_breached = false;
                    next.due_met = None;
                }
                next.due = Some(due);
                if self.status == Open {
                    next.status = Assigned;
                    if self.kind != CaseKind::Complaint {
                        next.judgement = Judgement::Stands;
                    }
                }
                changes.push(CaseChange::Assigned { team, owner, due });
            }
            CaseCommand::Start => {
                if !matches!(self.status, Assigned | Reopened) {
                    return Err(self.refuse("started"));
                }
                next.status = InProgress;
                changes.push(CaseChange::Started);
            }
            CaseCommand::AddNote { note } => changes.push(CaseChange::NoteAdded { note }),
            CaseCommand::Link { link } => {
                if !next.links.contains(&link) {
                    next.links.push(link.clone());
                }
                changes.push(CaseChange::Linked { link });
            }
            CaseCommand::Resolve { fix } => {
                if !matches!(self.status, Assigned | InProgress | Reopened) {
                    return Err(self.refuse("resolved"));
                }
                next.status = Resolved;
                next.fix = Some(fix.clone());
                if let (Some(due), None) = (self.due, self.due_met) {
                    next.due_met = Some(now <= due);
                }
                changes.push(CaseChange::Resolved { fix });
            }
            CaseCommand::Rate { satisfaction } => {
                if !(1..=5).contains(&satisfaction) {
                    return Err(CaseError::BadRating(satisfaction));
                }
                if self.status != Resolved {
                    return Err(self.refuse("rated"));
                }
                let satisfied = satisfaction >= SATISFIED_AT;
                next.satisfaction = Some(satisfaction);
                if satisfied {
                    next.status = Closed;
                    next.closed_at = Some(now);
                } else {
                    next.status = Reopened;
                    next.reopened += 1;
                }
                changes.push(CaseChange::Rated {
                    satisfaction,
                    satisfied,
                });
                if satisfied {
                    changes.push(CaseChange::Closed);
                }
            }
            CaseCommand::MarkDue { due, breached } => {
                let fired = if breached {
                    self.due_breached
                } else {
                    self.due_warned
                };
                if self.running_due() != Some(due) || fired {
                    return Err(CaseError::DueNotRunning(self.id.clone()));
                }
                if breached {
                    next.due_breached = true;
                    changes.push(CaseChange::DueBreached { due });
                } else {
                    next.due_warned = true;
                    changes.push(CaseChange::DueWarned { due });
                }
            }
        }
        let first = changes[0].clone();
        next.timeline
            .extend(changes.into_iter().map(|change| TimelineEntry {
                at: now,
                by: by.to_string(),
                change,
                request: None,
            }));
        next.updated_at = now;
        Ok((next, first))
    }
}
