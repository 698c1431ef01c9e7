//! Requests within a call's dialog: a re-INVITE, the ACK of our answer,
//! CANCEL before the answer and BYE after it.

use super::outbound::dialog_parts;
use super::*;
use crate::sdp;

impl TrunkCore {
    pub(super) fn handle_reinvite(
        &mut self,
        now: Monotonic,
        from: SocketAddr,
        key: SipCallKey,
        req: Request,
    ) {
        let offer = sdp::parse_offer(&String::from_utf8_lossy(&req.body));
        let Some(transport) = self.calls.get(&key).map(|c| c.transport) else {
            return;
        };
        let contact = self.contact(transport);
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        // SRTP keys are set for the call: a re-offer keeps them (same
        // profile, same key of theirs) or is refused.
        let same_keys =
            |o: &sdp::AudioOffer| o.srtp.map(|c| c.key) == call.srtp.map(|(theirs, _)| theirs.key);
        match offer {
            Ok(offer) if same_keys(&offer) => {
                call.sdp_version += 1;
                let local = call.local_sdp.as_deref().and_then(local_rtp_of);
                let Some(local) = local else {
                    let bytes = message::write_response(&req, 491, &ResponseParts::default());
                    self.send(from, bytes);
                    return;
                };
                let ours = call.srtp.map(|(_, ours)| ours);
                let answer = sdp::answer(
                    local,
                    &offer,
                    session_id(&call.local_tag),
                    call.sdp_version,
                    ours.as_ref(),
                );
                let bytes =
                    message::write_response(&req, 200, &dialog_parts(&call.local_tag, &contact, &answer));
                self.await_ack(now, &key, bytes);
                self.events.push_back(TrunkEvent::HoldChanged {
                    key,
                    on_hold: offer.on_hold,
                });
            }
            _ => {
                let bytes = message::write_response(&req, 488, &ResponseParts::default());
                self.send(from, bytes);
            }
        }
    }

    pub(super) fn handle_ack(&mut self, now: Monotonic, key: SipCallKey, _req: &Request) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.awaiting_ack = None;
        if call.state == State::Answered {
            call.state = State::Confirmed;
        }
        let _ = now;
    }

    pub(super) fn handle_cancel(&mut self, now: Monotonic, from: SocketAddr, key: SipCallKey, req: Request) {
        // The CANCEL names the INVITE by Call-ID and CSeq number (its
        // branch should match too; some clients get that wrong).
        let state = self
            .calls
            .get(&key)
            .filter(|c| c.invite.cseq == req.cseq)
            .map(|c| c.state);
        let Some(state) = state else {
            self.reply(from, &req, 481, ResponseParts::default());
            return;
        };
        self.reply(from, &req, 200, ResponseParts::default());
        if state != State::Early {
            // Too late: the INVITE has its final response already.
            return;
        }
        self.final_error(now, &key, 487);
        if let Some(call) = self.calls.get_mut(&key) {
            if std::mem::take(&mut call.announced) {
                self.events.push_back(TrunkEvent::Cancelled { key });
            }
        }
    }

    pub(super) fn handle_bye(&mut self, now: Monotonic, from: SocketAddr, key: SipCallKey, req: Request) {
        let known = self
            .calls
            .get(&key)
            .is_some_and(|c| req.to_tag.as_deref() == Some(c.local_tag.as_str()));
        if !known {
            self.reply(from, &req, 481, ResponseParts::default());
            return;
        }
        self.reply(from, &req, 200, ResponseParts::default());
        self.end(now, &key);
    }
}
