//! Calls from the telephony edges: a caller arrives, hangs up, asks to be
//! called back, rates the agent. The principal is a telephony edge (the
//! web demo's caller page through gRPC, or this node's SIP gateway).

use serde::Serialize;
use tracing::warn;

use super::{request_key, App};
use crate::acd::{CallRecord, IncomingCall, Requirement, Tier};
use crate::auth::{Principal, Role};
use crate::callback::CallbackRecord;
use crate::engine::{Command, Reply};
use crate::error::Error;
use crate::ids::{CallId, CallbackId, CustomerId};
use crate::validate;

/// Names calls made by requests with a request id (UUID v5 of the caller's
/// principal and request id).
const CALL_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x4c6f_6e67_2d6c_6976_652d_686f_746c_696e);

/// A caller arriving at an entry point.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StartCall {
    /// The caller's number.
    pub ani: String,
    /// The number dialled: it names the entry point, hence the queue.
    pub dnis: String,
    /// The customer, when the edge knows them; else looked up by `ani`.
    pub customer_id: String,
    /// Requirements beyond the queue's own.
    pub skills: Vec<Requirement>,
    pub request_id: String,
}

/// A caller asking, while queued, to be called back instead.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RequestCallback {
    pub call_id: String,
    /// The number to call back; empty for the caller's own.
    pub number: String,
    pub request_id: String,
}

/// Whether `existing` is the call `incoming` would start: same numbers and
/// customer. (The full body is compared by digest when the first reply was
/// kept; this covers a first attempt whose reply was not.)
fn started_by(existing: &CallRecord, incoming: &IncomingCall) -> bool {
    existing.ani == incoming.ani && existing.dnis == incoming.dnis && existing.customer == incoming.customer
}

impl App {
    /// The call a reply names: live from the reply, else stored.
    async fn replied_call(&self, reply: Reply) -> Result<CallRecord, Error> {
        let (id, live) = reply.call()?;
        self.call_now(&id, live).await
    }

    /// The agent of the customer's last contact, when it left the issue
    /// open. A courtesy: a history the store cannot give (down, or a
    /// record it cannot read) routes the caller without a preferred agent
    /// rather than turning them away.
    async fn last_contact_owner(&self, customer_key: &str) -> Option<crate::ids::AgentId> {
        match self.store.contacts_of(customer_key, 1).await {
            Ok(contacts) => contacts
                .into_iter()
                .next()
                .filter(|c| c.leaves_issue_open())
                .map(|c| c.agent),
            Err(e) => {
                warn!(customer = %customer_key, error = %e, "the caller's last contact could not be read; routed without its owner");
                crate::metrics::events::owner_lookup_failed();
                None
            }
        }
    }

    /// Queues a caller; a retry of the same request (by request id) is the
    /// same call, through any node and after any takeover.
    pub async fn start_call(&self, p: &Principal, r: StartCall) -> Result<CallRecord, Error> {
        p.require(&[Role::Telephony])?;
        let ani = validate::id("ani", &r.ani)?;
        validate::label("ani", ani, validate::MAX_NUMBER_LEN)?;
        let dnis = validate::id("dnis", &r.dnis)?;
        validate::label("dnis", dnis, validate::MAX_NUMBER_LEN)?;
        let key = request_key(p, &r.request_id, &r)?;
        let queue = self
            .catalog
            .read()
            .queue_for(dnis)
            .ok_or_else(|| Error::NotFound {
                what: "entry point",
                id: dnis.to_string(),
            })?;
        let (customer, tier) = if r.customer_id.is_empty() {
            match self.catalog.read().customer_by_number(ani) {
                Some(c) => (Some(CustomerId::new(&c.id)), c.tier),
                None => (None, Tier::Regular),
            }
        } else {
            let (c, t) = self.customer(&r.customer_id)?;
            (Some(c), t)
        };
        // First-contact ownership: the owner of the customer's open issue.
        let customer_key = customer
            .as_ref()
            .map(CustomerId::to_string)
            .unwrap_or_else(|| ani.to_string());
        // The owner of the customer's most urgent open case comes first
        // (ownership by case, from the cases this node follows); else the
        // owner of their last unresolved contact.
        let case_owner = customer.as_ref().and_then(|c| self.live_cases.owner_for(c));
        let preferred = match case_owner {
            Some(owner) => Some(owner),
            None => self.last_contact_owner(&customer_key).await,
        };
        // A request id names the call: a retry (through any node, after any
        // takeover) names the same call, so it cannot make a second one
        // even when the first attempt's reply was never kept (its client
        // gave up while the change was being recorded).
        let id = match &key {
            Some(k) => CallId::new(
                uuid::Uuid::new_v5(
                    &CALL_ID_NAMESPACE,
                    format!("{}\n{}", k.principal, k.request_id).as_bytes(),
                )
                .to_string(),
            ),
            None => CallId::new(uuid::Uuid::now_v7().to_string()),
        };
        let incoming = IncomingCall {
            id: id.clone(),
            ani: ani.to_string(),
            dnis: dnis.to_string(),
            customer,
            tier,
            queue,
            extra_requirements: r.skills,
            preferred_agent: preferred,
            node: self.node.clone(),
            callback: None,
        };
        if let Some(k) = &key {
            // A kept reply answers a retry (and refuses a different body).
            if let Some(kept) = crate::engine::kept(self.store.as_ref(), k, "StartCall").await? {
                return self.replied_call(kept).await;
            }
            if let Some(existing) = self.store.get_call(&id).await? {
                // The call this request id made; a different request
                // reusing the id is refused, not answered with it.
                if !started_by(&existing, &incoming) {
                    return Err(Error::invalid(
                        "request_id",
                        "already used for a different StartCall request; use a new request_id",
                    ));
                }
                return Ok(existing);
            }
        }
        let reply = self
            .engine
            .execute_unchecked(key, Command::StartCall(incoming))
            .await?;
        self.replied_call(reply).await
    }

    /// The caller hung up. Ending a call that already ended returns its
    /// final record.
    pub async fn end_call(
        &self,
        p: &Principal,
        call_id: &str,
        request_id: &str,
    ) -> Result<CallRecord, Error> {
        p.require(&[Role::Telephony])?;
        let id = App::call_id(call_id)?;
        let key = request_key(p, request_id, &("EndCall", call_id))?;
        let (id, _) = self
            .engine
            .execute(key, Command::EndCall { call: id })
            .await?
            .call()?;
        self.call_record(&id).await
    }

    /// A call as recorded, for the telephony edges and supervisors.
    pub async fn get_call(&self, p: &Principal, call_id: &str) -> Result<CallRecord, Error> {
        p.require(&[Role::Telephony, Role::Supervisor])?;
        self.call_record(&App::call_id(call_id)?).await
    }

    /// The queued caller leaves the queue as a callback to `number` (or
    /// their own number).
    pub async fn request_callback(&self, p: &Principal, r: RequestCallback) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Telephony])?;
        let call = App::call_id(&r.call_id)?;
        let number = match r.number.trim() {
            "" => None,
            n => Some(validate::label("number", n, validate::MAX_NUMBER_LEN)?.to_string()),
        };
        let key = request_key(p, &r.request_id, &r)?;
        let cmd = Command::RequestCallback {
            id: CallbackId::new(format!("cb-{call}")),
            call,
            number,
        };
        self.engine.execute(key, cmd).await?.callback()
    }

    /// The caller's 1-5 rating of the agent who answered, stored against
    /// the call.
    pub async fn submit_survey(&self, p: &Principal, call_id: &str, satisfaction: i64) -> Result<(), Error> {
        p.require(&[Role::Telephony])?;
        let id = App::call_id(call_id)?;
        let satisfaction = crate::quality::satisfaction(satisfaction)
            .map_err(|e| Error::invalid("satisfaction", e.to_string()))?;
        let (call, agent) = self.answered_call(&id, "rate").await?;
        let survey = crate::quality::SurveyRecord {
            call: id,
            agent: Some(agent),
            queue: call.queue.clone(),
            satisfaction,
            at: crate::time::Timestamp::now_wall(),
        };
        self.store.put_survey(&survey).await?;
        self.rate_cases_from_survey(p, &call, satisfaction).await;
        Ok(())
    }

    /// A call's records as it changes, until it ends; a call that ended
    /// already gives its final record alone.
    pub async fn watch_call(
        &self,
        p: &Principal,
        call_id: &str,
    ) -> Result<crate::cluster::CallStream, Error> {
        p.require(&[Role::Telephony, Role::Supervisor])?;
        let id = App::call_id(call_id)?;
        if let Some(stream) = self.engine.watch_call(id.clone()).await? {
            return Ok(stream);
        }
        let last = self.call_record(&id).await?;
        Ok(Box::pin(futures::stream::once(async move { Ok(last) })))
    }

    /// The web caller's WebRTC offer for its call: the SDP answer and codec.
    pub async fn connect_caller(
        &self,
        p: &Principal,
        call_id: &str,
        offer_sdp: &str,
    ) -> Result<(String, String), Error> {
        p.require(&[Role::Telephony])?;
        let call = App::call_id(call_id)?;
        // NOT_FOUND for a call that never existed, before any media work.
        self.call_record(&call).await?;
        self.media.connect_caller(&call, offer_sdp).await
    }

    /// A trickled ICE candidate of the web caller's leg.
    pub async fn caller_candidate(
        &self,
        p: &Principal,
        call_id: &str,
        candidate: crate::media::webrtc::RTCIceCandidateInit,
    ) -> Result<(), Error> {
        p.require(&[Role::Telephony])?;
        let call = App::call_id(call_id)?;
        self.media.caller_candidate(&call, candidate).await
    }
}
