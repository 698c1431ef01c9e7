//! Erasing a customer's personal data from the store's ended records,
//! keeping what reports count.
//!
//! Invariants:
//! - every record filed under one of the customer's keys (their directory
//!   id, each of their numbers) is filed under one pseudonym afterwards, so
//!   first-call resolution, repeat contacts and reports still see one
//!   customer without knowing who;
//! - personal fields are blanked: the caller's number, the customer id and
//!   free-text notes of contacts, calls, callbacks and recordings; what
//!   reports count (times, queues, agents, dispositions, categories,
//!   outcomes, durations, ratings) is kept;
//! - only records that no longer change are touched: a call still live or
//!   a callback still live is left alone (the application refuses to erase
//!   while they exist), so no later write brings the data back;
//! - erasing is idempotent: a second run finds nothing under the old keys
//!   and rewrites blanked records to themselves, so a run cut short is
//!   finished by running it again.
//!
//! Cases live in their own store: [`CustomerErasure::case`] blanks one,
//! and the application writes it back there.
//!
//! Grades and survey ratings name only the call, whose record is blanked:
//! they are kept as they are. The audit trail is kept whole (it says who
//! erased whom, and the law asks for that record).

/// The erasure part of the store contract; for tests only.
#[cfg(any(test, feature = "test-support"))]
pub mod conformance;

use serde::{Deserialize, Serialize};

use crate::acd::{CallRecord, CallStatus, ContactRecord};
use crate::callback::CallbackRecord;
use crate::ids::{CallId, CallbackId, CustomerId};
use crate::recording::RecordingRecord;
use crate::time::Timestamp;
use hotline_core::case::CaseRecord;

/// What a blanked number or name reads as.
pub const ERASED: &str = "erased";

/// One customer's erasure, as the store carries it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerErasure {
    /// The keys the customer's records are filed under: their directory id
    /// and each of their numbers.
    pub keys: Vec<String>,
    /// What their records are filed under afterwards (random, so not
    /// derivable from a number).
    pub pseudonym: String,
    /// Their calls (ended ones are blanked).
    pub calls: Vec<CallId>,
    /// Their callbacks (ones no longer live are blanked).
    pub callbacks: Vec<CallbackId>,
    pub at: Timestamp,
}

/// How many records an erasure rewrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    pub contacts: u64,
    pub calls: u64,
    pub callbacks: u64,
    pub recordings: u64,
    /// Cases (blanked by the application, in the case store).
    pub cases: u64,
}

impl CustomerErasure {
    /// Whether `key` is one of the customer's.
    pub fn is_theirs(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// The contact, pseudonymous and without notes.
    pub fn contact(&self, c: &ContactRecord) -> ContactRecord {
        ContactRecord {
            customer_key: self.pseudonym.clone(),
            notes: None,
            ..c.clone()
        }
    }

    /// The ended call without the caller's number or customer id; none
    /// for a call still live.
    pub fn call(&self, c: &CallRecord) -> Option<CallRecord> {
        (c.status == CallStatus::Ended).then(|| CallRecord {
            ani: ERASED.into(),
            customer: None,
            ..c.clone()
        })
    }

    /// The callback without the number, customer id or notes, filed under
    /// the pseudonym; none for a callback still live.
    pub fn callback(&self, cb: &CallbackRecord) -> Option<CallbackRecord> {
        if cb.is_live() {
            return None;
        }
        let mut out = cb.clone();
        out.details.number = ERASED.into();
        out.details.customer = None;
        out.details.customer_key = self.pseudonym.clone();
        out.details.notes = None;
        Some(out)
    }

    /// The case without the customer's contact, words or id (filed under
    /// the pseudonym), its notes and answers blanked; what it was about
    /// (kind, category, target, status, times, rating) is kept.
    pub fn case(&self, c: &CaseRecord) -> CaseRecord {
        use hotline_core::case::{CaseChange, Judgement};
        let mut out = c.clone();
        out.customer = CustomerId::new(&self.pseudonym);
        out.contact = ERASED.into();
        out.summary = ERASED.into();
        out.wanted = ERASED.into();
        if let Judgement::DoesNotStand { answer } = &mut out.judgement {
            *answer = ERASED.into();
        }
        if out.fix.is_some() {
            out.fix = Some(ERASED.into());
        }
        for entry in &mut out.timeline {
            match &mut entry.change {
                CaseChange::NoteAdded { note } => *note = ERASED.into(),
                CaseChange::Resolved { fix } => *fix = ERASED.into(),
                _ => {}
            }
        }
        out
    }

    /// The recording's metadata with its file gone: no number, customer
    /// or path, marked erased (its duration still counts).
    pub fn recording(&self, r: &RecordingRecord) -> Option<RecordingRecord> {
        (!r.live).then(|| RecordingRecord {
            ani: ERASED.into(),
            customer: None,
            path: String::new(),
            archived: false,
            erased_at: Some(r.erased_at.unwrap_or(self.at)),
            ..r.clone()
        })
    }
}
