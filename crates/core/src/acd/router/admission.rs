//! Queues and admission: entering a queue, rank and requirements, overflow and
//! the no-agents policy.

use super::*;

impl Router {
    /// Sets the call's queue, requirements and rank for queue `q`.
    pub(super) fn set_queue(&mut self, now: Timestamp, cidx: CallIdx, q: QueueIdx) {
        self.require(cidx, q);
        let queue = &self.queues[q];
        let head_start = queue
            .settings
            .tier_priority
            .head_start(self.calls[cidx].record.tier);
        let slot = &mut self.calls[cidx];
        slot.queue = q;
        slot.record.queue = queue.name.clone();
        slot.record.priority_ms = duration_ms(head_start) as i64;
        // A callback ranks as a live call of its tier arriving when its
        // urgent stretch begins: earliest deadline first among callbacks,
        // and live callers ahead of it while there is time.
        let arrival = match &slot.record.callback {
            Some(cb) => cb
                .deadline
                .as_millis()
                .saturating_sub(queue.settings.callback_urgent_before_secs.saturating_mul(1000))
                .max(slot.record.enqueued_at.as_millis()),
            None => slot.record.enqueued_at.0,
        };
        slot.rank = (arrival as i64 - slot.record.priority_ms, slot.serial);
        slot.queue_entered_at = now;
        slot.record.relaxation_step = 0;
    }

    /// Sets the call's requirements: queue `q`'s, with the call's own
    /// extra ones (the stricter minimum where both name a skill).
    pub(super) fn require(&mut self, cidx: CallIdx, q: QueueIdx) {
        let mut reqs = self.queues[q].reqs.clone();
        let slot = &mut self.calls[cidx];
        for e in &slot.extra {
            match reqs.iter_mut().find(|r| r.skill == e.skill) {
                Some(r) => {
                    r.min = r.min.max(e.min);
                    r.optional &= e.optional;
                }
                None => reqs.push(*e),
            }
        }
        slot.record.requirements = reqs
            .iter()
            .map(|r| Requirement {
                skill: self.skill_names[usize::from(r.skill)].clone(),
                min_proficiency: r.min,
                optional: r.optional,
            })
            .collect();
        slot.reqs = reqs;
    }

    /// Relaxation and maximum-wait timers for the call's current queue.
    pub(super) fn arm_queue_timers(&mut self, now: Timestamp, cidx: CallIdx) {
        let (serial, hops, q) = {
            let c = &self.calls[cidx];
            (c.serial, c.overflow_hops, c.queue)
        };
        let steps: Vec<u64> = self.queues[q]
            .settings
            .relaxation
            .iter()
            .map(|s| s.after_secs)
            .collect();
        for after in steps {
            self.push_timer(
                now.plus(Duration::from_secs(after)),
                TimerKind::CallCheck { call: cidx, serial },
            );
        }
        if self.calls[cidx].record.callback.is_some() {
            self.arm_callback_timer(now, cidx, serial);
            return;
        }
        let max_wait = self.queues[q].settings.max_wait_secs;
        if max_wait > 0 {
            self.push_timer(
                now.plus(Duration::from_secs(max_wait)),
                TimerKind::MaxWait {
                    call: cidx,
                    serial,
                    hops,
                },
            );
        }
    }

    /// Arms the moment a waiting callback becomes urgent (at once if it is).
    pub(super) fn arm_callback_timer(&mut self, now: Timestamp, cidx: CallIdx, serial: u64) {
        let Some(cb) = &self.calls[cidx].record.callback else {
            return;
        };
        let before = self.queues[self.calls[cidx].queue]
            .settings
            .callback_urgent_before_secs;
        let at = Timestamp(
            cb.deadline
                .as_millis()
                .saturating_sub(before.saturating_mul(1000)),
        );
        self.push_timer(at.max(now), TimerKind::CallbackUrgent { call: cidx, serial });
    }

    /// Moves a waiting callback above every waiting live call of its tier
    /// in its queue (calls of higher tiers keep their head start).
    pub(super) fn make_callback_urgent(&mut self, cidx: CallIdx) {
        let q = self.calls[cidx].queue;
        let tier = self.calls[cidx].record.tier;
        let own = self.calls[cidx].rank;
        let first_live = self.queues[q]
            .waiting
            .iter()
            .find(|(_, c)| {
                let other = &self.calls[*c];
                other.record.callback.is_none() && other.record.tier == tier
            })
            .map(|((value, _), _)| *value);
        let Some(first) = first_live.filter(|first| *first <= own.0) else {
            return;
        };
        let rank = (first - 1, own.1);
        self.queues[q].waiting.remove(&(own, cidx));
        self.queues[q].waiting.insert((rank, cidx));
        self.calls[cidx].rank = rank;
    }

    /// Entry checks for queue `q`; queues the call and returns true, or ends or
    /// overflows it and returns false.
    pub(super) fn admit(&mut self, now: Timestamp, cidx: CallIdx, q: QueueIdx) -> bool {
        // A callback is owed whatever the queue's state: it waits for a
        // skilled agent (its deadline timers say when that is late).
        if self.calls[cidx].record.callback.is_some() {
            self.enter_queue(now, cidx, q);
            return true;
        }
        let settings = &self.queues[q].settings;
        let closed = self.hours.get(&settings.hours).is_some_and(|h| !h.is_open(now));
        if closed {
            let reason = format!("queue {} closed", self.queues[q].name);
            let overflow = settings.when_closed == WhenClosed::Overflow && settings.overflow_queue.is_some();
            self.queues[q].counters.offered += 1;
            self.calls[cidx].queue = q;
            self.calls[cidx].record.queue = self.queues[q].name.clone();
            if overflow {
                self.overflow(now, cidx, reason);
            } else {
                self.end_unanswered(now, cidx, CallOutcome::Closed, reason);
            }
            return false;
        }
        let queue = &self.queues[q];
        let full = queue.waiting.len() >= queue.settings.max_queue_len;
        let nobody = queue.eligible_logged_in == 0;
        let policy = queue.settings.when_no_agents;
        let reason = if full {
            Some((
                format!("queue {} full", queue.name),
                queue.settings.overflow_queue.is_some(),
            ))
        } else if nobody && policy != NoAgentsPolicy::Wait {
            Some((
                format!("no agent with the skills for {} is logged in", queue.name),
                policy == NoAgentsPolicy::Overflow,
            ))
        } else {
            None
        };
        self.queues[q].counters.offered += 1;
        if let Some((reason, overflow)) = reason {
            self.calls[cidx].queue = q;
            self.calls[cidx].record.queue = self.queues[q].name.clone();
            if overflow {
                self.overflow(now, cidx, reason);
            } else {
                self.end_unanswered(now, cidx, CallOutcome::Rejected, reason);
            }
            return false;
        }
        self.enter_queue(now, cidx, q);
        true
    }

    /// Puts the call into queue `q`'s waiting order (keeping its original
    /// enqueue time, hence its place) and arms the queue's timers.
    pub(super) fn enter_queue(&mut self, now: Timestamp, cidx: CallIdx, q: QueueIdx) {
        self.set_queue(now, cidx, q);
        let rank = self.calls[cidx].rank;
        let position = self.queues[q].waiting.range(..(rank, CallIdx(0))).count() as u32 + 1;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Waiting;
        slot.record.agent = None;
        if slot.record.original_position == 0 {
            slot.record.original_position = position;
        }
        self.queues[q].waiting.insert((rank, cidx));
        self.arm_queue_timers(now, cidx);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallQueued { call: snapshot });
    }

    /// Takes the call out of whichever waiting set holds it.
    pub(super) fn unlink_waiting(&mut self, cidx: CallIdx) {
        let slot = &self.calls[cidx];
        let key = (slot.rank, cidx);
        match slot.phase {
            Phase::Waiting => {
                self.queues[slot.queue].waiting.remove(&key);
            }
            Phase::PreferredWait { agent } => {
                if let Some(set) = self.preferred_waiting.get_mut(&agent) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.preferred_waiting.remove(&agent);
                    }
                }
            }
            Phase::Offering { .. } | Phase::Connected { .. } => {}
        }
    }

    /// Sends a call (already out of its waiting set) to the overflow queue, or
    /// ends it as overflowed.
    pub(super) fn overflow(&mut self, now: Timestamp, cidx: CallIdx, reason: String) {
        let q = self.calls[cidx].queue;
        let from = self.queues[q].name.clone();
        match self.queues[q].overflow_to {
            Some(to) if to != q && self.calls[cidx].overflow_hops < MAX_OVERFLOW_HOPS => {
                self.queues[q].counters.overflowed += 1;
                self.calls[cidx].overflow_hops += 1;
                self.events.push_back(Event::CallOverflowed {
                    call: self.calls[cidx].record.id.clone(),
                    from,
                    to: self.queues[to].name.clone(),
                    reason,
                });
                if self.admit(now, cidx, to) {
                    self.route_call(now, cidx, "overflow");
                }
            }
            _ => self.end_unanswered(now, cidx, CallOutcome::Overflowed, reason),
        }
    }

    /// With nobody left who could serve queue `q`, applies its policy to the
    /// calls waiting there.
    pub(super) fn apply_no_agents_policy(&mut self, now: Timestamp, q: QueueIdx) {
        let policy = self.queues[q].settings.when_no_agents;
        if policy == NoAgentsPolicy::Wait {
            return;
        }
        let waiting: Vec<CallIdx> = self.queues[q].waiting.iter().map(|&(_, c)| c).collect();
        let reason = format!(
            "no agent with the skills for {} is logged in",
            self.queues[q].name
        );
        for c in waiting {
            self.unlink_waiting(c);
            match policy {
                NoAgentsPolicy::Overflow => self.overflow(now, c, reason.clone()),
                _ => self.end_unanswered(now, c, CallOutcome::Rejected, reason.clone()),
            }
        }
    }
}
