//! Agents at work: signing in and out, readiness, the offer and call
//! actions, wrap-up; and a supervisor forcing an agent's state. The
//! principal is the agent itself (its softphone, or its SIP phone through
//! this node's gateway), an admin, or for forced states a supervisor.

use serde::Serialize;

use super::{request_key, App};
use crate::acd::{AgentLogin, AgentRecord, AgentState, CallRecord, Disposition, SkillLevel, TransferTarget};
use crate::auth::{Principal, Role};
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::validate;

/// The state an agent (or a supervisor for them) asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RequestedState {
    Available,
    NotReady,
    /// Only a supervisor forces an agent out.
    LoggedOut,
}

/// What an agent does to an offer or to its call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CallAction {
    Accept,
    Decline,
    Hangup,
    Hold,
    Resume,
    Transfer(TransferTarget),
}

/// An agent's request about one call.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CallRef {
    pub agent_id: String,
    pub call_id: String,
    pub request_id: String,
}

/// The end of an agent's after-call work.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WrapUp {
    pub call: CallRef,
    pub disposition: Option<Disposition>,
    pub category: String,
    pub notes: String,
}

impl App {
    /// Checks `p` may act as `agent_id` and that the agent exists.
    pub fn acting_agent(&self, p: &Principal, agent_id: &str) -> Result<AgentId, Error> {
        let id = validate::id("agent_id", agent_id)?;
        p.require_agent(id)?;
        if self.catalog.read().agent(id).is_none() {
            return Err(Error::NotFound {
                what: "agent",
                id: id.to_string(),
            });
        }
        Ok(AgentId::new(id))
    }

    /// The acting agent and the call of a call request.
    fn call_of(&self, p: &Principal, r: &CallRef) -> Result<(AgentId, CallId), Error> {
        Ok((self.acting_agent(p, &r.agent_id)?, App::call_id(&r.call_id)?))
    }

    async fn agent_command(
        &self,
        key: Option<hotline_core::idempotency::IdempotencyKey>,
        cmd: Command,
    ) -> Result<AgentRecord, Error> {
        self.engine.execute(key, cmd).await?.agent()
    }

    /// Opens the agent's event stream for one of its devices (replacing
    /// that device's previous stream); it counts as the agent's presence.
    pub async fn agent_events(
        &self,
        p: &Principal,
        agent_id: &str,
        device: crate::engine::Device,
    ) -> Result<crate::cluster::EventStream, Error> {
        let id = self.acting_agent(p, agent_id)?;
        let name = self
            .catalog
            .read()
            .agent(id.as_str())
            .map(|a| a.display_name.clone())
            .unwrap_or_default();
        self.engine.agent_events(id, name, device).await
    }

    /// Signs an agent in with `skills`, or the catalog's when empty; a
    /// deactivated agent cannot sign in.
    pub async fn login(
        &self,
        p: &Principal,
        agent_id: &str,
        skills: Vec<SkillLevel>,
        start_available: bool,
        request_id: &str,
    ) -> Result<AgentRecord, Error> {
        let id = self.acting_agent(p, agent_id)?;
        let key = request_key(p, request_id, &("Login", agent_id, &skills, start_available))?;
        let entry = self
            .catalog
            .read()
            .agent(id.as_str())
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "agent",
                id: id.to_string(),
            })?;
        if !entry.active {
            return Err(Error::FailedPrecondition(format!(
                "agent {id} is deactivated; an admin can reactivate them"
            )));
        }
        let skills = if skills.is_empty() { entry.skills } else { skills };
        let login = AgentLogin {
            id: id.clone(),
            display_name: if entry.display_name.is_empty() {
                entry.id.clone()
            } else {
                entry.display_name.clone()
            },
            skills,
            start_available,
        };
        self.agent_command(key, Command::Login(login)).await
    }

    pub async fn logout(
        &self,
        p: &Principal,
        agent_id: &str,
        request_id: &str,
    ) -> Result<AgentRecord, Error> {
        let id = self.acting_agent(p, agent_id)?;
        let key = request_key(p, request_id, &("Logout", agent_id))?;
        let cmd = Command::Logout {
            agent: id,
            forced_by: None,
        };
        self.agent_command(key, cmd).await
    }

    /// The agent's own readiness: available, or not ready with a reason.
    pub async fn set_state(
        &self,
        p: &Principal,
        agent_id: &str,
        state: RequestedState,
        reason: &str,
        request_id: &str,
    ) -> Result<AgentRecord, Error> {
        let id = self.acting_agent(p, agent_id)?;
        let key = request_key(p, request_id, &("SetState", agent_id, state, reason))?;
        let reason = validate::label("reason", reason, validate::MAX_LABEL_LEN)?.to_string();
        let why = "set by agent".to_string();
        let cmd = match state {
            RequestedState::Available => Command::SetAvailable {
                agent: id.clone(),
                why,
            },
            RequestedState::NotReady if reason.is_empty() => {
                return Err(Error::invalid("reason", "is required for NOT_READY"))
            }
            RequestedState::NotReady => Command::SetNotReady {
                agent: id,
                reason,
                why,
            },
            RequestedState::LoggedOut => {
                return Err(Error::invalid("state", "must be AVAILABLE or NOT_READY"))
            }
        };
        self.agent_command(key, cmd).await
    }

    /// A supervisor sets an agent's state (logging them out ends their call).
    pub async fn force_state(
        &self,
        p: &Principal,
        agent_id: &str,
        state: RequestedState,
        reason: &str,
        request_id: &str,
    ) -> Result<AgentRecord, Error> {
        p.require(&[Role::Supervisor])?;
        let id = AgentId::new(validate::id("agent_id", agent_id)?);
        let reason = validate::label("reason", reason, validate::MAX_LABEL_LEN)?.to_string();
        let key = request_key(p, request_id, &("ForceState", agent_id, state, &reason))?;
        if state == RequestedState::NotReady && reason.is_empty() {
            return Err(Error::invalid("reason", "is required for NOT_READY"));
        }
        let detail = format!("{state:?} {reason}").trim().to_lowercase();
        let why = format!("forced by supervisor {}", p.sub);
        let cmd = match state {
            RequestedState::LoggedOut => Command::Logout {
                agent: id.clone(),
                forced_by: Some(format!("supervisor {}", p.sub)),
            },
            RequestedState::Available => Command::SetAvailable {
                agent: id.clone(),
                why,
            },
            RequestedState::NotReady => Command::SetNotReady {
                agent: id.clone(),
                reason,
                why,
            },
        };
        let record = self.agent_command(key, cmd).await?;
        self.audit_after(
            p,
            crate::store::audit::AuditAction::AgentStateForced,
            format!("agent:{id}"),
            detail,
        )
        .await;
        Ok(record)
    }

    /// Acts on an offer or a call of the agent; the call as it is after.
    pub async fn call_action(
        &self,
        p: &Principal,
        r: &CallRef,
        action: CallAction,
    ) -> Result<CallRecord, Error> {
        let (agent, call) = self.call_of(p, r)?;
        let key = request_key(p, &r.request_id, &("CallAction", r, &action))?;
        let cmd = match action {
            CallAction::Accept => Command::Accept { agent, call },
            CallAction::Decline => Command::Decline { agent, call },
            CallAction::Hangup => Command::Hangup { agent, call },
            CallAction::Hold => Command::Hold {
                agent,
                call,
                hold: true,
            },
            CallAction::Resume => Command::Hold {
                agent,
                call,
                hold: false,
            },
            CallAction::Transfer(target) => Command::Transfer { agent, call, target },
        };
        let (id, live) = self.engine.execute(key, cmd).await?.call()?;
        self.call_now(&id, live).await
    }

    /// Ends the agent's wrap-up, with the call's outcome when they give one.
    pub async fn complete_wrap_up(&self, p: &Principal, r: WrapUp) -> Result<AgentRecord, Error> {
        let (agent, call) = self.call_of(p, &r.call)?;
        let key = request_key(p, &r.call.request_id, &("CompleteWrapUp", &r))?;
        let category = validate::label("category", &r.category, validate::MAX_LABEL_LEN)?.to_string();
        if r.disposition.is_some() && category.is_empty() {
            return Err(Error::invalid("category", "is required with a disposition"));
        }
        let notes = validate::label("notes", &r.notes, validate::MAX_TEXT_LEN)?.to_string();
        let cmd = Command::CompleteWrapUp {
            agent,
            call,
            disposition: r.disposition,
            category: (!category.is_empty()).then_some(category),
            notes: (!notes.is_empty()).then_some(notes),
        };
        self.agent_command(key, cmd).await
    }

    /// The agent's softphone's WebRTC offer: the SDP answer and codec.
    pub async fn connect_softphone(
        &self,
        p: &Principal,
        agent_id: &str,
        offer_sdp: &str,
    ) -> Result<(String, String), Error> {
        let agent = self.acting_agent(p, agent_id)?;
        self.media.connect_softphone(&agent, offer_sdp).await
    }

    /// A trickled ICE candidate of the agent's softphone leg.
    pub async fn softphone_candidate(
        &self,
        p: &Principal,
        agent_id: &str,
        candidate: crate::media::webrtc::RTCIceCandidateInit,
    ) -> Result<(), Error> {
        let agent = self.acting_agent(p, agent_id)?;
        self.media.softphone_candidate(&agent, candidate).await
    }

    /// PCI pause (`pause`) or resume of the recording of the agent's
    /// connected call; the pause is audited with the agent's name.
    pub async fn pause_recording(
        &self,
        p: &Principal,
        r: &CallRef,
        pause: bool,
    ) -> Result<crate::recording::RecordingRecord, Error> {
        let (agent, call) = self.own_connected_call(p, r).await?;
        let (record, action) = if pause {
            (
                self.media.pause_recording(&call, agent.as_str()).await?,
                crate::store::audit::AuditAction::RecordingPaused,
            )
        } else {
            (
                self.media.resume_recording(&call).await?,
                crate::store::audit::AuditAction::RecordingResumed,
            )
        };
        self.audit_after(p, action, format!("call:{call}"), String::new())
            .await;
        Ok(record)
    }

    /// Passes if `call` is the agent's connected call (what pausing its
    /// recording needs).
    async fn own_connected_call(&self, p: &Principal, r: &CallRef) -> Result<(AgentId, CallId), Error> {
        let (agent, call) = self.call_of(p, r)?;
        let record = self.call_record(&call).await?;
        if record.agent.as_ref() != Some(&agent) || record.status != crate::acd::CallStatus::Connected {
            return Err(Error::FailedPrecondition(format!(
                "call {call} is not connected to agent {agent}"
            )));
        }
        Ok((agent, call))
    }
}

/// A supervisor's forced state in domain terms: only these three.
pub fn forceable(state: AgentState) -> Option<RequestedState> {
    match state {
        AgentState::LoggedOut => Some(RequestedState::LoggedOut),
        AgentState::Available => Some(RequestedState::Available),
        AgentState::NotReady => Some(RequestedState::NotReady),
        _ => None,
    }
}
