//! Case figures for reports and performance reviews (DOMAIN.md: complaint
//! handling is a main performance indicator), from case records: pure.
//!
//! Counting rules (they travel with the figures, see [`RULES`]):
//! - a case counts in the range it was opened in;
//! - "not standing" are complaints judged not to stand (closed with their
//!   answer), counted apart: they are not resolved, reopened or rated;
//! - time to resolve runs from opening to the first resolution;
//! - a reopen is an unsatisfied rating; the reopen rate is the share of
//!   resolved cases reopened at least once;
//! - satisfaction at closing is the rating that closed the case;
//! - due times count met or missed at the first resolution after they
//!   were set; overdue is now, for cases still open;
//! - per agent: the cases they own (handled) and the complaints against
//!   them that stood.

use std::collections::BTreeMap;

use super::{CaseChange, CaseKind, CaseRecord, CaseTarget, Judgement};
use crate::time::Timestamp;

pub const RULES: &str = "cases counted in the range they were opened in; complaints that did not stand counted apart; time to resolve from opening to the first resolution; reopen rate = resolved cases reopened at least once / resolved cases; satisfaction = the rating that closed the case; due met or missed at the first resolution after each due time; overdue = open and past the due time now";

/// The figures of one group of cases.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseFigures {
    pub opened: u32,
    /// Complaints judged not to stand.
    pub not_standing: u32,
    /// Resolved at least once.
    pub resolved: u32,
    /// Closed on the customer's satisfied rating.
    pub closed: u32,
    /// Unsatisfied ratings.
    pub reopens: u32,
    /// Cases reopened at least once.
    pub reopened_cases: u32,
    /// Open and past their due time now.
    pub overdue: u32,
    pub due_met: u32,
    pub due_missed: u32,
    /// Summed over `resolved`.
    pub time_to_resolve_ms: u64,
    /// Summed over `rated_at_closing`.
    pub satisfaction_sum: u32,
    pub rated_at_closing: u32,
}

impl CaseFigures {
    /// Resolved cases reopened at least once; none when nothing resolved.
    pub fn reopen_rate(&self) -> Option<f64> {
        (self.resolved > 0).then(|| f64::from(self.reopened_cases) / f64::from(self.resolved))
    }

    pub fn average_time_to_resolve_ms(&self) -> Option<u64> {
        (self.resolved > 0).then(|| self.time_to_resolve_ms / u64::from(self.resolved))
    }

    /// 1-5; none without a closing rating.
    pub fn satisfaction_average(&self) -> Option<f64> {
        (self.rated_at_closing > 0)
            .then(|| f64::from(self.satisfaction_sum) / f64::from(self.rated_at_closing))
    }

    fn add(&mut self, c: &CaseRecord, now: Timestamp) {
        self.opened += 1;
        if matches!(c.judgement, Judgement::DoesNotStand { .. }) {
            self.not_standing += 1;
            return;
        }
        let first_resolution = c.timeline.iter().find_map(|e| match e.change {
            CaseChange::Resolved { .. } => Some(e.at),
            _ => None,
        });
        if let Some(at) = first_resolution {
            self.resolved += 1;
            self.time_to_resolve_ms += at.since(c.opened_at).as_millis() as u64;
        }
        if c.closed_at.is_some() {
            self.closed += 1;
            if let Some(s) = c.satisfaction {
                self.satisfaction_sum += u32::from(s);
                self.rated_at_closing += 1;
            }
        }
        self.reopens += c.reopened;
        self.reopened_cases += u32::from(c.reopened > 0);
        self.overdue += u32::from(c.running_due().is_some_and(|d| d < now));
        match c.due_met {
            Some(true) => self.due_met += 1,
            Some(false) => self.due_missed += 1,
            None => {}
        }
    }
}

/// Case figures over a set of cases, in total and by group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseReport {
    pub total: CaseFigures,
    pub by_kind: BTreeMap<&'static str, CaseFigures>,
    pub by_category: BTreeMap<String, CaseFigures>,
    /// By target: "team:<name>", "agent:<id>", "product:<name>" or "none".
    pub by_target: BTreeMap<String, CaseFigures>,
    /// By owner (cases never assigned are not in any).
    pub by_owner: BTreeMap<String, CaseFigures>,
}

/// How a target is grouped.
pub fn target_key(t: Option<&CaseTarget>) -> String {
    match t {
        Some(CaseTarget::Agent(a)) => format!("agent:{a}"),
        Some(CaseTarget::Team(n)) => format!("team:{n}"),
        Some(CaseTarget::Product(n)) => format!("product:{n}"),
        None => "none".into(),
    }
}

/// The report over `cases` (those of the range, of the kind asked) at `now`.
pub fn case_report(cases: &[CaseRecord], now: Timestamp) -> CaseReport {
    let mut r = CaseReport::default();
    for c in cases {
        r.total.add(c, now);
        r.by_kind.entry(c.kind.as_str()).or_default().add(c, now);
        r.by_category.entry(c.category.clone()).or_default().add(c, now);
        r.by_target
            .entry(target_key(c.target.as_ref()))
            .or_default()
            .add(c, now);
        if let Some(owner) = &c.owner {
            r.by_owner.entry(owner.to_string()).or_default().add(c, now);
        }
    }
    r
}

/// One agent's case figures for a performance review.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentCaseFigures {
    /// Complaints against the agent.
    pub complaints_against: u32,
    /// Of those, the ones that stood.
    pub complaints_against_stood: u32,
    /// Cases the agent owns: resolved, reopened, satisfaction at closing.
    pub owned: CaseFigures,
}

/// Per agent: complaints against them and the cases they own.
pub fn agent_case_figures(cases: &[CaseRecord], now: Timestamp) -> BTreeMap<String, AgentCaseFigures> {
    let mut out: BTreeMap<String, AgentCaseFigures> = BTreeMap::new();
    for c in cases {
        if let (CaseKind::Complaint, Some(CaseTarget::Agent(a))) = (c.kind, &c.target) {
            let f = out.entry(a.to_string()).or_default();
            f.complaints_against += 1;
            f.complaints_against_stood += u32::from(c.judgement == Judgement::Stands);
        }
        if let Some(owner) = &c.owner {
            out.entry(owner.to_string()).or_default().owned.add(c, now);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{CaseCommand, CaseTarget, NewCase};
    use crate::ids::{AgentId, CaseId, CustomerId};

    const H: u64 = 3_600_000;

    fn at(h: u64) -> Timestamp {
        Timestamp(1_000 * H + h * H)
    }

    fn complaint(id: &str, target: CaseTarget) -> CaseRecord {
        CaseRecord::open(
            NewCase {
                id: CaseId::new(id),
                kind: CaseKind::Complaint,
                customer: CustomerId::new("smallco"),
                contact: String::new(),
                channel: "phone".into(),
                category: "billing/late-fee".into(),
                target: Some(target),
                wanted: String::new(),
                summary: "s".into(),
                priority: 1,
            },
            "alice",
            at(0),
        )
    }

    fn run(mut c: CaseRecord, cmds: Vec<(u64, CaseCommand)>) -> CaseRecord {
        for (h, cmd) in cmds {
            c = c.apply(cmd, "sue", at(h)).expect("applies").0;
        }
        c
    }

    #[test]
    fn reopens_satisfaction_and_answers_are_counted_by_their_rules() {
        let team = || CaseTarget::Team("billing".into());
        let assign = |due| CaseCommand::Assign {
            team: "billing".into(),
            owner: AgentId::new("bob"),
            due: at(due),
        };
        let judge = |stands| CaseCommand::Judge {
            stands,
            answer: "it was due".into(),
        };
        let resolve = || CaseCommand::Resolve { fix: "f".into() };
        let rate = |satisfaction| CaseCommand::Rate { satisfaction };
        // Resolved in 2 h (met), reopened once, closed with a 5.
        let reworked = run(
            complaint("k1", team()),
            vec![
                (0, judge(true)),
                (1, assign(48)),
                (2, resolve()),
                (3, rate(2)),
                (4, resolve()),
                (5, rate(5)),
            ],
        );
        // Resolved in 4 h, past its 3 h due time (missed), closed with a 4.
        let late = run(
            complaint("k2", CaseTarget::Agent(AgentId::new("alice"))),
            vec![(0, judge(true)), (1, assign(3)), (4, resolve()), (5, rate(4))],
        );
        let answered = run(complaint("k3", team()), vec![(1, judge(false))]);
        let open = run(complaint("k4", team()), vec![(0, judge(true)), (1, assign(2))]);
        let r = case_report(&[reworked, late.clone(), answered, open.clone()], at(10));
        let t = &r.total;
        assert_eq!((t.opened, t.not_standing, t.resolved, t.closed), (4, 1, 2, 2));
        assert_eq!((t.reopens, t.reopened_cases), (1, 1));
        assert_eq!(t.reopen_rate(), Some(0.5));
        assert_eq!(t.average_time_to_resolve_ms(), Some(3 * H), "(2 h + 4 h) / 2");
        assert_eq!(t.satisfaction_average(), Some(4.5));
        assert_eq!((t.due_met, t.due_missed, t.overdue), (1, 1, 1));
        assert_eq!(r.by_target["team:billing"].opened, 3);
        assert_eq!(r.by_target["agent:alice"].opened, 1);
        assert_eq!(r.by_owner["bob"].opened, 3, "the three assigned");
        assert_eq!(r.by_kind["complaint"].opened, 4);
        let agents = agent_case_figures(&[late, open], at(10));
        assert_eq!(agents["alice"].complaints_against, 1);
        assert_eq!(agents["alice"].complaints_against_stood, 1);
        assert_eq!(agents["bob"].owned.opened, 2);
        assert_eq!(agents["bob"].owned.overdue, 1);
    }
}
