//! A sans-IO jitter buffer for one incoming leg: packets go in as they
//! arrive (any order, duplicated, late or lost), frames come out one per
//! 20 ms tick of the playout clock.
//!
//! Invariants: frames come out in sequence order and each sequence number at
//! most once; playout starts once `depth` frames are buffered and then lags
//! arrival by about that much; a missing frame is concealed by repeating the
//! last one at falling volume for up to `MAX_CONCEALED` frames, then silence;
//! with a decoder ([`Decode`], for a codec such as Opus whose packets are
//! held coded and decoded at playout), a missing frame is instead
//! recovered from the next packet's in-band FEC when that is buffered, or
//! concealed by the decoder itself (so its state follows the stream) for
//! up to `MAX_DECODER_CONCEALED` frames, then silence;
//! a packet arriving after its slot was played is dropped (late); the buffer
//! never holds more than `4 * depth` frames (it skips ahead instead, so clock
//! drift cannot grow the delay without bound).

use std::collections::BTreeMap;
use std::time::Duration;

/// Consecutive frames concealed by repetition before falling silent.
const MAX_CONCEALED: u32 = 3;

/// Consecutive frames a decoder conceals before we stop asking it: by then
/// (0.5 s) libopus' own concealment has faded to silence.
const MAX_DECODER_CONCEALED: u32 = 25;

/// A frame as it waits: audio, or a packet decoded at playout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Pcm(Vec<i16>),
    Coded(bytes::Bytes),
}

/// A codec that decodes at playout and conceals its own losses.
pub trait Decode {
    fn decode(&mut self, packet: &[u8]) -> Option<Vec<i16>>;
    /// The lost frame before `next`, from `next`'s in-band FEC.
    fn recover(&mut self, next: &[u8]) -> Option<Vec<i16>>;
    /// A lost frame, concealed from the stream so far.
    fn conceal(&mut self) -> Option<Vec<i16>>;
}

/// What the buffer saw, for media metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub played: u64,
    /// Frames that never arrived in time (concealed or silent).
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Frames skipped to catch up when the buffer overfilled.
    pub skipped: u64,
    /// Lost frames rebuilt from the next packet's in-band FEC.
    pub recovered: u64,
}

pub struct JitterBuffer {
    depth: usize,
    frame_len: usize,
    /// Frames by extended (wrap-free) sequence number.
    frames: BTreeMap<u64, Frame>,
    /// Extended sequence number of the next frame to play; none before start.
    next: Option<u64>,
    /// Highest extended sequence number seen, to unwrap 16-bit numbers.
    highest: Option<u64>,
    last: Vec<i16>,
    concealed_run: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// `depth` frames of delay (e.g. 3 = 60 ms), `frame_len` samples a frame.
    pub fn new(depth: usize, frame_len: usize) -> Self {
        JitterBuffer {
            depth: depth.max(1),
            frame_len,
            frames: BTreeMap::new(),
            next: None,
            highest: None,
            last: vec![0; frame_len],
            concealed_run: 0,
            stats: JitterStats::default(),
        }
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Forgets buffered audio and the playout position (a new stream starts),
    /// keeping the counts.
    pub fn reset(&mut self) {
        *self = JitterBuffer {
            stats: self.stats,
            ..JitterBuffer::new(self.depth, self.frame_len)
        };
    }

    /// The 64-bit sequence number closest to the highest seen.
    fn extend(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            // Start high enough that numbers a little before the first fit.
            let ext = (1u64 << 32) + u64::from(seq);
            self.highest = Some(ext);
            return ext;
        };
        let base = h & !0xFFFF;
        let candidates = [base.wrapping_sub(0x1_0000), base, base + 0x1_0000].map(|b| b + u64::from(seq));
        let ext = candidates
            .into_iter()
            .min_by_key(|&c| c.abs_diff(h))
            .unwrap_or(base + u64::from(seq));
        if ext > h {
            self.highest = Some(ext);
        }
        ext
    }

    /// A packet's audio arrived.
    pub fn push(&mut self, seq: u16, samples: Vec<i16>) {
        self.push_frame(seq, Frame::Pcm(samples));
    }

    /// A packet arrived, to be decoded at playout.
    pub fn push_coded(&mut self, seq: u16, packet: bytes::Bytes) {
        self.push_frame(seq, Frame::Coded(packet));
    }

    /// A packet arrived, as audio or to be decoded at playout.
    pub fn push_frame(&mut self, seq: u16, frame: Frame) {
        let ext = self.extend(seq);
        if self.next.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return;
        }
        if self.frames.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.stats.received += 1;
        self.frames.insert(ext, frame);
        // Overfilled (the sender's clock runs fast, or a burst): skip ahead.
        while self.frames.len() > 4 * self.depth {
            if let Some((&first, _)) = self.frames.iter().next() {
                self.frames.remove(&first);
                self.stats.skipped += 1;
                if let Some(n) = self.next.as_mut() {
                    *n = (*n).max(first + 1);
                }
            }
        }
    }

    /// The next frame for the playout clock.
    pub fn pop(&mut self) -> Vec<i16> {
        self.pop_with(None)
    }

    /// The next frame, coded frames decoded (and losses recovered or
    /// concealed) by `decoder`.
    pub fn pop_with(&mut self, mut decoder: Option<&mut dyn Decode>) -> Vec<i16> {
        let next = match self.next {
            Some(n) => n,
            None => {
                if self.frames.len() < self.depth {
                    return vec![0; self.frame_len];
                }
                match self.frames.keys().next() {
                    Some(&first) => first,
                    None => return vec![0; self.frame_len],
                }
            }
        };
        self.next = Some(next + 1);
        let decoded = match self.frames.remove(&next) {
            Some(Frame::Pcm(pcm)) => Some(pcm),
            // A packet the decoder cannot read is a frame lost.
            Some(Frame::Coded(packet)) => decoder.as_deref_mut().and_then(|d| d.decode(&packet)),
            None => None,
        };
        match decoded {
            Some(frame) => {
                self.stats.played += 1;
                self.concealed_run = 0;
                self.last = frame.clone();
                frame
            }
            None => {
                self.stats.lost += 1;
                self.concealed_run += 1;
                match decoder {
                    Some(d) => self.filled_by(d, next),
                    None => self.repeated(),
                }
            }
        }
    }

    /// A lost frame filled by the decoder: rebuilt from the next packet's
    /// in-band FEC when that is buffered and has it, else concealed while
    /// the run of losses is short, else silence.
    fn filled_by(&mut self, d: &mut dyn Decode, lost: u64) -> Vec<i16> {
        if let Some(Frame::Coded(next)) = self.frames.get(&(lost + 1)) {
            if let Some(frame) = d.recover(next) {
                self.stats.recovered += 1;
                self.concealed_run = 0;
                return frame;
            }
        }
        if self.concealed_run <= MAX_DECODER_CONCEALED {
            if let Some(frame) = d.conceal() {
                return frame;
            }
        }
        vec![0; self.frame_len]
    }

    /// A lost frame filled by repeating the last, halving its volume each
    /// time, then silence.
    fn repeated(&self) -> Vec<i16> {
        if self.concealed_run > MAX_CONCEALED {
            return vec![0; self.frame_len];
        }
        let shift = self.concealed_run;
        self.last.iter().map(|&s| s >> shift).collect()
    }
}

/// The RFC 3550 (6.4.1) interarrival jitter of one RTP stream: the mean
/// deviation of packet spacing at the receiver from spacing at the sender,
/// smoothed over 16 packets. Sans-IO: arrival times come in as arguments.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterarrivalJitter {
    /// The previous packet: arrival (since any fixed origin) and RTP timestamp.
    last: Option<(Duration, u32)>,
    /// The estimate, in seconds.
    jitter: f64,
}

impl InterarrivalJitter {
    /// A packet with RTP timestamp `rtp_ts` (clock `clock_rate` Hz) arrived
    /// at `arrival`.
    pub fn on_packet(&mut self, arrival: Duration, rtp_ts: u32, clock_rate: u32) {
        if let Some((prev_arrival, prev_ts)) = self.last {
            // Wrapping difference: timestamps wrap at 2^32.
            let sent = f64::from(rtp_ts.wrapping_sub(prev_ts) as i32) / f64::from(clock_rate.max(1));
            let received = arrival.as_secs_f64() - prev_arrival.as_secs_f64();
            let d = (received - sent).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last = Some((arrival, rtp_ts));
    }

    /// The estimate; none before two packets.
    pub fn seconds(&self) -> Option<f64> {
        self.last.map(|_| self.jitter)
    }
}
