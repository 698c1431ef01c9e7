//! One browser connection's transport: ICE-lite checks answered, the
//! DTLS-SRTP handshake, SRTP both ways.
//!
//! Invariants:
//! - Only an ICE check that names our username fragment and is
//!   authenticated with our password validates a source. DTLS and SRTP are
//!   taken only from validated sources, and media only once the handshake
//!   proved the peer holds the certificate its offer's fingerprint names.
//! - Media goes to the pair the controlling side nominated (USE-CANDIDATE),
//!   or, until it does, to the source last validated.
//! - No authenticated packet for [`SILENCE_FAILS`] fails the connection.
//! - A state, once Failed or Closed, never changes again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::dtls::config::HandshakeConfig;
use rtc::dtls::endpoint::{Endpoint, EndpointEvent};
use rtc::dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc::rtp::header::Header;
use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
use rtc::shared::TransportProtocol;
use rtc::srtp::context::Context as SrtpContext;
use rtc::srtp::protection_profile::ProtectionProfile;
use rtc::stun::attributes::{ATTR_USERNAME, ATTR_USE_CANDIDATE};
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::integrity::MessageIntegrity;
use rtc::stun::message::{Message, Setter, BINDING_REQUEST, BINDING_SUCCESS};
use rtc::stun::xoraddr::XorMappedAddress;

use crate::answer::{self, Offer};
use crate::identity::{crypto, Identity};
use crate::Error;

/// Silence from the peer (no check, no packet) that fails the connection:
/// a browser sends a consent check at least every 5 s (RFC 7675), and
/// media every 20 ms.
pub const SILENCE_FAILS: Duration = Duration::from_secs(7);

/// Sources validated at once (a browser checks one pair per interface).
const MAX_SOURCES: usize = 8;

/// Packets SRTP remembers for replay protection (RFC 3711 3.3.2's minimum).
const REPLAY_WINDOW: usize = 64;

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Answered; no handshake yet.
    New,
    /// The handshake is done: media flows.
    Connected,
    /// The peer went silent, or the handshake failed.
    Failed,
    /// Either side hung up.
    Closed,
}

/// A datagram to send: from which of our addresses, to whom, what.
#[derive(Debug)]
pub struct Datagram {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub bytes: BytesMut,
}

/// A media packet that arrived, decrypted.
pub struct Rtp {
    pub header: Header,
    plain: BytesMut,
    start: usize,
    end: usize,
}

impl Rtp {
    pub fn payload(&self) -> &[u8] {
        self.plain.get(self.start..self.end).unwrap_or_default()
    }
}

/// What a datagram turned out to be, where the caller has to know.
pub enum Received {
    /// Audio, decrypted and authenticated.
    Rtp(Rtp),
    /// An SRTP packet that failed authentication or replayed an old one.
    Rejected(Error),
    /// Anything else (a check, a handshake record, RTCP, garbage).
    Nothing,
}

/// SRTP both ways, keyed by the DTLS handshake.
struct Srtp {
    outbound: SrtpContext,
    inbound: SrtpContext,
}

/// The answering side of one connection.
pub struct Transport {
    ufrag: String,
    pwd: String,
    /// What a check's USERNAME must be: "ours:theirs".
    username: String,
    dtls: Endpoint,
    /// Set when we are the DTLS client (the offer said setup:passive).
    connect: Option<Arc<HandshakeConfig>>,
    /// The source the DTLS association runs with.
    dtls_peer: Option<SocketAddr>,
    /// Sources that passed a check, (our address, theirs), newest last.
    validated: Vec<(SocketAddr, SocketAddr)>,
    /// Where media goes.
    selected: Option<(SocketAddr, SocketAddr)>,
    nominated: bool,
    srtp: Option<Srtp>,
    state: State,
    /// Why the connection failed, for the caller's log.
    failure: Option<String>,
    /// The last authenticated packet: liveness.
    last_heard: Instant,
    /// When liveness is next checked. It moves only when checked, not with
    /// every packet, so a connection's deadline stays put while media
    /// flows (the driver's timer heap is not touched per packet).
    check_at: Instant,
    /// The DTLS association's retransmission timer, as last asked (it
    /// changes only on DTLS input and timeouts; asking costs a lookup).
    dtls_timer: Option<Instant>,
    /// The latest time handed in (a hang-up's goodbye is stamped with it).
    now: Instant,
    /// Datagrams waiting for the caller's next drain.
    pending: Vec<Datagram>,
    /// A packet being sealed (kept to spare an allocation a packet).
    scratch: Vec<u8>,
}

impl Transport {
    /// Answers `offer` for a codec sent as `payload_type` (`rtpmap`,
    /// `fmtp`) with host candidates at `candidates` (at least one).
    /// Returns the transport and the answer's SDP.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(
        identity: &Identity,
        offer: &Offer,
        payload_type: u8,
        rtpmap: &str,
        fmtp: &str,
        ssrc: u32,
        candidates: &[SocketAddr],
        now: Instant,
    ) -> Result<(Transport, String), Error> {
        let first = *candidates
            .first()
            .ok_or_else(|| Error::Transport("no address to answer on".into()))?;
        let ufrag = random_ice_chars(8);
        let pwd = random_ice_chars(24);
        let handshake = identity.handshake(offer.fingerprint.clone(), offer.we_connect)?;
        let (dtls, connect) = if offer.we_connect {
            (
                Endpoint::new(first, TransportProtocol::UDP, None),
                Some(handshake),
            )
        } else {
            (
                Endpoint::new(first, TransportProtocol::UDP, Some(handshake)),
                None,
            )
        };
        let sdp = answer::answer(
            offer,
            &answer::Local {
                ufrag: &ufrag,
                pwd: &pwd,
                fingerprint: identity.fingerprint(),
                payload_type,
                rtpmap,
                fmtp,
                ssrc,
                candidates,
            },
        );
        let transport = Transport {
            username: format!("{ufrag}:{}", offer.ice_ufrag),
            ufrag,
            pwd,
            dtls,
            connect,
            dtls_peer: None,
            validated: Vec::new(),
            selected: None,
            nominated: false,
            srtp: None,
            state: State::New,
            failure: None,
            last_heard: now,
            check_at: now + SILENCE_FAILS,
            dtls_timer: None,
            now,
            pending: Vec::new(),
            scratch: Vec::with_capacity(256),
        };
        Ok((transport, sdp))
    }

    /// The ICE username fragment checks name us by.
    pub fn ufrag(&self) -> &str {
        &self.ufrag
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Why the connection failed, once it has.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn is(&self, local: SocketAddr, peer: SocketAddr) -> bool {
        // Media comes from the selected pair: asked first.
        self.selected == Some((local, peer)) || self.validated.contains(&(local, peer))
    }

    /// A datagram arrived (demultiplexed by its first byte, RFC 7983).
    pub fn receive(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) -> Received {
        self.now = now;
        if matches!(self.state, State::Failed | State::Closed) {
            return Received::Nothing;
        }
        match bytes.first() {
            Some(0..=3) => self.on_stun(now, local, peer, bytes),
            Some(20..=63) if self.is(local, peer) => self.on_dtls(now, local, peer, bytes),
            Some(128..=191) if self.is(local, peer) => return self.on_srtp(now, bytes),
            _ => {}
        }
        Received::Nothing
    }

    fn on_stun(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        let mut request = Message::new();
        if request.unmarshal_binary(bytes).is_err() || request.typ != BINDING_REQUEST {
            return;
        }
        if request.get(ATTR_USERNAME).ok().as_deref() != Some(self.username.as_bytes()) {
            return;
        }
        if MessageIntegrity::check(&mut request, self.pwd.as_bytes(), crypto()).is_err() {
            return;
        }
        self.last_heard = now;
        if !self.is(local, peer) {
            if self.validated.len() == MAX_SOURCES {
                self.validated.remove(0);
            }
            self.validated.push((local, peer));
        }
        let nominate = request.contains(ATTR_USE_CANDIDATE);
        if nominate || !self.nominated {
            self.selected = Some((local, peer));
            self.nominated |= nominate;
        }
        let mut response = Message::new();
        let setters: [Box<dyn Setter + '_>; 5] = [
            Box::new(request.clone()),
            Box::new(BINDING_SUCCESS),
            Box::new(XorMappedAddress {
                ip: peer.ip(),
                port: peer.port(),
            }),
            Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
                self.pwd.clone(),
                crypto(),
            )),
            Box::new(FINGERPRINT),
        ];
        if response.build(&setters).is_ok() {
            self.pending.push(Datagram {
                local,
                peer,
                bytes: BytesMut::from(&response.raw[..]),
            });
        }
        // As the DTLS client, we start once there is a pair to start on.
        if let (Some(config), None) = (&self.connect, self.dtls_peer) {
            match self.dtls.connect(now, peer, config.clone(), None) {
                Ok(()) => self.dtls_peer = Some(peer),
                Err(e) => self.fail(format!("DTLS connect: {e}")),
            }
            self.take_dtls_output(local);
        }
    }

    fn on_dtls(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        // One association: the first source to start it keeps it.
        if self.dtls_peer.is_some_and(|p| p != peer) {
            return;
        }
        self.dtls_peer = Some(peer);
        let events = self.dtls.read(now, peer, None, BytesMut::from(bytes));
        self.take_dtls_output(local);
        // A record the association cannot use is dropped; it lives on.
        let Ok(events) = events else {
            return;
        };
        self.last_heard = now;
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => self.on_handshake(peer),
                EndpointEvent::PeerClosed => self.end(State::Closed),
                _ => {}
            }
        }
    }

    fn take_dtls_output(&mut self, local: SocketAddr) {
        self.dtls_timer = self.dtls_peer.and_then(|p| self.dtls.poll_timeout(&p));
        while let Some(t) = self.dtls.poll_transmit() {
            self.pending.push(Datagram {
                local,
                peer: t.transport.peer_addr,
                bytes: t.message,
            });
        }
    }

    fn on_handshake(&mut self, peer: SocketAddr) {
        match self.srtp_keys(peer) {
            Ok(srtp) => {
                self.srtp = Some(srtp);
                self.state = State::Connected;
            }
            Err(e) => self.fail(format!("no SRTP keys after the DTLS handshake: {e}")),
        }
    }

    /// SRTP contexts from the handshake's keying material (RFC 5764 4.2).
    fn srtp_keys(&self, peer: SocketAddr) -> Result<Srtp, String> {
        let state = self
            .dtls
            .get_connection_state(peer)
            .ok_or("the DTLS association is gone")?;
        let profile = match state.srtp_protection_profile() {
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            other => return Err(format!("unexpected SRTP profile {other:?}")),
        };
        let mut config = rtc::srtp::config::Config {
            profile,
            ..Default::default()
        };
        let material = state
            .export_keying_material(
                rtc::srtp::config::LABEL_EXTRACTOR_DTLS_SRTP,
                &[],
                config.keying_material_len(),
            )
            .map_err(|e| e.to_string())?;
        config
            .set_session_keys_from_keying_material(material.as_ref(), state.is_client())
            .map_err(|e| e.to_string())?;
        let keys = &config.keys;
        let context = |key: &[u8], salt: &[u8], replay: bool| {
            SrtpContext::new(
                key,
                salt,
                profile,
                replay.then(|| rtc::srtp::option::srtp_replay_protection(REPLAY_WINDOW)),
                replay.then(|| rtc::srtp::option::srtcp_replay_protection(REPLAY_WINDOW)),
                crypto(),
            )
            .map_err(|e| e.to_string())
        };
        Ok(Srtp {
            outbound: context(&keys.local_master_key, &keys.local_master_salt, false)?,
            inbound: context(&keys.remote_master_key, &keys.remote_master_salt, true)?,
        })
    }

    fn on_srtp(&mut self, now: Instant, bytes: &[u8]) -> Received {
        let Some(srtp) = &mut self.srtp else {
            return Received::Nothing;
        };
        // RTCP (RFC 5761 4): its packet types take the second byte's range.
        if matches!(bytes.get(1), Some(192..=223)) {
            if srtp.inbound.decrypt_rtcp(bytes).is_ok() {
                self.last_heard = now;
            }
            return Received::Nothing;
        }
        let Ok(header) = Header::unmarshal(&mut &bytes[..]) else {
            return Received::Nothing;
        };
        let plain = match srtp.inbound.decrypt_rtp_with_header(bytes, &header) {
            Ok(plain) => plain,
            Err(e) => return Received::Rejected(Error::Srtp(e.to_string())),
        };
        self.last_heard = now;
        let start = header.marshal_size();
        let mut end = plain.len();
        if header.padding {
            end = end.saturating_sub(plain.last().copied().unwrap_or(0) as usize);
        }
        Received::Rtp(Rtp {
            header,
            plain,
            start,
            end,
        })
    }

    /// Sends one media packet; Err(NotConnected) before the handshake.
    pub fn send_rtp(&mut self, header: &Header, payload: &[u8]) -> Result<(), Error> {
        let (Some(srtp), Some((local, peer))) = (&mut self.srtp, self.selected) else {
            return Err(Error::NotConnected);
        };
        if self.state != State::Connected {
            return Err(Error::NotConnected);
        }
        let plain = &mut self.scratch;
        plain.clear();
        plain.resize(header.marshal_size(), 0);
        header
            .marshal_to(&mut plain[..])
            .map_err(|e| Error::Srtp(e.to_string()))?;
        plain.extend_from_slice(payload);
        let bytes = srtp
            .outbound
            .encrypt_rtp_with_header(plain, header)
            .map_err(|e| Error::Srtp(e.to_string()))?;
        self.pending.push(Datagram { local, peer, bytes });
        Ok(())
    }

    /// The time has come for a DTLS retransmission or the liveness check.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        if now >= self.check_at {
            if now.saturating_duration_since(self.last_heard) >= SILENCE_FAILS {
                self.fail(format!(
                    "no packet from the peer for {} s",
                    SILENCE_FAILS.as_secs()
                ));
                return;
            }
            self.check_at = self.last_heard + SILENCE_FAILS;
        }
        if let Some(peer) = self.dtls_peer {
            if self.dtls_timer.is_some_and(|t| now >= t) {
                if let Err(e) = self.dtls.handle_timeout(peer, now) {
                    self.fail(format!("DTLS handshake: {e}"));
                }
            }
            let local = self.selected.or_else(|| self.validated.last().copied());
            match local {
                Some((local, _)) => self.take_dtls_output(local),
                None => self.dtls_timer = self.dtls.poll_timeout(&peer),
            }
        }
    }

    /// When [`Self::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Failed | State::Closed) {
            return None;
        }
        Some(self.dtls_timer.map_or(self.check_at, |d| d.min(self.check_at)))
    }

    /// Moves what waits to be sent into `out`.
    pub fn drain(&mut self, out: &mut Vec<Datagram>) {
        out.append(&mut self.pending);
    }

    /// Hangs up: a DTLS close_notify to the peer.
    pub fn close(&mut self) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        let _ = self.dtls.close(self.now);
        if let Some((local, _)) = self.selected {
            self.take_dtls_output(local);
        }
        self.end(State::Closed);
    }

    fn fail(&mut self, why: String) {
        if !matches!(self.state, State::Failed | State::Closed) {
            self.failure = Some(why);
        }
        self.end(State::Failed);
    }

    fn end(&mut self, state: State) {
        if !matches!(self.state, State::Failed | State::Closed) {
            self.state = state;
        }
    }
}

/// ICE's credential characters (RFC 8445 5.3: ice-char).
fn random_ice_chars(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..n)
        .map(|_| CHARS[rand::random::<u8>() as usize % CHARS.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:them\r\na=ice-pwd:theirpasswordtheirpasswd\r\n\
        a=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n";

    fn answered(now: Instant) -> Transport {
        let identity = Identity::generate().expect("certificate");
        let offer = Offer::parse(OFFER, |pt, _| pt == 0).expect("offer");
        let ours = ["127.0.0.1:4000".parse().expect("address")];
        let (transport, _) =
            Transport::answer(&identity, &offer, 0, "PCMU/8000", "", 1, &ours, now).expect("answer");
        transport
    }

    fn check(username: &str, pwd: &str, nominate: bool) -> Vec<u8> {
        let mut m = Message::new();
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(BINDING_REQUEST),
            Box::new(rtc::stun::message::TransactionId::new()),
            Box::new(rtc::stun::textattrs::TextAttribute::new(
                ATTR_USERNAME,
                username.to_string(),
            )),
        ];
        if nominate {
            setters.push(Box::new(rtc::stun::attributes::RawAttribute {
                typ: ATTR_USE_CANDIDATE,
                length: 0,
                value: vec![],
            }));
        }
        setters.push(Box::new(
            MessageIntegrity::new_short_term_integrity_with_provider(pwd.to_string(), crypto()),
        ));
        setters.push(Box::new(FINGERPRINT));
        m.build(&setters).expect("a check builds");
        m.raw
    }

    /// The peer at 127.0.0.1:5000 sends a nominating check, with our
    /// password, to our 127.0.0.1:4000.
    fn hear_valid_check(t: &mut Transport, at: Instant) {
        let username = format!("{}:them", t.ufrag());
        let pwd = t.pwd.clone();
        t.receive(
            at,
            addr("127.0.0.1:4000"),
            addr("127.0.0.1:5000"),
            &check(&username, &pwd, true),
        );
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_check_with_our_password_is_answered_and_validates_its_source() {
        let now = Instant::now();
        let mut t = answered(now);
        hear_valid_check(&mut t, now);
        let mut out = Vec::new();
        t.drain(&mut out);
        assert_eq!(out.len(), 1, "one response");
        let mut response = Message::new();
        response.unmarshal_binary(&out[0].bytes).expect("a STUN response");
        assert_eq!(response.typ, BINDING_SUCCESS);
        MessageIntegrity::check(&mut response, t.pwd.as_bytes(), crypto()).expect("signed with our password");
        assert_eq!(out[0].peer, addr("127.0.0.1:5000"));
        assert_eq!(t.selected, Some((addr("127.0.0.1:4000"), addr("127.0.0.1:5000"))));
    }

    #[test]
    fn a_check_with_a_wrong_password_or_username_is_dropped_and_validates_nothing() {
        let now = Instant::now();
        let mut t = answered(now);
        let username = format!("{}:them", t.ufrag());
        let (ours, theirs) = (addr("127.0.0.1:4000"), addr("127.0.0.1:5000"));
        t.receive(
            now,
            ours,
            theirs,
            &check(&username, "not-the-password-at-all!", true),
        );
        t.receive(now, ours, theirs, &check("someone:else", &t.pwd.clone(), true));
        // A DTLS ClientHello-shaped record from the unvalidated source.
        t.receive(
            now,
            ours,
            theirs,
            &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        );
        let mut out = Vec::new();
        t.drain(&mut out);
        assert!(out.is_empty(), "no answer to a stranger: {out:?}");
        assert!(t.validated.is_empty() && t.selected.is_none());
    }

    #[test]
    fn media_waits_for_the_handshake_and_silence_fails_the_connection() {
        let now = Instant::now();
        let mut t = answered(now);
        let header = Header {
            version: 2,
            ..Default::default()
        };
        assert!(matches!(t.send_rtp(&header, &[0; 160]), Err(Error::NotConnected)));
        let deadline = t.poll_timeout().expect("the liveness deadline");
        assert_eq!(deadline, now + SILENCE_FAILS);
        // A check heard half way keeps the connection; the deadline moves
        // only once it comes.
        let half = now + SILENCE_FAILS / 2;
        hear_valid_check(&mut t, half);
        assert_eq!(t.poll_timeout(), Some(deadline));
        t.handle_timeout(deadline);
        assert_eq!(t.state(), State::New, "heard from within the last 7 s");
        let deadline = t.poll_timeout().expect("the next check");
        assert_eq!(deadline, half + SILENCE_FAILS);
        t.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(t.state(), State::New);
        t.handle_timeout(deadline);
        assert_eq!(t.state(), State::Failed);
        assert!(t.failure().is_some_and(|f| f.contains("no packet")));
        assert_eq!(t.poll_timeout(), None, "a failed connection wants no more time");
    }
}
