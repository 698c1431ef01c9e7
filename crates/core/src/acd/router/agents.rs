//! Agent inputs: login and presence, availability, offers accepted or declined,
//! calls held, transferred and hung up, wrap-up.

use super::*;

impl Router {
    /// Signs an agent in. Signing in again while logged in changes nothing.
    pub fn handle_agent_login(&mut self, now: impl Into<Now>, login: AgentLogin) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let mut skills = Vec::with_capacity(login.skills.len());
        for s in &login.skills {
            skills.push(self.intern(&s.skill, s.proficiency)?);
        }
        skills.sort_unstable();
        skills.dedup_by_key(|s| s.0);
        let aidx = self.slot_for(now, &login.id);
        if self.agents[aidx].record.state != AgentState::LoggedOut {
            return Ok(());
        }
        let eligible: Vec<QueueIdx> = self
            .queue_indices()
            .filter(|&q| self.eligible_for_queue(&skills, q))
            .collect();
        for &q in &eligible {
            self.queues[q].eligible_logged_in += 1;
        }
        let agent = &mut self.agents[aidx];
        agent.record.display_name = login.display_name;
        agent.record.skills = skills
            .iter()
            .map(|&(s, p)| SkillLevel {
                skill: self.skill_names[usize::from(s)].clone(),
                proficiency: p,
            })
            .collect();
        agent.record.calls_handled = 0;
        agent.record.consecutive_misses = 0;
        agent.record.pending_not_ready = None;
        agent.skills = skills;
        agent.eligible_queues = eligible;
        if login.start_available {
            self.make_available(now, aidx, "logged in");
            self.route_agent(now, aidx);
        } else {
            self.set_state(
                now,
                aidx,
                AgentState::NotReady,
                Some("logged-in".into()),
                "logged in",
            );
        }
        if self.agents[aidx].streams == 0 {
            self.arm_presence(now, aidx);
        }
        Ok(())
    }

    /// The agent's slot, created logged out on first sight (agents are never
    /// removed, so indexes stay valid).
    pub(super) fn slot_for(&mut self, now: Timestamp, id: &AgentId) -> AgentIdx {
        if let Some(&a) = self.agent_index.get(id) {
            return a;
        }
        let a = AgentIdx(self.agents.len());
        self.agents.push(AgentSlot {
            record: AgentRecord::logged_out(id.clone(), String::new(), now, ""),
            skills: Vec::new(),
            eligible_queues: Vec::new(),
            call: None,
            wrap: None,
            wrap_seq: 0,
            streams: 0,
            presence_seq: 0,
        });
        self.agent_index.insert(id.clone(), a);
        a
    }

    /// The agent's softphone opened an event stream (before or after login).
    pub fn handle_agent_stream_opened(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.slot_for(now, id);
        let agent = &mut self.agents[aidx];
        agent.streams += 1;
        agent.presence_seq += 1;
        Ok(())
    }

    /// An event stream of the agent closed; with none left, the agent is
    /// logged out unless one opens within the presence grace period.
    pub fn handle_agent_stream_closed(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.agent_idx(id)?;
        let agent = &mut self.agents[aidx];
        agent.streams = agent.streams.saturating_sub(1);
        if agent.streams == 0 {
            self.arm_presence(now, aidx);
        }
        Ok(())
    }

    pub(super) fn arm_presence(&mut self, now: Timestamp, aidx: AgentIdx) {
        let Some(grace) = self.presence_grace else {
            return;
        };
        let agent = &mut self.agents[aidx];
        agent.presence_seq += 1;
        let seq = agent.presence_seq;
        self.push_timer(now.plus(grace), TimerKind::PresenceExpired { agent: aidx, seq });
    }

    /// Signs an agent out. `forced_by` (a supervisor) may log out an agent on a
    /// call, which ends the call; the agent itself must hang up first.
    pub fn handle_agent_logout(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        forced_by: Option<&str>,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.agent_idx(id)?;
        let reason = match forced_by {
            Some(by) => format!("logged out by {by}"),
            None => "logged out".to_string(),
        };
        let mut rescinded = None;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => return Ok(()),
            AgentState::Available | AgentState::NotReady => {}
            AgentState::Reserved => {
                rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable)
            }
            AgentState::OnCall => {
                if forced_by.is_none() {
                    return Err(self.wrong_state(aidx, "log out during a call; hang up first"));
                }
                if let Some(c) = self.agents[aidx].call {
                    self.end_connected(now, c, &reason);
                }
                self.finish_wrap_up(now, aidx, None, None, None);
            }
            AgentState::WrapUp => self.finish_wrap_up(now, aidx, None, None, None),
        }
        let eligible = std::mem::take(&mut self.agents[aidx].eligible_queues);
        self.agents[aidx].wrap = None;
        self.set_state(now, aidx, AgentState::LoggedOut, None, &reason);
        for q in eligible {
            self.queues[q].eligible_logged_in -= 1;
            if self.queues[q].eligible_logged_in == 0 {
                self.apply_no_agents_policy(now, q);
            }
        }
        self.route_again(now, rescinded);
        Ok(())
    }

    /// The shared store refused the claim of `agent` for `call`: it holds the
    /// agent as busy (another writer got there first). The offer is
    /// withdrawn, the agent is parked not ready until its softphone asks to
    /// be available again (which re-syncs it), and the call goes on to the
    /// next candidate.
    pub fn handle_claim_refused(
        &mut self,
        now: impl Into<Now>,
        agent: &AgentId,
        call: &CallId,
        why: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (aidx, _) = self.offered_pair(agent, call)?;
        let rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable);
        self.set_state(
            now,
            aidx,
            AgentState::NotReady,
            Some("claim-refused".into()),
            &format!("the store refused the claim: {why}"),
        );
        self.route_again(now, rescinded);
        Ok(())
    }

    /// Offers a call taken back from an agent to someone else, if it is still
    /// waiting (the no-agents policy may have ended it meanwhile).
    pub(super) fn route_again(&mut self, now: Timestamp, call: Option<(CallIdx, u64)>) {
        if let Some((cidx, serial)) = call {
            if self.live(cidx, serial) {
                self.route_call(now, cidx, "re-queued");
            }
        }
    }

    /// The agent (or a supervisor) asks for AVAILABLE. While busy this cancels a
    /// pending not-ready request, since the agent becomes available after wrap-up anyway.
    pub fn handle_set_available(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        why: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.agent_idx(id)?;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => Err(self.wrong_state(aidx, "become available before logging in")),
            AgentState::Available => Ok(()),
            AgentState::NotReady => {
                self.make_available(now, aidx, why);
                self.route_agent(now, aidx);
                Ok(())
            }
            AgentState::Reserved | AgentState::OnCall | AgentState::WrapUp => {
                self.agents[aidx].record.pending_not_ready = None;
                Ok(())
            }
        }
    }

    /// The agent (or a supervisor) asks for NOT_READY. A ringing offer is
    /// rescinded; on a call or in wrap-up the request waits for wrap-up to end.
    pub fn handle_set_not_ready(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        reason: &str,
        why: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.agent_idx(id)?;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => Err(self.wrong_state(aidx, "go not ready before logging in")),
            AgentState::Available | AgentState::NotReady => {
                self.set_state(now, aidx, AgentState::NotReady, Some(reason.into()), why);
                Ok(())
            }
            AgentState::Reserved => {
                let rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable);
                self.set_state(now, aidx, AgentState::NotReady, Some(reason.into()), why);
                self.route_again(now, rescinded);
                Ok(())
            }
            AgentState::OnCall | AgentState::WrapUp => {
                self.agents[aidx].record.pending_not_ready = Some(reason.into());
                Ok(())
            }
        }
    }

    pub fn handle_offer_accepted(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (aidx, cidx) = self.offered_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Connected {
            agent: aidx,
            leg_answered_at: now,
            hold_since: None,
        };
        let first_answer = slot.record.answered_at.is_none();
        if first_answer {
            slot.record.answered_at = Some(now);
        }
        let wait = now.since(slot.record.enqueued_at);
        let q = slot.queue;
        // Callbacks are counted as callbacks, not as answered calls.
        let live_call = slot.record.callback.is_none();
        let queue = &mut self.queues[q];
        queue.offering -= 1;
        if first_answer && live_call {
            queue.counters.answered += 1;
            if wait <= Duration::from_secs(queue.settings.service_level_secs) {
                queue.counters.answered_within_threshold += 1;
            }
        }
        let agent = &mut self.agents[aidx];
        agent.record.consecutive_misses = 0;
        agent.record.calls_handled += 1;
        self.set_state(now, aidx, AgentState::OnCall, None, "answered");
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallConnected {
            agent: id.clone(),
            call: snapshot,
        });
        Ok(())
    }

    pub fn handle_offer_declined(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (aidx, cidx) = self.offered_pair(id, call)?;
        self.rescind_offer(now, aidx, RescindReason::Declined);
        self.make_available(now, aidx, "declined an offer");
        self.route_call(now, cidx, "re-queued");
        self.route_agent(now, aidx);
        Ok(())
    }

    pub fn handle_agent_hangup(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (_, cidx) = self.connected_pair(id, call)?;
        self.end_connected(now, cidx, "agent hung up");
        Ok(())
    }

    pub fn handle_hold(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
        hold: bool,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (_, cidx) = self.connected_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        if let Phase::Connected { hold_since, .. } = &mut slot.phase {
            match (hold, *hold_since) {
                (true, None) => *hold_since = Some(now),
                (false, Some(since)) => {
                    slot.record.hold_ms += duration_ms(now.since(since));
                    *hold_since = None;
                }
                _ => return Ok(()),
            }
            slot.record.on_hold = hold;
        }
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallUpdated { call: snapshot });
        Ok(())
    }

    /// Hands a connected call on; the transferring agent enters wrap-up.
    pub fn handle_transfer(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
        target: TransferTarget,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (aidx, cidx) = self.connected_pair(id, call)?;
        match &target {
            TransferTarget::Queue(q) => {
                let q = *self
                    .queue_index
                    .get(q)
                    .filter(|&&q| !self.queues[q].retired)
                    .ok_or_else(|| RouteError::UnknownQueue(q.clone()))?;
                self.release_connected_agent(now, cidx, aidx);
                self.enter_queue(now, cidx, q);
                self.route_call(now, cidx, "transfer");
            }
            TransferTarget::Agent(to) => {
                let to_idx = self.agent_idx(to)?;
                if to_idx == aidx || self.agents[to_idx].record.state != AgentState::Available {
                    return Err(self.wrong_state(to_idx, "take a transfer unless available"));
                }
                self.release_connected_agent(now, cidx, aidx);
                self.calls[cidx].phase = Phase::Waiting;
                let decision = RoutingDecision {
                    at: now,
                    agent: to.clone(),
                    trigger: "transfer-to-agent".into(),
                    strategy: format!("transfer from {id}"),
                    score: 0,
                    relaxation_step: 0,
                    requirements: Vec::new(),
                    candidates_considered: 1,
                    passed_over: Vec::new(),
                };
                self.offer(now, cidx, to_idx, decision);
            }
        }
        Ok(())
    }

    /// The agent's audio could not reach the call (no softphone anywhere, or
    /// the relay from the node holding it could not be set up): nothing was
    /// said, so the caller goes back to the queue in their old place (rank
    /// kept, no contact written) and the agent goes not ready with the
    /// reason, so they are offered nothing until they fix their softphone.
    pub fn handle_agent_audio_failed(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
        reason: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let (aidx, cidx) = self.connected_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        if let Phase::Connected {
            hold_since: Some(since),
            ..
        } = slot.phase
        {
            slot.record.hold_ms += duration_ms(now.since(since));
            slot.record.on_hold = false;
        }
        self.agents[aidx].call = None;
        self.events.push_back(Event::AgentAudioFailed {
            agent: id.clone(),
            call: call.clone(),
            reason: reason.to_string(),
        });
        self.set_state(
            now,
            aidx,
            AgentState::NotReady,
            Some("softphone audio unreachable".into()),
            &format!("the call was returned to the queue: {reason}"),
        );
        let q = self.calls[cidx].queue;
        self.enter_queue(now, cidx, q);
        self.route_call(now, cidx, "agent audio failed");
        Ok(())
    }

    /// Ends wrap-up with the agent's disposition.
    pub fn handle_wrap_up_completed(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        call: &CallId,
        disposition: Option<Disposition>,
        category: Option<String>,
        notes: Option<String>,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let aidx = self.agent_idx(id)?;
        let agent = &self.agents[aidx];
        let matches = agent.record.state == AgentState::WrapUp
            && agent.wrap.as_ref().is_some_and(|w| &w.contact.call == call);
        if !matches {
            return Err(RouteError::NotWrappingUp {
                call: call.clone(),
                agent: id.clone(),
            });
        }
        self.finish_wrap_up(now, aidx, disposition, category, notes);
        self.after_wrap_up(now, aidx);
        Ok(())
    }
}
