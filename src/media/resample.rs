//! Rate conversion between narrowband (8 kHz) and wideband (16 kHz) frames,
//! for calls whose legs differ (an Opus softphone bridged to a G.711 caller)
//! and prompts decoded at 8 kHz played to wideband legs.
//!
//! A stream (one leg's audio in one direction, a prompt) converts through a
//! [`Converter`]: rubato's FFT resampler, whose anti-aliasing filter keeps
//! its state from one 20 ms frame to the next, so frame edges add nothing
//! (a filter applied one frame at a time smears each edge into the
//! signal). It delays the stream by a few milliseconds.
//!
//! [`convert`] is the stateless fallback for frames of another length: a
//! 2:1 decimation behind a short half-band low-pass, or linear
//! interpolation.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::Rate;

/// One stream's conversion from one rate to another, 20 ms at a time.
pub struct Converter {
    from: Rate,
    to: Rate,
    /// None when the rates are equal (a copy), or if the resampler could
    /// not be built (the stateless conversion is used). Boxed: it is large.
    fft: Option<Box<Fft<f32>>>,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Converter {
    pub fn new(from: Rate, to: Rate) -> Converter {
        let fft = (from != to)
            .then(|| {
                Fft::<f32>::new(
                    from.hz() as usize,
                    to.hz() as usize,
                    from.frame_len(),
                    1,
                    FixedSync::Both,
                )
                .ok()
                .map(Box::new)
            })
            .flatten();
        Converter {
            from,
            to,
            fft,
            input: vec![0.0; from.frame_len()],
            output: vec![0.0; to.frame_len()],
        }
    }

    /// This converter, or a fresh one when the rates changed.
    pub fn between(slot: &mut Option<Converter>, from: Rate, to: Rate) -> &mut Converter {
        if slot.as_ref().is_none_or(|c| c.from != from || c.to != to) {
            *slot = Some(Converter::new(from, to));
        }
        slot.get_or_insert_with(|| Converter::new(from, to))
    }

    /// One frame at the source rate, at the target rate.
    pub fn convert(&mut self, frame: &[i16]) -> Vec<i16> {
        let Some(fft) = self.fft.as_mut() else {
            return convert(frame, self.from, self.to);
        };
        if frame.len() != self.input.len() {
            return convert(frame, self.from, self.to);
        }
        for (x, &s) in self.input.iter_mut().zip(frame) {
            *x = f32::from(s) / 32_768.0;
        }
        let (frames_in, frames_out) = (self.input.len(), self.output.len());
        let done = match (
            InterleavedSlice::new(&self.input[..], 1, frames_in),
            InterleavedSlice::new_mut(&mut self.output[..], 1, frames_out),
        ) {
            (Ok(input), Ok(mut output)) => fft.process_into_buffer(&input, &mut output, None).is_ok(),
            _ => false,
        };
        if !done {
            return convert(frame, self.from, self.to);
        }
        self.output
            .iter()
            .map(|&x| (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16)
            .collect()
    }
}

/// `frame` at `from`, converted to `to`, without state (frame by frame).
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

    /// Signal to noise and distortion of a tone: its power over the rest.
    fn sinad(samples: &[i16], freq: f64, rate: u32) -> f64 {
        let share = goertzel(samples, freq, rate);
        10.0 * (share / (1.0 - share).max(1e-12)).log10()
    }

    #[test]
    fn a_converter_keeps_its_filter_across_frames_and_beats_frame_by_frame() {
        for (from, to, freq) in [
            (Rate::Wideband, Rate::Narrowband, 1000.0),
            (Rate::Narrowband, Rate::Wideband, 1000.0),
            (Rate::Wideband, Rate::Narrowband, 3000.0),
        ] {
            let n = from.frame_len();
            let mut c = Converter::new(from, to);
            let (mut kept, mut framewise) = (Vec::new(), Vec::new());
            for f in 0..100 {
                let frame = sine(freq, from.hz(), f * n, n, 8000);
                let out = c.convert(&frame);
                assert_eq!(out.len(), to.frame_len());
                kept.extend(out);
                framewise.extend(convert(&frame, from, to));
            }
            // Past the converter's start-up.
            let skip = 10 * to.frame_len();
            let (a, b) = (
                sinad(&kept[skip..], freq, to.hz()),
                sinad(&framewise[skip..], freq, to.hz()),
            );
            assert!(a > 40.0, "{from:?} -> {to:?} {freq} Hz: {a:.1} dB");
            assert!(
                a > b + 10.0,
                "{from:?} -> {to:?} {freq} Hz: kept {a:.1} dB, frame by frame {b:.1} dB"
            );
        }
        let mut same = Converter::new(Rate::Narrowband, Rate::Narrowband);
        assert_eq!(same.convert(&[1, 2, 3]), vec![1, 2, 3]);
    }

    #[test]
    fn empty_and_odd_frames_are_fine() {
        let mut c = Converter::new(Rate::Wideband, Rate::Narrowband);
        assert_eq!(
            c.convert(&[5, 5, 5]).len(),
            1,
            "another length: the stateless way"
        );
        assert!(convert(&[], Rate::Wideband, Rate::Narrowband).is_empty());
        assert!(convert(&[], Rate::Narrowband, Rate::Wideband).is_empty());
        assert_eq!(convert(&[5, 5, 5], Rate::Wideband, Rate::Narrowband).len(), 1);
    }
}
