//! A browser's connection inside a media shard: the lean answering
//! transport (`hotline-webrtc-lite`: ICE-lite, DTLS-SRTP, SRTP in place),
//! the [`Leg`] it carries, and its codec state.
//!
//! Invariants: nothing here does I/O or reads a clock; a failed or closed
//! transport closes the leg, with the reason logged as a warning when it
//! failed; an SRTP packet that fails authentication is dropped, counted
//! (`hotline_srtp_packets_rejected_total`) and, the first time on a leg,
//! logged as a warning.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hotline_webrtc_lite::{Identity, Offer, Received, RtpHeader, State, Transport};
use rtc::peer_connection::state::RTCPeerConnectionState;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::super::leg::Leg;
use super::super::MediaError;
use super::codec::{AudioCodec, Encoder, Incoming};
use super::connection::{Datagram, Drained};

/// What we send: one audio stream.
struct Outgoing {
    codec: AudioCodec,
    encoder: Encoder,
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The offer asked us to send (not sendonly or inactive).
    enabled: bool,
}

pub(super) struct LiteConnection {
    pub leg: Arc<Leg>,
    transport: Transport,
    out: Outgoing,
    /// By the offer's payload types that carry our codec.
    incoming: HashMap<u8, Incoming>,
    /// Published to whoever waits for the connection to come up.
    state: watch::Sender<RTCPeerConnectionState>,
    /// The transport's state as last published.
    published: State,
    pub deadline: Option<Instant>,
    pub frames_failed: u64,
    /// SRTP packets that failed authentication.
    rejected: u64,
}

impl From<hotline_webrtc_lite::Error> for MediaError {
    fn from(e: hotline_webrtc_lite::Error) -> Self {
        use hotline_webrtc_lite::Error as E;
        match e {
            E::Sdp(m) => MediaError::Sdp(m),
            other => MediaError::Transport(other.to_string()),
        }
    }
}

impl LiteConnection {
    /// Answers `offer` (checked by `choose_codec`, which picked `codec`)
    /// with host candidates at `candidates`. Returns the connection, the
    /// answer's SDP and the state to wait on.
    pub fn answer(
        identity: &Identity,
        offer: &str,
        codec: AudioCodec,
        leg: Arc<Leg>,
        candidates: &[SocketAddr],
        now: Instant,
    ) -> Result<(LiteConnection, String, watch::Receiver<RTCPeerConnectionState>), MediaError> {
        let offer = Offer::parse(offer, |pt, rtpmap| {
            AudioCodec::of_payload(pt, rtpmap) == Some(codec)
        })?;
        let ours: Vec<u8> = offer
            .payload_types
            .iter()
            .filter(|(pt, map)| AudioCodec::of_payload(*pt, map.as_deref()) == Some(codec))
            .map(|(pt, _)| *pt)
            .collect();
        let payload_type = *ours
            .first()
            .ok_or_else(|| MediaError::NoCommonCodec(codec.name().into()))?;
        let ssrc = rand::random::<u32>();
        let fmtp = codec.rtp_codec().sdp_fmtp_line;
        let (transport, sdp) = Transport::answer(
            identity,
            &offer,
            payload_type,
            codec.name(),
            &fmtp,
            ssrc,
            candidates,
            now,
        )?;
        let incoming = ours.iter().map(|pt| (*pt, Incoming::new(codec))).collect();
        let mut encoder = codec.encoder()?;
        encoder.follow_peer(offer.fmtp(payload_type).unwrap_or_default());
        let (state, state_rx) = watch::channel(RTCPeerConnectionState::New);
        let mut connection = LiteConnection {
            leg,
            transport,
            out: Outgoing {
                codec,
                encoder,
                payload_type,
                ssrc,
                sequence: rand::random(),
                timestamp: rand::random(),
                enabled: offer.direction.we_send(),
            },
            incoming,
            state,
            published: State::New,
            deadline: None,
            frames_failed: 0,
            rejected: 0,
        };
        connection.deadline = connection.transport.poll_timeout();
        Ok((connection, sdp, state_rx))
    }

    pub fn local_ufrag(&self) -> Option<String> {
        Some(self.transport.ufrag().to_string())
    }

    /// A datagram arrived for this connection.
    pub fn receive(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        match self.transport.receive(now, local, peer, bytes) {
            Received::Rtp(rtp) => {
                if let Some(incoming) = self.incoming.get_mut(&rtp.header.payload_type) {
                    incoming.push(&self.leg, &rtp.header, rtp.payload(), now);
                }
            }
            Received::Rejected(e) => {
                self.rejected += 1;
                crate::metrics::events::srtp_packet_rejected();
                if self.rejected == 1 {
                    warn!(leg = %self.leg.id, error = %e, "SRTP packet rejected (wrong key, or a replay)");
                }
            }
            Received::Nothing => {}
        }
    }

    /// Sends one 20 ms frame the leg's party is to hear.
    pub fn send_frame(&mut self, _now: Instant, frame: &[i16]) {
        // Before media can flow there is nothing to send on.
        if self.transport.state() != State::Connected || !self.out.enabled {
            return;
        }
        let out = &mut self.out;
        let Ok(payload) = out.encoder.encode(frame) else {
            self.frames_failed += 1;
            return;
        };
        let header = RtpHeader {
            version: 2,
            payload_type: out.payload_type,
            sequence_number: out.sequence,
            timestamp: out.timestamp,
            ssrc: out.ssrc,
            ..Default::default()
        };
        out.sequence = out.sequence.wrapping_add(1);
        out.timestamp = out.timestamp.wrapping_add(out.codec.frame_ticks());
        if self.transport.send_rtp(&header, &payload).is_err() {
            self.frames_failed += 1;
        }
    }

    pub fn timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
    }

    /// Takes what waits to be sent, publishes a state change, and asks
    /// for the next deadline.
    pub fn drain(&mut self, out: &mut Vec<Datagram>) -> Drained {
        self.transport.drain(out);
        self.deadline = self.transport.poll_timeout();
        let state = self.transport.state();
        if state != self.published {
            self.published = state;
            debug!(leg = %self.leg.id, ?state, "media connection state");
            let _ = self.state.send(match state {
                State::New => RTCPeerConnectionState::New,
                State::Connected => RTCPeerConnectionState::Connected,
                State::Failed => RTCPeerConnectionState::Failed,
                State::Closed => RTCPeerConnectionState::Closed,
            });
            if let Some(why) = self.transport.failure() {
                warn!(leg = %self.leg.id, reason = why, "media connection failed; the leg ends");
            }
        }
        let ended = matches!(state, State::Failed | State::Closed);
        if ended {
            self.leg.close();
        }
        Drained { ended }
    }

    /// Hangs up: a DTLS close_notify to the peer; the drain sees the
    /// transport closed and closes the leg.
    pub fn close(&mut self, out: &mut Vec<Datagram>) {
        self.transport.close();
        self.drain(out);
    }
}
