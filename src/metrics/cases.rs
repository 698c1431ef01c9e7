//! Case metrics: every change of a case, by kind and change (both bounded:
//! three kinds, the core's named changes).

use metrics::{counter, describe_counter};

use hotline_core::case::{CaseChange, CaseKind};

pub fn describe() {
    describe_counter!(
        "hotline_case_changes_total",
        "Changes to cases (complaints, repair requests, inquiries), by kind and change: opened, judged, assigned, started, note-added, linked, resolved, rated, closed."
    );
}

/// Every series from the first scrape.
pub fn initialise() {
    for kind in CaseKind::ALL {
        for change in CaseChange::NAMES {
            counter!("hotline_case_changes_total", "kind" => kind.as_str(), "change" => change).absolute(0);
        }
    }
}

/// A case of `kind` went through `change` (one of [`CaseChange::NAMES`]).
pub fn case_changed(kind: CaseKind, change: &'static str) {
    counter!("hotline_case_changes_total", "kind" => kind.as_str(), "change" => change).increment(1);
}
