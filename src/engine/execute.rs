//! Carries out one [`Command`] on the engine's core state.

use super::{Command, Core, Reply};
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::time::Now;

impl Core {
    /// Applies one command to the router at `now`.
    pub fn execute(&mut self, clock: Now, cmd: Command) -> Result<Reply, Error> {
        let now = clock.wall;
        let r = &mut self.router;
        let agent_reply = |r: &crate::acd::Router, id: &AgentId| Reply::Agent(r.agent(id).cloned());
        let call_reply = |r: &crate::acd::Router, id: &CallId| Reply::Call {
            id: id.clone(),
            live: r.call(id),
        };
        Ok(match cmd {
            Command::Login(login) => {
                let id = login.id.clone();
                r.handle_agent_login(clock, login)?;
                agent_reply(r, &id)
            }
            Command::Logout { agent, forced_by } => {
                r.handle_agent_logout(clock, &agent, forced_by.as_deref())?;
                agent_reply(r, &agent)
            }
            Command::SetAvailable { agent, why } => {
                r.handle_set_available(clock, &agent, &why)?;
                agent_reply(r, &agent)
            }
            Command::SetNotReady { agent, reason, why } => {
                r.handle_set_not_ready(clock, &agent, &reason, &why)?;
                agent_reply(r, &agent)
            }
            Command::Accept { agent, call } => {
                r.handle_offer_accepted(clock, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Decline { agent, call } => {
                r.handle_offer_declined(clock, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Hangup { agent, call } => {
                r.handle_agent_hangup(clock, &agent, &call)?;
                call_reply(r, &call)
            }
            Command::Hold { agent, call, hold } => {
                r.handle_hold(clock, &agent, &call, hold)?;
                call_reply(r, &call)
            }
            Command::Transfer { agent, call, target } => {
                r.handle_transfer(clock, &agent, &call, target)?;
                call_reply(r, &call)
            }
            Command::CompleteWrapUp {
                agent,
                call,
                disposition,
                category,
                notes,
            } => {
                r.handle_wrap_up_completed(clock, &agent, &call, disposition, category, notes)?;
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
                    r.handle_call_arrived(clock, incoming)?;
                }
                call_reply(r, &id)
            }
            Command::EndCall { call } => {
                if r.call(&call).is_some() {
                    r.handle_caller_hangup(clock, &call)?;
                }
                call_reply(r, &call)
            }
            Command::MediaLost { call, why } => {
                if r.call(&call).is_some() {
                    r.handle_media_lost(clock, &call, &why)?;
                }
                call_reply(r, &call)
            }
            Command::AgentAudioFailed { agent, call, reason } => {
                r.handle_agent_audio_failed(clock, &agent, &call, &reason)?;
                call_reply(r, &call)
            }
            Command::NodesAlive { nodes } => {
                let ended = r.handle_nodes_alive(clock, &nodes);
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
                Reply::Callback(Box::new(self.desk.request(clock, r, &call, id, number)?))
            }
            Command::RescheduleCallback {
                id,
                not_before,
                deadline,
            } => {
                self.desk.reschedule(clock, r, &id, not_before, deadline)?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::CancelCallback { id } => {
                self.desk.cancel(clock, r, &id)?;
                Reply::Callback(Box::new(self.desk.latest(&id)?))
            }
            Command::RecordAttempt { agent, id, outcome } => {
                Reply::Callback(Box::new(self.desk.attempt(clock, r, &agent, &id, outcome)?))
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
