//! Plain RTP (RFC 3550) legs for phone-network calls: G.711 over UDP from a
//! SIP trunk, into the same [`Leg`] the bridge, recorder and monitors use.
//!
//! Invariants: one UDP socket per leg, bound before the SDP answer names
//! it; packets are taken only from the address the offer named, or, for a
//! trunk behind NAT, from the first source that sends (symmetric RTP
//! latching) and from then on only from it; a packet that is not RTP
//! version 2 of the negotiated payload types is dropped and counted, never
//! a panic; we send 20 ms G.711 frames with one random SSRC, sequence and
//! timestamp starting at random values (RFC 3550 5.1); keypad events (RFC
//! 4733) are reported once per key press, by their event's timestamp.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;
use webrtc::rtp::header::Header;
use webrtc::rtp::packet::Packet;
use webrtc::util::{Marshal, MarshalSize, Unmarshal};

use hotline_sip::sdp::AudioOffer;

use super::codec::G711;
use super::leg::{InboundPacket, Leg, LegKind, LegTransport};
use super::{MediaError, Rate};

/// Keypad events queued for the signalling side before newer ones are dropped.
const KEYPAD_QUEUE: usize = 32;

/// What the RTP leg needs from the offer/answer.
#[derive(Clone, Copy, Debug)]
pub struct RtpParams {
    /// Where the far end asked for RTP.
    pub remote: SocketAddr,
    pub codec: G711,
    /// RFC 4733 telephone-event payload type, when negotiated.
    pub telephone_event: Option<u8>,
    /// Latch onto the first source that sends (a trunk behind NAT).
    pub latch: bool,
}

/// How our RTP leg carries a SIP peer's audio: to the address its SDP
/// names, in its codec, latching onto the real source (a far end behind
/// NAT).
impl From<&AudioOffer> for RtpParams {
    fn from(offer: &AudioOffer) -> Self {
        RtpParams {
            remote: offer.remote,
            codec: offer.codec,
            telephone_event: offer.telephone_event,
            latch: true,
        }
    }
}

/// One RTP leg: its socket, its tasks, and the keypad events it heard.
pub struct RtpSession {
    pub leg: Arc<Leg>,
    pub local: SocketAddr,
    /// Where we send now (the offer's address, then the latched source).
    remote: Arc<Mutex<SocketAddr>>,
    tasks: Vec<JoinHandle<()>>,
}

/// A key pressed on the far end's keypad (RFC 4733 event 0-15: 0-9, *, #, A-D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPressed(pub char);

impl RtpSession {
    /// Binds a socket on `ip` (a port from `ports`, or any) and starts
    /// carrying audio. Keypad events go to the returned receiver.
    pub async fn open(
        id: String,
        ip: IpAddr,
        ports: Option<(u16, u16)>,
        params: RtpParams,
        jitter_frames: usize,
    ) -> Result<(RtpSession, mpsc::Receiver<KeyPressed>), MediaError> {
        let socket = bind(ip, ports).await?;
        Self::start(id, socket, params, jitter_frames)
    }

    /// Starts carrying audio on a socket bound earlier with [`bind`] (a call
    /// we place offers the port before the far end's answer says how to
    /// send).
    pub fn start(
        id: String,
        socket: UdpSocket,
        params: RtpParams,
        jitter_frames: usize,
    ) -> Result<(RtpSession, mpsc::Receiver<KeyPressed>), MediaError> {
        let local = socket
            .local_addr()
            .map_err(|e| MediaError::Transport(format!("rtp socket: {e}")))?;
        let codec_name = match params.codec {
            G711::Pcmu => "PCMU/8000",
            G711::Pcma => "PCMA/8000",
        };
        let (leg, io) = Leg::new(
            id,
            LegKind::Rtp,
            Rate::Narrowband,
            codec_name.into(),
            jitter_frames,
        );
        let socket = Arc::new(socket);
        let remote = Arc::new(Mutex::new(params.remote));
        let (keys_tx, keys_rx) = mpsc::channel(KEYPAD_QUEUE);
        let receive = tokio::spawn(receive(
            socket.clone(),
            Arc::downgrade(&leg),
            params,
            remote.clone(),
            keys_tx,
        ));
        let send = tokio::spawn(send(socket, io, params.codec, remote.clone()));
        Ok((
            RtpSession {
                leg,
                local,
                remote,
                tasks: vec![receive, send],
            },
            keys_rx,
        ))
    }

    /// The far end moved its media (a re-INVITE with a new address).
    pub fn retarget(&self, remote: SocketAddr) {
        if let Ok(mut r) = self.remote.lock() {
            *r = remote;
        }
    }

    /// Hangs up: the leg closes and the socket is released.
    pub fn close(&self) {
        self.leg.close();
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for RtpSession {
    fn drop(&mut self) {
        self.close();
    }
}

/// Binds an RTP socket on `ip`: an even port from `ports`, or any.
pub async fn bind(ip: IpAddr, ports: Option<(u16, u16)>) -> Result<UdpSocket, MediaError> {
    let Some((low, high)) = ports else {
        return UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| MediaError::Transport(format!("rtp bind {ip}: {e}")));
    };
    // Start at a random even port so concurrent calls rarely collide.
    let span = u32::from(high.saturating_sub(low)) + 1;
    let start = rand::random::<u32>() % span;
    for i in 0..span {
        let port = low + ((start + i) % span) as u16;
        if port % 2 == 1 {
            continue;
        }
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
            return Ok(s);
        }
    }
    Err(MediaError::Transport(format!(
        "no free RTP port in {low}-{high} on {ip}"
    )))
}

async fn receive(
    socket: Arc<UdpSocket>,
    leg: std::sync::Weak<Leg>,
    params: RtpParams,
    remote: Arc<Mutex<SocketAddr>>,
    keys: mpsc::Sender<KeyPressed>,
) {
    let mut buf = vec![0u8; 2048];
    let mut latched = false;
    let mut keypad = KeypadDecoder::default();
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            break;
        };
        let Some(leg) = leg.upgrade() else { break };
        let expected = remote.lock().map(|r| *r).unwrap_or(params.remote);
        if from != expected {
            // Until the first packet, the source may differ from the offer:
            // its port always (NAT), its address too when latching.
            let may_latch = !latched && (params.latch || from.ip() == expected.ip());
            if !may_latch {
                continue;
            }
            if let Ok(mut r) = remote.lock() {
                *r = from;
            }
        }
        latched = true;
        let mut raw = Bytes::copy_from_slice(&buf[..n]);
        let Ok(packet) = Packet::unmarshal(&mut raw) else {
            continue;
        };
        let h = &packet.header;
        if h.version != 2 {
            continue;
        }
        if h.payload_type == params.codec.payload_type() {
            let pcm = params.codec.decode(&packet.payload);
            leg.push_inbound(
                InboundPacket {
                    sequence: h.sequence_number,
                    timestamp: h.timestamp,
                    clock_rate: 8000,
                    arrival: Instant::now(),
                },
                pcm,
            );
        } else if Some(h.payload_type) == params.telephone_event {
            if let Some(key) = keypad.handle(h.timestamp, &packet.payload) {
                // A full queue loses the key press, never the audio.
                let _ = keys.try_send(key);
            }
        }
    }
    debug!("rtp receive loop ended");
}

async fn send(socket: Arc<UdpSocket>, mut io: LegTransport, codec: G711, remote: Arc<Mutex<SocketAddr>>) {
    let ssrc: u32 = rand::random();
    let mut sequence: u16 = rand::random();
    let mut timestamp: u32 = rand::random();
    let mut buf = BytesMut::with_capacity(256);
    while let Some(frame) = io.outbound.recv().await {
        let payload = Bytes::from(codec.encode(&frame));
        let packet = Packet {
            header: Header {
                version: 2,
                payload_type: codec.payload_type(),
                sequence_number: sequence,
                timestamp,
                ssrc,
                ..Default::default()
            },
            payload,
        };
        sequence = sequence.wrapping_add(1);
        timestamp = timestamp.wrapping_add(frame.len() as u32);
        buf.clear();
        buf.resize(packet.marshal_size(), 0);
        let Ok(n) = packet.marshal_to(&mut buf) else {
            continue;
        };
        let to = remote.lock().map(|r| *r).ok();
        if let Some(to) = to {
            let _ = socket.send_to(&buf[..n], to).await;
        }
    }
}

/// RFC 4733 events to key presses: a press is sent as several packets (and
/// its end three times) with one timestamp; it counts once.
#[derive(Debug, Default)]
pub struct KeypadDecoder {
    /// The timestamp of the last event reported.
    last: Option<u32>,
}

impl KeypadDecoder {
    /// One telephone-event payload; the key, the first time its event is seen.
    pub fn handle(&mut self, timestamp: u32, payload: &[u8]) -> Option<KeyPressed> {
        let event = *payload.first()?;
        if payload.len() < 4 || self.last == Some(timestamp) {
            return None;
        }
        let key = match event {
            0..=9 => char::from(b'0' + event),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + event - 12),
            _ => return None,
        };
        self.last = Some(timestamp);
        Some(KeyPressed(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_press_counts_once_however_many_packets_carry_it() {
        let mut k = KeypadDecoder::default();
        let start = [1u8, 0x0a, 0x00, 0xa0];
        let end = [1u8, 0x8a, 0x03, 0x20];
        assert_eq!(k.handle(1000, &start), Some(KeyPressed('1')));
        assert_eq!(k.handle(1000, &start), None);
        assert_eq!(k.handle(1000, &end), None);
        assert_eq!(k.handle(1000, &end), None);
        assert_eq!(k.handle(2000, &[11, 0x0a, 0, 0xa0]), Some(KeyPressed('#')));
        assert_eq!(k.handle(3000, &[200, 0, 0, 0]), None, "not a keypad event");
        assert_eq!(k.handle(4000, &[5]), None, "truncated");
    }
}
