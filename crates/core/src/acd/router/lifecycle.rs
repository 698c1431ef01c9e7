//! The offer, connected call and wrap-up transitions, agent states, and the records they report.

use super::*;

impl Router {
    /// Rings agent `aidx` with call `cidx` (already out of every waiting set).
    pub(super) fn offer(&mut self, now: Timestamp, cidx: CallIdx, aidx: AgentIdx, decision: RoutingDecision) {
        let q = self.calls[cidx].queue;
        let ring = Duration::from_secs(self.queues[q].settings.ring_timeout_secs);
        let expires_at = now.plus(ring);
        let slot = &mut self.calls[cidx];
        slot.offer_seq += 1;
        let seq = slot.offer_seq;
        slot.phase = Phase::Offering {
            agent: aidx,
            seq,
            expires_at,
        };
        slot.record.agent = Some(decision.agent.clone());
        if slot.record.decisions.len() >= MAX_DECISIONS_PER_CALL {
            slot.record.decisions.remove(0);
        }
        slot.record.decisions.push(decision);
        let serial = slot.serial;
        self.queues[q].offering += 1;
        self.agents[aidx].call = Some(cidx);
        self.change_state(now, aidx, AgentState::Reserved, None, "offered a call");
        self.push_ring_timer(
            ring,
            TimerKind::RingTimeout {
                call: cidx,
                serial,
                seq,
            },
        );
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallOffered {
            agent: self.agents[aidx].record.clone(),
            call: snapshot,
            expires_at,
        });
    }

    /// Withdraws the offer ringing at `aidx` and puts the call back in its
    /// original place. Leaves the agent's next state, and routing the call
    /// again, to the caller; returns the call and its serial for that.
    pub(super) fn rescind_offer(
        &mut self,
        now: Timestamp,
        aidx: AgentIdx,
        reason: RescindReason,
    ) -> Option<(CallIdx, u64)> {
        let cidx = self.agents[aidx].call.take()?;
        let q = self.calls[cidx].queue;
        let delay = Duration::from_secs(self.queues[q].settings.reoffer_delay_secs);
        self.queues[q].offering -= 1;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Waiting;
        slot.record.agent = None;
        let serial = slot.serial;
        let key = (slot.rank, cidx);
        if matches!(reason, RescindReason::Declined | RescindReason::NoAnswer) {
            slot.passed.retain(|&(_, until)| until > now);
            slot.passed.push((aidx, now.plus(delay)));
            self.push_timer(now.plus(delay), TimerKind::CallCheck { call: cidx, serial });
        }
        self.queues[q].waiting.insert(key);
        self.events.push_back(Event::OfferRescinded {
            agent: self.agents[aidx].record.id.clone(),
            call: self.calls[cidx].record.id.clone(),
            reason,
        });
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallQueued { call: snapshot });
        Some((cidx, serial))
    }

    /// Frees the agent of a connected call for wrap-up, without ending the call
    /// (transfer).
    pub(super) fn release_connected_agent(&mut self, now: Timestamp, cidx: CallIdx, aidx: AgentIdx) {
        let slot = &mut self.calls[cidx];
        let Phase::Connected {
            leg_answered_at,
            hold_since,
            ..
        } = slot.phase
        else {
            return;
        };
        if let Some(since) = hold_since {
            slot.record.hold_ms += duration_ms(now.since(since));
            slot.record.on_hold = false;
        }
        let contact = self.contact_for(cidx, leg_answered_at, now);
        self.agents[aidx].call = None;
        self.start_wrap_up(now, aidx, contact);
        self.events.push_back(Event::CallTransferred {
            call: self.calls[cidx].record.id.clone(),
            from_agent: self.agents[aidx].record.id.clone(),
        });
    }

    /// Ends a connected call as answered; its agent enters wrap-up (or logs out
    /// when a supervisor forced that).
    pub(super) fn end_connected(&mut self, now: Timestamp, cidx: CallIdx, reason: &str) {
        let Phase::Connected {
            agent,
            leg_answered_at,
            hold_since,
        } = self.calls[cidx].phase
        else {
            return;
        };
        if let Some(since) = hold_since {
            self.calls[cidx].record.hold_ms += duration_ms(now.since(since));
        }
        let contact = self.contact_for(cidx, leg_answered_at, now);
        self.agents[agent].call = None;
        self.finish_call(now, cidx, CallOutcome::Answered, reason.into());
        self.start_wrap_up(now, agent, contact);
    }

    pub(super) fn contact_for(&self, cidx: CallIdx, answered_at: Timestamp, now: Timestamp) -> ContactRecord {
        let c = &self.calls[cidx];
        let agent = match c.phase {
            Phase::Connected { agent, .. } => self.agents[agent].record.id.clone(),
            _ => AgentId::new(""),
        };
        ContactRecord {
            call: c.record.id.clone(),
            customer_key: c
                .record
                .customer
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| c.record.ani.clone()),
            agent,
            queue: c.record.queue.clone(),
            tier: c.record.tier,
            disposition: None,
            category: None,
            notes: None,
            enqueued_at: c.record.enqueued_at,
            answered_at,
            ended_at: now,
            wrap_up_ended_at: now,
            hold_ms: c.record.hold_ms,
            callback: c.record.callback.as_ref().map(|cb| cb.id.clone()),
        }
    }

    pub(super) fn start_wrap_up(&mut self, now: Timestamp, aidx: AgentIdx, contact: ContactRecord) {
        let wrap_up_secs = self
            .queue_index
            .get(&contact.queue)
            .map(|&q| self.queues[q].settings.wrap_up_secs)
            .unwrap_or_else(|| QueueSettings::default().wrap_up_secs);
        let wrap = Duration::from_secs(wrap_up_secs);
        let deadline = now.plus(wrap);
        let agent = &mut self.agents[aidx];
        agent.wrap_seq += 1;
        let seq = agent.wrap_seq;
        let call = contact.call.clone();
        agent.wrap = Some(WrapUpState {
            contact,
            seq,
            deadline,
        });
        self.set_state(now, aidx, AgentState::WrapUp, None, "call ended");
        self.push_timer(deadline, TimerKind::WrapUpEnd { agent: aidx, seq });
        self.events.push_back(Event::WrapUpStarted {
            agent: self.agents[aidx].record.id.clone(),
            call,
            deadline,
        });
    }

    pub(super) fn finish_wrap_up(
        &mut self,
        now: Timestamp,
        aidx: AgentIdx,
        disposition: Option<Disposition>,
        category: Option<String>,
        notes: Option<String>,
    ) {
        let Some(wrap) = self.agents[aidx].wrap.take() else {
            return;
        };
        let mut contact = wrap.contact;
        contact.disposition = disposition;
        contact.category = category;
        contact.notes = notes;
        contact.wrap_up_ended_at = now;
        if let Some(&q) = self.queue_index.get(&contact.queue) {
            let counters = &mut self.queues[q].counters;
            counters.handled += 1;
            counters.handle_ms += crate::time::duration_ms(now.since(contact.answered_at));
        }
        self.agents[aidx].record.current_call = None;
        self.events.push_back(Event::WrapUpEnded {
            agent: self.agents[aidx].record.id.clone(),
            contact,
        });
    }

    /// After wrap-up: a pending not-ready request, else available for work.
    pub(super) fn after_wrap_up(&mut self, now: Timestamp, aidx: AgentIdx) {
        match self.agents[aidx].record.pending_not_ready.take() {
            Some(reason) => self.set_state(
                now,
                aidx,
                AgentState::NotReady,
                Some(reason),
                "requested during call",
            ),
            None => {
                self.make_available(now, aidx, "wrap-up ended");
                self.route_agent(now, aidx);
            }
        }
    }

    pub(super) fn end_unanswered(
        &mut self,
        now: Timestamp,
        cidx: CallIdx,
        outcome: CallOutcome,
        reason: String,
    ) {
        self.finish_call(now, cidx, outcome, reason);
    }

    /// Removes the call from the router and reports its final record. A call
    /// that reached an agent once (then was transferred) ends answered,
    /// whatever happens after: it is never also counted as abandoned.
    pub(super) fn finish_call(
        &mut self,
        now: Timestamp,
        cidx: CallIdx,
        outcome: CallOutcome,
        reason: String,
    ) {
        let outcome = if self.calls[cidx].record.answered_at.is_some() {
            CallOutcome::Answered
        } else {
            outcome
        };
        let q = self.calls[cidx].queue;
        match outcome {
            _ if self.calls[cidx].record.callback.is_some() => {}
            CallOutcome::Abandoned if now.since(self.calls[cidx].record.enqueued_at) < self.short_abandon => {
                self.queues[q].counters.short_abandons += 1
            }
            CallOutcome::Abandoned => self.queues[q].counters.abandoned += 1,
            CallOutcome::Rejected => self.queues[q].counters.rejected += 1,
            CallOutcome::Closed => self.queues[q].counters.closed += 1,
            CallOutcome::Overflowed => self.queues[q].counters.overflowed += 1,
            CallOutcome::Answered => {}
        }
        let mut record = self.snapshot(cidx);
        record.status = CallStatus::Ended;
        record.outcome = Some(outcome);
        record.end_reason = Some(reason);
        record.ended_at = Some(now);
        record.on_hold = false;
        let slot = self.calls.remove(cidx.0);
        self.call_index.remove(&slot.record.id);
        self.events.push_back(Event::CallEnded { call: record });
    }

    pub(super) fn make_available(&mut self, now: Timestamp, aidx: AgentIdx, why: &str) {
        self.agents[aidx].record.idle_since = now;
        self.set_state(now, aidx, AgentState::Available, None, why);
    }

    /// The one place agent state changes: keeps the availability indexes in step.
    pub(super) fn set_state(
        &mut self,
        now: Timestamp,
        aidx: AgentIdx,
        state: AgentState,
        not_ready: Option<String>,
        why: &str,
    ) {
        self.change_state(now, aidx, state, not_ready, why);
        self.events.push_back(Event::AgentStateChanged {
            agent: self.agents[aidx].record.clone(),
        });
    }

    /// [`Self::set_state`] without its event, for a change that another
    /// event reports (a reservation is reported by its `CallOffered`).
    pub(super) fn change_state(
        &mut self,
        now: Timestamp,
        aidx: AgentIdx,
        state: AgentState,
        not_ready: Option<String>,
        why: &str,
    ) {
        if self.agents[aidx].record.state == AgentState::Available {
            self.unindex_available(aidx);
        }
        let agent = &mut self.agents[aidx];
        agent.record.state = state;
        agent.record.not_ready_reason = not_ready;
        agent.record.state_reason = why.to_string();
        agent.record.state_since = now;
        agent.record.current_call = agent
            .call
            .map(|c| self.calls[c].record.id.clone())
            .or_else(|| agent.wrap.as_ref().map(|w| w.contact.call.clone()));
        if state == AgentState::Available {
            self.index_available(aidx);
        }
    }

    /// Lists an available agent under each of its skills (by idle time and
    /// by proficiency), where matching looks for free agents.
    pub(super) fn index_available(&mut self, aidx: AgentIdx) {
        let agent = &self.agents[aidx];
        let idle = agent.record.idle_since;
        self.available_all.insert((idle, aidx));
        for &(s, p) in &agent.skills {
            self.available_by_skill[usize::from(s)].insert((idle, aidx));
            self.available_by_proficiency[usize::from(s)].insert((Reverse(p), idle, aidx));
        }
    }

    /// Undoes [`Self::index_available`] (before the agent's state, idle time
    /// or skills change).
    pub(super) fn unindex_available(&mut self, aidx: AgentIdx) {
        let agent = &self.agents[aidx];
        let idle = agent.record.idle_since;
        self.available_all.remove(&(idle, aidx));
        for &(s, p) in &agent.skills {
            self.available_by_skill[usize::from(s)].remove(&(idle, aidx));
            self.available_by_proficiency[usize::from(s)].remove(&(Reverse(p), idle, aidx));
        }
    }

    pub(super) fn snapshot(&self, cidx: CallIdx) -> CallRecord {
        let c = &self.calls[cidx];
        let mut r = c.record.clone();
        r.status = match c.phase {
            Phase::Waiting | Phase::PreferredWait { .. } => CallStatus::Queued,
            Phase::Offering { .. } => CallStatus::Offering,
            Phase::Connected { .. } => CallStatus::Connected,
        };
        r
    }

    /// A skill and proficiency from the outside, checked and interned.
    pub(super) fn intern(&self, skill: &SkillName, proficiency: u8) -> Result<(u16, u8), RouteError> {
        let idx = *self
            .skill_index
            .get(skill)
            .ok_or_else(|| RouteError::UnknownSkill(skill.clone()))?;
        if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&proficiency) {
            return Err(RouteError::InvalidProficiency {
                skill: skill.clone(),
                value: u32::from(proficiency),
            });
        }
        Ok((idx, proficiency))
    }

    /// A new call slot, waiting (not yet in any waiting set).
    pub(super) fn insert_call(
        &mut self,
        now: Timestamp,
        serial: u64,
        record: CallRecord,
        q: QueueIdx,
        extra: Vec<Req>,
    ) -> CallIdx {
        CallIdx(self.calls.insert(CallSlot {
            serial,
            record,
            queue: q,
            reqs: Vec::new(),
            extra,
            rank: (0, serial),
            queue_entered_at: now,
            phase: Phase::Waiting,
            passed: Vec::new(),
            offer_seq: 0,
            overflow_hops: 0,
        }))
    }

    pub(super) fn agent_idx(&self, id: &AgentId) -> Result<AgentIdx, RouteError> {
        self.agent_index
            .get(id)
            .copied()
            .ok_or_else(|| RouteError::UnknownAgent(id.clone()))
    }

    pub(super) fn wrong_state(&self, aidx: AgentIdx, action: &'static str) -> RouteError {
        let a = &self.agents[aidx].record;
        RouteError::WrongAgentState {
            agent: a.id.clone(),
            state: a.state,
            action,
        }
    }

    pub(super) fn offered_pair(
        &self,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(AgentIdx, CallIdx), RouteError> {
        let aidx = self.agent_idx(id)?;
        let not_offered = || RouteError::NotOffered {
            call: call.clone(),
            agent: id.clone(),
        };
        let cidx = *self.call_index.get(call).ok_or_else(not_offered)?;
        match self.calls[cidx].phase {
            Phase::Offering { agent, .. } if agent == aidx => Ok((aidx, cidx)),
            _ => Err(not_offered()),
        }
    }

    pub(super) fn connected_pair(
        &self,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(AgentIdx, CallIdx), RouteError> {
        let aidx = self.agent_idx(id)?;
        let not_connected = || RouteError::NotConnected {
            call: call.clone(),
            agent: id.clone(),
        };
        let cidx = *self.call_index.get(call).ok_or_else(not_connected)?;
        match self.calls[cidx].phase {
            Phase::Connected { agent, .. } if agent == aidx => Ok((aidx, cidx)),
            _ => Err(not_connected()),
        }
    }
}
