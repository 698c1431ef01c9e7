//! What handlers ask of the engine, as plain serializable data, so a command
//! can run in this process or be forwarded to the node that routes.

use serde::{Deserialize, Serialize};

use crate::acd::{
    AgentLogin, AgentRecord, CallRecord, Disposition, IncomingCall, QueuePosition, QueueView, TransferTarget,
};
use crate::callback::{AttemptOutcome, CallbackRecord};
use crate::desk::NewCallback;
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
    Board(Box<crate::desk::CallbackBoard>),
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

    pub fn board(self) -> Result<crate::desk::CallbackBoard, Error> {
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
