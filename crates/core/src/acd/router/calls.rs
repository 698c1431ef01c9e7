//! Call inputs: arrivals, callers hanging up, callback requests, lost nodes and
//! media, and the clock.

use super::*;

impl Router {
    /// A call arrives.
    pub fn handle_call_arrived(&mut self, now: impl Into<Now>, call: IncomingCall) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        if self.call_index.contains_key(&call.id) {
            return Err(RouteError::DuplicateCall(call.id));
        }
        let q = *self
            .queue_index
            .get(&call.queue)
            .filter(|&&q| !self.queues[q].retired)
            .ok_or_else(|| RouteError::UnknownQueue(call.queue.clone()))?;
        let mut extra = Vec::with_capacity(call.extra_requirements.len());
        for r in &call.extra_requirements {
            let (skill, min) = self.intern(&r.skill, r.min_proficiency)?;
            extra.push(Req {
                skill,
                min,
                optional: r.optional,
            });
        }
        let preferred = match &call.preferred_agent {
            Some(p) => Some(self.agent_idx(p)?),
            None => None,
        };
        let serial = self.serial();
        let mut record =
            CallRecord::arrived(call.id.clone(), call.ani, call.dnis, call.queue, call.tier, now);
        record.customer = call.customer;
        record.preferred_agent = call.preferred_agent;
        record.node = call.node;
        record.callback = call.callback;
        let cidx = self.insert_call(now, serial, record, q, extra);
        self.call_index.insert(call.id, cidx);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallArrived { call: snapshot });

        // A logged-in owner gets the first chance; the call waits for them
        // outside the queue order until the preference expires.
        if let Some(p) = preferred.filter(|&p| self.agents[p].record.state != AgentState::LoggedOut) {
            self.set_queue(now, cidx, q);
            self.queues[q].counters.offered += 1;
            let rank = self.calls[cidx].rank;
            self.calls[cidx].phase = Phase::PreferredWait { agent: p };
            self.calls[cidx].record.original_position = 1;
            self.preferred_waiting.entry(p).or_default().insert((rank, cidx));
            let wait = Duration::from_secs(self.queues[q].settings.preferred_agent_wait_secs);
            self.push_timer(now.plus(wait), TimerKind::PreferredExpired { call: cidx, serial });
            self.arm_queue_timers(now, cidx);
            let snapshot = self.snapshot(cidx);
            self.events.push_back(Event::CallQueued { call: snapshot });
            if self.agents[p].record.state == AgentState::Available {
                self.route_agent(now, p);
            }
            return Ok(());
        }
        if self.admit(now, cidx, q) {
            self.route_call(now, cidx, "call-arrived");
        }
        Ok(())
    }

    /// The caller hung up (or the telephony edge lost the call).
    pub fn handle_caller_hangup(&mut self, now: impl Into<Now>, call: &CallId) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        // A callback has no caller on the line: the hang-up that turned a
        // queued call into one (or any later one) changes nothing.
        if self.calls[cidx].record.callback.is_some() {
            return Ok(());
        }
        self.caller_gone(now, cidx, "caller hung up");
        Ok(())
    }

    /// The waiting caller asked to be called back: the call becomes the
    /// callback's work item in the same place in the queue, and the caller
    /// may hang up.
    pub fn handle_callback_requested(
        &mut self,
        now: impl Into<Now>,
        call: &CallId,
        work: CallbackWork,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        let slot = &self.calls[cidx];
        if !matches!(slot.phase, Phase::Waiting | Phase::PreferredWait { .. })
            || slot.record.callback.is_some()
        {
            return Err(RouteError::NotQueued(call.clone()));
        }
        self.calls[cidx].record.callback = Some(work);
        // No caller waits any more: no maximum wait, no overflow.
        let serial = self.calls[cidx].serial;
        self.arm_callback_timer(now, cidx, serial);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallUpdated { call: snapshot });
        Ok(())
    }

    /// A callback's work item is withdrawn (cancelled or rescheduled) while
    /// it waits or rings; an item an agent already took is left to them.
    pub fn handle_callback_withdrawn(
        &mut self,
        now: impl Into<Now>,
        call: &CallId,
        why: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        if self.calls[cidx].record.callback.is_none() {
            return Err(RouteError::NotQueued(call.clone()));
        }
        if matches!(self.calls[cidx].phase, Phase::Connected { .. }) {
            return Ok(());
        }
        self.caller_gone(now, cidx, why);
        Ok(())
    }

    /// Every live call whose caller's leg is on a node not in `alive` ends:
    /// that node is gone, and the callers with it.
    /// Ends the calls whose caller's node is not among `alive`; returns how
    /// many.
    pub fn handle_nodes_alive(&mut self, now: impl Into<Now>, alive: &[String]) -> usize {
        let now = self.enter(now.into());
        let lost: Vec<(CallIdx, String)> = self
            .calls
            .iter()
            .filter_map(|(cidx, c)| {
                let node = c.record.node.as_ref()?;
                (!alive.contains(node)).then(|| (CallIdx(cidx), node.clone()))
            })
            .collect();
        let count = lost.len();
        for (cidx, node) in lost {
            if self.calls.contains(cidx.0) {
                self.caller_gone(now, cidx, &format!("node lost: {node} held the caller's audio"));
            }
        }
        count
    }

    /// The call's media could not go on (the node holding a party's audio
    /// was lost): it ends with `why`, callbacks' work items included.
    pub fn handle_media_lost(
        &mut self,
        now: impl Into<Now>,
        call: &CallId,
        why: &str,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        self.caller_gone(now, cidx, why);
        Ok(())
    }

    pub(super) fn caller_gone(&mut self, now: Timestamp, cidx: CallIdx, why: &str) {
        match self.calls[cidx].phase.clone() {
            Phase::Waiting | Phase::PreferredWait { .. } => {
                self.unlink_waiting(cidx);
                self.end_unanswered(now, cidx, CallOutcome::Abandoned, format!("{why} while queued"));
            }
            Phase::Offering { agent, .. } => {
                self.rescind_offer(now, agent, RescindReason::CallerHungUp);
                self.unlink_waiting(cidx);
                self.end_unanswered(now, cidx, CallOutcome::Abandoned, format!("{why} while ringing"));
                self.make_available(now, agent, "offer withdrawn: caller hung up");
                self.route_agent(now, agent);
            }
            Phase::Connected { .. } => self.end_connected(now, cidx, why),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: impl Into<Now>) {
        let now = self.enter(now.into());
        loop {
            let kind = if let Some((_, (_, kind))) = self.timers.pop_due(now) {
                kind
            } else if let Some((_, (_, kind))) = self.ring_timers.pop_due(self.mono) {
                kind
            } else {
                break;
            };
            self.fire(now, kind);
        }
    }
}
