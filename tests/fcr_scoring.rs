//! First-call resolution from a scripted sequence of contacts: declared
//! (wrap-up) and observed (no repeat about the same category within 7
//! days) per agent and per category, provisional inside the window and
//! final after it.

use std::time::Duration;

use hotline::acd::Disposition;
use hotline::fcr::{Contact, FcrRow, FcrScorer, GroupBy};
use hotline::ids::{AgentId, CallId, QueueName};
use hotline::time::Timestamp;

/// Day `d` after Monday 2026-11-23, at `h`:00 UTC.
fn at(d: u64, h: u64) -> Timestamp {
    Timestamp(1_795_392_000_000 + (d * 24 + h) * 3_600_000)
}

fn contact(
    n: u32,
    d: u64,
    h: u64,
    customer: &str,
    category: &str,
    disp: Disposition,
    agent: &str,
) -> Contact {
    Contact {
        call: CallId::new(format!("c{n}")),
        customer_key: customer.into(),
        category: Some(category.into()),
        disposition: Some(disp),
        agent: AgentId::new(agent),
        queue: QueueName::new(category),
        at: at(d, h),
    }
}

fn scorer() -> FcrScorer {
    use Disposition::*;
    let mut s = FcrScorer::new(Duration::from_secs(7 * 86_400));
    for c in [
        contact(1, 0, 9, "A", "billing", Resolved, "alice"),
        contact(2, 0, 10, "B", "billing", Resolved, "alice"),
        contact(3, 0, 11, "C", "repairs", Unresolved, "bob"),
        // A calls again about billing two days later: alice's issue repeats.
        contact(4, 2, 9, "A", "billing", Resolved, "bob"),
        // C calls again about repairs: bob's own issue repeats.
        contact(5, 3, 9, "C", "repairs", Resolved, "bob"),
        // B again, about something else: a new issue.
        contact(6, 3, 10, "B", "repairs", Resolved, "carol"),
        // A again, 7 days after the last contact: still the same issue.
        contact(7, 9, 9, "A", "billing", Resolved, "carol"),
        // B about billing after the window closed: a new issue.
        contact(8, 20, 9, "B", "billing", Resolved, "alice"),
    ] {
        s.handle_contact(c);
    }
    s
}

fn row(key: &str, contacts: u32, declared: u32, issues: u32, observed: u32, open: u32) -> FcrRow {
    FcrRow {
        key: key.into(),
        contacts,
        declared_resolved: declared,
        issues,
        observed_resolved: observed,
        open_issues: open,
    }
}

#[test]
fn fcr_per_agent_is_provisional_inside_the_window_and_final_after_it() {
    let s = scorer();
    // Contacts of the first four days, as known on day 5.
    let inside = s.report(at(5, 0), at(0, 0), at(4, 0), GroupBy::Agent);
    assert_eq!(
        inside,
        vec![
            // 2 contacts both declared resolved; A repeated, B not yet (open).
            row("alice", 2, 2, 2, 1, 1),
            // 3 contacts, 2 declared resolved; one issue (C's), repeated.
            row("bob", 3, 2, 1, 0, 0),
            // B's repairs issue: no repeat yet, window open.
            row("carol", 1, 1, 1, 1, 1),
        ]
    );
    assert!(inside[0].provisional() && !inside[1].provisional());
    assert_eq!(inside[0].declared_rate(), 1.0);
    assert_eq!(inside[0].observed_rate(), 0.5);
    assert!((inside[1].declared_rate() - 2.0 / 3.0).abs() < 1e-9);

    // The same contacts on day 30: every window closed, figures final.
    let after = s.report(at(30, 0), at(0, 0), at(4, 0), GroupBy::Agent);
    assert_eq!(
        after,
        vec![
            row("alice", 2, 2, 2, 1, 0),
            row("bob", 3, 2, 1, 0, 0),
            row("carol", 1, 1, 1, 1, 0)
        ]
    );
    assert!(after.iter().all(|r| !r.provisional()));
}

#[test]
fn fcr_per_category_counts_repeats_against_the_first_contact() {
    let s = scorer();
    let by_category = s.report(at(30, 0), at(0, 0), at(4, 0), GroupBy::Category);
    assert_eq!(
        by_category,
        vec![
            // Contacts 1, 2, 4; issues A (repeated) and B (not).
            row("billing", 3, 3, 2, 1, 0),
            // Contacts 3, 5, 6; issues C (repeated) and B-repairs (not).
            row("repairs", 3, 2, 2, 1, 0),
        ]
    );
    // The whole month: contact 7 repeats A's issue again (chained within
    // the window), contact 8 opens a new billing issue for B.
    let month = s.report(at(30, 0), at(0, 0), at(30, 0), GroupBy::Category);
    assert_eq!(month[0], row("billing", 5, 5, 3, 2, 0));
    let days = s.report(at(30, 0), at(0, 0), at(30, 0), GroupBy::Day);
    assert_eq!(days[0].key, "2026-11-23");
    assert_eq!(days[0].issues, 3);
}
