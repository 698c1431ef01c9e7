//! The trunk core's timers: retransmissions from T1 doubling to T2, the
//! 64*T1 give-up, and forgetting ended calls, on the driver's monotonic clock.

use super::*;

impl TrunkCore {
    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Monotonic) {
        while let Some((_, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::Forget(key) => {
                    if self.calls.get(&key).is_some_and(|c| c.state == State::Ended) {
                        self.calls.remove(&key);
                    }
                    self.forget_out(&key);
                }
                Timer::AckWait(key) => self.ack_wait(now, key),
                Timer::Bye(key) => self.bye_wait(now, key),
                Timer::Invite(key) => self.invite_wait(now, key),
                Timer::OutRequest(key) => self.out_request_wait(now, key),
                Timer::Registration(user) => self.registration_due(now, &user),
            }
        }
    }

    pub(super) fn ack_wait(&mut self, now: Monotonic, key: SipCallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let Some(r) = call.awaiting_ack.as_mut() else {
            return;
        };
        match r.next(now) {
            Some(next) => {
                let (to, bytes) = (call.source, r.bytes.clone());
                self.send(to, bytes);
                self.timers.arm(next, Timer::AckWait(key));
            }
            None => {
                call.awaiting_ack = None;
                // Our 200 OK was never acknowledged: the call cannot be up.
                if call.state == State::Answered {
                    self.send_bye(now, &key);
                    self.end(now, &key);
                }
            }
        }
    }

    pub(super) fn bye_wait(&mut self, now: Monotonic, key: SipCallKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let Some((_, r)) = call.bye.as_mut() else { return };
        match r.next(now) {
            Some(next) => {
                let (to, bytes) = (call.source, r.bytes.clone());
                self.send(to, bytes);
                self.timers.arm(next, Timer::Bye(key));
            }
            None => call.bye = None,
        }
    }
}
