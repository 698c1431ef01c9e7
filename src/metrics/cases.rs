//! Case metrics: every change of a case, by kind and change (both bounded:
//! three kinds, the core's named changes), due times warned, breached, met
//! and missed, and the feed's failures.

use metrics::{counter, describe_counter, describe_gauge, gauge};

use hotline_core::case::{CaseChange, CaseKind};

pub fn describe() {
    describe_gauge!(
        "hotline_cases_open",
        "Cases not closed, by kind, as this node follows them (every node reports the same cases: read max across nodes)."
    );
    describe_gauge!(
        "hotline_cases_overdue",
        "Open cases past their due time and not resolved, by kind (every node reports the same cases: read max across nodes)."
    );
    describe_counter!(
        "hotline_case_reopens_total",
        "Cases reopened by the customer's unsatisfied rating, by kind."
    );
    describe_counter!(
        "hotline_case_changes_total",
        "Changes to cases (complaints, repair requests, inquiries), by kind and change: opened, judged, assigned, started, note-added, linked, resolved, rated, closed, due-warned, due-breached."
    );
    describe_counter!(
        "hotline_case_due_alerts_total",
        "Cases' due times warned (near, unresolved) and breached (passed, unresolved), by kind."
    );
    describe_counter!(
        "hotline_case_due_total",
        "Cases' due times met or missed, counted at the first resolution after each was set, by kind."
    );
    describe_counter!(
        "hotline_case_survey_ratings_failed_total",
        "Keypad survey ratings that could not be applied to the resolved cases their call is linked to (the survey itself is kept)."
    );
    describe_counter!(
        "hotline_case_feed_failures_total",
        "Rounds in which this node could not read case changes from the store or write a due-time mark."
    );
}

/// Every series from the first scrape.
pub fn initialise() {
    for kind in CaseKind::ALL {
        for change in CaseChange::NAMES {
            counter!("hotline_case_changes_total", "kind" => kind.as_str(), "change" => change).absolute(0);
        }
        for alert in ["warned", "breached"] {
            counter!("hotline_case_due_alerts_total", "kind" => kind.as_str(), "alert" => alert).absolute(0);
        }
        counter!("hotline_case_reopens_total", "kind" => kind.as_str()).absolute(0);
        for outcome in ["met", "missed"] {
            counter!("hotline_case_due_total", "kind" => kind.as_str(), "outcome" => outcome).absolute(0);
        }
    }
    counter!("hotline_case_feed_failures_total").absolute(0);
    counter!("hotline_case_survey_ratings_failed_total").absolute(0);
}

/// A case of `kind` went through `change` (one of [`CaseChange::NAMES`]).
pub fn case_changed(kind: CaseKind, change: &'static str) {
    counter!("hotline_case_changes_total", "kind" => kind.as_str(), "change" => change).increment(1);
}

/// The deadline tracker warned (`breached` false) or breached a case's due
/// time (counted by the node whose mark was written).
pub fn due_alert(kind: CaseKind, breached: bool) {
    let alert = if breached { "breached" } else { "warned" };
    counter!("hotline_case_due_alerts_total", "kind" => kind.as_str(), "alert" => alert).increment(1);
}

/// A due time was met or missed (at the case's first resolution after it
/// was set).
pub fn due_counted(kind: CaseKind, met: bool) {
    let outcome = if met { "met" } else { "missed" };
    counter!("hotline_case_due_total", "kind" => kind.as_str(), "outcome" => outcome).increment(1);
}

/// The case feed could not be read, or a due-time mark written.
pub fn feed_failed() {
    counter!("hotline_case_feed_failures_total").increment(1);
}

/// A keypad survey's rating could not be applied to a linked case.
pub fn survey_rating_failed() {
    counter!("hotline_case_survey_ratings_failed_total").increment(1);
}

/// A customer's unsatisfied rating reopened a case.
pub fn reopened(kind: CaseKind) {
    counter!("hotline_case_reopens_total", "kind" => kind.as_str()).increment(1);
}

/// The open and overdue cases of each kind, as this node follows them.
pub fn case_gauges(counts: &[(CaseKind, u32, u32)]) {
    for &(kind, open, overdue) in counts {
        gauge!("hotline_cases_open", "kind" => kind.as_str()).set(f64::from(open));
        gauge!("hotline_cases_overdue", "kind" => kind.as_str()).set(f64::from(overdue));
    }
}
