//! Live changes from the admin catalog: skills and queues reconfigured, an
//! agent's skills changed, without a restart.
//!
//! Invariants: calls in progress keep their terms (an offer rings on, a
//! connected call goes on, whatever the agent's skills now are); a call
//! still waiting takes its queue's new requirements (its place in the
//! queue stays: a new tier head start ranks calls that arrive later); indexes
//! never shrink (a skill or queue keeps its index for the router's life, so
//! every stored [`QueueIdx`] and interned skill stays valid); a queue no
//! longer configured is retired: it takes no new calls and serves the ones
//! waiting in it under its last settings.

use super::*;

impl Router {
    /// Applies a new configuration: the same checks as [`Router::new`],
    /// then new skills and queues are added, existing queues take their new
    /// settings, and queues not listed are retired. Eligibility is counted
    /// again and every waiting call is matched anew.
    pub fn handle_reconfigure(
        &mut self,
        now: impl Into<Now>,
        config: RouterConfig,
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        Router::new(config.clone())?;
        for s in &config.skills {
            if self.skill_index.contains_key(s) {
                continue;
            }
            let i = u16::try_from(self.skill_names.len()).map_err(|_| RouteError::Config {
                key: "skills".into(),
                reason: "more than 65535 skills".into(),
            })?;
            self.skill_index.insert(s.clone(), i);
            self.skill_names.push(s.clone());
            self.available_by_skill.push(BTreeSet::new());
            self.available_by_proficiency.push(BTreeSet::new());
        }
        for q in &mut self.queues {
            q.retired = true;
        }
        for settings in &config.queues {
            let Some(name) = settings.name.clone() else {
                continue;
            };
            match self.queue_index.get(&name) {
                Some(&q) => {
                    self.queues[q].settings = settings.clone();
                    self.queues[q].retired = false;
                }
                None => {
                    self.queue_index.insert(name.clone(), QueueIdx(self.queues.len()));
                    self.queues.push(QueueState::new(name, settings.clone()));
                }
            }
        }
        self.resolve_queues()?;
        self.presence_grace = config.presence_grace;
        self.short_abandon = config.short_abandon;
        self.hours = config.hours.clone();
        self.count_eligibility(now);
        let waiting: Vec<CallIdx> = self
            .queues
            .iter()
            .flat_map(|q| q.waiting.iter().map(|&(_, c)| c))
            .collect();
        for &c in &waiting {
            let q = self.calls[c].queue;
            self.require(c, q);
        }
        for c in waiting {
            if self.calls.contains(c.0) {
                self.route_call(now, c, "the routing configuration changed");
            }
        }
        Ok(())
    }

    /// An agent's skills changed in the catalog. A signed-in agent is
    /// matched on the new ones from now on; the call or offer they have
    /// keeps going. An agent not seen yet takes them at login.
    pub fn handle_agent_skills_changed(
        &mut self,
        now: impl Into<Now>,
        id: &AgentId,
        skills: &[SkillLevel],
    ) -> Result<(), RouteError> {
        let now = self.enter(now.into());
        let mut interned = Vec::with_capacity(skills.len());
        for s in skills {
            interned.push(self.intern(&s.skill, s.proficiency)?);
        }
        interned.sort_unstable();
        interned.dedup_by_key(|s| s.0);
        let Some(&aidx) = self.agent_index.get(id) else {
            return Ok(());
        };
        let available = self.agents[aidx].record.state == AgentState::Available;
        if available {
            self.unindex_available(aidx);
        }
        let names = interned
            .iter()
            .map(|&(s, p)| SkillLevel {
                skill: self.skill_names[usize::from(s)].clone(),
                proficiency: p,
            })
            .collect();
        let agent = &mut self.agents[aidx];
        agent.skills = interned;
        agent.record.skills = names;
        if available {
            self.index_available(aidx);
        }
        if self.agents[aidx].record.state != AgentState::LoggedOut {
            self.count_eligibility(now);
            self.events.push_back(Event::AgentStateChanged {
                agent: self.agents[aidx].record.clone(),
            });
        }
        if available {
            self.route_agent(now, aidx);
        }
        Ok(())
    }

    /// Interns every queue's requirements and resolves its overflow queue.
    fn resolve_queues(&mut self) -> Result<(), RouteError> {
        for qi in 0..self.queues.len() {
            let settings = &self.queues[qi].settings;
            let mut reqs = Vec::with_capacity(settings.required_skills.len());
            for r in &settings.required_skills {
                let (skill, min) = self.intern(&r.skill, r.min_proficiency)?;
                reqs.push(Req {
                    skill,
                    min,
                    optional: r.optional,
                });
            }
            let overflow_to = match &settings.overflow_queue {
                Some(o) => Some(
                    *self
                        .queue_index
                        .get(o)
                        .ok_or_else(|| RouteError::UnknownQueue(o.clone()))?,
                ),
                None => None,
            };
            let q = &mut self.queues[qi];
            q.reqs = reqs;
            q.overflow_to = overflow_to;
        }
        Ok(())
    }

    /// Counts again which signed-in agents each queue could ever use; a
    /// queue left with none applies its no-agents policy.
    fn count_eligibility(&mut self, now: Timestamp) {
        let before: Vec<u32> = self.queues.iter().map(|q| q.eligible_logged_in).collect();
        for q in &mut self.queues {
            q.eligible_logged_in = 0;
        }
        for ai in 0..self.agents.len() {
            let aidx = AgentIdx(ai);
            if self.agents[aidx].record.state == AgentState::LoggedOut {
                continue;
            }
            let eligible: Vec<QueueIdx> = self
                .queue_indices()
                .filter(|&q| self.eligible_for_queue(&self.agents[aidx].skills, q))
                .collect();
            for &q in &eligible {
                self.queues[q].eligible_logged_in += 1;
            }
            self.agents[aidx].eligible_queues = eligible;
        }
        for (qi, was) in before.into_iter().enumerate() {
            if was > 0 && self.queues[qi].eligible_logged_in == 0 {
                self.apply_no_agents_policy(now, QueueIdx(qi));
            }
        }
    }
}
