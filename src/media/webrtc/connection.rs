//! One peer connection inside a media shard: webrtc-rs' sans-IO state
//! machine (`rtc`: ICE, DTLS, SRTP and RTCP in one value), the [`Leg`] it
//! carries, and its codec state.
//!
//! Invariants: nothing here does I/O or reads a clock; the shard hands in
//! datagrams, frames and the time, and takes out datagrams. A packet whose
//! payload type was not negotiated is dropped; a frame that cannot be
//! encoded or sent is a frame lost, never an error that ends the call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::watch;
use tracing::debug;

use super::super::leg::Leg;
use super::super::MediaError;
use super::codec::{AudioCodec, Encoder, Incoming};

/// No packets for this long: the connection is disconnected...
pub(super) const ICE_DISCONNECTED: Duration = Duration::from_secs(3);
/// ...and this much longer: failed, and the leg is closed.
pub(super) const ICE_FAILED: Duration = Duration::from_secs(4);
/// Consent checks while no media flows, so silence is not a failure.
const ICE_KEEPALIVE: Duration = Duration::from_secs(1);

/// A datagram to send: from which of our addresses, to whom, what.
pub(super) use hotline_webrtc_lite::Datagram;

/// What we send: one audio track.
struct Outgoing {
    codec: AudioCodec,
    encoder: Encoder,
    sender: RTCRtpSenderId,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// The payload type the answer gave our codec, looked up once media
    /// can flow (a browser may number Opus differently from us).
    payload_type: Option<u8>,
}

pub(super) struct Connection {
    pub pc: RTCPeerConnection,
    pub leg: Arc<Leg>,
    out: Outgoing,
    /// Remote tracks, for looking up what their payload types carry.
    tracks: HashMap<String, RTCRtpReceiverId>,
    /// By payload type; None: a type we do not carry (dropped).
    incoming: HashMap<u8, Option<Incoming>>,
    /// Published to whoever waits for the connection to come up.
    state: watch::Sender<RTCPeerConnectionState>,
    /// When the state machine next wants the time (as last asked).
    pub deadline: Option<Instant>,
    /// Frames that could not be sent (not yet connected excepted).
    pub frames_failed: u64,
}

/// How a connection's outputs went.
#[derive(Default)]
pub(super) struct Drained {
    /// The connection failed or closed: the shard forgets it.
    pub ended: bool,
}

impl Connection {
    /// A connection sending `send`, accepting `codecs`, with a host
    /// candidate at each of `candidates`.
    pub fn new(
        codecs: &[AudioCodec],
        send: AudioCodec,
        leg: Arc<Leg>,
        candidates: &[SocketAddr],
        now: Instant,
    ) -> Result<(Connection, watch::Receiver<RTCPeerConnectionState>), MediaError> {
        let rtc_err = |e: rtc::shared::error::Error| MediaError::Transport(e.to_string());
        let mut media = MediaEngine::default();
        for codec in codecs {
            media
                .register_codec(codec.parameters(), RtpCodecKind::Audio)
                .map_err(rtc_err)?;
        }
        // Receiver and sender reports only: NACK and congestion control buy
        // nothing for 20 ms voice frames and cost per-packet work.
        let registry = configure_rtcp_reports(Registry::new());
        // A party that vanished without a goodbye (tab closed, network
        // gone) counts as hung up after DISCONNECTED + FAILED of silence,
        // not the library's 30 s: nobody waits that long on a dead line.
        let settings = SettingEngineBuilder::new()
            .with_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), Some(ICE_KEEPALIVE))
            // Browsers' mDNS names cannot be resolved without multicast;
            // their checks reach us anyway and are answered (prflx).
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(rtc_err)?;
        let ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            "hotline".into(),
            "audio".into(),
            "audio".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: send.rtp_codec(),
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).map_err(rtc_err)?;
        for (i, addr) in candidates.iter().enumerate() {
            pc.add_local_candidate(RTCIceCandidateInit {
                candidate: hotline_webrtc_lite::host_candidate(i, *addr),
                ..Default::default()
            })
            .map_err(rtc_err)?;
        }
        // The end of gathering: every candidate is in the description.
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .map_err(rtc_err)?;
        let (state, state_rx) = watch::channel(RTCPeerConnectionState::New);
        let out = Outgoing {
            codec: send,
            encoder: send.encoder()?,
            sender,
            ssrc,
            sequence: rand::random(),
            timestamp: rand::random(),
            payload_type: None,
        };
        let connection = Connection {
            pc,
            leg,
            out,
            tracks: HashMap::new(),
            incoming: HashMap::new(),
            state,
            deadline: None,
            frames_failed: 0,
        };
        Ok((connection, state_rx))
    }

    /// The ICE username fragment this side answers to, once described.
    pub fn local_ufrag(&self) -> Option<String> {
        let sdp = self.pc.local_description()?.sdp;
        sdp.lines()
            .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
            .map(str::to_string)
    }

    /// A datagram arrived for this connection.
    pub fn receive(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        let message = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: local,
                peer_addr: peer,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(bytes),
        };
        // A datagram the stack cannot use (garbage, a stale DTLS record, a
        // replayed SRTP packet) is dropped; the connection lives on.
        if let Err(e) = self.pc.handle_read(message) {
            debug!(leg = %self.leg.id, error = %e, "datagram dropped");
        }
    }

    /// Sends one 20 ms frame the leg's party is to hear.
    pub fn send_frame(&mut self, now: Instant, frame: &[i16]) {
        let out = &mut self.out;
        // Before media can flow there is nothing to send on.
        if *self.state.borrow() != RTCPeerConnectionState::Connected {
            return;
        }
        let payload_type = match out.payload_type {
            Some(pt) => pt,
            None => {
                let Some(mut sender) = self.pc.rtp_sender(out.sender) else {
                    return;
                };
                let mime = out.codec.rtp_codec().mime_type;
                let negotiated = sender
                    .get_parameters()
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&mime))
                    .map(|c| (c.payload_type, c.rtp_codec.sdp_fmtp_line.clone()));
                let Some((pt, fmtp)) = negotiated else {
                    self.frames_failed += 1;
                    return;
                };
                out.encoder.follow_peer(&fmtp);
                out.payload_type = Some(pt);
                pt
            }
        };
        let Ok(payload) = out.encoder.encode(frame) else {
            self.frames_failed += 1;
            return;
        };
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::Header {
                version: 2,
                payload_type,
                sequence_number: out.sequence,
                timestamp: out.timestamp,
                ssrc: out.ssrc,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        out.sequence = out.sequence.wrapping_add(1);
        out.timestamp = out.timestamp.wrapping_add(out.codec.frame_ticks());
        let sent = self
            .pc
            .rtp_sender(out.sender)
            .map(|mut s| s.write_rtp(now, packet).is_ok());
        if sent != Some(true) {
            self.frames_failed += 1;
        }
    }

    /// The state machine's time has come.
    pub fn timeout(&mut self, now: Instant) {
        if let Err(e) = self.pc.handle_timeout(now) {
            debug!(leg = %self.leg.id, error = %e, "timer");
        }
    }

    /// Takes everything the state machine has for the world: datagrams
    /// into `out`, events (state changes, new tracks), received audio into
    /// the leg; and asks for its next deadline. `wrote_only`: nothing but
    /// frames went in since the last drain, so only datagrams can come out.
    ///
    /// Every poll of the state machine runs its whole handler pipeline, so
    /// a drain polls no more than its input can have produced: one more
    /// round only after an event (a state change can queue handshake
    /// records) or, before media flows, after a read.
    pub fn drain(&mut self, out: &mut Vec<Datagram>, wrote_only: bool) -> Drained {
        let mut drained = Drained::default();
        loop {
            while let Some(d) = self.pc.poll_write() {
                out.push(Datagram {
                    local: d.transport.local_addr,
                    peer: d.transport.peer_addr,
                    bytes: d.message,
                });
            }
            if wrote_only {
                break;
            }
            let mut again = false;
            while let Some(event) = self.pc.poll_event() {
                again = true;
                drained.ended |= self.on_event(event);
            }
            let connected = *self.state.borrow() == RTCPeerConnectionState::Connected;
            while let Some(message) = self.pc.poll_read() {
                again |= !connected;
                if let RTCMessage::RtpPacket(track, packet) = message.message {
                    self.on_rtp(&track, packet, message.now);
                }
            }
            if !again {
                break;
            }
        }
        self.deadline = self.pc.poll_timeout();
        drained
    }

    /// True when the connection has ended.
    fn on_event(&mut self, event: RTCPeerConnectionEvent) -> bool {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                debug!(leg = %self.leg.id, ?state, "media connection state");
                let _ = self.state.send(state);
                if matches!(
                    state,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    self.leg.close();
                    return true;
                }
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                self.tracks.insert(init.track_id, init.receiver_id);
            }
            _ => {}
        }
        false
    }

    fn on_rtp(&mut self, track: &str, packet: rtc::rtp::Packet, arrival: Instant) {
        let pt = packet.header.payload_type;
        if !self.incoming.contains_key(&pt) {
            let incoming = self.codec_of(track, pt).map(Incoming::new);
            self.incoming.insert(pt, incoming);
        }
        if let Some(Some(incoming)) = self.incoming.get_mut(&pt) {
            incoming.push(&self.leg, &packet.header, &packet.payload, arrival);
        }
    }

    /// What payload type `pt` of `track` carries, as negotiated.
    fn codec_of(&mut self, track: &str, pt: u8) -> Option<AudioCodec> {
        let receiver = *self.tracks.get(track)?;
        let mut receiver = self.pc.rtp_receiver(receiver)?;
        let mime = receiver
            .get_parameters()
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.payload_type == pt)
            .map(|c| c.rtp_codec.mime_type.clone());
        // Static payload type 0 is PCMU even where no rtpmap named it.
        mime.and_then(|m| AudioCodec::from_mime(&m))
            .or_else(|| (pt == AudioCodec::Pcmu.payload_type()).then_some(AudioCodec::Pcmu))
    }

    /// Hangs up: the state machine says goodbye (DTLS close_notify) into
    /// `out`, and the leg closes.
    pub fn close(&mut self, out: &mut Vec<Datagram>) {
        self.leg.close();
        let _ = self.pc.close();
        let _ = self.state.send(RTCPeerConnectionState::Closed);
        self.drain(out, false);
    }
}
