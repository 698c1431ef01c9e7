//! The supervisors' cases board, from the open cases at a given time:
//! counts by status, by category and by target, and the cases that want
//! attention, most pressing first.

use std::collections::BTreeMap;

use crate::time::Timestamp;
pub use hotline_core::case::report::target_key;
use hotline_core::case::{CaseRecord, CaseStatus};

/// Most cases listed for attention.
pub const ATTENTION: usize = 50;

/// Open and overdue cases of one category or target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub open: u32,
    pub overdue: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseBoard {
    pub at: Timestamp,
    pub open: u32,
    /// Recorded, not yet judged or assigned.
    pub unassigned: u32,
    /// Past their due time, not resolved.
    pub overdue: u32,
    /// Warned: the due time is near.
    pub due_soon: u32,
    /// Resolved, awaiting the customer's confirmation.
    pub awaiting_confirmation: u32,
    pub reopened: u32,
    pub by_category: BTreeMap<String, Tally>,
    /// By "team:<name>", "agent:<id>" or "product:<name>" ("none" without).
    pub by_target: BTreeMap<String, Tally>,
    /// Overdue first (the longest overdue first), then due soon, reopened,
    /// unassigned; at most [`ATTENTION`].
    pub attention: Vec<CaseRecord>,
}

/// Whether a case is past its running due time at `now`.
pub fn is_overdue(c: &CaseRecord, now: Timestamp) -> bool {
    c.running_due().is_some_and(|due| due < now)
}

/// The board of `cases` (the open ones) at `now`.
pub fn board(cases: Vec<CaseRecord>, now: Timestamp) -> CaseBoard {
    let mut b = CaseBoard {
        at: now,
        ..Default::default()
    };
    // (rank, when) sorts attention: lower rank first, then earlier.
    let mut attention: Vec<((u8, Timestamp), CaseRecord)> = Vec::new();
    for c in cases.into_iter().filter(CaseRecord::is_open) {
        let overdue = is_overdue(&c, now);
        let soon = !overdue && c.running_due().is_some() && c.due_warned;
        b.open += 1;
        b.overdue += u32::from(overdue);
        b.due_soon += u32::from(soon);
        b.unassigned += u32::from(c.status == CaseStatus::Open);
        b.awaiting_confirmation += u32::from(c.status == CaseStatus::Resolved);
        b.reopened += u32::from(c.status == CaseStatus::Reopened);
        for tally in [
            b.by_category.entry(c.category.clone()).or_default(),
            b.by_target.entry(target_key(c.target.as_ref())).or_default(),
        ] {
            tally.open += 1;
            tally.overdue += u32::from(overdue);
        }
        let due = c.due.unwrap_or(c.opened_at);
        let rank = if overdue {
            Some((0, due))
        } else if soon {
            Some((1, due))
        } else if c.status == CaseStatus::Reopened {
            Some((2, c.updated_at))
        } else if c.status == CaseStatus::Open {
            Some((3, c.opened_at))
        } else {
            None
        };
        if let Some(rank) = rank {
            attention.push((rank, c));
        }
    }
    attention.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    b.attention = attention.into_iter().take(ATTENTION).map(|(_, c)| c).collect();
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::case::{CaseCommand, CaseKind, CaseTarget, NewCase};
    use hotline_core::ids::{AgentId, CaseId, CustomerId};

    fn case(id: &str, category: &str, target: Option<CaseTarget>) -> CaseRecord {
        CaseRecord::open(
            NewCase {
                id: CaseId::new(id),
                kind: CaseKind::Inquiry,
                customer: CustomerId::new("smallco"),
                contact: String::new(),
                channel: "api".into(),
                category: category.into(),
                target,
                wanted: String::new(),
                summary: "s".into(),
                priority: 1,
            },
            "sue",
            Timestamp(1_000),
        )
    }

    fn assigned(c: CaseRecord, due: u64) -> CaseRecord {
        let cmd = CaseCommand::Assign {
            team: "t".into(),
            owner: AgentId::new("bob"),
            due: Timestamp(due),
        };
        c.apply(cmd, "sue", Timestamp(1_000)).expect("assigned").0
    }

    #[test]
    fn the_board_counts_open_cases_and_lists_the_overdue_first() {
        let billing = Some(CaseTarget::Team("billing".into()));
        let late = assigned(case("late", "billing", billing.clone()), 5_000);
        let mut soon = assigned(case("soon", "billing", billing), 50_000);
        soon.due_warned = true;
        let fresh = case("fresh", "repairs", None);
        let resolved = assigned(case("done", "repairs", None), 50_000)
            .apply(CaseCommand::Resolve { fix: "f".into() }, "bob", Timestamp(2_000))
            .expect("resolved")
            .0;
        let b = board(vec![fresh, resolved, soon, late], Timestamp(10_000));
        assert_eq!((b.open, b.overdue, b.due_soon, b.unassigned), (4, 1, 1, 1));
        assert_eq!(b.awaiting_confirmation, 1);
        assert_eq!(b.by_category["billing"], Tally { open: 2, overdue: 1 });
        assert_eq!(b.by_target["team:billing"], Tally { open: 2, overdue: 1 });
        assert_eq!(b.by_target["none"], Tally { open: 2, overdue: 0 });
        let ids: Vec<&str> = b.attention.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["late", "soon", "fresh"]);
    }
}
