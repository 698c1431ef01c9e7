//! Reads of the live routing state: records, views, positions.

use super::*;

impl Router {
    pub fn agent(&self, id: &AgentId) -> Option<&AgentRecord> {
        self.agent_index.get(id).map(|&i| &self.agents[i].record)
    }

    pub fn call(&self, id: &CallId) -> Option<CallRecord> {
        self.call_index.get(id).map(|&c| self.snapshot(c))
    }

    /// The work an agent holds right now (an offer ringing, a call, a
    /// wrap-up), so a softphone that connects, or connects again after a
    /// takeover or a reload, is shown it and not only the agent's state.
    pub fn agent_work(&self, id: &AgentId) -> Option<AgentWork> {
        let aidx = *self.agent_index.get(id)?;
        let agent = &self.agents[aidx];
        if let Some(wrap) = &agent.wrap {
            return Some(AgentWork::WrappingUp {
                call: wrap.contact.call.clone(),
                deadline: wrap.deadline,
            });
        }
        let cidx = agent.call?;
        match self.calls[cidx].phase {
            Phase::Offering { expires_at, .. } => Some(AgentWork::Offered {
                call: self.snapshot(cidx),
                expires_at,
            }),
            Phase::Connected { .. } => Some(AgentWork::Connected {
                call: self.snapshot(cidx),
            }),
            Phase::Waiting | Phase::PreferredWait { .. } => None,
        }
    }

    /// Agents by state, each once (logged-out agents included).
    /// Calls answered and not yet done with: connected, or with an agent
    /// still wrapping up after them.
    pub fn answered_calls(&self) -> Vec<CallId> {
        let connected = self
            .calls
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Connected { .. }))
            .map(|(_, c)| c.record.id.clone());
        let wrapping = self
            .agents
            .iter()
            .filter_map(|a| a.wrap.as_ref().map(|w| w.contact.call.clone()));
        connected.chain(wrapping).collect()
    }

    pub fn agents_by_state(&self) -> Vec<(AgentState, u32)> {
        let mut counts: Vec<(AgentState, u32)> = AgentState::ALL.iter().map(|s| (*s, 0)).collect();
        for a in &self.agents {
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == a.record.state) {
                c.1 += 1;
            }
        }
        counts
    }

    /// Calls (and callback work items) live in the router.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Every callback work item in the router, with its callback.
    pub fn callback_items(&self) -> Vec<(CallbackId, CallId)> {
        self.calls
            .iter()
            .filter_map(|(_, c)| {
                c.record
                    .callback
                    .as_ref()
                    .map(|cb| (cb.id.clone(), c.record.id.clone()))
            })
            .collect()
    }

    /// The configured queues (not the retired ones).
    pub fn queue_names(&self) -> impl Iterator<Item = &QueueName> {
        self.queues.iter().filter(|q| !q.retired).map(|q| &q.name)
    }

    pub fn has_queue(&self, name: &QueueName) -> bool {
        self.queue_index
            .get(name)
            .is_some_and(|&q| !self.queues[q].retired)
    }

    pub fn has_skill(&self, name: &SkillName) -> bool {
        self.skill_index.contains_key(name)
    }

    /// The hours a queue is open by, if it has any.
    pub fn queue_hours(&self, name: &QueueName) -> Option<&crate::hours::OpenHours> {
        let q = self.queue_settings(name)?;
        self.hours.get(&q.hours)
    }

    /// The hours a queue's callback deadlines count, if any.
    pub fn callback_hours(&self, name: &QueueName) -> Option<&crate::hours::OpenHours> {
        let q = self.queue_settings(name)?;
        self.hours.get(&q.callback_hours)
    }

    /// The queue's settings, for adapters (wrap-up countdowns, SL thresholds).
    pub fn queue_settings(&self, name: &QueueName) -> Option<&QueueSettings> {
        self.queue_index.get(name).map(|&q| &self.queues[q].settings)
    }

    /// Waiting calls of a queue in the order they will be served.
    pub fn waiting_calls(&self, queue: &QueueName) -> Vec<CallId> {
        self.queue_index
            .get(queue)
            .map(|&q| {
                self.queues[q]
                    .waiting
                    .iter()
                    .map(|&(_, c)| self.calls[c].record.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where a waiting call stands in its queue; none unless it waits.
    pub fn queue_position(&self, call: &CallId) -> Option<QueuePosition> {
        let cidx = *self.call_index.get(call)?;
        let slot = &self.calls[cidx];
        let queue = &self.queues[slot.queue];
        if !queue.waiting.contains(&(slot.rank, cidx)) {
            return None;
        }
        let position = queue.waiting.range(..(slot.rank, cidx)).count() as u32 + 1;
        let serving = self
            .agents
            .iter()
            .filter(|a| {
                !matches!(a.record.state, AgentState::LoggedOut | AgentState::NotReady)
                    && a.eligible_queues.contains(&slot.queue)
            })
            .count()
            .max(1) as u32;
        let estimated_wait = queue
            .counters
            .average_handle_time()
            .map(|aht| aht * position / serving);
        Some(QueuePosition {
            position,
            estimated_wait,
        })
    }

    /// Live figures of every queue (a retired one while calls remain in it).
    pub fn queue_views(&self, now: Timestamp) -> Vec<QueueView> {
        let mut by_state = vec![[0u32; 6]; self.queues.len()];
        for a in &self.agents {
            if a.record.state == AgentState::LoggedOut {
                continue;
            }
            let s = state_slot(a.record.state);
            for &q in &a.eligible_queues {
                by_state[q.0][s] += 1;
            }
        }
        self.queues
            .iter()
            .enumerate()
            .filter(|(_, q)| !q.retired || !q.waiting.is_empty() || q.offering > 0)
            .map(|(qi, q)| {
                let oldest = q
                    .waiting
                    .iter()
                    .map(|&(_, c)| self.calls[c].queue_entered_at)
                    .min()
                    .map(|t| now.since(t))
                    .unwrap_or_default();
                QueueView {
                    name: q.name.clone(),
                    waiting: q.waiting.len() as u32,
                    offering: q.offering,
                    oldest_wait: oldest,
                    agents_by_state: AgentState::ALL
                        .iter()
                        .filter(|s| **s != AgentState::LoggedOut)
                        .map(|s| (*s, by_state[qi][state_slot(*s)]))
                        .collect(),
                    counters: q.counters,
                    service_level_threshold_secs: q.settings.service_level_secs,
                }
            })
            .collect()
    }

    /// Starts a new counting period (the driver calls this at midnight).
    pub fn reset_daily_counters(&mut self) {
        for q in &mut self.queues {
            q.counters = QueueCounters::default();
        }
    }
}
