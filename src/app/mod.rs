//! The application layer: what hotline does for an authenticated
//! principal, in domain terms. Both edges call it: the gRPC handlers
//! (`api/`, proto in and out) and the SIP adapter (`sip/`, SIP in and out).
//!
//! Invariants:
//! - every operation checks the principal's role first, then validates its
//!   input (through [`crate::validate`], the one place limits live), then
//!   acts; nothing is changed for a request that fails either check;
//! - operations take and return domain types and fail with the one domain
//!   [`Error`]; no proto or tonic type crosses this layer, so each edge maps
//!   errors its own way (gRPC statuses in `status`, SIP refusals in
//!   `sip::gateway`);
//! - a request id is the client's retry key: the same principal sending the
//!   same id with the same body gets the first answer, with a different body
//!   a refusal naming `request_id` ([`request_key`]).

pub mod admin;
pub mod agents;
pub mod audit;
pub mod callbacks;
pub mod calls;
pub mod cases;
pub mod catalog_document;
pub mod erasure;
pub mod privacy;
pub mod reports;
pub mod session;
pub mod supervision;

use std::sync::Arc;

use serde::Serialize;

use crate::acd::{CallRecord, Tier};
use crate::admin::LiveCatalog;
use crate::auth::Principal;
use crate::cluster::RouterLink;
use crate::error::Error;
use crate::ids::{AgentId, CallId, CustomerId};
use crate::store::Store;
use hotline_core::idempotency::IdempotencyKey;

/// What every operation needs (cheap to clone: handles and shared reads).
#[derive(Clone)]
pub struct App {
    /// The way to the routing core (here, or on the routing node).
    pub engine: RouterLink,
    /// The shared records: calls, callbacks, contacts, reports.
    pub store: Arc<dyn Store>,
    /// Agents, skills, queues, entry points and customers, as the admin
    /// catalog holds them now.
    pub catalog: LiveCatalog,
    /// This node's id in a cluster (stamped on the calls it takes), none alone.
    pub node: Option<String>,
    /// The call audio this node carries.
    pub media: crate::media::plane::MediaPlane,
    /// How reports count.
    pub report_rules: Arc<crate::report::ReportRules>,
    /// The scorecard GradeCall uses by default.
    pub scorecard: Arc<crate::quality::Scorecard>,
    /// The TURN and STUN servers the WebRTC pages are given.
    pub turn: Arc<crate::config::TurnConfig>,
    /// Revoked sign-ins, enforced by this node's authenticator.
    pub revocations: crate::auth::Revocations,
    /// The audit trail every sensitive action is written to.
    pub audit: Arc<dyn crate::store::audit::AuditLog>,
    /// Complaints, repair requests and inquiries.
    pub cases: Arc<dyn crate::store::cases::CaseStore>,
    /// The open cases as this node follows them (boards, offers, routing).
    pub live_cases: crate::cases::LiveCases,
    /// The callback promise's timing (a case's milestones are its
    /// follow-ups' deadlines).
    pub callback_rules: crate::callback::TrackerSettings,
    /// Cases' default due times.
    pub case_rules: Arc<crate::config::CasesConfig>,
    /// Each queue's staffing now and ahead, as this node follows it.
    pub staffing: crate::staffing::LiveStaffing,
}

/// The idempotency key of a request: none when `request_id` is empty.
/// `body` is the whole request as the operation received it; its digest
/// tells a retry from a different request that reuses the id.
pub fn request_key(
    principal: &Principal,
    request_id: &str,
    body: &impl Serialize,
) -> Result<Option<IdempotencyKey>, Error> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let bytes = serde_json::to_vec(body).map_err(|e| Error::Internal(format!("request digest: {e}")))?;
    crate::validate::request_key(principal, request_id, &bytes)
}

impl App {
    /// The directory's customer named by a request's `customer_id` field,
    /// with their tier; INVALID_ARGUMENT or NOT_FOUND naming it.
    pub fn customer(&self, customer_id: &str) -> Result<(CustomerId, Tier), Error> {
        let id = crate::validate::id("customer_id", customer_id)?;
        let catalog = self.catalog.read();
        let c = catalog.customer(id).ok_or_else(|| Error::NotFound {
            what: "customer",
            id: id.to_string(),
        })?;
        Ok((CustomerId::new(&c.id), c.tier))
    }

    /// A call's stored record (live or ended), or NOT_FOUND.
    pub async fn call_record(&self, id: &CallId) -> Result<CallRecord, Error> {
        self.store.get_call(id).await?.ok_or_else(|| Error::NotFound {
            what: "call",
            id: id.to_string(),
        })
    }

    /// The call as it is now: the live record a reply carried, else the
    /// stored one.
    pub async fn call_now(&self, id: &CallId, live: Option<CallRecord>) -> Result<CallRecord, Error> {
        match live {
            Some(c) => Ok(c),
            None => self.call_record(id).await,
        }
    }

    /// A stored call an agent answered, and that agent; FAILED_PRECONDITION
    /// for a call nobody answered (there is nothing to `purpose`).
    pub async fn answered_call(&self, id: &CallId, purpose: &str) -> Result<(CallRecord, AgentId), Error> {
        let call = self.call_record(id).await?;
        match (&call.agent, call.answered_at) {
            (Some(a), Some(_)) => {
                let agent = a.clone();
                Ok((call, agent))
            }
            _ => Err(Error::FailedPrecondition(format!(
                "call {id} was not answered: nothing to {purpose}"
            ))),
        }
    }

    /// A required call id from a request's `call_id` field.
    pub fn call_id(call_id: &str) -> Result<CallId, Error> {
        Ok(CallId::new(crate::validate::id("call_id", call_id)?))
    }
}
