//! Calls we place (RFC 3261 user-agent client): a callback to a customer
//! through the trunk, or an offer ringing an agent's registered phone.
//!
//! A placed call: INVITE with our SDP offer -> (1xx) -> 2xx with the far
//! end's answer -> our ACK, and the call is up; a final error ends it
//! (acknowledged on the INVITE's branch). We hang up with CANCEL before the
//! answer and BYE after it; the far end hangs up with BYE.
//!
//! Invariants:
//! - the INVITE is retransmitted from T1 until any response, and a call
//!   with no response after 64*T1 fails as 408 (timer B);
//! - a CANCEL is sent only after a provisional response (RFC 3261 9.1): a
//!   hang-up before one waits for it, and a 2xx that crosses our CANCEL is
//!   acknowledged and then ended with BYE, so the far end never keeps a
//!   call we gave up;
//! - every 2xx (first or retransmitted) is acknowledged, every final error
//!   too;
//! - `DialAnswered` or `DialFailed` is emitted at most once per placed
//!   call, then `Ended` at most once after `DialAnswered`; nothing is
//!   emitted for a call after the adapter hung it up.

use std::net::SocketAddr;

use super::{session_id, Retransmit, Timer, TrunkCore, TrunkEvent, T1};
use crate::message::{DialogRequest, Method, Request, Response, ResponseParts};
use crate::sdp;
use crate::transport::Transport;
use crate::{message, trunk::SipCallKey};
use hotline_time::Monotonic;

/// A call to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dial {
    /// The Request-URI, e.g. `sip:+15550100@carrier.example` or an agent
    /// phone's registered Contact.
    pub target: String,
    /// Where our requests go: the trunk's proxy, or the phone's address.
    pub next_hop: SocketAddr,
    /// The user part of our From (the caller id the far end sees).
    pub from_user: String,
    /// The display name in our From (the customer's number when ringing an
    /// agent's phone), if any.
    pub display: Option<String>,
    /// Our RTP address, offered in the SDP.
    pub local_rtp: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// INVITE sent, no response yet.
    Calling,
    /// A provisional response came.
    Proceeding,
    /// 2xx received and acknowledged.
    Confirmed,
    /// Over; kept to acknowledge retransmitted responses until forgotten.
    Ended,
}

pub(super) struct OutCall {
    state: State,
    dial: Dial,
    local_tag: String,
    /// The INVITE's branch and CSeq number (the CANCEL and a final error's
    /// ACK reuse both).
    branch: String,
    cseq: u32,
    /// Our From value without its tag.
    from: String,
    /// The To value: the target's until a response gives it a tag.
    to: String,
    /// The far end's Contact from the 2xx: where in-dialog requests go.
    remote_target: Option<String>,
    /// Record-Route of the 2xx reversed.
    route: Vec<String>,
    /// The INVITE, resent until a response.
    invite: Option<Retransmit>,
    /// Our ACK to the 2xx, resent on each retransmitted 2xx.
    ack: Option<Vec<u8>>,
    /// We hung up before a provisional response: CANCEL once one comes.
    cancel_wanted: bool,
    /// Our CANCEL or BYE in flight, and its branch.
    request: Option<(String, Retransmit)>,
    /// The adapter still wants to hear about this call.
    announced: bool,
    local_cseq: u32,
    /// Our SDP offer (also our answer's address for a re-INVITE).
    local_sdp: String,
}

impl OutCall {
    pub(super) fn next_hop(&self) -> SocketAddr {
        self.dial.next_hop
    }

    /// A request of ours in the dialog (the ACK of a 2xx, BYE): to the far
    /// end's Contact along the route set.
    fn in_dialog(
        &self,
        method: &'static str,
        local: SocketAddr,
        branch: &str,
        call_id: &str,
        cseq: u32,
    ) -> Vec<u8> {
        let target = self.remote_target.as_deref().unwrap_or(&self.dial.target);
        message::write_request(&DialogRequest {
            transport: Transport::Udp,
            method,
            target,
            local,
            branch,
            from: &self.from,
            from_tag: &self.local_tag,
            to: &self.to,
            call_id,
            cseq,
            route: &self.route,
            contact: None,
            sdp: None,
        })
    }
}

impl TrunkCore {
    /// Places a call; `DialAnswered`, `DialFailed` and `Ended` name it by
    /// the returned key.
    pub fn handle_dial(&mut self, now: Monotonic, dial: Dial) -> SipCallKey {
        let call_id = format!("{}@hotline", self.token());
        let key = SipCallKey(call_id.clone());
        let local_tag = self.token();
        let branch = format!("z9hG4bK{}", self.token());
        let local = self.settings.local;
        let from = match &dial.display {
            Some(name) => format!("\"{}\" <sip:{}@{}>", quoted(name), dial.from_user, local),
            None => format!("<sip:{}@{}>", dial.from_user, local),
        };
        let to = format!("<{}>", dial.target);
        let local_sdp = sdp::offer(dial.local_rtp, session_id(&local_tag), 1);
        let contact = self.contact(Transport::Udp);
        let bytes = message::write_request(&DialogRequest {
            transport: Transport::Udp,
            method: "INVITE",
            target: &dial.target,
            local,
            branch: &branch,
            from: &from,
            from_tag: &local_tag,
            to: &to,
            call_id: &call_id,
            cseq: 1,
            route: &[],
            contact: Some(&contact),
            sdp: Some(&local_sdp),
        });
        let next_hop = dial.next_hop;
        self.send(next_hop, bytes.clone());
        self.timers.arm(now.plus(T1), Timer::Invite(key.clone()));
        self.outbound.insert(
            key.clone(),
            OutCall {
                state: State::Calling,
                dial,
                local_tag,
                branch,
                cseq: 1,
                from,
                to,
                remote_target: None,
                route: Vec::new(),
                invite: Some(Retransmit::new(bytes, now)),
                ack: None,
                cancel_wanted: false,
                request: None,
                announced: true,
                local_cseq: 1,
                local_sdp,
            },
        );
        key
    }

    /// Placed calls not yet forgotten.
    pub fn placed_calls(&self) -> usize {
        self.outbound.len()
    }

    /// A response to something we sent on a placed call.
    pub(super) fn handle_out_response(&mut self, now: Monotonic, resp: Response) {
        let key = SipCallKey(resp.call_id.clone());
        let Some(call) = self.outbound.get_mut(&key) else {
            return;
        };
        if resp.method != Method::Invite {
            // Our CANCEL or BYE got its answer.
            if resp.code >= 200 && call.request.as_ref().is_some_and(|(b, _)| *b == resp.branch) {
                call.request = None;
            }
            return;
        }
        if resp.branch != call.branch {
            return;
        }
        match resp.code {
            100..=199 => {
                call.invite = None;
                if call.state == State::Calling {
                    call.state = State::Proceeding;
                }
                if std::mem::take(&mut call.cancel_wanted) {
                    self.send_cancel(now, &key);
                }
            }
            200..=299 => self.out_answered(now, &key, resp),
            _ => {
                call.invite = None;
                // The ACK of a final error is part of the INVITE's
                // transaction: its branch, the response's To.
                let ack = message::write_request(&DialogRequest {
                    transport: Transport::Udp,
                    method: "ACK",
                    target: &call.dial.target,
                    local: self.settings.local,
                    branch: &call.branch,
                    from: &call.from,
                    from_tag: &call.local_tag,
                    to: &resp.to,
                    call_id: &resp.call_id,
                    cseq: call.cseq,
                    route: &[],
                    contact: None,
                    sdp: None,
                });
                let to = call.dial.next_hop;
                let was = call.state;
                call.state = State::Ended;
                call.request = None;
                let announce = std::mem::take(&mut call.announced);
                self.send(to, ack);
                if was != State::Ended {
                    self.timers.arm(now.plus(T1 * 64), Timer::Forget(key.clone()));
                }
                if announce {
                    self.events
                        .push_back(TrunkEvent::DialFailed { key, code: resp.code });
                }
            }
        }
    }

    fn out_answered(&mut self, now: Monotonic, key: &SipCallKey, resp: Response) {
        let local = self.settings.local;
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        call.invite = None;
        if let Some(ack) = call.ack.clone() {
            // A retransmitted 2xx: our ACK again.
            let to = call.dial.next_hop;
            self.send(to, ack);
            return;
        }
        call.to = resp.to.clone();
        call.remote_target = resp.contact.clone();
        call.route = resp.record_route.iter().rev().cloned().collect();
        let branch = format!("z9hG4bK{}", self.token());
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        let ack = call.in_dialog("ACK", local, &branch, &resp.call_id, call.cseq);
        call.ack = Some(ack.clone());
        let to = call.dial.next_hop;
        self.send(to, ack);
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        let answer = match resp.content_type.as_deref() {
            Some(t) if t.starts_with("application/sdp") => {
                sdp::parse_offer(&String::from_utf8_lossy(&resp.body))
            }
            _ => Err(sdp::SdpError::NoAudio),
        };
        // We offered plain RTP: an SRTP answer does not answer it.
        let answer = answer.and_then(|a| match a.srtp {
            Some(_) => Err(sdp::SdpError::UnsupportedProfile("RTP/SAVP".into())),
            None => Ok(a),
        });
        let wanted = call.announced && !call.cancel_wanted && call.state != State::Ended;
        match answer {
            Ok(answer) if wanted => {
                call.state = State::Confirmed;
                self.events.push_back(TrunkEvent::DialAnswered {
                    key: key.clone(),
                    answer,
                });
            }
            answer => {
                // Answered after we gave up, or with nothing we can carry:
                // the call is acknowledged and ended at once.
                let announce = wanted && std::mem::take(&mut call.announced);
                call.cancel_wanted = false;
                call.state = State::Confirmed;
                self.send_out_bye(now, key);
                self.end_out(now, key);
                if announce && answer.is_err() {
                    self.events.push_back(TrunkEvent::DialFailed {
                        key: key.clone(),
                        code: 488,
                    });
                }
            }
        }
    }

    /// A request of the far end within a placed call's dialog (BYE, INFO,
    /// a re-INVITE); false when the call is not a placed one of ours.
    pub(super) fn handle_out_request(&mut self, now: Monotonic, from: SocketAddr, req: &Request) -> bool {
        let key = SipCallKey(req.call_id.clone());
        let Some(call) = self.outbound.get(&key) else {
            return false;
        };
        if req.to_tag.as_deref() != Some(call.local_tag.as_str()) {
            self.reply(from, req, 481, ResponseParts::default());
            return true;
        }
        let live = call.state == State::Confirmed;
        match req.method {
            Method::Bye => {
                self.reply(from, req, 200, ResponseParts::default());
                let announce = self
                    .outbound
                    .get_mut(&key)
                    .is_some_and(|c| live && std::mem::take(&mut c.announced));
                self.end_out(now, &key);
                if announce {
                    self.events.push_back(TrunkEvent::Ended { key });
                }
            }
            Method::Info if live => {
                let pressed = message::info_key(req);
                self.reply(from, req, 200, ResponseParts::default());
                if let Some(pressed) = pressed {
                    self.events.push_back(TrunkEvent::Key { key, pressed });
                }
            }
            Method::Invite if live => {
                // A re-INVITE (hold, a new address): answered from our offer.
                let offer = sdp::parse_offer(&String::from_utf8_lossy(&req.body));
                let contact = self.contact(Transport::Udp);
                let (local_rtp, tag) = (call.dial.local_rtp, call.local_tag.clone());
                match offer {
                    // The calls we place are plain RTP: an SRTP re-offer
                    // would change keys we never set up.
                    Ok(offer) if offer.srtp.is_none() => {
                        let answer = sdp::answer(local_rtp, &offer, session_id(&tag), 2, None);
                        self.reply(from, req, 200, dialog_parts(&tag, &contact, &answer));
                        self.events.push_back(TrunkEvent::HoldChanged {
                            key,
                            on_hold: offer.on_hold,
                        });
                    }
                    _ => {
                        self.reply(from, req, 488, ResponseParts::default());
                    }
                }
            }
            Method::Ack => {}
            _ => {
                self.reply(from, req, 481, ResponseParts::default());
            }
        }
        true
    }

    /// We hang up a placed call: CANCEL before the answer, BYE after.
    pub(super) fn hangup_out(&mut self, now: Monotonic, key: &SipCallKey) {
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        call.announced = false;
        match call.state {
            State::Calling => call.cancel_wanted = true,
            State::Proceeding => self.send_cancel(now, key),
            State::Confirmed => {
                self.send_out_bye(now, key);
                self.end_out(now, key);
            }
            State::Ended => {}
        }
    }

    fn send_cancel(&mut self, now: Monotonic, key: &SipCallKey) {
        let local = self.settings.local;
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        // CANCEL matches the INVITE: same Request-URI, branch, Call-ID,
        // From, To and CSeq number.
        let bytes = message::write_request(&DialogRequest {
            transport: Transport::Udp,
            method: "CANCEL",
            target: &call.dial.target,
            local,
            branch: &call.branch,
            from: &call.from,
            from_tag: &call.local_tag,
            to: &format!("<{}>", call.dial.target),
            call_id: &key.0,
            cseq: call.cseq,
            route: &[],
            contact: None,
            sdp: None,
        });
        call.request = Some((call.branch.clone(), Retransmit::new(bytes.clone(), now)));
        let to = call.dial.next_hop;
        self.send(to, bytes);
        self.timers.arm(now.plus(T1), Timer::OutRequest(key.clone()));
        // The 487 ends the call; without one it is forgotten anyway.
        self.timers.arm(now.plus(T1 * 64), Timer::Forget(key.clone()));
    }

    fn send_out_bye(&mut self, now: Monotonic, key: &SipCallKey) {
        let branch = format!("z9hG4bK{}", self.token());
        let local = self.settings.local;
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        call.local_cseq += 1;
        let bytes = call.in_dialog("BYE", local, &branch, &key.0, call.local_cseq);
        call.request = Some((branch, Retransmit::new(bytes.clone(), now)));
        let to = call.dial.next_hop;
        self.send(to, bytes);
        self.timers.arm(now.plus(T1), Timer::OutRequest(key.clone()));
    }

    fn end_out(&mut self, now: Monotonic, key: &SipCallKey) {
        let Some(call) = self.outbound.get_mut(key) else {
            return;
        };
        if call.state == State::Ended {
            return;
        }
        call.state = State::Ended;
        call.invite = None;
        self.timers.arm(now.plus(T1 * 64), Timer::Forget(key.clone()));
    }

    /// Timer A/B: resend the INVITE, or fail the call with no response.
    pub(super) fn invite_wait(&mut self, now: Monotonic, key: SipCallKey) {
        let Some(call) = self.outbound.get_mut(&key) else {
            return;
        };
        let Some(r) = call.invite.as_mut() else { return };
        match r.next(now) {
            Some(next) => {
                let (to, bytes) = (call.dial.next_hop, r.bytes.clone());
                self.send(to, bytes);
                self.timers.arm(next, Timer::Invite(key));
            }
            None => {
                call.invite = None;
                let announce = std::mem::take(&mut call.announced);
                self.end_out(now, &key);
                if announce {
                    self.events.push_back(TrunkEvent::DialFailed { key, code: 408 });
                }
            }
        }
    }

    /// Resend our CANCEL or BYE until its final response.
    pub(super) fn out_request_wait(&mut self, now: Monotonic, key: SipCallKey) {
        let Some(call) = self.outbound.get_mut(&key) else {
            return;
        };
        let Some((_, r)) = call.request.as_mut() else {
            return;
        };
        match r.next(now) {
            Some(next) => {
                let (to, bytes) = (call.dial.next_hop, r.bytes.clone());
                self.send(to, bytes);
                self.timers.arm(next, Timer::OutRequest(key));
            }
            None => call.request = None,
        }
    }

    /// Forgets a placed call that ended, or that we gave up before an
    /// answer that never came (from the forget timer).
    pub(super) fn forget_out(&mut self, key: &SipCallKey) {
        let done = self
            .outbound
            .get(key)
            .is_some_and(|c| c.state == State::Ended || (!c.announced && c.state != State::Confirmed));
        if done {
            self.outbound.remove(key);
        }
    }

    /// Our SDP for a placed call (tests and the adapter's logs).
    pub fn placed_sdp(&self, key: &SipCallKey) -> Option<&str> {
        self.outbound.get(key).map(|c| c.local_sdp.as_str())
    }
}

/// A display name inside double quotes.
fn quoted(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .take(64)
        .collect()
}

/// The parts of a dialog-creating response of ours: our tag, Contact, SDP.
pub(super) fn dialog_parts<'a>(tag: &'a str, contact: &'a str, sdp: &'a str) -> ResponseParts<'a> {
    ResponseParts {
        to_tag: Some(tag),
        contact: Some(contact),
        sdp: Some(sdp),
        allow: false,
        www_authenticate: None,
        expires: None,
    }
}
