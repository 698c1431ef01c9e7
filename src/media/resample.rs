//! Rate conversion between narrowband (8 kHz) and wideband (16 kHz) frames,
//! for calls whose legs differ (an Opus softphone bridged to a G.711 caller)
//! and prompts decoded at 8 kHz played to wideband legs.
//!
//! Down: a 2:1 decimation behind a short half-band low-pass (so tones above
//! 4 kHz do not fold back into the voice band). Up: linear interpolation.
//! Frames are converted independently (a 20 ms frame is long enough that
//! the edges are inaudible at voice quality).

use super::Rate;

/// `frame` at `from`, converted to `to`.
pub fn convert(frame: &[i16], from: Rate, to: Rate) -> Vec<i16> {
    match (from, to) {
        (Rate::Narrowband, Rate::Wideband) => up(frame),
        (Rate::Wideband, Rate::Narrowband) => down(frame),
        _ => frame.to_vec(),
    }
}

fn up(frame: &[i16]) -> Vec<i16> {
    let mut out = Vec::with_capacity(frame.len() * 2);
    for (i, &s) in frame.iter().enumerate() {
        let next = frame.get(i + 1).copied().unwrap_or(s);
        out.push(s);
        out.push(((i32::from(s) + i32::from(next)) / 2) as i16);
    }
    out
}

fn down(frame: &[i16]) -> Vec<i16> {
    // Taps [1, 2, 1] / 4 around each kept sample.
    let at = |i: isize| -> i32 {
        let i = i.clamp(0, frame.len() as isize - 1) as usize;
        i32::from(frame[i])
    };
    (0..frame.len() / 2)
        .map(|k| {
            let i = (2 * k) as isize;
            ((at(i - 1) + 2 * at(i) + at(i + 1)) / 4) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{goertzel, sine};

    #[test]
    fn tones_keep_their_pitch_both_ways() {
        let nb = sine(440.0, 8000, 0, 1600, 8000);
        let wb = convert(&nb, Rate::Narrowband, Rate::Wideband);
        assert_eq!(wb.len(), 3200);
        assert!(goertzel(&wb, 440.0, 16_000) > 0.9);
        let wb = sine(1000.0, 16_000, 0, 3200, 8000);
        let nb = convert(&wb, Rate::Wideband, Rate::Narrowband);
        assert_eq!(nb.len(), 1600);
        assert!(goertzel(&nb, 1000.0, 8000) > 0.9);
        assert_eq!(convert(&nb, Rate::Narrowband, Rate::Narrowband), nb);
    }

    #[test]
    fn empty_and_odd_frames_are_fine() {
        assert!(convert(&[], Rate::Wideband, Rate::Narrowband).is_empty());
        assert!(convert(&[], Rate::Narrowband, Rate::Wideband).is_empty());
        assert_eq!(convert(&[5, 5, 5], Rate::Wideband, Rate::Narrowband).len(), 1);
    }
}
