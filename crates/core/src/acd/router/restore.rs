//! Rebuilding the router from stored records after a restart or a takeover.

use super::*;

impl Router {
    /// Rebuilds live state from stored records, when this node takes over
    /// routing or restarts. `agents` are every agent record; `calls` are the
    /// live calls plus the ended calls agents are still wrapping up.
    ///
    /// Offers that were ringing are withdrawn (the call waits again in its
    /// original place, the agent is available); connected calls and wrap-ups
    /// continue, wrap-ups with a fresh deadline. Changes are reported as
    /// events so the store catches up. Agents start with no softphone stream
    /// here, so the presence grace period starts now.
    pub fn handle_restore(&mut self, now: impl Into<Now>, agents: Vec<AgentRecord>, calls: Vec<CallRecord>) {
        let now = self.enter(now.into());
        let mut by_id: HashMap<CallId, CallRecord> = calls.into_iter().map(|c| (c.id.clone(), c)).collect();
        for record in agents {
            let aidx = self.slot_for(now, &record.id);
            let skills = {
                let mut v: Vec<(u16, u8)> = record
                    .skills
                    .iter()
                    .filter_map(|s| self.intern(&s.skill, s.proficiency).ok())
                    .collect();
                v.sort_unstable();
                v.dedup_by_key(|s| s.0);
                v
            };
            let logged_in = record.state != AgentState::LoggedOut;
            let eligible: Vec<QueueIdx> = if logged_in {
                self.queue_indices()
                    .filter(|&q| self.eligible_for_queue(&skills, q))
                    .collect()
            } else {
                Vec::new()
            };
            for &q in &eligible {
                self.queues[q].eligible_logged_in += 1;
            }
            let state = record.state;
            let current = record.current_call.clone();
            let agent = &mut self.agents[aidx];
            agent.record = record;
            agent.record.state = AgentState::LoggedOut;
            agent.skills = skills;
            agent.eligible_queues = eligible;
            match state {
                AgentState::LoggedOut => {}
                AgentState::NotReady => {
                    let reason = agent.record.not_ready_reason.take();
                    let why = agent.record.state_reason.clone();
                    self.set_state(now, aidx, AgentState::NotReady, reason, &why);
                }
                AgentState::Available | AgentState::Reserved => self.make_available(now, aidx, "restored"),
                AgentState::OnCall => {
                    let connected = current
                        .as_ref()
                        .and_then(|c| by_id.get(c))
                        .is_some_and(|c| c.status == CallStatus::Connected);
                    if connected {
                        // The call is attached when it is restored below.
                        self.agents[aidx].record.state = AgentState::OnCall;
                    } else {
                        self.make_available(now, aidx, "restored: call gone");
                    }
                }
                AgentState::WrapUp => match current.as_ref().and_then(|c| by_id.get(c)) {
                    Some(call) => {
                        let contact = ContactRecord {
                            call: call.id.clone(),
                            customer_key: call
                                .customer
                                .as_ref()
                                .map(|c| c.to_string())
                                .unwrap_or_else(|| call.ani.clone()),
                            agent: self.agents[aidx].record.id.clone(),
                            queue: call.queue.clone(),
                            tier: call.tier,
                            disposition: None,
                            category: None,
                            notes: None,
                            enqueued_at: call.enqueued_at,
                            answered_at: call.answered_at.unwrap_or(call.enqueued_at),
                            ended_at: call.ended_at.unwrap_or(now),
                            wrap_up_ended_at: now,
                            hold_ms: call.hold_ms,
                            callback: call.callback.as_ref().map(|cb| cb.id.clone()),
                        };
                        self.start_wrap_up(now, aidx, contact);
                    }
                    None => self.make_available(now, aidx, "restored: wrap-up gone"),
                },
            }
            if self.agents[aidx].record.state != AgentState::LoggedOut {
                self.arm_presence(now, aidx);
            }
        }
        for (_, record) in by_id.drain() {
            if record.status == CallStatus::Ended {
                continue;
            }
            self.restore_call(now, record);
        }
        // An agent whose call could not be restored is free again.
        for aidx in (0..self.agents.len()).map(AgentIdx) {
            if self.agents[aidx].record.state == AgentState::OnCall && self.agents[aidx].call.is_none() {
                self.make_available(now, aidx, "restored: call gone");
            }
        }
        // Free agents pick up whatever waits.
        for aidx in (0..self.agents.len()).map(AgentIdx) {
            if self.agents[aidx].record.state == AgentState::Available {
                self.route_agent(now, aidx);
            }
        }
    }

    pub(super) fn restore_call(&mut self, now: Timestamp, record: CallRecord) {
        let Some(&q) = self.queue_index.get(&record.queue) else {
            let mut ended = record;
            ended.status = CallStatus::Ended;
            ended.outcome = Some(if ended.answered_at.is_some() {
                CallOutcome::Answered
            } else {
                CallOutcome::Rejected
            });
            ended.end_reason = Some(format!("queue {} is no longer configured", ended.queue));
            ended.ended_at = Some(now);
            self.events.push_back(Event::CallEnded { call: ended });
            return;
        };
        let extra: Vec<Req> = record
            .requirements
            .iter()
            .filter_map(|r| {
                self.intern(&r.skill, r.min_proficiency)
                    .ok()
                    .map(|(skill, min)| Req {
                        skill,
                        min,
                        optional: r.optional,
                    })
            })
            .collect();
        let connected_agent = match (&record.status, &record.agent) {
            (CallStatus::Connected, Some(a)) => self.agent_index.get(a).copied().filter(|&ai| {
                self.agents[ai].record.state == AgentState::OnCall && self.agents[ai].call.is_none()
            }),
            _ => None,
        };
        let serial = self.serial();
        let id = record.id.clone();
        let cidx = self.insert_call(now, serial, record, q, extra);
        self.call_index.insert(id, cidx);
        match connected_agent {
            Some(aidx) => {
                // Requirements and rank as in its queue, should it be transferred.
                self.set_queue(now, cidx, q);
                let slot = &mut self.calls[cidx];
                slot.phase = Phase::Connected {
                    agent: aidx,
                    leg_answered_at: slot.record.answered_at.unwrap_or(now),
                    hold_since: slot.record.on_hold.then_some(now),
                };
                self.agents[aidx].call = Some(cidx);
                self.agents[aidx].record.current_call = Some(self.calls[cidx].record.id.clone());
            }
            None => {
                // Rang or waited: wait again in its original place.
                let original = self.calls[cidx].record.original_position;
                self.calls[cidx].record.agent = None;
                self.enter_queue(now, cidx, q);
                self.calls[cidx].record.original_position = original.max(1);
            }
        }
    }
}
