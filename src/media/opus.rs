//! Opus, WebRTC's wideband voice codec, through `opus-rs` (libopus 1.6
//! ported to safe Rust: no C toolchain or system library is needed).
//! hotline runs Opus mono at the leg's rate: the RTP clock is 48 kHz
//! whatever the coded rate, and a mono stream is valid for the
//! "opus/48000/2" WebRTC format.
//!
//! Losses are libopus' to repair, not ours: a decoder rebuilds a lost frame
//! from the next packet's in-band FEC ([`OpusDecoder::recover`], when that
//! packet carries it) or conceals it from the stream so far
//! ([`OpusDecoder::conceal`]: pitch and spectrum carried on, fading over a
//! long gap). An encoder adds in-band FEC when the peer said it uses it
//! (`useinbandfec=1`).
//!
//! Invariants: every call on input from outside returns an error rather than
//! panicking; every frame decoded or concealed is exactly 20 ms at the
//! decoder's rate, except a packet carrying more (a peer's longer ptime),
//! which comes out whole.
//! Each encoder or decoder is owned by one task at a time.

use opus_rs::range_coder::RangeCoder;
use opus_rs::Application;

use super::{MediaError, Rate};

/// Largest Opus packet produced (RFC 6716 allows 1275 bytes a frame).
const MAX_PACKET: usize = 1275;

/// Samples per channel of the longest frame a packet may carry (120 ms at 16 kHz).
const MAX_DECODED: usize = 1920;

/// The bit rate our encoders aim at: wideband speech is clear at 24 kb/s
/// (libopus' own choice for 16 kHz mono would be 19 kb/s).
const BITRATE: i32 = 24_000;

/// Encoder effort, 0 to 10. At 5 an encoder costs less than libopus 1.3's
/// default (9) did before (about 135 against 165 µs a frame here) and
/// speech is not audibly worse; at 9 it costs twice as much.
const COMPLEXITY: i32 = 5;

/// The packet loss our encoders plan their in-band FEC for, when the peer
/// uses it: libopus adds the copy only at a loss it is told to expect.
const EXPECTED_LOSS_PERCENT: i32 = 5;

pub struct OpusEncoder {
    inner: opus_rs::OpusEncoder,
    frame_len: usize,
}

impl OpusEncoder {
    /// A mono VoIP encoder at `rate`, without in-band FEC.
    pub fn new(rate: Rate) -> Result<Self, MediaError> {
        let mut inner = opus_rs::OpusEncoder::new(rate.hz() as i32, 1, Application::Voip)
            .map_err(|e| MediaError::Transport(format!("opus encoder: {e}")))?;
        inner.bitrate_bps = BITRATE;
        inner.complexity = COMPLEXITY;
        Ok(OpusEncoder {
            inner,
            frame_len: rate.frame_len(),
        })
    }

    /// Follows the peer's `a=fmtp` parameters for our payload type: with
    /// `useinbandfec=1` (RFC 7587 6.1: its decoder uses in-band FEC) each
    /// packet also carries a coarse copy of the one before.
    pub fn follow_peer(&mut self, fmtp: &str) {
        let fec = fmtp_uses_fec(fmtp);
        self.inner.use_inband_fec = fec;
        self.inner.packet_loss_perc = if fec { EXPECTED_LOSS_PERCENT } else { 0 };
    }

    /// Encodes one 20 ms frame (shorter frames are padded with silence).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        let mut frame = pcm.to_vec();
        frame.resize(self.frame_len, 0);
        let mut out = vec![0u8; MAX_PACKET];
        let n = self
            .inner
            .encode_i16(&frame, self.frame_len, &mut out)
            .map_err(|e| MediaError::Transport(format!("opus encode: {e}")))?;
        out.truncate(n);
        Ok(out)
    }
}

/// Whether fmtp parameters ("minptime=10;useinbandfec=1") ask for in-band FEC.
fn fmtp_uses_fec(fmtp: &str) -> bool {
    fmtp.split(';').any(|p| {
        p.split_once('=')
            .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("useinbandfec") && v.trim() == "1")
    })
}

pub struct OpusDecoder {
    inner: opus_rs::OpusDecoder,
    /// Samples in one 20 ms frame at the decoder's rate.
    frame_len: usize,
    /// Decoded floats, kept between calls.
    scratch: Vec<f32>,
}

impl OpusDecoder {
    /// A mono decoder at `rate` (a stereo stream is downmixed).
    pub fn new(rate: Rate) -> Result<Self, MediaError> {
        let inner = opus_rs::OpusDecoder::new(rate.hz() as i32, 1)
            .map_err(|e| MediaError::Transport(format!("opus decoder: {e}")))?;
        Ok(OpusDecoder {
            inner,
            frame_len: rate.frame_len(),
            scratch: vec![0.0; MAX_DECODED],
        })
    }

    /// Decodes one packet; a corrupt packet is an error, never a panic.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        check_length(packet)?;
        let n = self
            .inner
            .decode(packet, MAX_DECODED, &mut self.scratch)
            .map_err(|e| MediaError::Transport(format!("opus decode: {e}")))?;
        Ok(self.pcm(n))
    }

    /// The 20 ms lost just before `next`, rebuilt from the copy in-band FEC
    /// put in `next`; `None` when `next` carries none (then conceal).
    /// `next` itself is still to be decoded.
    pub fn recover(&mut self, next: &[u8]) -> Option<Vec<i16>> {
        if check_length(next).is_err() || !carries_fec(next) {
            return None;
        }
        let n = self
            .inner
            .decode_fec(next, self.frame_len, &mut self.scratch)
            .ok()?;
        Some(self.pcm(n))
    }

    /// A lost 20 ms, concealed by libopus from what it decoded before.
    pub fn conceal(&mut self) -> Result<Vec<i16>, MediaError> {
        let n = self
            .inner
            .decode(&[], self.frame_len, &mut self.scratch)
            .map_err(|e| MediaError::Transport(format!("opus concealment: {e}")))?;
        Ok(self.pcm(n))
    }

    fn pcm(&self, n: usize) -> Vec<i16> {
        self.scratch[..n.min(MAX_DECODED)]
            .iter()
            .map(|s| (s * 32768.0).clamp(-32768.0, 32767.0) as i16)
            .collect()
    }
}

fn check_length(packet: &[u8]) -> Result<(), MediaError> {
    if packet.is_empty() || packet.len() > MAX_PACKET * 6 {
        return Err(MediaError::Transport("opus packet of impossible length".into()));
    }
    Ok(())
}

/// Opus decoded at playout: losses recovered from in-band FEC or
/// concealed by libopus, not by repeating the last frame.
impl super::jitter::Decode for OpusDecoder {
    fn decode(&mut self, packet: &[u8]) -> Option<Vec<i16>> {
        OpusDecoder::decode(self, packet).ok()
    }

    fn recover(&mut self, next: &[u8]) -> Option<Vec<i16>> {
        OpusDecoder::recover(self, next)
    }

    fn conceal(&mut self) -> Option<Vec<i16>> {
        OpusDecoder::conceal(self).ok()
    }
}

/// Whether `packet`'s first frame carries an LBRR frame (in-band FEC: a
/// coarse copy of the frame before). Only SILK and hybrid frames can; their
/// SILK layer opens with one voice-activity bit per 20 ms SILK frame, then
/// the LBRR flag (RFC 6716 4.2.3-4.2.4); the mid channel's is read.
pub fn carries_fec(packet: &[u8]) -> bool {
    let Some(&toc) = packet.first() else {
        return false;
    };
    let config = toc >> 3;
    let silk_frames = match config {
        // SILK only: 10, 20, 40 or 60 ms (two and three SILK frames).
        0..=11 => [1, 1, 2, 3][usize::from(config & 3)],
        // Hybrid: 10 or 20 ms.
        12..=15 => 1,
        _ => return false,
    };
    let Some(first) = first_frame(packet) else {
        return false;
    };
    if first.is_empty() {
        return false;
    }
    let mut decoder = RangeCoder::new_decoder(first);
    for _ in 0..silk_frames {
        decoder.decode_bit_logp(1);
    }
    decoder.decode_bit_logp(1)
}

/// The bytes of a packet's first frame (RFC 6716 3.2), if well formed.
fn first_frame(packet: &[u8]) -> Option<&[u8]> {
    let data = packet.get(1..)?;
    match packet[0] & 3 {
        0 => Some(data),
        1 => data.get(..data.len() / 2),
        2 => {
            let (len, at) = frame_length(data)?;
            data.get(at..at + len)
        }
        _ => {
            let (&count, mut rest) = data.split_first()?;
            let frames = usize::from(count & 0x3f);
            if frames == 0 {
                return None;
            }
            let mut padding = 0usize;
            if count & 0x40 != 0 {
                loop {
                    let (&b, r) = rest.split_first()?;
                    rest = r;
                    padding += if b == 255 { 254 } else { usize::from(b) };
                    if b != 255 {
                        break;
                    }
                }
            }
            if count & 0x80 != 0 {
                // VBR: every frame's length but the last, then the frames.
                let (first, mut at) = frame_length(rest)?;
                for _ in 1..frames - 1 {
                    at += frame_length(rest.get(at..)?)?.1;
                }
                rest.get(at..at + first)
            } else {
                let len = rest.len().checked_sub(padding)? / frames;
                rest.get(..len)
            }
        }
    }
}

/// A frame length as RFC 6716 3.2.1 codes it, and the bytes it took.
fn frame_length(data: &[u8]) -> Option<(usize, usize)> {
    match *data.first()? {
        b @ 0..=251 => Some((usize::from(b), 1)),
        b => Some((usize::from(*data.get(1)?) * 4 + usize::from(b), 2)),
    }
}

#[cfg(test)]
#[path = "opus_tests.rs"]
mod tests;
