//! What handlers ask of the engine, as plain serializable data, so a command
//! can run in this process or be forwarded to the node that routes.

use serde::{Deserialize, Serialize};

use super::callbacks::NewCallback;
use super::Core;
use crate::acd::{
    AgentLogin, AgentRecord, CallRecord, Disposition, IncomingCall, QueuePosition, QueueView, TransferTarget,
};
use crate::callback::{AttemptOutcome, CallbackRecord};
use crate::error::Error;
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Login(AgentLogin),
    /// `forced_by` names the supervisor forcing it, who may end a call doing so.
    Logout {
        agent: AgentId,
        forced_by: Option<String>,
    },
    SetAvailable {
        agent: AgentId,
        why: String,
    },
    SetNotReady {
        agent: AgentId,
        reason: String,
        why: String,
    },
    Accept {
        agent: AgentId,
        call: CallId,
    },
    Decline {
        agent: AgentId,
        call: CallId,
    },
    Hangup {
        agent: AgentId,
        call: CallId,
    },
    Hold {
        agent: AgentId,
        call: CallId,
        hold: bool,
    },
    Transfer {
        agent: AgentId,
        call: CallId,
        target: TransferTarget,
    },
    CompleteWrapUp {
        agent: AgentId,
        call: CallId,
        disposition: Option<Disposition>,
        category: Option<String>,
        notes: Option<String>,
    },
    StartCall(IncomingCall),
    EndCall {
        call: CallId,
    },
    /// The node carrying one party's audio was lost: the call ends with `why`.
    MediaLost {
        call: CallId,
        why: String,
    },
    /// The agent's audio could not reach the call: the caller goes back to
    /// the queue, the agent goes not ready.
    AgentAudioFailed {
        agent: AgentId,
        call: CallId,
        reason: String,
    },
    /// The nodes alive now; calls whose caller is on any other node end.
    NodesAlive {
        nodes: Vec<String>,
    },
    /// Reads of the live routing state.
    GetAgent {
        agent: AgentId,
    },
    QueueViews,
    HasQueue {
        queue: QueueName,
    },
    /// Where a waiting call stands (for the caller's announcements).
    QueuePosition {
        call: CallId,
    },
    CreateCallback(Box<NewCallback>),
    /// The waiting caller asked to be called back (keeps their place).
    RequestCallback {
        call: CallId,
        id: CallbackId,
        number: Option<String>,
    },
    RescheduleCallback {
        id: CallbackId,
        not_before: Timestamp,
        deadline: Option<Timestamp>,
    },
    CancelCallback {
        id: CallbackId,
    },
    RecordAttempt {
        agent: AgentId,
        id: CallbackId,
        outcome: AttemptOutcome,
    },
    /// With the stored record: a reached callback is no longer in memory.
    MarkWorkDone {
        id: CallbackId,
        stored: Option<Box<CallbackRecord>>,
    },
    CloseRequest {
        id: CallbackId,
    },
    /// The callback board with the alerts after `after`.
    CallbackBoard {
        after: u64,
    },
}

impl Command {
    /// The method name, for idempotency (a request id belongs to one method).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Login(_) => "Login",
            Command::Logout { .. } => "Logout",
            Command::SetAvailable { .. } => "SetAvailable",
            Command::SetNotReady { .. } => "SetNotReady",
            Command::Accept { .. } => "Accept",
            Command::Decline { .. } => "Decline",
            Command::Hangup { .. } => "Hangup",
            Command::Hold { .. } => "Hold",
            Command::Transfer { .. } => "Transfer",
            Command::CompleteWrapUp { .. } => "CompleteWrapUp",
            Command::StartCall(_) => "StartCall",
            Command::EndCall { .. } => "EndCall",
            Command::MediaLost { .. } => "MediaLost",
            Command::AgentAudioFailed { .. } => "AgentAudioFailed",
            Command::NodesAlive { .. } => "NodesAlive",
            Command::GetAgent { .. } => "GetAgent",
            Command::QueueViews => "QueueViews",
            Command::HasQueue { .. } => "HasQueue",
            Command::QueuePosition { .. } => "QueuePosition",
            Command::CreateCallback(_) => "CreateCallback",
            Command::RequestCallback { .. } => "RequestCallback",
            Command::RescheduleCallback { .. } => "RescheduleCallback",
            Command::CancelCallback { .. } => "CancelCallback",
            Command::RecordAttempt { .. } => "RecordAttempt",
            Command::MarkWorkDone { .. } => "MarkWorkDone",
            Command::CloseRequest { .. } => "CloseRequest",
            Command::CallbackBoard { .. } => "CallbackBoard",
        }
    }
}

/// What a command answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The agent after the command (none: never logged in on this cluster).
    Agent(Option<AgentRecord>),
    /// The call after the command; none once it has ended (read the store).
    Call {
        id: CallId,
        live: Option<CallRecord>,
    },
    Queues {
        at: Timestamp,
        queues: Vec<QueueView>,
    },
    Bool(bool),
    Position(Option<QueuePosition>),
    Callback(Box<CallbackRecord>),
    Board(Box<super::callbacks::CallbackBoard>),
}

impl Reply {
    pub fn agent(self) -> Result<AgentRecord, Error> {
        match self {
            Reply::Agent(Some(a)) => Ok(a),
            Reply::Agent(None) => Err(Error::NotFound {
                what: "agent",
                id: "(not logged in)".into(),
            }),
            other => Err(unexpected(&other)),
        }
    }

    pub fn call(self) -> Result<(CallId, Option<CallRecord>), Error> {
        match self {
            Reply::Call { id, live } => Ok((id, live)),
            other => Err(unexpected(&other)),
        }
    }

    pub fn queues(self) -> Result<(Timestamp, Vec<QueueView>), Error> {
        match self {
            Reply::Queues { at, queues } => Ok((at, queues)),
            other => Err(unexpected(&other)),
        }
    }

    pub fn position(self) -> Result<Option<QueuePosition>, Error> {
        match self {
            Reply::Position(p) => Ok(p),
            other => Err(unexpected(&other)),
        }
    }

    pub fn callback(self) -> Result<CallbackRecord, Error> {
        match self {
            Reply::Callback(c) => Ok(*c),
            other => Err(unexpected(&other)),
        }
    }

    pub fn board(self) -> Result<super::callbacks::CallbackBoard, Error> {
        match self {
            Reply::Board(b) => Ok(*b),
            other => Err(unexpected(&other)),
        }
    }

    pub fn bool(self) -> Result<bool, Error> {
        match self {
            Reply::Bool(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(r: &Reply) -> Error {
    Error::Internal(format!("unexpected engine reply {r:?}"))
}

impl Core {
    /// Applies one command to the router at `now`.
    pub fn execute(&mut self, now: Timestamp, cmd: Command) -> Result<Reply, Error> {
        let r = &mut self.router;
        let agent_reply = |r: &crate::acd::Router, id: &AgentId| Reply::Agent(r.agent(id).cloned());
        let call_reply = |r: &crate::acd::Router, id: &CallId| Reply::Call {
            id: id.clone(),
            live: r.call(id),
        };
        Ok(match cmd {
            Command::Login(login) => {
                let id = login.id.clone();
                r.handle_agent_login(now, login)?;
                agent_reply(r, &id)
            }
            Command::Logout { agent, forced_by } => {
                r.handle_agent_logout(now, &agent, forced_by.as_deref())?;
                agent_reply(r, &agent)
            }
            Command::SetAvailable { agent, why } => {
                r.handle_set_available(now, &agent, &why)?;
                agent_reply(r, &agent)
            }
            Command::SetNotReady { agent, reason, why } => {
                r.handle_set_not_ready(now, &agent, &reason, &why)?;
                agent_reply(r, &agent)
            }
            Command::Accept { agent, call } => {
                r.handle_offer_accepted(now, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Decline { agent, call } => {
                r.handle_offer_declined(now, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Hangup { agent, call } => {
                r.handle_agent_hangup(now, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Hold { agent, call, hold } => {
                r.handle_hold(now, &agent, &call, hold)?;
                call_reply(r, &call)
            }
            Command::Transfer { agent, call, target } => {
                r.handle_transfer(now, &agent, &call, target)?;
                call_reply(r, &call)
            }
            Command::CompleteWrapUp {
                agent,
                call,
                disposition,
                category,
                notes,
            } => {
                r.handle_wrap_up_completed(now, &agent, &call, disposition, category, notes)?;
                agent_reply(r, &agent)
            }
            Command::StartCall(mut incoming) => {
                // An owner who never logged in cannot be preferred.
                if incoming
                    .preferred_agent
                    .as_ref()
                    .is_some_and(|p| r.agent(p).is_none())
                {
                    incoming.preferred_agent = None;
                }
                let id = incoming.id.clone();
                // The same request again (its id names the call): the call
                // it made, not a second one.
                if r.call(&id).is_none() {
                    r.handle_call_arrived(now, incoming)?;
                }
                call_reply(r, &id)
            }
            Command::EndCall { call } => {
                if r.call(&call).is_some() {
                    r.handle_caller_hangup(now, &call)?;
                }
                call_reply(r, &call)
            }
            Command::MediaLost { call, why } => {
                if r.call(&call).is_some() {
                    r.handle_media_lost(now, &call, &why)?;
                }
                call_reply(r, &call)
            }
            Command::AgentAudioFailed { agent, call, reason } => {
                r.handle_agent_audio_failed(now, &agent, &call, &reason)?;
                call_reply(r, &call)
            }
            Command::NodesAlive { nodes } => {
                let ended = r.handle_nodes_alive(now, &nodes);
                crate::metrics::events::calls_lost_with_node("caller", ended as u64);
                Reply::Bool(true)
            }
            Command::GetAgent { agent } => agent_reply(r, &agent),
            Command::QueueViews => Reply::Queues {
                at: now,
                queues: r.queue_views(now),
            },
            Command::HasQueue { queue } => Reply::Bool(r.has_queue(&queue)),
            Command::QueuePosition { call } => Reply::Position(r.queue_position(&call)),
            Command::CreateCallback(new) => {
                if let Some(q) = &new.details.queue {
                    if !r.has_queue(q) {
                        return Err(Error::NotFound {
                            what: "queue",
                            id: q.to_string(),
                        });
                    }
                }
                Reply::Callback(Box::new(self.desk.create(now, *new)?))
            }
            Command::RequestCallback { call, id, number } => {
                Reply::Callback(Box::new(self.desk.request(now, r, &call, id, number)?))
            }
            Command::RescheduleCallback {
                id,
                not_before,
                deadline,
            } => {
                self.desk.reschedule(now, r, &id, not_before, deadline)?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::CancelCallback { id } => {
                self.desk.cancel(now, r, &id)?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::RecordAttempt { agent, id, outcome } => {
                Reply::Callback(Box::new(self.desk.attempt(now, r, &agent, &id, outcome)?))
            }
            Command::MarkWorkDone { id, stored } => {
                self.desk.work_done(now, &id, stored.map(|r| *r))?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::CloseRequest { id } => {
                self.desk.request_closed(now, &id)?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::CallbackBoard { after } => Reply::Board(Box::new(self.desk.board(now, after))),
        })
    }
}
