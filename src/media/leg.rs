//! A leg: one party's two-way audio, whatever carries it (a WebRTC peer
//! connection today, plain RTP from a SIP trunk later). The bridge, the
//! recorder and monitors only ever see this type.
//!
//! Invariants: inbound audio goes through the leg's jitter buffer and comes
//! out one 20 ms frame per playout tick; outbound frames are handed to the
//! transport without waiting (a full queue drops the frame and counts it, so
//! one slow leg never stalls the call's clock); once closed, a leg stays
//! closed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, Notify};

use super::jitter::{Decode, Frame, InterarrivalJitter, JitterBuffer, JitterStats};
use super::opus::OpusDecoder;
use super::Rate;
use crate::metrics::events::MediaReport;

/// Outbound frames queued per leg before frames are dropped (100 ms).
const OUTBOUND_QUEUE: usize = 5;

/// What carries a leg, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegKind {
    WebRtc,
    /// Plain RTP from a SIP trunk or phone.
    Rtp,
    /// A party whose own leg ends on another node of the cluster, joined
    /// through the node-to-node media relay.
    Relay,
}

pub struct Leg {
    /// The media session id (returned to the client at negotiation).
    pub id: String,
    pub kind: LegKind,
    /// The rate of the PCM this leg takes and gives.
    pub rate: Rate,
    /// The negotiated codec, e.g. "PCMU/8000", for the client and logs.
    pub codec: String,
    inbound: Mutex<Inbound>,
    /// Origin of the arrival times handed to the jitter estimate.
    created: Instant,
    outbound: Outbound,
    sent_outbound: AtomicU64,
    dropped_outbound: AtomicU64,
    closed: AtomicBool,
    closed_notify: Notify,
}

impl LegKind {
    /// The metrics' `transport` label.
    pub fn label(self) -> &'static str {
        match self {
            LegKind::WebRtc => "webrtc",
            LegKind::Rtp => "rtp",
            LegKind::Relay => "relay",
        }
    }
}

/// One received packet's timing, as the transport saw it.
#[derive(Clone, Copy, Debug)]
pub struct InboundPacket {
    pub sequence: u16,
    pub timestamp: u32,
    /// The RTP clock of the payload (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    pub arrival: Instant,
}

/// What arrives from the party, under one lock.
struct Inbound {
    buffer: JitterBuffer,
    jitter: InterarrivalJitter,
    /// The counts at the last metrics report.
    reported: JitterStats,
    /// While the party is bridged into a call on another node, packets go
    /// there as they arrive (that node's jitter buffer plays them out), not
    /// into this buffer: one buffer on the path, so the relay adds no delay
    /// of its own.
    divert: Option<Diversion>,
    /// Numbers diversions, so an old relay ending never undoes a newer one.
    diversions: u64,
    /// For Opus packets, held coded and decoded at playout so a loss is
    /// recovered (in-band FEC) or concealed by libopus; made at the first.
    opus: Option<OpusDecoder>,
}

struct Diversion {
    generation: u64,
    to: DivertTo,
}

/// Where a diversion sends the packets.
enum DivertTo {
    /// A queue of this leg's own (a monitoring relay).
    Own(mpsc::Sender<(InboundPacket, Vec<i16>)>),
    /// An agent trunk's queue, shared by every leg it relays and tagged
    /// with this leg's channel: one queue for the trunk to wait on.
    Trunk {
        channel: u32,
        to: mpsc::Sender<(u32, InboundPacket, Vec<i16>)>,
    },
}

/// A packet a diversion could not take.
enum Refused {
    /// The relay fell behind: this packet is lost to it.
    Full,
    /// The relay is gone: the packet is this leg's again.
    Closed(InboundPacket, Vec<i16>),
}

impl DivertTo {
    fn try_send(&self, packet: InboundPacket, samples: Vec<i16>) -> Result<(), Refused> {
        use mpsc::error::TrySendError;
        match self {
            DivertTo::Own(to) => to.try_send((packet, samples)).map_err(|e| match e {
                TrySendError::Full(_) => Refused::Full,
                TrySendError::Closed((p, s)) => Refused::Closed(p, s),
            }),
            DivertTo::Trunk { channel, to } => {
                to.try_send((*channel, packet, samples)).map_err(|e| match e {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Closed((_, p, s)) => Refused::Closed(p, s),
                })
            }
        }
    }
}

/// Where the frames this party hears go.
enum Outbound {
    /// The leg's transport takes them from its own queue.
    Own(mpsc::Sender<Vec<i16>>),
    /// A queue shared by many legs (an agent trunk's, a media shard's),
    /// tagged with this leg's channel there.
    Shared {
        channel: u32,
        to: mpsc::Sender<(u32, Vec<i16>)>,
    },
}

impl Outbound {
    fn try_send(&self, frame: Vec<i16>) -> bool {
        match self {
            Outbound::Own(to) => to.try_send(frame).is_ok(),
            Outbound::Shared { channel, to } => to.try_send((*channel, frame)).is_ok(),
        }
    }
}

/// A diversion of a leg's packets: its generation, and the packets.
pub type Diverted = (u64, mpsc::Receiver<(InboundPacket, Vec<i16>)>);

/// Packets a diversion queues (200 ms) before they are dropped.
const DIVERT_QUEUE: usize = 10;

/// The transport's side of a leg: where to take outbound frames from.
pub struct LegTransport {
    pub outbound: mpsc::Receiver<Vec<i16>>,
}

impl Leg {
    /// A leg with a jitter buffer `jitter_frames` deep.
    pub fn new(
        id: String,
        kind: LegKind,
        rate: Rate,
        codec: String,
        jitter_frames: usize,
    ) -> (Arc<Leg>, LegTransport) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let leg = Self::with_outbound(id, kind, rate, codec, jitter_frames, Outbound::Own(tx));
        (leg, LegTransport { outbound: rx })
    }

    /// A relayed leg whose outbound frames go to an agent trunk's queue,
    /// tagged with `channel`.
    pub fn trunked(
        id: String,
        rate: Rate,
        codec: String,
        jitter_frames: usize,
        channel: u32,
        to: mpsc::Sender<(u32, Vec<i16>)>,
    ) -> Arc<Leg> {
        Self::multiplexed(id, LegKind::Relay, rate, codec, jitter_frames, channel, to)
    }

    /// A leg whose outbound frames go to a queue shared with other legs
    /// (a transport that serves many, such as a media shard), tagged with
    /// `channel`.
    pub fn multiplexed(
        id: String,
        kind: LegKind,
        rate: Rate,
        codec: String,
        jitter_frames: usize,
        channel: u32,
        to: mpsc::Sender<(u32, Vec<i16>)>,
    ) -> Arc<Leg> {
        let outbound = Outbound::Shared { channel, to };
        Self::with_outbound(id, kind, rate, codec, jitter_frames, outbound)
    }

    fn with_outbound(
        id: String,
        kind: LegKind,
        rate: Rate,
        codec: String,
        jitter_frames: usize,
        outbound: Outbound,
    ) -> Arc<Leg> {
        Arc::new(Leg {
            id,
            kind,
            rate,
            codec,
            inbound: Mutex::new(Inbound {
                buffer: JitterBuffer::new(jitter_frames, rate.frame_len()),
                jitter: InterarrivalJitter::default(),
                reported: JitterStats::default(),
                divert: None,
                diversions: 0,
                opus: None,
            }),
            created: Instant::now(),
            outbound,
            sent_outbound: AtomicU64::new(0),
            dropped_outbound: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
        })
    }

    /// The transport received one packet's audio: sequence number, RTP
    /// timestamp and clock rate (for the jitter estimate), when it arrived.
    pub fn push_inbound(&self, packet: InboundPacket, samples: Vec<i16>) {
        self.push_frame(packet, Frame::Pcm(samples));
    }

    /// The transport received one Opus packet: held coded and decoded at
    /// playout, at the leg's rate, so libopus repairs a loss.
    pub fn push_inbound_opus(&self, packet: InboundPacket, payload: bytes::Bytes) {
        self.push_frame(packet, Frame::Coded(payload));
    }

    fn push_frame(&self, packet: InboundPacket, frame: Frame) {
        let Ok(mut guard) = self.inbound.lock() else {
            return;
        };
        let Inbound {
            jitter,
            buffer,
            divert,
            opus,
            ..
        } = &mut *guard;
        jitter.on_packet(
            packet.arrival.duration_since(self.created),
            packet.timestamp,
            packet.clock_rate,
        );
        if matches!(frame, Frame::Coded(_)) && opus.is_none() {
            match OpusDecoder::new(self.rate) {
                Ok(d) => *opus = Some(d),
                Err(e) => {
                    // Cannot happen at the rates legs run at; if it did,
                    // the party would be unheard, so say so.
                    tracing::warn!(leg = %self.id, error = %e, "opus audio cannot be decoded; the party is not heard");
                    return;
                }
            }
        }
        let Some(d) = divert else {
            buffer.push_frame(packet.sequence, frame);
            return;
        };
        // The node the packets go to buffers audio: Opus is decoded now.
        let samples = match frame {
            Frame::Pcm(samples) => samples,
            Frame::Coded(payload) => match opus.as_mut().map(|o| o.decode(&payload)) {
                Some(Ok(samples)) => samples,
                _ => return,
            },
        };
        match d.to.try_send(packet, samples) {
            Ok(()) | Err(Refused::Full) => {}
            Err(Refused::Closed(packet, samples)) => {
                *divert = None;
                buffer.push(packet.sequence, samples);
            }
        }
    }

    /// Sends this party's packets to `to`'s receiver from now on (the relay
    /// to a call on another node), replacing an earlier diversion; returns
    /// its generation for [`Self::undivert`].
    pub fn divert(&self) -> Option<Diverted> {
        let (tx, rx) = mpsc::channel(DIVERT_QUEUE);
        let generation = self.divert_to(DivertTo::Own(tx))?;
        Some((generation, rx))
    }

    /// Diverts this party's packets to an agent trunk's queue, tagged with
    /// `channel`; returns the diversion's generation.
    pub fn divert_to_trunk(
        &self,
        channel: u32,
        to: mpsc::Sender<(u32, InboundPacket, Vec<i16>)>,
    ) -> Option<u64> {
        self.divert_to(DivertTo::Trunk { channel, to })
    }

    fn divert_to(&self, to: DivertTo) -> Option<u64> {
        let mut inbound = self.inbound.lock().ok()?;
        inbound.diversions += 1;
        let generation = inbound.diversions;
        inbound.divert = Some(Diversion { generation, to });
        inbound.buffer.reset();
        Some(generation)
    }

    /// Whether diversion `generation` is still the leg's (no newer one
    /// replaced it, and it was not undone).
    pub fn diverted_by(&self, generation: u64) -> bool {
        self.inbound
            .lock()
            .map(|i| i.divert.as_ref().is_some_and(|d| d.generation == generation))
            .unwrap_or(false)
    }

    /// Ends diversion `generation` (if no newer one replaced it).
    pub fn undivert(&self, generation: u64) {
        if let Ok(mut inbound) = self.inbound.lock() {
            if inbound
                .divert
                .as_ref()
                .is_some_and(|d| d.generation == generation)
            {
                inbound.divert = None;
            }
        }
    }

    /// What this party's audio did since the last report, for the metrics.
    pub fn take_report(&self) -> MediaReport {
        let Ok(mut inbound) = self.inbound.lock() else {
            return MediaReport::default();
        };
        let now = inbound.buffer.stats();
        let before = std::mem::replace(&mut inbound.reported, now);
        MediaReport {
            transport: self.kind.label(),
            received: now.received.saturating_sub(before.received),
            lost: now.lost.saturating_sub(before.lost),
            late: now.late.saturating_sub(before.late),
            recovered: now.recovered.saturating_sub(before.recovered),
            jitter_seconds: inbound.jitter.seconds(),
        }
    }

    /// The next 20 ms of what this party said (concealed or silent if
    /// nothing arrived in time).
    pub fn pop_frame(&self) -> Vec<i16> {
        match self.inbound.lock() {
            Ok(mut inbound) => {
                let Inbound { buffer, opus, .. } = &mut *inbound;
                buffer.pop_with(opus.as_mut().map(|d| d as &mut dyn Decode))
            }
            Err(_) => vec![0; self.rate.frame_len()],
        }
    }

    /// Forgets buffered inbound audio (a shared softphone leg between calls
    /// holds stale audio the next call must not hear).
    pub fn flush_inbound(&self) {
        if let Ok(mut inbound) = self.inbound.lock() {
            inbound.buffer.reset();
        }
    }

    /// Queues 20 ms for this party to hear.
    pub fn send_frame(&self, frame: Vec<i16>) {
        if self.is_closed() {
            return;
        }
        if self.outbound.try_send(frame) {
            self.sent_outbound.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped_outbound.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Frames handed to the transport for this party to hear.
    pub fn sent_outbound(&self) -> u64 {
        self.sent_outbound.load(Ordering::Relaxed)
    }

    pub fn inbound_stats(&self) -> JitterStats {
        self.inbound
            .lock()
            .map(|inbound| inbound.buffer.stats())
            .unwrap_or_default()
    }

    /// Outbound frames dropped because the transport fell behind.
    pub fn dropped_outbound(&self) -> u64 {
        self.dropped_outbound.load(Ordering::Relaxed)
    }

    /// The remote party is gone (hung up, or its connection failed).
    pub fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.closed_notify.notify_waiters();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Resolves once the leg is closed.
    pub async fn closed(&self) {
        loop {
            let notified = self.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}
