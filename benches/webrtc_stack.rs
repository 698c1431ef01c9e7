//! The WebRTC stack's own cost per voice packet, the two sans-IO stacks
//! side by side: webrtc-rs' `rtc` (what hotline drives) and `str0m`. Two
//! peers of each are connected over an in-memory link with a simulated
//! clock (ICE, DTLS-SRTP, PCMU); then one 20 ms PCMU packet is sent each
//! way per step: written by one peer, encrypted, carried, decrypted and
//! read by the other. No sockets: what is measured is the stack alone.
//!
//! Figure printed: microseconds per packet (send and receive), for each.
//! Under `cargo test` (no `--bench`) it runs a few packets as a smoke test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

mod with_rtc {
    use super::*;
    use bytes::Bytes;
    use rtc::media_stream::MediaStreamTrack;
    use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
    use rtc::peer_connection::configuration::media_engine::{MediaEngine, MIME_TYPE_PCMU};
    use rtc::peer_connection::event::RTCPeerConnectionEvent;
    use rtc::peer_connection::message::RTCMessage;
    use rtc::peer_connection::state::RTCPeerConnectionState;
    use rtc::peer_connection::transport::RTCIceCandidateInit;
    use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
    };
    use rtc::rtp_transceiver::RTCRtpSenderId;
    use rtc::sansio::Protocol;
    use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

    const SSRC: u32 = 0x1234_5678;

    fn codec() -> RTCRtpCodec {
        RTCRtpCodec {
            mime_type: MIME_TYPE_PCMU.to_owned(),
            clock_rate: 8000,
            channels: 1,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        }
    }

    fn peer(local: &str, now: Instant) -> (RTCPeerConnection, RTCRtpSenderId) {
        let mut media = MediaEngine::default();
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec(),
                    payload_type: 0,
                },
                RtpCodecKind::Audio,
            )
            .expect("codec");
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(configure_rtcp_reports(rtc::interceptor::Registry::new()))
            .build(now)
            .expect("peer");
        let track = MediaStreamTrack::new(
            "s".into(),
            "t".into(),
            "t".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(SSRC),
                    ..Default::default()
                },
                codec: codec(),
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).expect("track");
        let a = addr(local);
        pc.add_local_candidate(RTCIceCandidateInit {
            candidate: format!("candidate:1 1 udp 2130706431 {} {} typ host", a.ip(), a.port()),
            ..Default::default()
        })
        .expect("candidate");
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .expect("end");
        (pc, sender)
    }

    /// Carries what `from` sends to `to`; counts RTP packets `to` reads.
    fn carry(from: &mut RTCPeerConnection, to: &mut RTCPeerConnection, now: Instant) -> usize {
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
        let mut read = 0;
        while let Some(m) = to.poll_read() {
            if matches!(m.message, RTCMessage::RtpPacket(..)) {
                read += 1;
            }
        }
        read
    }

    fn up(pc: &mut RTCPeerConnection, was: bool) -> bool {
        let mut up = was;
        while let Some(e) = pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = e {
                up = s == RTCPeerConnectionState::Connected;
            }
        }
        up
    }

    /// Microseconds per packet over `packets` each way.
    pub fn per_packet(packets: usize) -> f64 {
        let mut now = Instant::now();
        let (mut a, sa) = peer(A, now);
        let (mut b, sb) = peer(B, now);
        let offer = a.create_offer(None).expect("offer");
        a.set_local_description(now, offer.clone()).expect("local");
        b.set_remote_description(now, offer).expect("remote");
        let answer = b.create_answer(None).expect("answer");
        b.set_local_description(now, answer.clone()).expect("local");
        a.set_remote_description(now, answer).expect("remote");
        let (mut a_up, mut b_up) = (false, false);
        for _ in 0..2000 {
            carry(&mut a, &mut b, now);
            carry(&mut b, &mut a, now);
            a_up = up(&mut a, a_up);
            b_up = up(&mut b, b_up);
            if a_up && b_up {
                break;
            }
            now += Duration::from_millis(10);
            let _ = a.handle_timeout(now);
            let _ = b.handle_timeout(now);
        }
        assert!(a_up && b_up, "rtc peers connect");
        let payload = Bytes::from(vec![0x55u8; 160]);
        let mut read = 0;
        let started = Instant::now();
        for i in 0..packets {
            now += Duration::from_millis(20);
            for (pc, sender) in [(&mut a, sa), (&mut b, sb)] {
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::Header {
                        version: 2,
                        payload_type: 0,
                        sequence_number: i as u16,
                        timestamp: (i * 160) as u32,
                        ssrc: SSRC,
                        ..Default::default()
                    },
                    payload: payload.clone(),
                };
                if let Some(mut s) = pc.rtp_sender(sender) {
                    let _ = s.write_rtp(now, packet);
                }
                let _ = pc.handle_timeout(now);
            }
            read += carry(&mut a, &mut b, now);
            read += carry(&mut b, &mut a, now);
            up(&mut a, true);
            up(&mut b, true);
        }
        let spent = started.elapsed();
        assert!(read + 10 >= 2 * packets, "rtc carried {read} of {}", 2 * packets);
        spent.as_secs_f64() * 1e6 / (2 * packets) as f64
    }
}

mod with_str0m {
    use super::*;
    use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
    use str0m::net::{Protocol, Receive};
    use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

    fn peer(local: &str, lite: bool, now: Instant) -> Rtc {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_pcmu(true, false)
            .set_ice_lite(lite)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr(local), "udp").expect("candidate"));
        rtc
    }

    struct Datagram {
        source: SocketAddr,
        destination: SocketAddr,
        bytes: Vec<u8>,
    }

    /// Drains `rtc` to its timeout (as str0m requires after every
    /// mutation): its datagrams out, the media it read counted, whether it
    /// is connected.
    fn drain(rtc: &mut Rtc, out: &mut Vec<Datagram>, media: &mut usize, connected: &mut bool) {
        loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(_)) | Err(_) => break,
                Ok(Output::Transmit(t)) => out.push(Datagram {
                    source: t.source,
                    destination: t.destination,
                    bytes: t.contents.to_vec(),
                }),
                Ok(Output::Event(Event::MediaData(_))) => *media += 1,
                Ok(Output::Event(Event::IceConnectionStateChange(s))) => {
                    *connected = matches!(s, IceConnectionState::Connected | IceConnectionState::Completed);
                }
                Ok(Output::Event(Event::Connected)) => *connected = true,
                Ok(_) => {}
            }
        }
    }

    fn deliver(rtc: &mut Rtc, d: &Datagram, now: Instant) {
        let Ok(contents) = d.bytes.as_slice().try_into() else {
            return;
        };
        let _ = rtc.handle_input(Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: d.source,
                destination: d.destination,
                contents,
            },
        ));
    }

    /// Carries datagrams both ways until neither side has more.
    fn pump(a: &mut Rtc, b: &mut Rtc, now: Instant, media: &mut usize, up: &mut (bool, bool)) {
        pump_with(a, b, now, media, up, Vec::new(), Vec::new());
    }

    /// As [`pump`], with datagrams already on their way.
    fn pump_with(
        a: &mut Rtc,
        b: &mut Rtc,
        now: Instant,
        media: &mut usize,
        up: &mut (bool, bool),
        mut to_b: Vec<Datagram>,
        mut to_a: Vec<Datagram>,
    ) {
        drain(a, &mut to_b, media, &mut up.0);
        drain(b, &mut to_a, media, &mut up.1);
        while !to_a.is_empty() || !to_b.is_empty() {
            for d in std::mem::take(&mut to_b) {
                deliver(b, &d, now);
                drain(b, &mut to_a, media, &mut up.1);
            }
            for d in std::mem::take(&mut to_a) {
                deliver(a, &d, now);
                drain(a, &mut to_b, media, &mut up.0);
            }
        }
    }

    pub fn per_packet(packets: usize) -> f64 {
        let mut now = Instant::now();
        let mut a = peer(A, false, now);
        let mut b = peer(B, true, now);
        let mut change = a.sdp_api();
        let mid: Mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        let answer = b.sdp_api().accept_offer(offer).expect("an answer");
        a.sdp_api().accept_answer(pending, answer).expect("accepted");
        let (mut up, mut media) = ((false, false), 0);
        for _ in 0..2000 {
            pump(&mut a, &mut b, now, &mut media, &mut up);
            if up.0 && up.1 {
                break;
            }
            now += Duration::from_millis(10);
            let _ = a.handle_input(Input::Timeout(now));
            let _ = b.handle_input(Input::Timeout(now));
        }
        assert!(up.0 && up.1, "str0m peers connect");
        // Let DTLS finish and the media line open on both sides.
        for _ in 0..50 {
            now += Duration::from_millis(10);
            let _ = a.handle_input(Input::Timeout(now));
            let _ = b.handle_input(Input::Timeout(now));
            pump(&mut a, &mut b, now, &mut media, &mut up);
        }
        let payload: std::sync::Arc<[u8]> = vec![0x55u8; 160].into();
        let mut read = 0;
        let started = Instant::now();
        for i in 0..packets {
            now += Duration::from_millis(20);
            let mut outs = [Vec::new(), Vec::new()];
            for (rtc, out) in [&mut a, &mut b].into_iter().zip(outs.iter_mut()) {
                let _ = rtc.handle_input(Input::Timeout(now));
                let (mut ignored, mut connected) = (0, true);
                drain(rtc, out, &mut ignored, &mut connected);
                let Some(writer) = rtc.writer(mid) else { continue };
                let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
                    continue;
                };
                let time = MediaTime::new((i * 160) as u64, Frequency::EIGHT_KHZ);
                let _ = writer.write(pt, now, time, payload.clone());
            }
            let [to_b, to_a] = outs;
            pump_with(&mut a, &mut b, now, &mut read, &mut up, to_b, to_a);
        }
        let spent = started.elapsed();
        assert!(
            read + 10 >= 2 * packets,
            "str0m carried {read} of {}",
            2 * packets
        );
        spent.as_secs_f64() * 1e6 / (2 * packets) as f64
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let packets = if full { 50_000 } else { 200 };
    let rtc = with_rtc::per_packet(packets);
    let str0m = with_str0m::per_packet(packets);
    println!("WebRTC stack per 20 ms PCMU packet (sent and received, SRTP, in memory): rtc {rtc:.2} µs, str0m {str0m:.2} µs");
}
