//! `hotline.v1.AgentService`: the softphone's API.

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{convert, principal, validate, ApiContext};
use crate::acd::{AgentLogin, AgentRecord, AgentState, Disposition, TransferTarget};
use crate::engine::Core;
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName};
use crate::proto;
use crate::proto::agent_service_server::AgentService;
use crate::time::Timestamp;

pub struct AgentApi {
    pub ctx: ApiContext,
}

fn agent_view(core: &Core, id: &AgentId) -> Result<proto::Agent, Error> {
    core.router
        .agent(id)
        .map(convert::agent)
        .ok_or_else(|| Error::NotFound {
            what: "agent",
            id: id.to_string(),
        })
}

fn call_view(core: &Core, id: &CallId) -> Option<proto::Call> {
    core.router.call(id).map(|c| convert::call(&c))
}

impl AgentApi {
    /// Checks the caller may act as `agent_id` and that the agent exists.
    fn agent_id(&self, p: &crate::auth::Principal, agent_id: &str) -> Result<AgentId, Error> {
        let id = validate::id("agent_id", agent_id)?;
        p.require_agent(id)?;
        let id = AgentId::new(id);
        if self.ctx.directory.agent(&id).is_none() {
            return Err(Error::NotFound {
                what: "agent",
                id: id.to_string(),
            });
        }
        Ok(id)
    }

    /// The acting agent, the call and the idempotency key of a call request.
    fn call_request(
        &self,
        p: &crate::auth::Principal,
        agent_id: &str,
        call_id: &str,
        request_id: &str,
    ) -> Result<(AgentId, CallId, Option<crate::engine::IdempotencyKey>), Error> {
        Ok((
            self.agent_id(p, agent_id)?,
            CallId::new(validate::id("call_id", call_id)?),
            validate::request_key(p, request_id)?,
        ))
    }

    /// The call's record as it is now: from the router while live, else the store.
    async fn call_now(&self, id: &CallId, live: Option<proto::Call>) -> Result<proto::Call, Error> {
        if let Some(c) = live {
            return Ok(c);
        }
        self.ctx
            .store
            .get_call(id)
            .await?
            .map(|c| convert::call(&c))
            .ok_or_else(|| Error::NotFound {
                what: "call",
                id: id.to_string(),
            })
    }

    async fn call_action<F>(
        &self,
        req: Request<proto::CallActionRequest>,
        method: &'static str,
        f: F,
    ) -> Result<Response<proto::Call>, Status>
    where
        F: FnOnce(&mut Core, Timestamp, &AgentId, &CallId) -> Result<(), Error> + Send + 'static,
    {
        let p = principal(&req)?;
        let r = req.into_inner();
        let (agent, call, key) = self.call_request(&p, &r.agent_id, &r.call_id, &r.request_id)?;
        let cid = call.clone();
        let live = self
            .ctx
            .engine
            .mutate(key, method, move |core, now| {
                f(core, now, &agent, &cid)?;
                Ok(call_view(core, &cid))
            })
            .await?;
        Ok(Response::new(self.call_now(&call, live).await?))
    }
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn login(&self, req: Request<proto::LoginRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id)?;
        let key = validate::request_key(&p, &r.request_id)?;
        let entry = self
            .ctx
            .directory
            .agent(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "agent",
                id: id.to_string(),
            })?;
        let skills = if r.skills.is_empty() {
            entry
                .skills
                .iter()
                .map(|(s, p)| crate::acd::SkillLevel {
                    skill: s.as_str().into(),
                    proficiency: *p,
                })
                .collect()
        } else {
            validate::skills(&r.skills)?
        };
        let login = AgentLogin {
            id: id.clone(),
            display_name: if entry.name.is_empty() {
                entry.id.clone()
            } else {
                entry.name.clone()
            },
            skills,
            start_available: r.start_available,
        };
        let agent = self
            .ctx
            .engine
            .mutate(key, "Login", move |core, now| {
                core.router.handle_agent_login(now, login)?;
                agent_view(core, &id)
            })
            .await?;
        Ok(Response::new(agent))
    }

    async fn logout(&self, req: Request<proto::LogoutRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id)?;
        let key = validate::request_key(&p, &r.request_id)?;
        let agent = self
            .ctx
            .engine
            .mutate(key, "Logout", move |core, now| {
                core.router.handle_agent_logout(now, &id, None)?;
                agent_view(core, &id)
            })
            .await?;
        Ok(Response::new(agent))
    }

    async fn set_state(
        &self,
        req: Request<proto::SetStateRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id)?;
        let key = validate::request_key(&p, &r.request_id)?;
        let reason = validate::label("reason", &r.reason, validate::MAX_LABEL_LEN)?.to_string();
        let state = proto::RequestedState::try_from(r.state).unwrap_or(proto::RequestedState::Unspecified);
        if state == proto::RequestedState::Unspecified {
            return Err(Error::invalid("state", "must be AVAILABLE or NOT_READY").into());
        }
        if state == proto::RequestedState::NotReady && reason.is_empty() {
            return Err(Error::invalid("reason", "is required for NOT_READY").into());
        }
        let agent = self
            .ctx
            .engine
            .mutate(key, "SetState", move |core, now| {
                match state {
                    proto::RequestedState::Available => {
                        core.router.handle_set_available(now, &id, "set by agent")?
                    }
                    _ => core
                        .router
                        .handle_set_not_ready(now, &id, &reason, "set by agent")?,
                }
                agent_view(core, &id)
            })
            .await?;
        Ok(Response::new(agent))
    }

    type EventsStream = ReceiverStream<Result<proto::AgentEvent, Status>>;

    async fn events(
        &self,
        req: Request<proto::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id)?;
        let name = self
            .ctx
            .directory
            .agent(&id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let rx = self
            .ctx
            .engine
            .call(move |core, now| {
                let record = core.router.agent(&id).cloned().unwrap_or_else(|| AgentRecord {
                    id: id.clone(),
                    display_name: name,
                    skills: Vec::new(),
                    state: AgentState::LoggedOut,
                    not_ready_reason: None,
                    state_reason: "never logged in".into(),
                    current_call: None,
                    state_since: now,
                    idle_since: now,
                    calls_handled: 0,
                    consecutive_misses: 0,
                    pending_not_ready: None,
                });
                core.subscribers.subscribe_agent(now, &record)
            })
            .await?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn accept(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, "Accept", |core, now, a, c| {
            Ok(core.router.handle_offer_accepted(now, a, c)?)
        })
        .await
    }

    async fn decline(
        &self,
        req: Request<proto::CallActionRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let (id, call, key) = self.call_request(&p, &r.agent_id, &r.call_id, &r.request_id)?;
        let agent = self
            .ctx
            .engine
            .mutate(key, "Decline", move |core, now| {
                core.router.handle_offer_declined(now, &id, &call)?;
                agent_view(core, &id)
            })
            .await?;
        Ok(Response::new(agent))
    }

    async fn hangup(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, "Hangup", |core, now, a, c| {
            Ok(core.router.handle_agent_hangup(now, a, c)?)
        })
        .await
    }

    async fn hold(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, "Hold", |core, now, a, c| {
            Ok(core.router.handle_hold(now, a, c, true)?)
        })
        .await
    }

    async fn resume(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, "Resume", |core, now, a, c| {
            Ok(core.router.handle_hold(now, a, c, false)?)
        })
        .await
    }

    async fn transfer(&self, req: Request<proto::TransferRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let target = match &r.target {
            Some(proto::transfer_request::Target::Queue(q)) => {
                TransferTarget::Queue(QueueName::new(validate::id("queue", q)?))
            }
            Some(proto::transfer_request::Target::ToAgentId(a)) => {
                TransferTarget::Agent(AgentId::new(validate::id("to_agent_id", a)?))
            }
            None => return Err(Error::invalid("target", "a queue or to_agent_id is required").into()),
        };
        let action = proto::CallActionRequest {
            agent_id: r.agent_id,
            call_id: r.call_id,
            request_id: r.request_id,
        };
        let mut req = Request::new(action);
        req.extensions_mut().insert(p);
        self.call_action(req, "Transfer", move |core, now, a, c| {
            Ok(core.router.handle_transfer(now, a, c, target)?)
        })
        .await
    }

    async fn complete_wrap_up(
        &self,
        req: Request<proto::CompleteWrapUpRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req)?;
        let r = req.into_inner();
        let (id, call, key) = self.call_request(&p, &r.agent_id, &r.call_id, &r.request_id)?;
        let disposition = match proto::Disposition::try_from(r.disposition) {
            Ok(proto::Disposition::Unspecified) => None,
            Ok(proto::Disposition::Resolved) => Some(Disposition::Resolved),
            Ok(proto::Disposition::Unresolved) => Some(Disposition::Unresolved),
            Ok(proto::Disposition::CallbackNeeded) => Some(Disposition::CallbackNeeded),
            Err(_) => {
                return Err(Error::invalid("disposition", format!("unknown value {}", r.disposition)).into())
            }
        };
        let category = validate::label("category", &r.category, validate::MAX_LABEL_LEN)?.to_string();
        if disposition.is_some() && category.is_empty() {
            return Err(Error::invalid("category", "is required with a disposition").into());
        }
        let notes = validate::label("notes", &r.notes, validate::MAX_TEXT_LEN)?.to_string();
        let agent = self
            .ctx
            .engine
            .mutate(key, "CompleteWrapUp", move |core, now| {
                core.router.handle_wrap_up_completed(
                    now,
                    &id,
                    &call,
                    disposition,
                    (!category.is_empty()).then_some(category),
                    (!notes.is_empty()).then_some(notes),
                )?;
                agent_view(core, &id)
            })
            .await?;
        Ok(Response::new(agent))
    }
}
