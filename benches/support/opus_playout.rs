//! Opus through a jitter buffer with packets lost, filled in three ways:
//! shared by `benches/opus_loss.rs` (the figures) and `tests/opus_loss.rs`
//! (the claims they support).

use bytes::Bytes;
use hotline::media::jitter::{Decode, JitterBuffer};
use hotline::media::opus::{OpusDecoder, OpusEncoder};
use hotline::media::tone::voice_frame;
use hotline::media::Rate;

/// How lost frames are filled in.
#[derive(Clone, Copy, PartialEq)]
pub enum Fill {
    /// Decoded on arrival, a loss repeated from the last frame at falling
    /// volume (as hotline did before).
    Repeat,
    /// Decoded at playout, a loss concealed by libopus.
    Conceal,
    /// Decoded at playout, a loss rebuilt from the next packet's in-band
    /// FEC where it has one, else concealed.
    Recover,
}

/// The decoder's concealment without its FEC.
struct NoFec<'a>(&'a mut OpusDecoder);

impl Decode for NoFec<'_> {
    fn decode(&mut self, packet: &[u8]) -> Option<Vec<i16>> {
        Decode::decode(self.0, packet)
    }
    fn recover(&mut self, _: &[u8]) -> Option<Vec<i16>> {
        None
    }
    fn conceal(&mut self) -> Option<Vec<i16>> {
        Decode::conceal(self.0)
    }
}

/// `frames` packets of [`voice_frame`], encoded for a peer with `fmtp`.
pub fn voice(frames: usize, fmtp: &str) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(Rate::Wideband).expect("encoder");
    enc.follow_peer(fmtp);
    (0..frames)
        .map(|f| enc.encode(&voice_frame(f)).expect("encodes"))
        .collect()
}

/// Plays `packets` through a 3-frame jitter buffer with the ones `lost`
/// marks missing, filled in as `fill` says. The f-th packet is the f-th
/// frame played. Also returns the buffer's count of frames rebuilt from FEC.
pub fn play(packets: &[Vec<u8>], lost: &[bool], fill: Fill) -> (Vec<i16>, u64) {
    let mut buffer = JitterBuffer::new(3, 320);
    let mut dec = OpusDecoder::new(Rate::Wideband).expect("decoder");
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if !lost[i] {
            if fill == Fill::Repeat {
                buffer.push(i as u16, dec.decode(p).unwrap_or_default());
            } else {
                buffer.push_coded(i as u16, Bytes::copy_from_slice(p));
            }
        }
        if i >= 3 {
            out.extend(match fill {
                Fill::Repeat => buffer.pop(),
                Fill::Conceal => buffer.pop_with(Some(&mut NoFec(&mut dec))),
                Fill::Recover => buffer.pop_with(Some(&mut dec)),
            });
        }
    }
    (out, buffer.stats().recovered)
}

/// Signal to error, in dB, of `heard` against `reference` over the frames
/// `lost` marks.
pub fn snr_over_lost(reference: &[i16], heard: &[i16], lost: &[bool]) -> f64 {
    let (mut signal, mut error) = (0f64, 0f64);
    for (f, _) in lost.iter().enumerate().filter(|(_, &l)| l) {
        for i in f * 320..((f + 1) * 320).min(reference.len()).min(heard.len()) {
            let r = f64::from(reference[i]);
            signal += r * r;
            error += (r - f64::from(heard[i])).powi(2);
        }
    }
    10.0 * (signal / error.max(1.0)).log10()
}
