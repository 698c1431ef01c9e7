//! Customers' data rights: everything hotline holds about one customer, as
//! one JSON document (`hotline.customer-data.v1`).
//!
//! A customer's records are found by their directory id and by each of
//! their numbers (a call is keyed by the customer it was recognised as,
//! else by the caller's number). Exports are admin-only and in the audit
//! trail before the data is given. Each list is bounded
//! ([`MAX_EXPORTED`] records per kind and key); the document says when one
//! was cut short rather than pretending to be whole.

use serde_json::{json, Value};

use super::App;
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::ids::CallId;
use crate::store::audit::AuditAction;
use crate::store::CallbackFilter;
use crate::time::Timestamp;
use crate::validate;
use hotline_core::catalog::Customer;

/// Records of one kind exported per customer key, at most.
pub const MAX_EXPORTED: usize = 10_000;
/// Grades and survey ratings are looked for this long after a contact
/// ended (a call is graded, or rated, after it).
const RATED_WITHIN_MS: u64 = 90 * 86_400_000;

fn encode<T: serde::Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("encoding the export: {e}")))
}

impl App {
    /// A customer of the directory, and the keys their records are filed
    /// under: their id, then each of their numbers.
    pub(super) fn directory_customer(&self, customer_id: &str) -> Result<(Customer, Vec<String>), Error> {
        let id = validate::id("customer_id", customer_id)?;
        let customer = self
            .catalog
            .read()
            .customer(id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "customer",
                id: id.to_string(),
            })?;
        let keys = std::iter::once(customer.id.clone())
            .chain(customer.numbers.iter().cloned())
            .collect();
        Ok((customer, keys))
    }

    /// The customer's data as a JSON document, and when it was taken.
    pub async fn export_customer(
        &self,
        p: &Principal,
        customer_id: &str,
    ) -> Result<(Vec<u8>, Timestamp), Error> {
        p.require(&[Role::Admin])?;
        let (customer, keys) = self.directory_customer(customer_id)?;
        let id = customer.id.as_str();
        self.audit_before(
            p,
            AuditAction::CustomerExported,
            format!("customer:{id}"),
            String::new(),
        )
        .await?;
        let mut truncated = Vec::new();

        let mut contacts = Vec::new();
        for key in &keys {
            let found = self.store.contacts_of(key, MAX_EXPORTED).await?;
            if found.len() >= MAX_EXPORTED {
                truncated.push(format!("contacts of {key}"));
            }
            contacts.extend(found);
        }
        contacts.sort_by_key(|c| c.enqueued_at);
        contacts.dedup_by(|a, b| a.call == b.call);

        let mut callbacks = Vec::new();
        for key in &keys {
            let filter = CallbackFilter {
                customer_key: Some(key.clone()),
                ..Default::default()
            };
            let found = self.store.list_callbacks(&filter, None, MAX_EXPORTED).await?;
            if found.len() >= MAX_EXPORTED {
                truncated.push(format!("callbacks of {key}"));
            }
            callbacks.extend(found);
        }

        // Their cases (complaints, repair requests, inquiries), with every
        // word and the timeline.
        let case_filter = crate::store::cases::CaseFilter {
            customer: Some(crate::ids::CustomerId::new(&customer.id)),
            ..Default::default()
        };
        let cases = self.cases.list_cases(&case_filter, None, MAX_EXPORTED).await?;
        if cases.len() >= MAX_EXPORTED {
            truncated.push("cases".into());
        }

        let calls: std::collections::HashSet<CallId> = contacts.iter().map(|c| c.call.clone()).collect();
        let mut recordings = Vec::new();
        for call in &calls {
            if let Some(rec) = self.store.get_recording(call).await? {
                recordings.push(rec);
            }
        }
        recordings.sort_by_key(|r| r.started_at);

        let (mut grades, mut surveys) = (Vec::new(), Vec::new());
        if let (Some(first), Some(last)) = (
            contacts.iter().map(|c| c.enqueued_at).min(),
            contacts.iter().map(|c| c.ended_at).max(),
        ) {
            let to = Timestamp::from_millis(last.as_millis().saturating_add(RATED_WITHIN_MS));
            let all = self.store.grades_between(first, to, MAX_EXPORTED).await?;
            if all.len() >= MAX_EXPORTED {
                truncated.push("grades".into());
            }
            grades.extend(all.into_iter().filter(|g| calls.contains(&g.call)));
            let all = self.store.surveys_between(first, to, MAX_EXPORTED).await?;
            if all.len() >= MAX_EXPORTED {
                truncated.push("surveys".into());
            }
            surveys.extend(all.into_iter().filter(|s| calls.contains(&s.call)));
        }

        let now = Timestamp::now_wall();
        let document = json!({
            "format": "hotline.customer-data.v1",
            "exported_at_unix_ms": now.as_millis(),
            "exported_by": p.sub,
            "customer": encode(&customer)?,
            "keys": keys,
            "contacts": encode(&contacts)?,
            "callbacks": encode(&callbacks)?,
            "recordings": encode(&recordings)?,
            "grades": encode(&grades)?,
            "surveys": encode(&surveys)?,
            "cases": encode(&cases)?,
            "truncated": truncated,
        });
        let bytes = serde_json::to_vec_pretty(&document)
            .map_err(|e| Error::Internal(format!("encoding the export: {e}")))?;
        Ok((bytes, now))
    }
}
