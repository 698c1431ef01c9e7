//! The routing commands and replies as the cluster protocol's typed
//! protobuf messages (`proto/hotline/cluster/v1/command.proto`), both ways.
//!
//! Invariants: `decode(encode(x)) == x` for every command and reply (tested
//! below); a message this node cannot read (a field missing, an enum value
//! it does not know, a number out of range) is refused naming the field,
//! never guessed at. Times travel as epoch milliseconds, durations as
//! milliseconds, a domain "none" as an unset field.

mod events;
mod records;

pub use events::{agent_event_from_wire, agent_event_to_wire};

use records::*;

use crate::acd::{AgentLogin, TransferTarget};
use crate::engine::callbacks::NewCallback;
use crate::engine::{Command, Reply};
use crate::error::Error;
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::proto::cluster as pb;
use pb::command::Command as C;
use pb::reply::Reply as R;

/// A message this node cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cluster message: {field} {reason}")]
pub struct WireError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::invalid(e.field, e.reason)
    }
}

fn ac(agent: &AgentId, call: &CallId) -> pb::AgentCall {
    pb::AgentCall {
        agent: agent.to_string(),
        call: call.to_string(),
    }
}

fn call_ref(call: &CallId) -> pb::CallRef {
    pb::CallRef {
        call: call.to_string(),
    }
}

fn cb_ref(id: &CallbackId) -> pb::CallbackRef {
    pb::CallbackRef { id: id.to_string() }
}

fn new_callback_to(v: &NewCallback) -> pb::NewCallback {
    pb::NewCallback {
        id: v.id.to_string(),
        details: Some(details_to(&v.details)),
        not_before: v.not_before.map(ms),
        deadline: v.deadline.map(ms),
        max_attempts: v.max_attempts,
    }
}

fn new_callback_from(v: pb::NewCallback) -> Result<NewCallback, WireError> {
    Ok(NewCallback {
        id: CallbackId::new(v.id),
        details: details_from(v.details.ok_or_else(|| missing("details"))?)?,
        not_before: v.not_before.map(at),
        deadline: v.deadline.map(at),
        max_attempts: v.max_attempts,
    })
}

/// A command as the cluster protocol carries it.
/// A call record for a call watch.
pub fn call_to_wire(call: &crate::acd::CallRecord) -> pb::CallRecord {
    records::call_to(call)
}

/// A call record from a call watch; refused naming the field it cannot read.
pub fn call_from_wire(call: pb::CallRecord) -> Result<crate::acd::CallRecord, WireError> {
    records::call_from(call)
}

pub fn command_to_wire(cmd: &Command) -> pb::Command {
    let c = match cmd {
        Command::Login(l) => C::Login(pb::AgentLogin {
            id: l.id.to_string(),
            display_name: l.display_name.clone(),
            skills: l.skills.iter().map(skill_to).collect(),
            start_available: l.start_available,
        }),
        Command::Logout { agent, forced_by } => C::Logout(pb::Logout {
            agent: agent.to_string(),
            forced_by: forced_by.clone(),
        }),
        Command::SetAvailable { agent, why } => C::SetAvailable(pb::SetAvailable {
            agent: agent.to_string(),
            why: why.clone(),
        }),
        Command::SetNotReady { agent, reason, why } => C::SetNotReady(pb::SetNotReady {
            agent: agent.to_string(),
            reason: reason.clone(),
            why: why.clone(),
        }),
        Command::Accept { agent, call } => C::Accept(ac(agent, call)),
        Command::Decline { agent, call } => C::Decline(ac(agent, call)),
        Command::Hangup { agent, call } => C::Hangup(ac(agent, call)),
        Command::Hold { agent, call, hold } => C::Hold(pb::Hold {
            agent: agent.to_string(),
            call: call.to_string(),
            hold: *hold,
        }),
        Command::Transfer { agent, call, target } => C::Transfer(pb::Transfer {
            agent: agent.to_string(),
            call: call.to_string(),
            target: Some(pb::TransferTarget {
                to: Some(match target {
                    TransferTarget::Queue(q) => pb::transfer_target::To::Queue(q.to_string()),
                    TransferTarget::Agent(a) => pb::transfer_target::To::Agent(a.to_string()),
                }),
            }),
        }),
        Command::CompleteWrapUp {
            agent,
            call,
            disposition,
            category,
            notes,
        } => C::CompleteWrapUp(pb::CompleteWrapUp {
            agent: agent.to_string(),
            call: call.to_string(),
            disposition: disposition.map(disposition_to).unwrap_or(0),
            category: category.clone(),
            notes: notes.clone(),
        }),
        Command::StartCall(incoming) => C::StartCall(incoming_to(incoming)),
        Command::EndCall { call } => C::EndCall(call_ref(call)),
        Command::MediaLost { call, why } => C::MediaLost(pb::CallWhy {
            call: call.to_string(),
            why: why.clone(),
        }),
        Command::AgentAudioFailed { agent, call, reason } => C::AgentAudioFailed(pb::AgentAudioFailed {
            agent: agent.to_string(),
            call: call.to_string(),
            reason: reason.clone(),
        }),
        Command::NodesAlive { nodes } => C::NodesAlive(pb::NodesAlive { nodes: nodes.clone() }),
        Command::GetAgent { agent } => C::GetAgent(pb::AgentRef {
            agent: agent.to_string(),
        }),
        Command::QueueViews => C::QueueViews(pb::Empty {}),
        Command::HasQueue { queue } => C::HasQueue(pb::QueueRef {
            queue: queue.to_string(),
        }),
        Command::QueuePosition { call } => C::QueuePosition(call_ref(call)),
        Command::CreateCallback(new) => C::CreateCallback(new_callback_to(new)),
        Command::RequestCallback { call, id, number } => C::RequestCallback(pb::RequestCallback {
            call: call.to_string(),
            id: id.to_string(),
            number: number.clone(),
        }),
        Command::RescheduleCallback {
            id,
            not_before,
            deadline,
        } => C::RescheduleCallback(pb::RescheduleCallback {
            id: id.to_string(),
            not_before: ms(*not_before),
            deadline: deadline.map(ms),
        }),
        Command::CancelCallback { id } => C::CancelCallback(cb_ref(id)),
        Command::RecordAttempt { agent, id, outcome } => C::RecordAttempt(pb::RecordAttempt {
            agent: agent.to_string(),
            id: id.to_string(),
            outcome: attempt_to(*outcome),
        }),
        Command::MarkWorkDone { id, stored } => C::MarkWorkDone(pb::MarkWorkDone {
            id: id.to_string(),
            stored: stored.as_deref().map(callback_to),
        }),
        Command::CloseRequest { id } => C::CloseRequest(cb_ref(id)),
        Command::CallbackBoard { after } => C::CallbackBoard(pb::CallbackBoardAfter { after: *after }),
    };
    pb::Command { command: Some(c) }
}

/// A command from the cluster protocol.
pub fn command_from_wire(cmd: pb::Command) -> Result<Command, WireError> {
    let agent = AgentId::new;
    let call = CallId::new;
    Ok(match cmd.command.ok_or_else(|| missing("command"))? {
        C::Login(l) => Command::Login(AgentLogin {
            id: agent(l.id),
            display_name: l.display_name,
            skills: l.skills.into_iter().map(skill_from).collect::<Result<_, _>>()?,
            start_available: l.start_available,
        }),
        C::Logout(l) => Command::Logout {
            agent: agent(l.agent),
            forced_by: l.forced_by,
        },
        C::SetAvailable(c) => Command::SetAvailable {
            agent: agent(c.agent),
            why: c.why,
        },
        C::SetNotReady(c) => Command::SetNotReady {
            agent: agent(c.agent),
            reason: c.reason,
            why: c.why,
        },
        C::Accept(c) => Command::Accept {
            agent: agent(c.agent),
            call: call(c.call),
        },
        C::Decline(c) => Command::Decline {
            agent: agent(c.agent),
            call: call(c.call),
        },
        C::Hangup(c) => Command::Hangup {
            agent: agent(c.agent),
            call: call(c.call),
        },
        C::Hold(c) => Command::Hold {
            agent: agent(c.agent),
            call: call(c.call),
            hold: c.hold,
        },
        C::Transfer(c) => Command::Transfer {
            agent: agent(c.agent),
            call: call(c.call),
            target: match c.target.and_then(|t| t.to).ok_or_else(|| missing("target"))? {
                pb::transfer_target::To::Queue(q) => TransferTarget::Queue(QueueName::new(q)),
                pb::transfer_target::To::Agent(a) => TransferTarget::Agent(agent(a)),
            },
        },
        C::CompleteWrapUp(c) => Command::CompleteWrapUp {
            agent: agent(c.agent),
            call: call(c.call),
            disposition: opt_enum(c.disposition, disposition_from)?,
            category: c.category,
            notes: c.notes,
        },
        C::StartCall(c) => Command::StartCall(incoming_from(c)?),
        C::EndCall(c) => Command::EndCall { call: call(c.call) },
        C::MediaLost(c) => Command::MediaLost {
            call: call(c.call),
            why: c.why,
        },
        C::AgentAudioFailed(c) => Command::AgentAudioFailed {
            agent: agent(c.agent),
            call: call(c.call),
            reason: c.reason,
        },
        C::NodesAlive(c) => Command::NodesAlive { nodes: c.nodes },
        C::GetAgent(c) => Command::GetAgent {
            agent: agent(c.agent),
        },
        C::QueueViews(_) => Command::QueueViews,
        C::HasQueue(c) => Command::HasQueue {
            queue: QueueName::new(c.queue),
        },
        C::QueuePosition(c) => Command::QueuePosition { call: call(c.call) },
        C::CreateCallback(c) => Command::CreateCallback(Box::new(new_callback_from(c)?)),
        C::RequestCallback(c) => Command::RequestCallback {
            call: call(c.call),
            id: CallbackId::new(c.id),
            number: c.number,
        },
        C::RescheduleCallback(c) => Command::RescheduleCallback {
            id: CallbackId::new(c.id),
            not_before: at(c.not_before),
            deadline: c.deadline.map(at),
        },
        C::CancelCallback(c) => Command::CancelCallback {
            id: CallbackId::new(c.id),
        },
        C::RecordAttempt(c) => Command::RecordAttempt {
            agent: agent(c.agent),
            id: CallbackId::new(c.id),
            outcome: attempt_from(c.outcome)?,
        },
        C::MarkWorkDone(c) => Command::MarkWorkDone {
            id: CallbackId::new(c.id),
            stored: c.stored.map(callback_from).transpose()?.map(Box::new),
        },
        C::CloseRequest(c) => Command::CloseRequest {
            id: CallbackId::new(c.id),
        },
        C::CallbackBoard(c) => Command::CallbackBoard { after: c.after },
    })
}

/// A reply as the cluster protocol carries it.
pub fn reply_to_wire(reply: &Reply) -> pb::Reply {
    let r = match reply {
        Reply::Agent(a) => R::Agent(pb::AgentReply {
            agent: a.as_ref().map(agent_to),
        }),
        Reply::Call { id, live } => R::Call(pb::CallReply {
            id: id.to_string(),
            live: live.as_ref().map(call_to),
        }),
        Reply::Queues { at, queues } => R::Queues(pb::QueuesReply {
            at: ms(*at),
            queues: queues.iter().map(view_to).collect(),
        }),
        Reply::Bool(b) => R::Bool(*b),
        Reply::Position(p) => R::Position(pb::PositionReply {
            position: p.map(|p| pb::QueuePosition {
                position: p.position,
                estimated_wait_ms: p.estimated_wait.map(dur_ms),
            }),
        }),
        Reply::Callback(c) => R::Callback(callback_to(c)),
        Reply::Board(b) => R::Board(board_to(b)),
    };
    pb::Reply { reply: Some(r) }
}

/// A reply from the cluster protocol.
pub fn reply_from_wire(reply: pb::Reply) -> Result<Reply, WireError> {
    Ok(match reply.reply.ok_or_else(|| missing("reply"))? {
        R::Agent(a) => Reply::Agent(a.agent.map(agent_from).transpose()?),
        R::Call(c) => Reply::Call {
            id: CallId::new(c.id),
            live: c.live.map(call_from).transpose()?,
        },
        R::Queues(q) => Reply::Queues {
            at: at(q.at),
            queues: q.queues.into_iter().map(view_from).collect::<Result<_, _>>()?,
        },
        R::Bool(b) => Reply::Bool(b),
        R::Position(p) => Reply::Position(p.position.map(|p| crate::acd::QueuePosition {
            position: p.position,
            estimated_wait: p.estimated_wait_ms.map(std::time::Duration::from_millis),
        })),
        R::Callback(c) => Reply::Callback(Box::new(callback_from(c)?)),
        R::Board(b) => Reply::Board(Box::new(board_from(b)?)),
    })
}

#[cfg(test)]
mod tests;
