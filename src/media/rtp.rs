//! Plain RTP (RFC 3550) legs for phone-network calls: G.711 over UDP from a
//! SIP trunk, into the same [`Leg`] the bridge, recorder and monitors use.
//!
//! Legs are carried by media shards ([`super::rtp_shard`]), a task per
//! core for all of them.
//!
//! Invariants: one UDP socket per leg, bound before the SDP answer names
//! it; packets are taken only from the address the offer named, or, for a
//! trunk behind NAT, from the first source that sends (symmetric RTP
//! latching) and from then on only from it; a packet that is not RTP
//! version 2 of the negotiated payload types is dropped and counted, never
//! a panic; we send 20 ms G.711 frames with one random SSRC, sequence and
//! timestamp starting at random values (RFC 3550 5.1); keypad events (RFC
//! 4733) are reported once per key press, by their event's timestamp.
//!
//! SRTP (RFC 3711, keys from SDES): with keys, every packet we send is
//! encrypted and authenticated with ours, and a packet that fails
//! authentication or replays an old one under theirs is dropped, counted
//! (`hotline_srtp_packets_rejected_total`) and, the first time on a leg,
//! logged as a warning: a wrong key is never a silent call. Our key comes
//! from the operating system's CSPRNG, one per call.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rtc::srtp::context::Context as SrtpContext;
use rtc::srtp::option::srtp_replay_protection;
use rtc::srtp::protection_profile::ProtectionProfile;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use hotline_sip::sdes::{SrtpKey, SrtpSuite, KEY_LEN};
use hotline_sip::sdp::AudioOffer;

use super::codec::G711;
use super::leg::{Leg, LegKind};
pub use super::rtp_shard::RtpEngine;
use super::rtp_shard::{Command, LegKey, Opening};
use super::{MediaError, Rate};

/// Keypad events queued for the signalling side before newer ones are dropped.
const KEYPAD_QUEUE: usize = 32;

/// Packets SRTP remembers for replay protection (RFC 3711 3.3.2's minimum).
const REPLAY_WINDOW: usize = 64;

/// SRTP on a leg: the suite, the far end's key for what it sends and ours
/// for what we send.
#[derive(Clone, Copy, Debug)]
pub struct SrtpKeys {
    pub suite: SrtpSuite,
    pub theirs: SrtpKey,
    pub ours: SrtpKey,
}

impl SrtpKeys {
    fn profile(&self) -> ProtectionProfile {
        match self.suite {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }

    /// The context that decrypts what the far end sends.
    fn inbound(&self) -> Result<SrtpContext, MediaError> {
        SrtpContext::new(
            self.theirs.master_key(),
            self.theirs.master_salt(),
            self.profile(),
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            None,
            srtp_crypto(),
        )
        .map_err(|e| MediaError::Transport(format!("srtp: {e}")))
    }

    /// The context that encrypts what we send.
    fn outbound(&self) -> Result<SrtpContext, MediaError> {
        SrtpContext::new(
            self.ours.master_key(),
            self.ours.master_salt(),
            self.profile(),
            None,
            None,
            srtp_crypto(),
        )
        .map_err(|e| MediaError::Transport(format!("srtp: {e}")))
    }
}

/// The SRTP ciphers (ring, with RustCrypto's AES counter mode).
fn srtp_crypto() -> &'static dyn rtc::crypto::RTCCrypto {
    &rtc::crypto::providers::RingCrypto
}

/// A fresh SRTP master key and salt from the operating system's CSPRNG.
pub fn draw_srtp_key() -> Result<SrtpKey, MediaError> {
    use ring::rand::SecureRandom;
    let mut key = [0u8; KEY_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| MediaError::Transport("no randomness for an SRTP key".into()))?;
    Ok(SrtpKey(key))
}

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
    /// SRTP keys; none: plain RTP.
    pub srtp: Option<SrtpKeys>,
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
            // Our key is drawn by whoever accepts the call.
            srtp: None,
        }
    }
}

/// One RTP leg, carried by a media shard ([`super::rtp_shard`]).
pub struct RtpSession {
    pub leg: Arc<Leg>,
    pub local: SocketAddr,
    key: LegKey,
    /// Its shard's commands (retarget, close).
    shard: mpsc::UnboundedSender<Command>,
}

/// A key pressed on the far end's keypad (RFC 4733 event 0-15: 0-9, *, #, A-D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPressed(pub char);

impl RtpSession {
    /// Binds a socket on `ip` (a port from `ports`, or any) and starts
    /// carrying audio. Keypad events go to the returned receiver.
    pub async fn open(
        engine: &RtpEngine,
        id: String,
        ip: IpAddr,
        ports: Option<(u16, u16)>,
        params: RtpParams,
        jitter_frames: usize,
    ) -> Result<(RtpSession, mpsc::Receiver<KeyPressed>), MediaError> {
        let socket = bind(ip, ports).await?;
        Self::start(engine, id, socket, params, jitter_frames)
    }

    /// Starts carrying audio on a socket bound earlier with [`bind`] (a call
    /// we place offers the port before the far end's answer says how to
    /// send).
    pub fn start(
        engine: &RtpEngine,
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
        let (decrypt, encrypt) = match &params.srtp {
            Some(keys) => (Some(keys.inbound()?), Some(keys.outbound()?)),
            None => (None, None),
        };
        let shard = engine.shard();
        let key = shard.new_key();
        let leg = Leg::multiplexed(
            id,
            LegKind::Rtp,
            Rate::Narrowband,
            codec_name.into(),
            jitter_frames,
            key,
            shard.frames.clone(),
        );
        let (keys_tx, keys_rx) = mpsc::channel(KEYPAD_QUEUE);
        let opening = Opening {
            key,
            socket,
            leg: leg.clone(),
            params,
            keys: keys_tx,
            decrypt,
            encrypt,
        };
        shard
            .commands
            .send(Command::Open(Box::new(opening)))
            .map_err(|_| MediaError::Transport("the RTP shard stopped".into()))?;
        Ok((
            RtpSession {
                leg,
                local,
                key,
                shard: shard.commands.clone(),
            },
            keys_rx,
        ))
    }

    /// The far end moved its media (a re-INVITE with a new address).
    pub fn retarget(&self, remote: SocketAddr) {
        let _ = self.shard.send(Command::Retarget {
            key: self.key,
            remote,
        });
    }

    /// Hangs up: the leg closes and the socket is released.
    pub fn close(&self) {
        self.leg.close();
        // Closing twice is harmless; a stopped shard closed everything.
        let _ = self.shard.send(Command::Close { key: self.key });
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
