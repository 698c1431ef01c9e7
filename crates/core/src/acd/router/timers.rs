//! Timers: what fires when, and serials that make stale timers harmless.

use super::*;

impl Router {
    pub(super) fn fire(&mut self, now: Timestamp, kind: TimerKind) {
        match kind {
            TimerKind::CallCheck { call, serial } => {
                if self.live(call, serial) && matches!(self.calls[call].phase, Phase::Waiting) {
                    self.route_call(now, call, "relaxation");
                }
            }
            TimerKind::RingTimeout { call, serial, seq } => {
                if !self.live(call, serial) {
                    return;
                }
                let Phase::Offering { agent, seq: s, .. } = self.calls[call].phase else {
                    return;
                };
                if s != seq {
                    return;
                }
                self.rescind_offer(now, agent, RescindReason::NoAnswer);
                let q = self.calls[call].queue;
                let limit = self.queues[q].settings.max_consecutive_misses;
                let a = &mut self.agents[agent];
                a.record.consecutive_misses += 1;
                let misses = a.record.consecutive_misses;
                if misses >= limit {
                    self.set_state(
                        now,
                        agent,
                        AgentState::NotReady,
                        Some("no-answer".into()),
                        &format!("missed {misses} offers in a row"),
                    );
                } else {
                    self.make_available(now, agent, "offer not answered");
                }
                self.route_call(now, call, "re-queued");
                if self.agents[agent].record.state == AgentState::Available {
                    self.route_agent(now, agent);
                }
            }
            TimerKind::MaxWait { call, serial, hops } => {
                if !self.live(call, serial) || self.calls[call].overflow_hops != hops {
                    return;
                }
                match self.calls[call].phase {
                    Phase::Waiting | Phase::PreferredWait { .. } => {
                        let q = self.calls[call].queue;
                        let secs = self.queues[q].settings.max_wait_secs;
                        self.unlink_waiting(call);
                        self.overflow(now, call, format!("maximum wait {secs} s"));
                    }
                    // Let a ringing offer finish; look again just after it expires.
                    Phase::Offering { .. } => {
                        let q = self.calls[call].queue;
                        let ring = Duration::from_secs(self.queues[q].settings.ring_timeout_secs);
                        self.push_timer(now.plus(ring), kind);
                    }
                    Phase::Connected { .. } => {}
                }
            }
            TimerKind::CallbackUrgent { call, serial } => {
                if self.live(call, serial) && matches!(self.calls[call].phase, Phase::Waiting) {
                    self.make_callback_urgent(call);
                    self.route_call(now, call, "callback deadline near");
                }
            }
            TimerKind::PreferredExpired { call, serial } => {
                if !self.live(call, serial) {
                    return;
                }
                if let Phase::PreferredWait { .. } = self.calls[call].phase {
                    self.unlink_waiting(call);
                    self.calls[call].phase = Phase::Waiting;
                    let (rank, q) = (self.calls[call].rank, self.calls[call].queue);
                    self.queues[q].waiting.insert((rank, call));
                    self.route_call(now, call, "preferred-agent wait over");
                }
            }
            TimerKind::PresenceExpired { agent, seq } => {
                let a = &self.agents[agent];
                if a.presence_seq == seq && a.streams == 0 && a.record.state != AgentState::LoggedOut {
                    let id = a.record.id.clone();
                    let grace = self.presence_grace.unwrap_or_default().as_secs();
                    let by = format!("presence check: no softphone connected for {grace} s");
                    let _ = self.handle_agent_logout(
                        Now {
                            wall: now,
                            mono: self.mono,
                        },
                        &id,
                        Some(&by),
                    );
                }
            }
            TimerKind::WrapUpEnd { agent, seq } => {
                let a = &self.agents[agent];
                if a.record.state == AgentState::WrapUp && a.wrap.as_ref().is_some_and(|w| w.seq == seq) {
                    self.finish_wrap_up(now, agent, None, None, None);
                    self.after_wrap_up(now, agent);
                }
            }
        }
    }

    pub(super) fn live(&self, call: CallIdx, serial: u64) -> bool {
        self.calls.get(call.0).is_some_and(|c| c.serial == serial)
    }

    pub(super) fn push_timer(&mut self, at: Timestamp, kind: TimerKind) {
        let seq = self.serial();
        self.timers.arm(at, (seq, kind));
    }

    /// Arms a ring timeout `after` from the input being handled, on the
    /// monotonic clock.
    pub(super) fn push_ring_timer(&mut self, after: Duration, kind: TimerKind) {
        let seq = self.serial();
        self.ring_timers.arm(self.mono.plus(after), (seq, kind));
    }

    pub(super) fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }
}
