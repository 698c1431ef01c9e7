//! Erasing a customer (the right to erasure): their recordings' files
//! deleted, their personal fields blanked and their records (closed cases
//! too) filed under a random pseudonym (`store::erasure`), their callbacks
//! still to be made cancelled, their directory entry deleted.
//!
//! Invariants: admin only, with the id typed twice; in the audit trail
//! before anything is changed (refused if the trail cannot be written);
//! never while the customer is on a call (its record would be written
//! again with their number when it ends) or has an open case; the
//! directory entry goes last, so an erasure cut short (a recording on a
//! node that is down, the store unreachable) is finished by running it
//! again, and is never reported done when it was not.

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::ids::CustomerId;
use crate::ids::{CallId, CallbackId};
use crate::store::audit::AuditAction;
use crate::store::cases::CaseFilter;
use crate::store::erasure::{CustomerErasure, Erased};
use crate::store::{CallFilter, CallbackFilter};
use crate::time::Timestamp;
use crate::validate;
use hotline_core::catalog::Customer;

/// Stored calls looked through for the customer's, at most (a node keeps a
/// bounded number of ended calls; this is well above it).
const MAX_CALLS_SCANNED: usize = 2_000_000;
/// Calls read per page while looking.
const PAGE: usize = 1_000;
/// Callbacks read per customer key, at most.
const MAX_CALLBACKS: usize = 10_000;
/// Cases read per customer, at most.
const MAX_CASES: usize = 10_000;

/// What an erasure did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CustomerErased {
    pub records: Erased,
    /// Recording files deleted.
    pub files: u64,
    /// Callbacks still to be made, cancelled.
    pub callbacks_cancelled: u64,
    pub at: Timestamp,
}

impl App {
    pub async fn erase_customer(
        &self,
        p: &Principal,
        customer_id: &str,
        confirm: &str,
    ) -> Result<CustomerErased, Error> {
        p.require(&[Role::Admin])?;
        let id = validate::id("customer_id", customer_id)?;
        if confirm != id {
            return Err(Error::invalid(
                "confirm_customer_id",
                "must repeat customer_id: an erasure cannot be undone",
            ));
        }
        let (_, keys) = self.directory_customer(id)?;
        let theirs =
            |ani: &str, customer: Option<&str>| customer == Some(id) || keys.iter().any(|k| k == ani);

        // Their calls: none may be live.
        let mut calls: Vec<CallId> = Vec::new();
        let filter = CallFilter {
            queue: None,
            include_ended: true,
        };
        let mut after = None;
        let mut scanned = 0;
        loop {
            let page = self.store.list_calls(&filter, after.as_ref(), PAGE).await?;
            scanned += page.len();
            for c in &page {
                if theirs(&c.ani, c.customer.as_ref().map(|c| c.as_str())) {
                    // A callback's work item ends with its callback, which
                    // is cancelled below.
                    if c.status != crate::acd::CallStatus::Ended && c.callback.is_none() {
                        return Err(Error::FailedPrecondition(format!(
                            "customer {id} is on call {}: erase once it has ended",
                            c.id
                        )));
                    }
                    calls.push(c.id.clone());
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE && scanned < MAX_CALLS_SCANNED => {
                    after = Some((last.enqueued_at, last.id.clone()));
                }
                _ => break,
            }
        }

        // Their cases: none may be open (a complaint still being worked
        // needs its customer); closed ones are blanked below.
        let filter = CaseFilter {
            customer: Some(CustomerId::new(id)),
            ..Default::default()
        };
        let cases = self.cases.list_cases(&filter, None, MAX_CASES).await?;
        if let Some(open) = cases.iter().find(|c| c.is_open()) {
            return Err(Error::FailedPrecondition(format!(
                "customer {id} has open case {}: erase once it is closed",
                open.id
            )));
        }

        // Nothing has changed yet: the erasure is in the trail before
        // anything does.
        self.audit_before(
            p,
            AuditAction::CustomerErased,
            format!("customer:{id}"),
            String::new(),
        )
        .await?;

        // Their callbacks: the ones still to be made are cancelled first
        // (through the routing node, which owns them).
        let mut callbacks: Vec<CallbackId> = Vec::new();
        let mut callbacks_cancelled = 0;
        for key in &keys {
            let filter = CallbackFilter {
                customer_key: Some(key.clone()),
                ..Default::default()
            };
            for cb in self.store.list_callbacks(&filter, None, MAX_CALLBACKS).await? {
                if cb.is_live() {
                    self.cancel_callback(p, cb.id.as_str(), &format!("erase:{id}:{}", cb.id))
                        .await?;
                    callbacks_cancelled += 1;
                }
                callbacks.push(cb.id);
            }
        }

        // Their recordings' files, wherever they are kept.
        let mut files = 0;
        for call in &calls {
            if let Some(rec) = self.store.get_recording(call).await? {
                if rec.live {
                    return Err(Error::FailedPrecondition(format!(
                        "recording {call} of customer {id} is still being written"
                    )));
                }
                if self.media.delete_recording(&rec).await? {
                    files += 1;
                }
            }
        }

        let at = Timestamp::now_wall();
        let erasure = CustomerErasure {
            keys: keys.clone(),
            pseudonym: format!("erased-{}", uuid::Uuid::new_v4().simple()),
            calls,
            callbacks,
            at,
        };
        let mut records = self.store.erase_customer(&erasure).await?;
        for case in &cases {
            self.cases
                .put_case(&erasure.case(case), Some(crate::store::cases::version(case)))
                .await?;
            records.cases += 1;
        }
        self.delete_object::<Customer>(p, id, None).await?;
        tracing::info!(
            customer = %id,
            contacts = records.contacts,
            calls = records.calls,
            callbacks = records.callbacks,
            files,
            by = %p.sub,
            "customer erased"
        );
        Ok(CustomerErased {
            records,
            files,
            callbacks_cancelled,
            at,
        })
    }
}
