//! The calls a trunk sends us, from the INVITE to our answer or refusal
//! and our hangup: what the adapter decides goes in here
//! (`handle_accept`, `handle_answer`, `handle_reject`, `handle_hangup`).
//!
//! Invariants: SDES keys (an RTP/SAVP offer) are taken only over TLS, and
//! with `require_srtp` a plain offer is refused (both 488, counted); the
//! answer to an SRTP offer is SRTP with the key the adapter drew, never
//! plain RTP; our Contact names the transport the INVITE came on, so the
//! dialog stays on it.

use std::net::SocketAddr;

use super::outbound::dialog_parts;
use super::{session_id, Call, Refusal, Retransmit, SipCallKey, State, Timer, TrunkCore, TrunkEvent, T1};
use crate::message::{self, DialogRequest, Request, ResponseParts};
use crate::sdes::SrtpKey;
use crate::sdp::{self, SdpError};
use crate::transport::Transport;
use hotline_time::Monotonic;

impl TrunkCore {
    pub(super) fn handle_invite(
        &mut self,
        now: Monotonic,
        from: SocketAddr,
        transport: Transport,
        trunk: Option<String>,
        key: SipCallKey,
        req: Request,
    ) {
        if let Some(call) = self.calls.get_mut(&key) {
            if call.invite.branch == req.branch {
                // A retransmission: the last response again.
                if let Some(last) = call.last_invite_response.clone() {
                    self.send(from, last);
                }
                return;
            }
            if req.to_tag.is_some() && req.to_tag.as_deref() == Some(call.local_tag.as_str()) {
                self.handle_reinvite(now, from, key, req);
                return;
            }
            // Same Call-ID, a new INVITE outside the dialog: a loop or a fork.
            self.reply(from, &req, 482, ResponseParts::default());
            return;
        }
        if req.to_tag.is_some() {
            self.reply(from, &req, 481, ResponseParts::default());
            return;
        }
        // A trunk with credentials proves it on every new call.
        let credentials = trunk
            .as_deref()
            .and_then(|t| self.guard.trunk_of(from.ip()).filter(|g| g.name == t))
            .and_then(|t| t.credentials.clone());
        if let Some((user, password)) = credentials {
            let checked =
                self.challenger
                    .verify(now, "INVITE", req.authorization.as_deref(), &user, &password);
            if checked.is_err() {
                self.stats.unauthenticated += 1;
                let challenge = self.challenger.challenge(now);
                let tag = self.token();
                self.reply(
                    from,
                    &req,
                    401,
                    ResponseParts {
                        to_tag: Some(&tag),
                        www_authenticate: Some(&challenge),
                        ..Default::default()
                    },
                );
                return;
            }
        }
        let cap = trunk
            .as_deref()
            .and_then(|t| self.guard.trunk_of(from.ip()).filter(|g| g.name == t))
            .map(|t| t.max_calls)
            .unwrap_or(0);
        let full = cap > 0 && trunk.as_deref().is_some_and(|t| self.calls_of(t) >= cap);
        if full {
            self.stats.over_capacity += 1;
        }
        let offer = match &req.content_type {
            _ if full => Err(503),
            Some(t) if t.starts_with("application/sdp") => {
                sdp::parse_offer(&String::from_utf8_lossy(&req.body)).map_err(|e| match e {
                    SdpError::Malformed(_) | SdpError::TooLarge => 400,
                    _ => 488,
                })
            }
            // An INVITE without an offer (offer in the ACK) is not taken from trunks.
            _ => Err(488),
        };
        let offer = offer.and_then(|o| self.srtp_policy(transport, o));
        let local_tag = self.token();
        match offer {
            Err(code) => {
                let bytes = message::write_response(
                    &req,
                    code,
                    &ResponseParts {
                        to_tag: Some(&local_tag),
                        ..Default::default()
                    },
                );
                // Kept to absorb the ACK and answer retransmissions.
                let mut call = Call::new(req, from, local_tag, State::Ended);
                call.last_invite_response = Some(bytes.clone());
                self.calls.insert(key.clone(), call);
                self.await_ack(now, &key, bytes);
                self.timers.arm(now.plus(T1 * 64), Timer::Forget(key));
            }
            Ok(offer) => {
                let trying = self.reply(from, &req, 100, ResponseParts::default());
                let event = TrunkEvent::Incoming {
                    key: key.clone(),
                    from_number: req.from_user.clone(),
                    to_number: req.to_user.clone(),
                    source: from,
                    transport,
                    offer,
                };
                let mut call = Call::new(req, from, local_tag, State::Early);
                call.transport = transport;
                call.last_invite_response = Some(trying);
                call.announced = true;
                call.trunk = trunk;
                self.calls.insert(key, call);
                self.events.push_back(event);
            }
        }
    }

    /// SDES keys only where no one overhears them; SRTP when required.
    fn srtp_policy(&mut self, transport: Transport, offer: sdp::AudioOffer) -> Result<sdp::AudioOffer, u16> {
        if offer.srtp.is_some() && !transport.is_secure() {
            self.stats.sdes_not_over_tls += 1;
            return Err(488);
        }
        if offer.srtp.is_none() && self.settings.require_srtp {
            self.stats.srtp_required += 1;
            return Err(488);
        }
        Ok(offer)
    }

    /// The call is queued and its RTP leg listens at `local_rtp` (with
    /// `srtp`, our key, when the offer was SRTP): 180 Ringing with our SDP
    /// (early media: hold music, announcements). An SRTP offer accepted
    /// without a key of ours is refused (500) rather than answered in the
    /// clear.
    pub fn handle_accept(
        &mut self,
        now: Monotonic,
        key: &SipCallKey,
        local_rtp: SocketAddr,
        srtp: Option<SrtpKey>,
    ) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        let contact = self.contact(call.transport);
        if call.state != State::Early {
            return;
        }
        let Ok(offer) = sdp::parse_offer(&String::from_utf8_lossy(&call.invite.body)) else {
            return;
        };
        let keys = match (offer.srtp, srtp) {
            (Some(theirs), Some(ours)) => Some((theirs, ours)),
            (Some(_), None) => {
                self.final_error(now, key, 500);
                if let Some(call) = self.calls.get_mut(key) {
                    if std::mem::take(&mut call.announced) {
                        self.events.push_back(TrunkEvent::Ended { key: key.clone() });
                    }
                }
                return;
            }
            (None, _) => None,
        };
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        call.srtp = keys;
        let ours = keys.map(|(_, ours)| ours);
        let answer = sdp::answer(
            local_rtp,
            &offer,
            session_id(&call.local_tag),
            call.sdp_version,
            ours.as_ref(),
        );
        let bytes = message::write_response(
            &call.invite,
            180,
            &dialog_parts(&call.local_tag, &contact, &answer),
        );
        call.local_sdp = Some(answer);
        call.last_invite_response = Some(bytes.clone());
        let to = call.source;
        self.send(to, bytes);
    }

    /// We will not take the call (or it ended on our side before the answer).
    pub fn handle_reject(&mut self, now: Monotonic, key: &SipCallKey, why: Refusal) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if call.state != State::Early {
            return;
        }
        // The adapter knows: it decided.
        call.announced = false;
        self.final_error(now, key, why.code());
    }

    /// An agent answered: 200 OK, retransmitted until the ACK.
    pub fn handle_answer(&mut self, now: Monotonic, key: &SipCallKey) {
        let Some(transport) = self.calls.get(key).map(|c| c.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if call.state != State::Early {
            return;
        }
        let Some(answer) = call.local_sdp.clone() else {
            return;
        };
        let bytes = message::write_response(
            &call.invite,
            200,
            &dialog_parts(&call.local_tag, &contact, &answer),
        );
        call.state = State::Answered;
        call.last_invite_response = Some(bytes.clone());
        self.await_ack(now, key, bytes);
    }

    /// The call ended on our side: BYE after the answer, 480 before it
    /// (a call we placed: CANCEL before the answer).
    pub fn handle_hangup(&mut self, now: Monotonic, key: &SipCallKey) {
        if self.outbound.contains_key(key) {
            self.hangup_out(now, key);
            return;
        }
        let Some(call) = self.calls.get(key) else { return };
        match call.state {
            State::Early => self.handle_reject(now, key, Refusal::Ended),
            State::Answered | State::Confirmed => {
                if let Some(call) = self.calls.get_mut(key) {
                    call.announced = false;
                }
                self.send_bye(now, key);
                self.end(now, key);
            }
            State::Ended => {}
        }
    }

    pub(super) fn send_bye(&mut self, now: Monotonic, key: &SipCallKey) {
        let branch = format!("z9hG4bK{}", self.token());
        let Some(transport) = self.calls.get(key).map(|c| c.transport) else {
            return;
        };
        let local = match (transport, self.settings.tls_local) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.settings.local,
        };
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        call.local_cseq += 1;
        let target = call
            .invite
            .contact
            .clone()
            .unwrap_or_else(|| format!("sip:{}", call.source));
        let bytes = message::write_request(&DialogRequest {
            method: "BYE",
            target: &target,
            local,
            transport,
            branch: &branch,
            from: &call.invite.to,
            from_tag: &call.local_tag,
            to: &call.invite.from,
            call_id: &call.invite.call_id,
            cseq: call.local_cseq,
            route: &call.invite.record_route,
            contact: None,
            sdp: None,
        });
        call.bye = Some((branch, Retransmit::new(bytes.clone(), now)));
        let to = call.source;
        self.send(to, bytes);
        self.timers.arm(now.plus(T1), Timer::Bye(key.clone()));
    }
}
