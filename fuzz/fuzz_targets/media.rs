//! What the network sends a WebRTC media connection: any datagram into a
//! connected connection of either stack hotline drives. The answering side
//! browsers talk to (crates/webrtc-lite: ICE-lite checks, DTLS records,
//! SRTP and SRTCP), and webrtc-rs' full `rtc` peer connection that
//! hotline's own softphones use (its demuxer hands the datagram to ICE,
//! DTLS or SRTP). The input's first byte picks the stack (its top bit)
//! and what the datagram is shaped as (so each path is reached without the
//! fuzzer having to find its magic numbers); the rest is the datagram.
//! Then the connection's timers run. Nothing may panic, and a connection
//! that was up stays up or fails cleanly.
//!
//! Each pair is connected once, over an in-memory link with a simulated
//! clock (time comes in as an argument), and reused.
#![no_main]

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MediaEngine, MIME_TYPE_PCMU};
use hotline_webrtc_lite::{Identity, Offer, State, Transport};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

struct Pair {
    offerer: RTCPeerConnection,
    answerer: RTCPeerConnection,
    now: Instant,
}

const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";
const STUN_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

static PAIR: Mutex<Option<Pair>> = Mutex::new(None);

/// An rtc offerer and the lite answerer.
struct LitePair {
    offerer: RTCPeerConnection,
    answerer: Transport,
    now: Instant,
}

static LITE: Mutex<Option<LitePair>> = Mutex::new(None);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

fn peer(local: &str) -> Option<RTCPeerConnection> {
    let mut media = MediaEngine::default();
    let codec = RTCRtpCodec {
        mime_type: MIME_TYPE_PCMU.to_owned(),
        clock_rate: 8000,
        channels: 1,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    };
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec.clone(),
                payload_type: 0,
            },
            RtpCodecKind::Audio,
        )
        .ok()?;
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_media_engine(media)
        .build(Instant::now())
        .ok()?;
    let track = MediaStreamTrack::new(
        "s".into(),
        "t".into(),
        "t".into(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(0x1234_5678),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    pc.add_track(track).ok()?;
    let a = addr(local);
    pc.add_local_candidate(RTCIceCandidateInit {
        candidate: format!("candidate:1 1 udp 2130706431 {} {} typ host", a.ip(), a.port()),
        ..Default::default()
    })
    .ok()?;
    pc.add_local_candidate(RTCIceCandidateInit::default()).ok()?;
    Some(pc)
}

/// Everything `from` wants to send, handed to `to`.
fn carry(from: &mut RTCPeerConnection, to: &mut RTCPeerConnection, now: Instant) {
    while let Some(d) = from.poll_write() {
        let _ = to.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: d.transport.peer_addr,
                peer_addr: d.transport.local_addr,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: d.message,
        });
    }
}

fn connected(pc: &mut RTCPeerConnection, up: &mut bool) {
    while let Some(e) = pc.poll_event() {
        if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = e {
            *up = s == RTCPeerConnectionState::Connected;
        }
    }
    while pc.poll_read().is_some() {}
}

fn connect() -> Option<Pair> {
    let mut offerer = peer(A)?;
    let mut answerer = peer(B)?;
    let mut now = Instant::now();
    let offer = offerer.create_offer(None).ok()?;
    offerer.set_local_description(now, offer.clone()).ok()?;
    answerer.set_remote_description(now, offer).ok()?;
    let answer = answerer.create_answer(None).ok()?;
    answerer.set_local_description(now, answer.clone()).ok()?;
    offerer.set_remote_description(now, answer).ok()?;
    let (mut a_up, mut b_up) = (false, false);
    for _ in 0..2000 {
        carry(&mut offerer, &mut answerer, now);
        carry(&mut answerer, &mut offerer, now);
        connected(&mut offerer, &mut a_up);
        connected(&mut answerer, &mut b_up);
        if a_up && b_up {
            return Some(Pair { offerer, answerer, now });
        }
        now += Duration::from_millis(10);
        let _ = offerer.handle_timeout(now);
        let _ = answerer.handle_timeout(now);
    }
    None
}

/// The offerer's datagrams into the lite answerer, and back.
fn carry_lite(pair: &mut LitePair) {
    let now = pair.now;
    while let Some(d) = pair.offerer.poll_write() {
        pair.answerer
            .receive(now, d.transport.peer_addr, d.transport.local_addr, &d.message);
    }
    let mut out = Vec::new();
    pair.answerer.drain(&mut out);
    for d in out {
        let _ = pair.offerer.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: d.peer,
                peer_addr: d.local,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: d.bytes,
        });
    }
}

fn connect_lite() -> Option<LitePair> {
    let mut offerer = peer(A)?;
    let now = Instant::now();
    let offer = offerer.create_offer(None).ok()?;
    offerer.set_local_description(now, offer.clone()).ok()?;
    let identity = Identity::generate().ok()?;
    let parsed = Offer::parse(&offer.sdp, |pt, _| pt == 0).ok()?;
    let (answerer, sdp) = Transport::answer(&identity, &parsed, 0, "PCMU/8000", "", 7, &[addr(B)], now).ok()?;
    offerer
        .set_remote_description(now, RTCSessionDescription::answer(sdp).ok()?)
        .ok()?;
    let mut pair = LitePair { offerer, answerer, now };
    let mut up = false;
    for _ in 0..2000 {
        carry_lite(&mut pair);
        connected(&mut pair.offerer, &mut up);
        if up && pair.answerer.state() == State::Connected {
            return Some(pair);
        }
        pair.now += Duration::from_millis(10);
        let _ = pair.offerer.handle_timeout(pair.now);
        pair.answerer.handle_timeout(pair.now);
    }
    None
}

/// Shapes the datagram as `kind` asks.
fn shape(kind: u8, rest: &[u8]) -> BytesMut {
    let mut datagram = BytesMut::from(rest);
    match (kind % 4, datagram.len()) {
        // STUN: a binding request's type and the magic cookie.
        (0, n) if n >= 8 => {
            datagram[0] &= 0x3F;
            datagram[4..8].copy_from_slice(&STUN_COOKIE);
        }
        // DTLS: a record's content type (20..=63).
        (1, n) if n >= 1 => datagram[0] = 20 + datagram[0] % 44,
        // SRTP / SRTCP: RTP version 2.
        (2, n) if n >= 1 => datagram[0] = 0x80 | (datagram[0] & 0x3F),
        // As it came.
        _ => {}
    }
    datagram
}

fn lite(kind: u8, rest: &[u8]) {
    let Ok(mut slot) = LITE.lock() else {
        return;
    };
    if slot.is_none() {
        *slot = connect_lite();
    }
    let Some(pair) = slot.as_mut() else {
        panic!("an rtc offerer and the lite answerer could not connect");
    };
    pair.now += Duration::from_millis(1);
    let now = pair.now;
    pair.answerer.receive(now, addr(B), addr(A), &shape(kind, rest));
    pair.answerer.handle_timeout(now);
    carry_lite(pair);
    let mut offerer_up = true;
    connected(&mut pair.offerer, &mut offerer_up);
    // A connection the input closed or broke is built again.
    if pair.answerer.state() != State::Connected || !offerer_up {
        *slot = None;
    }
}

fn full(kind: u8, rest: &[u8]) {
    let Ok(mut slot) = PAIR.lock() else {
        return;
    };
    if slot.is_none() {
        *slot = connect();
    }
    let Some(pair) = slot.as_mut() else {
        panic!("two in-memory peers could not connect");
    };
    pair.now += Duration::from_millis(1);
    let now = pair.now;
    let _ = pair.answerer.handle_read(TaggedBytesMut {
        now,
        transport: TransportContext {
            local_addr: addr(B),
            peer_addr: addr(A),
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        },
        message: shape(kind, rest),
    });
    let _ = pair.answerer.handle_timeout(now);
    let mut up = true;
    connected(&mut pair.answerer, &mut up);
    carry(&mut pair.answerer, &mut pair.offerer, now);
    carry(&mut pair.offerer, &mut pair.answerer, now);
    let mut offerer_up = true;
    connected(&mut pair.offerer, &mut offerer_up);
    // A connection the input closed or broke is built again.
    if !up || !offerer_up {
        *slot = None;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind & 0x80 == 0 {
        lite(kind, rest);
    } else {
        full(kind, rest);
    }
});
