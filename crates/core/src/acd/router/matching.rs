//! Matching: which agent takes a call and which call an agent takes, with
//! requirements relaxed over the wait.

use super::*;

impl Router {
    pub(super) fn relax(&self, cidx: CallIdx, now: Timestamp) -> Relax {
        let c = &self.calls[cidx];
        let waited = now.since(c.queue_entered_at);
        let mut r = Relax {
            step: 0,
            lower: 0,
            drop_optional: false,
        };
        for s in &self.queues[c.queue].settings.relaxation {
            if waited < Duration::from_secs(s.after_secs) {
                break;
            }
            r.step += 1;
            r.lower = r.lower.saturating_add(s.lower_proficiency_by);
            r.drop_optional |= s.drop_optional_skills;
        }
        r
    }

    /// Checks an agent's skills against requirements under a relaxation;
    /// returns the proficiency sum over the requirements in force.
    pub(super) fn qualify(skills: &[(u16, u8)], reqs: &[Req], relax: Relax) -> Result<i64, Unqualified> {
        let mut sum = 0i64;
        for r in reqs {
            if r.optional && relax.drop_optional {
                continue;
            }
            let needs = r.min.saturating_sub(relax.lower).max(MIN_PROFICIENCY);
            match skills.binary_search_by_key(&r.skill, |s| s.0) {
                Err(_) => return Err(Unqualified::Missing(r.skill)),
                Ok(i) if skills[i].1 < needs => {
                    return Err(Unqualified::Low {
                        skill: r.skill,
                        has: skills[i].1,
                        needs,
                    })
                }
                Ok(i) => sum += i64::from(skills[i].1),
            }
        }
        Ok(sum)
    }

    /// Whether an agent with `skills` can serve queue `q` at full relaxation.
    pub(super) fn eligible_for_queue(&self, skills: &[(u16, u8)], q: QueueIdx) -> bool {
        let settings = &self.queues[q].settings;
        let full = Relax {
            step: settings.relaxation.len() as u32,
            lower: settings
                .relaxation
                .iter()
                .fold(0u8, |acc, s| acc.saturating_add(s.lower_proficiency_by)),
            drop_optional: settings.relaxation.iter().any(|s| s.drop_optional_skills),
        };
        Self::qualify(skills, &self.queues[q].reqs, full).is_ok()
    }

    pub(super) fn unqualified_reason(&self, u: Unqualified) -> String {
        match u {
            Unqualified::Missing(s) => format!("missing skill {}", self.skill_names[usize::from(s)]),
            Unqualified::Low { skill, has, needs } => format!(
                "proficiency {has} < {needs} for {}",
                self.skill_names[usize::from(skill)]
            ),
        }
    }

    /// The explanation's text for what the matching loop recorded.
    fn explain(&self, strategy: Strategy, passed: &[(AgentIdx, PassedFor)]) -> Vec<PassedOver> {
        passed
            .iter()
            .map(|&(a, why)| PassedOver {
                agent: self.agents[a].record.id.clone(),
                reason: match why {
                    PassedFor::Recently => "declined or missed this call recently".into(),
                    PassedFor::Unqualified(u) => self.unqualified_reason(u),
                    PassedFor::LowerScore(score) => format!("lower {} score {score}", strategy.as_str()),
                    PassedFor::SameScoreIdleLess(score) => {
                        format!("same {} score {score}, idle less long", strategy.as_str())
                    }
                },
            })
            .collect()
    }

    pub(super) fn passed_recently(slot: &CallSlot, agent: AgentIdx, now: Timestamp) -> bool {
        slot.passed.iter().any(|&(a, until)| a == agent && until > now)
    }

    /// A waiting call looks for the best free agent by its queue's strategy.
    pub(super) fn route_call(&mut self, now: Timestamp, cidx: CallIdx, trigger: &str) {
        // Each retry hands one free agent a better call, so this ends.
        while self.route_call_once(now, cidx, trigger) {}
    }

    /// One attempt for `route_call`; true when the chosen agent took a
    /// better-ranked call instead and this call should look again.
    pub(super) fn route_call_once(&mut self, now: Timestamp, cidx: CallIdx, trigger: &str) -> bool {
        if !matches!(self.calls[cidx].phase, Phase::Waiting) {
            return false;
        }
        let relax = self.relax(cidx, now);
        let slot = &self.calls[cidx];
        let q = slot.queue;
        let strategy = self.queues[q].settings.strategy;
        let in_force: Vec<Req> = slot
            .reqs
            .iter()
            .copied()
            .filter(|r| !(r.optional && relax.drop_optional))
            .collect();
        // Walk the smallest candidate set: available agents having the rarest required skill.
        let pivot = in_force
            .iter()
            .map(|r| r.skill)
            .min_by_key(|&s| self.available_by_skill[usize::from(s)].len());
        // Most-proficient walks the pivot skill's free agents strongest first
        // and stops once no one left could beat the best found.
        let by_proficiency = strategy == Strategy::MostProficient && pivot.is_some();
        let candidates: Box<dyn Iterator<Item = (Timestamp, AgentIdx)> + '_> = match pivot {
            Some(s) if by_proficiency => Box::new(
                self.available_by_proficiency[usize::from(s)]
                    .iter()
                    .map(|&(_, idle, a)| (idle, a)),
            ),
            Some(s) => Box::new(self.available_by_skill[usize::from(s)].iter().copied()),
            None => Box::new(self.available_all.iter().copied()),
        };
        let other_reqs_max = i64::from(MAX_PROFICIENCY) * (in_force.len() as i64 - 1).max(0);
        let mut best: Option<(i64, Timestamp, AgentIdx)> = None;
        let mut considered = 0u32;
        // Who was passed over and why, as (agent, fact); bounded.
        let mut passed: Vec<(AgentIdx, PassedFor)> = Vec::new();
        let best_possible = match strategy {
            Strategy::LongestIdle => i64::MIN,
            Strategy::MostProficient => i64::from(MAX_PROFICIENCY) * in_force.len() as i64,
            Strategy::FewestCalls | Strategy::RoundRobin => 0,
        };
        let n_agents = self.agents.len().max(1);
        let rr_next = self.queues[q].rr_next % n_agents;
        for (idle_since, a) in candidates {
            let agent = &self.agents[a];
            if let (true, Some(p), Some((best_score, _, _))) = (by_proficiency, pivot, best) {
                let pivot_prof = agent
                    .skills
                    .binary_search_by_key(&p, |s| s.0)
                    .map(|i| i64::from(agent.skills[i].1))
                    .unwrap_or(0);
                if pivot_prof + other_reqs_max < best_score {
                    break;
                }
            }
            considered += 1;
            if Self::passed_recently(slot, a, now) {
                if passed.len() < MAX_PASSED_OVER {
                    passed.push((a, PassedFor::Recently));
                }
                continue;
            }
            let sum = match Self::qualify(&agent.skills, &in_force, relax) {
                Ok(sum) => sum,
                Err(u) => {
                    if passed.len() < MAX_PASSED_OVER {
                        passed.push((a, PassedFor::Unqualified(u)));
                    }
                    continue;
                }
            };
            let score = match strategy {
                Strategy::LongestIdle => duration_ms(now.since(idle_since)) as i64,
                Strategy::MostProficient => sum,
                Strategy::FewestCalls => -i64::from(agent.record.calls_handled),
                Strategy::RoundRobin => -(((a.0 + n_agents - rr_next) % n_agents) as i64),
            };
            if let Some((best_score, best_idle, best_a)) = best {
                // Equal scores go to the agent idle longer.
                if score < best_score || (score == best_score && idle_since >= best_idle) {
                    if passed.len() < MAX_PASSED_OVER {
                        let why = if score == best_score {
                            PassedFor::SameScoreIdleLess(score)
                        } else {
                            PassedFor::LowerScore(score)
                        };
                        passed.push((a, why));
                    }
                    continue;
                }
                if passed.len() < MAX_PASSED_OVER {
                    passed.push((best_a, PassedFor::LowerScore(best_score)));
                }
            }
            best = Some((score, idle_since, a));
            // Candidates come longest idle first, so the first one reaching
            // the best score possible wins: for longest-idle the first
            // qualified, for most-proficient one at full proficiency on every
            // requirement, for fewest-calls one with none yet.
            if score >= best_possible {
                break;
            }
        }
        let Some((score, _, a)) = best else {
            return false;
        };
        // The chosen agent may qualify for a better-ranked call that became
        // eligible at this same instant (an exclusion and a relaxation
        // expiring together): it takes that call, and this one looks again.
        if let Some(next) = self.next_call_for(now, a) {
            let better = match next {
                NextCall::Preferred(c) => c != cidx,
                NextCall::Queued { rank, cidx: c, .. } => c != cidx && rank < self.calls[cidx].rank,
            };
            if better {
                self.offer_next_call(now, a, next, "agent-available");
                return true;
            }
        }
        // Free agents outside the walked set lack the pivot skill: name a few,
        // so the explanation covers everyone a supervisor might ask about.
        if let Some(p) = pivot {
            for &(_, other) in self.available_all.iter().take(EXPLAIN_SCAN) {
                if passed.len() >= MAX_PASSED_OVER {
                    break;
                }
                let skills = &self.agents[other].skills;
                if skills.binary_search_by_key(&p, |s| s.0).is_err() {
                    passed.push((other, PassedFor::Unqualified(Unqualified::Missing(p))));
                }
            }
        }
        let passed_over = self.explain(strategy, &passed);
        if strategy == Strategy::RoundRobin {
            self.queues[q].rr_next = a.0 + 1;
        }
        let decision = RoutingDecision {
            at: now,
            agent: self.agents[a].record.id.clone(),
            trigger: trigger.into(),
            strategy: strategy.as_str().into(),
            score,
            relaxation_step: relax.step,
            requirements: self.requirements_view(&in_force, relax),
            candidates_considered: considered,
            passed_over,
        };
        self.calls[cidx].record.relaxation_step = relax.step;
        self.unlink_waiting(cidx);
        self.offer(now, cidx, a, decision);
        false
    }

    /// A free agent looks for work: first calls held for it as preferred agent,
    /// then the best-ranked waiting call it qualifies for across its queues.
    pub(super) fn route_agent(&mut self, now: Timestamp, aidx: AgentIdx) {
        if self.agents[aidx].record.state != AgentState::Available {
            return;
        }
        if let Some(next) = self.next_call_for(now, aidx) {
            self.offer_next_call(now, aidx, next, "agent-available");
        }
    }

    /// The call a free agent should take now: one held for it as preferred
    /// agent, else the best-ranked waiting call it qualifies for.
    pub(super) fn next_call_for(&self, now: Timestamp, aidx: AgentIdx) -> Option<NextCall> {
        if let Some(&(_, cidx)) = self.preferred_waiting.get(&aidx).and_then(|s| s.first()) {
            return Some(NextCall::Preferred(cidx));
        }
        let agent = &self.agents[aidx];
        let mut best: Option<(Rank, CallIdx, Relax)> = None;
        let mut considered = 0u32;
        for &q in &agent.eligible_queues {
            for &(rank, cidx) in &self.queues[q].waiting {
                if best.is_some_and(|(b, _, _)| b <= rank) {
                    break;
                }
                considered += 1;
                let slot = &self.calls[cidx];
                if Self::passed_recently(slot, aidx, now) {
                    continue;
                }
                let relax = self.relax(cidx, now);
                if Self::qualify(&agent.skills, &slot.reqs, relax).is_ok() {
                    best = Some((rank, cidx, relax));
                    break;
                }
            }
        }
        best.map(|(rank, cidx, relax)| NextCall::Queued {
            rank,
            cidx,
            relax,
            considered,
        })
    }

    pub(super) fn offer_next_call(&mut self, now: Timestamp, aidx: AgentIdx, next: NextCall, trigger: &str) {
        let agent = &self.agents[aidx];
        let (cidx, decision) = match next {
            NextCall::Preferred(cidx) => (
                cidx,
                RoutingDecision {
                    at: now,
                    agent: agent.record.id.clone(),
                    trigger: "preferred-agent".into(),
                    strategy: "first-contact ownership".into(),
                    score: 0,
                    relaxation_step: 0,
                    requirements: Vec::new(),
                    candidates_considered: 1,
                    passed_over: Vec::new(),
                },
            ),
            NextCall::Queued {
                cidx,
                relax,
                considered,
                ..
            } => {
                let q = self.calls[cidx].queue;
                let strategy = self.queues[q].settings.strategy;
                let in_force: Vec<Req> = self.calls[cidx]
                    .reqs
                    .iter()
                    .copied()
                    .filter(|r| !(r.optional && relax.drop_optional))
                    .collect();
                let decision = RoutingDecision {
                    at: now,
                    agent: agent.record.id.clone(),
                    trigger: trigger.into(),
                    strategy: strategy.as_str().into(),
                    score: Self::qualify(&agent.skills, &in_force, relax).unwrap_or(0),
                    relaxation_step: relax.step,
                    requirements: self.requirements_view(&in_force, relax),
                    candidates_considered: considered,
                    passed_over: Vec::new(),
                };
                if strategy == Strategy::RoundRobin {
                    self.queues[q].rr_next = aidx.0 + 1;
                }
                self.calls[cidx].record.relaxation_step = relax.step;
                (cidx, decision)
            }
        };
        self.unlink_waiting(cidx);
        self.offer(now, cidx, aidx, decision);
    }

    pub(super) fn requirements_view(&self, reqs: &[Req], relax: Relax) -> Vec<Requirement> {
        reqs.iter()
            .map(|r| Requirement {
                skill: self.skill_names[usize::from(r.skill)].clone(),
                min_proficiency: r.min.saturating_sub(relax.lower).max(MIN_PROFICIENCY),
                optional: r.optional,
            })
            .collect()
    }
}
