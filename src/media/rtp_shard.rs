//! Plain RTP legs driven by media shards: one task per core owns every RTP
//! leg's socket on it, instead of two tasks per leg.
//!
//! Each SIP call keeps a UDP port of its own: the SDP names it, and a
//! trunk behind NAT is latched onto by the source that reaches it, which a
//! shared port could not tell apart. So a socket's batch is mostly one
//! datagram; what a shard saves is the wake-ups: a tick's frames for all
//! its legs arrive on one queue and leave in one pass, and every socket
//! that became readable is read (`recvmmsg`, whatever waits) in one pass of
//! the shard, not by a task of its own.
//!
//! Invariants: the rules of [`super::rtp`] (latching, payload types, SRTP,
//! keypad events) hold per leg; a leg is forgotten, and its socket closed,
//! when its session closes; a send the kernel refuses is a packet lost,
//! counted, never a stall.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;
use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
use rtc::srtp::context::Context as SrtpContext;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::leg::{InboundPacket, Leg};
use super::rtp::{KeyPressed, KeypadDecoder, RtpParams};
use super::udp;
use crate::metrics::media_io::{MediaTransport, SocketEvent};

/// Frames in flight to one shard before one is dropped (two ticks of 1000
/// legs).
const FRAME_QUEUE: usize = 2048;

/// A leg within its shard.
pub(super) type LegKey = u32;

/// What the sessions ask of a shard. Unbounded: opening and closing never
/// wait and are never refused (at most a few per leg).
pub(super) enum Command {
    Open(Box<Opening>),
    Retarget {
        key: LegKey,
        remote: std::net::SocketAddr,
    },
    Close {
        key: LegKey,
    },
}

/// A leg to carry.
pub(super) struct Opening {
    pub key: LegKey,
    pub socket: UdpSocket,
    pub leg: Arc<Leg>,
    pub params: RtpParams,
    pub keys: mpsc::Sender<KeyPressed>,
    pub decrypt: Option<SrtpContext>,
    pub encrypt: Option<SrtpContext>,
}

/// One shard's queues.
pub(super) struct ShardHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub frames: mpsc::Sender<(u32, Vec<i16>)>,
    next_key: AtomicU32,
}

impl ShardHandle {
    pub fn new_key(&self) -> LegKey {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }
}

/// The RTP shards of a node (one per core); sessions are spread over them.
pub struct RtpEngine {
    shards: Vec<ShardHandle>,
    next: AtomicUsize,
}

impl RtpEngine {
    /// Starts one shard per core on the current tokio runtime; each stops
    /// once the engine and every session on it are gone.
    pub fn start() -> RtpEngine {
        let count = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let shards = (0..count)
            .map(|index| {
                let (commands, commands_rx) = mpsc::unbounded_channel();
                let (frames, frames_rx) = mpsc::channel(FRAME_QUEUE);
                tokio::spawn(run(index, commands_rx, frames_rx));
                ShardHandle {
                    commands,
                    frames,
                    next_key: AtomicU32::new(0),
                }
            })
            .collect();
        RtpEngine {
            shards,
            next: AtomicUsize::new(0),
        }
    }

    pub(super) fn shard(&self) -> &ShardHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        &self.shards[i]
    }
}

/// A leg as its shard carries it.
struct RtpLeg {
    socket: Arc<UdpSocket>,
    leg: Arc<Leg>,
    params: RtpParams,
    /// Where we send now (the offer's address, then the latched source).
    remote: std::net::SocketAddr,
    latched: bool,
    keys: mpsc::Sender<KeyPressed>,
    keypad: KeypadDecoder,
    decrypt: Option<SrtpContext>,
    encrypt: Option<SrtpContext>,
    /// SRTP packets that failed authentication (warned about once).
    rejected: u64,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
}

/// Datagrams moved since the counters were last told: the metrics are
/// told once a tick, not per packet (a labelled counter is a lookup).
#[derive(Default)]
struct Counts {
    received: usize,
    sent: usize,
    strangers: usize,
    send_failed: usize,
}

impl Counts {
    fn emit(&mut self) {
        let t = MediaTransport::Rtp;
        // One system call a datagram: each call has its own socket.
        if self.received > 0 {
            SocketEvent::Received {
                calls: self.received,
                datagrams: self.received,
            }
            .emit(t);
        }
        if self.sent > 0 {
            SocketEvent::Sent {
                calls: self.sent,
                datagrams: self.sent,
            }
            .emit(t);
        }
        if self.strangers > 0 {
            SocketEvent::UnknownDropped {
                datagrams: self.strangers,
            }
            .emit(t);
        }
        if self.send_failed > 0 {
            SocketEvent::SendFailed {
                datagrams: self.send_failed,
            }
            .emit(t);
        }
        *self = Counts::default();
    }
}

struct Shard {
    index: usize,
    legs: HashMap<LegKey, RtpLeg>,
    readiness: FuturesUnordered<BoxFuture<'static, LegKey>>,
    buf: Box<[u8; udp::MAX_DATAGRAM]>,
    counts: Counts,
    /// A packet being built (kept to spare an allocation a packet).
    scratch: BytesMut,
    /// Sends refused by the kernel, warned about once per shard.
    send_failed: u64,
}

async fn run(
    index: usize,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut frames: mpsc::Receiver<(u32, Vec<i16>)>,
) {
    let mut shard = Shard {
        index,
        legs: HashMap::new(),
        readiness: FuturesUnordered::new(),
        buf: Box::new([0u8; udp::MAX_DATAGRAM]),
        counts: Counts::default(),
        scratch: BytesMut::with_capacity(256),
        send_failed: 0,
    };
    let mut batch = Vec::with_capacity(FRAME_QUEUE);
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(command) => shard.command(command),
                None => break,
            },
            n = frames.recv_many(&mut batch, FRAME_QUEUE) => {
                if n == 0 {
                    break;
                }
                for (key, frame) in batch.drain(..) {
                    shard.send(key, &frame);
                }
                shard.counts.emit();
            }
            Some(key) = shard.readiness.next(), if !shard.readiness.is_empty() => {
                shard.read(key);
                // Every other socket that is readable by now, in this pass.
                while let Some(Some(key)) = shard.readiness.next().now_or_never() {
                    shard.read(key);
                }
            }
        }
    }
    shard.counts.emit();
    for leg in shard.legs.values() {
        leg.leg.close();
    }
}

fn arm(readiness: &FuturesUnordered<BoxFuture<'static, LegKey>>, key: LegKey, socket: Arc<UdpSocket>) {
    readiness.push(Box::pin(async move {
        // An error here (the socket closed) shows on the next read.
        let _ = socket.readable().await;
        key
    }));
}

impl Shard {
    fn command(&mut self, command: Command) {
        match command {
            Command::Open(o) => {
                let socket = Arc::new(o.socket);
                arm(&self.readiness, o.key, socket.clone());
                self.legs.insert(
                    o.key,
                    RtpLeg {
                        socket,
                        leg: o.leg,
                        remote: o.params.remote,
                        params: o.params,
                        latched: false,
                        keys: o.keys,
                        keypad: KeypadDecoder::default(),
                        decrypt: o.decrypt,
                        encrypt: o.encrypt,
                        rejected: 0,
                        ssrc: rand::random(),
                        sequence: rand::random(),
                        timestamp: rand::random(),
                    },
                );
            }
            Command::Retarget { key, remote } => {
                if let Some(leg) = self.legs.get_mut(&key) {
                    leg.remote = remote;
                }
            }
            Command::Close { key } => {
                if let Some(leg) = self.legs.remove(&key) {
                    leg.leg.close();
                }
            }
        }
    }

    /// Reads what waits on leg `key`'s socket (one datagram a read: the
    /// socket is the leg's alone, so there is rarely more than one).
    fn read(&mut self, key: LegKey) {
        let Some(leg) = self.legs.get_mut(&key) else {
            // A closed leg's socket: its last wake-up.
            return;
        };
        let now = Instant::now();
        loop {
            match leg.socket.try_recv_from(&mut self.buf[..]) {
                Ok((n, from)) => {
                    self.counts.received += 1;
                    if !leg.take(now, from, &self.buf[..n]) {
                        self.counts.strangers += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors surface here (the far end's port closed);
                    // the socket itself is fine.
                    debug!(shard = self.index, leg = %leg.leg.id, error = %e, "rtp socket read");
                    break;
                }
            }
        }
        arm(&self.readiness, key, leg.socket.clone());
    }

    /// Sends one 20 ms frame on leg `key`.
    fn send(&mut self, key: LegKey, frame: &[i16]) {
        let Some(leg) = self.legs.get_mut(&key) else {
            return;
        };
        let codec = leg.params.codec;
        let header = Header {
            version: 2,
            payload_type: codec.payload_type(),
            sequence_number: leg.sequence,
            timestamp: leg.timestamp,
            ssrc: leg.ssrc,
            ..Default::default()
        };
        leg.sequence = leg.sequence.wrapping_add(1);
        leg.timestamp = leg.timestamp.wrapping_add(frame.len() as u32);
        let buf = &mut self.scratch;
        buf.clear();
        buf.resize(header.marshal_size(), 0);
        if header.marshal_to(&mut buf[..]).is_err() {
            return;
        }
        buf.extend_from_slice(&codec.encode(frame));
        let sealed;
        let wire: &[u8] = match leg.encrypt.as_mut() {
            None => buf,
            Some(ctx) => match ctx.encrypt_rtp_with_header(buf, &header) {
                Ok(b) => {
                    sealed = b;
                    &sealed
                }
                // Never sent in the clear.
                Err(e) => {
                    debug!(leg = %leg.leg.id, error = %e, "SRTP encryption failed: frame dropped");
                    return;
                }
            },
        };
        match leg.socket.try_send_to(wire, leg.remote) {
            Ok(_) => self.counts.sent += 1,
            Err(e) => {
                self.counts.send_failed += 1;
                self.send_failed += 1;
                if self.send_failed == 1 {
                    warn!(shard = self.index, leg = %leg.leg.id, to = %leg.remote, error = %e, "an RTP packet could not be sent (counted in hotline_media_datagrams_dropped_total)");
                }
            }
        }
    }
}

impl RtpLeg {
    /// One datagram from `from`; false if it came from a stranger.
    fn take(&mut self, now: Instant, from: std::net::SocketAddr, bytes: &[u8]) -> bool {
        // Until the first packet, the source may differ from the offer:
        // its port always (NAT), its address too when latching.
        let moved = from != self.remote;
        if moved && (self.latched || !(self.params.latch || from.ip() == self.remote.ip())) {
            return false;
        }
        let mut raw = match self.decrypt.as_mut() {
            None => bytes::Bytes::copy_from_slice(bytes),
            Some(ctx) => match ctx.decrypt_rtp(bytes) {
                Ok(plain) => plain.freeze(),
                Err(e) => {
                    // Not latched onto: a stranger's packet moves nothing.
                    if self.rejected == 0 {
                        warn!(leg = %self.leg.id, error = %e, "an SRTP packet failed authentication (a wrong key, or not SRTP): dropped");
                    }
                    self.rejected += 1;
                    crate::metrics::events::srtp_packet_rejected();
                    return true;
                }
            },
        };
        // Latched only onto a source whose packet authenticated.
        if moved {
            self.remote = from;
        }
        self.latched = true;
        let Ok(packet) = Packet::unmarshal(&mut raw) else {
            return true;
        };
        let h = &packet.header;
        if h.version != 2 {
            return true;
        }
        if h.payload_type == self.params.codec.payload_type() {
            let pcm = self.params.codec.decode(&packet.payload);
            self.leg.push_inbound(
                InboundPacket {
                    sequence: h.sequence_number,
                    timestamp: h.timestamp,
                    clock_rate: 8000,
                    arrival: now,
                },
                pcm,
            );
        } else if Some(h.payload_type) == self.params.telephone_event {
            if let Some(key) = self.keypad.handle(h.timestamp, &packet.payload) {
                // A full queue loses the key press, never the audio.
                let _ = self.keys.try_send(key);
            }
        }
        true
    }
}
