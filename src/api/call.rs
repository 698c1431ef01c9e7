//! `hotline.v1.CallService`: the telephony edge's API.

use tonic::{Request, Response, Status};

use super::ApiContext;
use crate::acd::{IncomingCall, Tier};
use crate::auth::principal;
use crate::auth::Role;
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{CallId, CustomerId};
use crate::proto;
use crate::proto::call_service_server::CallService;
use crate::status::status;
use crate::{convert, validate};

pub struct CallApi {
    pub ctx: ApiContext,
}

/// Names calls made by requests with a request id (UUID v5 of the caller's
/// principal and request id).
const CALL_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x4c6f_6e67_2d6c_6976_652d_686f_746c_696e);

/// Whether `existing` is the call `incoming` would start: same numbers and
/// customer. (The full body is compared by digest when the first reply was
/// kept; this covers a first attempt whose reply was not.)
fn started_by(existing: &crate::acd::CallRecord, incoming: &IncomingCall) -> bool {
    existing.ani == incoming.ani && existing.dnis == incoming.dnis && existing.customer == incoming.customer
}

impl CallApi {
    /// The call a StartCall reply names: live from the reply, else stored.
    async fn started(&self, reply: crate::engine::Reply) -> Result<proto::Call, Error> {
        let (id, live) = reply.call()?;
        match live {
            Some(call) => Ok(convert::call(&call)),
            None => self.ctx.stored_call(&id).await,
        }
    }
}

#[tonic::async_trait]
impl CallService for CallApi {
    async fn start_call(
        &self,
        req: Request<proto::StartCallRequest>,
    ) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let ani = validate::id("ani", &r.ani).map_err(status)?;
        validate::label("ani", ani, validate::MAX_NUMBER_LEN).map_err(status)?;
        let dnis = validate::id("dnis", &r.dnis).map_err(status)?;
        validate::label("dnis", dnis, validate::MAX_NUMBER_LEN).map_err(status)?;
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        let queue = self
            .ctx
            .directory
            .queue_for(dnis)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "entry point",
                id: dnis.to_string(),
            })
            .map_err(status)?;
        let (customer, tier) = if r.customer_id.is_empty() {
            match self.ctx.directory.customer_by_number(ani) {
                Some((c, t)) => (Some(c.clone()), *t),
                None => (None, Tier::Regular),
            }
        } else {
            let (c, t) = self.ctx.customer(&r.customer_id).map_err(status)?;
            (Some(c), t)
        };
        let extra = validate::requirements(&r.skills).map_err(status)?;
        // First-contact ownership: the owner of the customer's open issue.
        let customer_key = customer
            .as_ref()
            .map(CustomerId::to_string)
            .unwrap_or_else(|| ani.to_string());
        let preferred = self
            .ctx
            .store
            .contacts_of(&customer_key, 1)
            .await?
            .into_iter()
            .next()
            .filter(|c| c.leaves_issue_open())
            .map(|c| c.agent);
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
            extra_requirements: extra,
            preferred_agent: preferred,
            node: self.ctx.node.clone(),
            callback: None,
        };
        if let Some(k) = &key {
            // A kept reply answers a retry (and refuses a different body).
            if let Some(kept) = crate::engine::kept(self.ctx.store.as_ref(), k, "StartCall")
                .await
                .map_err(status)?
            {
                return Ok(Response::new(self.started(kept).await.map_err(status)?));
            }
            if let Some(existing) = self.ctx.store.get_call(&id).await? {
                // The call this request id made; a different request
                // reusing the id is refused, not answered with it.
                if !started_by(&existing, &incoming) {
                    return Err(status(Error::invalid(
                        "request_id",
                        "already used for a different StartCall request; use a new request_id",
                    )));
                }
                return Ok(Response::new(convert::call(&existing)));
            }
        }
        let reply = self
            .ctx
            .engine
            .execute_unchecked(key, Command::StartCall(incoming))
            .await
            .map_err(status)?;
        Ok(Response::new(self.started(reply).await.map_err(status)?))
    }

    async fn end_call(&self, req: Request<proto::EndCallRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let id = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        // Ending a call that already ended returns its final record.
        let (id, _) = self
            .ctx
            .engine
            .execute(key, Command::EndCall { call: id })
            .await
            .map_err(status)?
            .call()
            .map_err(status)?;
        let call = self.ctx.stored_call(&id).await.map_err(status)?;
        Ok(Response::new(call))
    }

    async fn get_call(&self, req: Request<proto::GetCallRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony, Role::Supervisor]).map_err(status)?;
        let id = CallId::new(validate::id("call_id", &req.get_ref().call_id).map_err(status)?);
        Ok(Response::new(self.ctx.stored_call(&id).await.map_err(status)?))
    }

    type WatchCallStream = crate::cluster::link::CallStream;

    async fn watch_call(
        &self,
        req: Request<proto::GetCallRequest>,
    ) -> Result<Response<Self::WatchCallStream>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony, Role::Supervisor]).map_err(status)?;
        let id = CallId::new(validate::id("call_id", &req.get_ref().call_id).map_err(status)?);
        if let Some(stream) = self.ctx.engine.watch_call(id.clone()).await.map_err(status)? {
            return Ok(Response::new(stream));
        }
        // Ended already: one message with the final record.
        let call = self.ctx.stored_call(&id).await.map_err(status)?;
        Ok(Response::new(Box::pin(tokio_stream::once(Ok(call)))))
    }

    async fn connect_caller_media(
        &self,
        req: Request<proto::CallerOffer>,
    ) -> Result<Response<proto::SessionAnswer>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let call = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let offer = validate::offer("offer.sdp", r.offer.as_ref()).map_err(status)?;
        // NOT_FOUND for a call that never existed, before any media work.
        self.ctx.stored_call(&call).await.map_err(status)?;
        let (sdp, codec) = self
            .ctx
            .media
            .connect_caller(&call, offer)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SessionAnswer {
            sdp,
            codec,
            session_id: String::new(),
        }))
    }

    async fn add_caller_ice_candidate(
        &self,
        req: Request<proto::CallerIceCandidate>,
    ) -> Result<Response<proto::CallerIceAck>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let call = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.ctx
            .media
            .caller_candidate(&call, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::CallerIceAck {}))
    }

    async fn request_callback(
        &self,
        req: Request<proto::RequestCallbackRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let call = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let number = match r.number.trim() {
            "" => None,
            n => Some(
                validate::label("number", n, validate::MAX_NUMBER_LEN)
                    .map_err(status)?
                    .to_string(),
            ),
        };
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        let cmd = Command::RequestCallback {
            id: crate::ids::CallbackId::new(format!("cb-{call}")),
            call,
            number,
        };
        let record = self
            .ctx
            .engine
            .execute(key, cmd)
            .await
            .map_err(status)?
            .callback()
            .map_err(status)?;
        Ok(Response::new(convert::callback(&record)))
    }

    async fn submit_survey(
        &self,
        req: Request<proto::SubmitSurveyRequest>,
    ) -> Result<Response<proto::SubmitSurveyResponse>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Telephony])
            .map_err(status)?;
        let r = req.into_inner();
        let id = CallId::new(validate::id("call_id", &r.call_id).map_err(status)?);
        let satisfaction = crate::quality::satisfaction(i64::from(r.satisfaction))
            .map_err(|e| Error::invalid("satisfaction", e.to_string()))
            .map_err(status)?;
        let (call, agent) = self.ctx.answered_call(&id, "rate").await.map_err(status)?;
        let survey = crate::quality::SurveyRecord {
            call: id,
            agent: Some(agent),
            queue: call.queue.clone(),
            satisfaction,
            at: crate::time::Timestamp::now_wall(),
        };
        self.ctx.store.put_survey(&survey).await?;
        Ok(Response::new(proto::SubmitSurveyResponse {}))
    }
}
