//! `hotline.v1.AgentService`: the softphone's API.

use tonic::{Request, Response, Status};

use super::ApiContext;
use crate::acd::{AgentLogin, Disposition, TransferTarget};
use crate::auth::principal;
use crate::engine::{Command, Device, IdempotencyKey};
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName};
use crate::proto;
use crate::proto::agent_service_server::AgentService;
use crate::status::status;
use crate::{convert, validate};

pub struct AgentApi {
    pub ctx: ApiContext,
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
        body: &impl prost::Message,
    ) -> Result<(AgentId, CallId, Option<IdempotencyKey>), Error> {
        Ok((
            self.agent_id(p, agent_id)?,
            CallId::new(validate::id("call_id", call_id)?),
            validate::request_key(p, request_id, body)?,
        ))
    }

    /// The call's record as it is now: from the router while live, else the store.
    async fn call_now(&self, id: &CallId, live: Option<proto::Call>) -> Result<proto::Call, Error> {
        match live {
            Some(c) => Ok(c),
            None => self.ctx.stored_call(id).await,
        }
    }

    /// PCI pause (or resume) of the recording of the agent's connected call.
    async fn recording_action(
        &self,
        req: Request<proto::CallActionRequest>,
        pause: bool,
    ) -> Result<Response<proto::Recording>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let (agent, call, _) = self
            .call_request(&p, &r.agent_id, &r.call_id, "", &r)
            .map_err(status)?;
        self.own_call(&agent, &call).await.map_err(status)?;
        let rec = if pause {
            self.ctx
                .media
                .pause_recording(&call, agent.as_str())
                .await
                .map_err(status)?
        } else {
            self.ctx.media.resume_recording(&call).await.map_err(status)?
        };
        Ok(Response::new(convert::recording(&rec, None)))
    }

    /// Passes if `call` is the agent's connected call.
    async fn own_call(&self, agent: &AgentId, call: &CallId) -> Result<(), Error> {
        let record = self.ctx.stored_call(call).await?;
        if record.agent_id != agent.as_str() || record.status != proto::CallStatus::Connected as i32 {
            return Err(Error::FailedPrecondition(format!(
                "call {call} is not connected to agent {agent}"
            )));
        }
        Ok(())
    }

    /// Runs a command whose reply is the agent.
    async fn agent_command(
        &self,
        key: Option<IdempotencyKey>,
        cmd: Command,
    ) -> Result<Response<proto::Agent>, Status> {
        let agent = self
            .ctx
            .engine
            .execute(key, cmd)
            .await
            .map_err(status)?
            .agent()
            .map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    /// Runs a command on a call of the agent; replies with the call as it is now.
    async fn call_action(
        &self,
        req: Request<proto::CallActionRequest>,
        make: impl FnOnce(AgentId, CallId) -> Command,
    ) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let (agent, call, key) = self
            .call_request(&p, &r.agent_id, &r.call_id, &r.request_id, &r)
            .map_err(status)?;
        let (id, live) = self
            .ctx
            .engine
            .execute(key, make(agent, call))
            .await
            .map_err(status)?
            .call()
            .map_err(status)?;
        Ok(Response::new(
            self.call_now(&id, live.map(|c| convert::call(&c)))
                .await
                .map_err(status)?,
        ))
    }
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn login(&self, req: Request<proto::LoginRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        let entry = self
            .ctx
            .directory
            .agent(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "agent",
                id: id.to_string(),
            })
            .map_err(status)?;
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
            validate::skills(&r.skills).map_err(status)?
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
        self.agent_command(key, Command::Login(login)).await
    }

    async fn logout(&self, req: Request<proto::LogoutRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        self.agent_command(
            key,
            Command::Logout {
                agent: id,
                forced_by: None,
            },
        )
        .await
    }

    async fn set_state(
        &self,
        req: Request<proto::SetStateRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let key = validate::request_key(&p, &r.request_id, &r).map_err(status)?;
        let reason = validate::label("reason", &r.reason, validate::MAX_LABEL_LEN)
            .map_err(status)?
            .to_string();
        let state = proto::RequestedState::try_from(r.state).unwrap_or(proto::RequestedState::Unspecified);
        if state == proto::RequestedState::Unspecified {
            return Err(status(Error::invalid("state", "must be AVAILABLE or NOT_READY")));
        }
        if state == proto::RequestedState::NotReady && reason.is_empty() {
            return Err(status(Error::invalid("reason", "is required for NOT_READY")));
        }
        let why = "set by agent".to_string();
        let cmd = match state {
            proto::RequestedState::Available => Command::SetAvailable { agent: id, why },
            _ => Command::SetNotReady {
                agent: id,
                reason,
                why,
            },
        };
        self.agent_command(key, cmd).await
    }

    type EventsStream = crate::cluster::link::EventStream;

    async fn events(
        &self,
        req: Request<proto::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let id = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let name = self
            .ctx
            .directory
            .agent(&id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let stream = self
            .ctx
            .engine
            .agent_events(id, name, Device::Client)
            .await
            .map_err(status)?;
        Ok(Response::new(stream))
    }

    async fn accept(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        let accepted = self
            .call_action(req, |agent, call| Command::Accept { agent, call })
            .await?;
        // A callback's work item: hotline dials the customer for the agent
        // when it has a trunk to dial through (the gateway dials a work
        // item once, however often Accept is retried).
        let call = accepted.get_ref();
        if let Some(dialer) = &self.ctx.dialer {
            if !call.callback_id.is_empty() && call.status == proto::CallStatus::Connected as i32 {
                dialer
                    .dial(crate::dialer::CallbackDial {
                        call: CallId::new(&call.call_id),
                        callback: call.callback_id.clone(),
                        agent: AgentId::new(&call.agent_id),
                        number: call.ani.clone(),
                    })
                    .map_err(status)?;
            }
        }
        Ok(accepted)
    }

    async fn decline(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, |agent, call| Command::Decline { agent, call })
            .await
    }

    async fn hangup(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, |agent, call| Command::Hangup { agent, call })
            .await
    }

    async fn hold(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, |agent, call| Command::Hold {
            agent,
            call,
            hold: true,
        })
        .await
    }

    async fn resume(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, |agent, call| Command::Hold {
            agent,
            call,
            hold: false,
        })
        .await
    }

    async fn transfer(&self, req: Request<proto::TransferRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let target = match &r.target {
            Some(proto::transfer_request::Target::Queue(q)) => {
                TransferTarget::Queue(QueueName::new(validate::id("queue", q).map_err(status)?))
            }
            Some(proto::transfer_request::Target::ToAgentId(a)) => {
                TransferTarget::Agent(AgentId::new(validate::id("to_agent_id", a).map_err(status)?))
            }
            None => {
                return Err(status(Error::invalid(
                    "target",
                    "a queue or to_agent_id is required",
                )))
            }
        };
        let action = proto::CallActionRequest {
            agent_id: r.agent_id,
            call_id: r.call_id,
            request_id: r.request_id,
        };
        let mut req = Request::new(action);
        req.extensions_mut().insert(p);
        self.call_action(req, |agent, call| Command::Transfer { agent, call, target })
            .await
    }

    async fn complete_wrap_up(
        &self,
        req: Request<proto::CompleteWrapUpRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let (id, call, key) = self
            .call_request(&p, &r.agent_id, &r.call_id, &r.request_id, &r)
            .map_err(status)?;
        let disposition = match proto::Disposition::try_from(r.disposition) {
            Ok(proto::Disposition::Unspecified) => None,
            Ok(proto::Disposition::Resolved) => Some(Disposition::Resolved),
            Ok(proto::Disposition::Unresolved) => Some(Disposition::Unresolved),
            Ok(proto::Disposition::CallbackNeeded) => Some(Disposition::CallbackNeeded),
            Err(_) => {
                return Err(status(Error::invalid(
                    "disposition",
                    format!("unknown value {}", r.disposition),
                )))
            }
        };
        let category = validate::label("category", &r.category, validate::MAX_LABEL_LEN)
            .map_err(status)?
            .to_string();
        if disposition.is_some() && category.is_empty() {
            return Err(status(Error::invalid(
                "category",
                "is required with a disposition",
            )));
        }
        let notes = validate::label("notes", &r.notes, validate::MAX_TEXT_LEN)
            .map_err(status)?
            .to_string();
        let cmd = Command::CompleteWrapUp {
            agent: id,
            call,
            disposition,
            category: (!category.is_empty()).then_some(category),
            notes: (!notes.is_empty()).then_some(notes),
        };
        self.agent_command(key, cmd).await
    }

    async fn connect_softphone(
        &self,
        req: Request<proto::SoftphoneOffer>,
    ) -> Result<Response<proto::SessionAnswer>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let agent = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let offer = validate::offer("offer.sdp", r.offer.as_ref()).map_err(status)?;
        let (sdp, codec) = self
            .ctx
            .media
            .connect_softphone(&agent, offer)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SessionAnswer {
            sdp,
            codec,
            session_id: String::new(),
        }))
    }

    async fn add_softphone_ice_candidate(
        &self,
        req: Request<proto::SoftphoneIceCandidate>,
    ) -> Result<Response<proto::SoftphoneIceAck>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let agent = self.agent_id(&p, &r.agent_id).map_err(status)?;
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.ctx
            .media
            .softphone_candidate(&agent, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SoftphoneIceAck {}))
    }

    async fn pause_recording(
        &self,
        req: Request<proto::CallActionRequest>,
    ) -> Result<Response<proto::Recording>, Status> {
        self.recording_action(req, true).await
    }

    async fn resume_recording(
        &self,
        req: Request<proto::CallActionRequest>,
    ) -> Result<Response<proto::Recording>, Status> {
        self.recording_action(req, false).await
    }
}
