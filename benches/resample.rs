//! Rate conversion between 8 and 16 kHz legs: the quality of a tone across
//! it, kept-state (rubato's FFT resampler, one per stream) against the
//! earlier frame-by-frame filter, and the CPU a 20 ms frame costs.
//!
//! Figures printed: SINAD (tone power over everything else, dB) of 1 kHz
//! and 3 kHz tones taken 16 -> 8 kHz and 8 -> 16 kHz in 20 ms frames, over
//! 2 s after the start-up; microseconds per frame. Under `cargo test` (no
//! `--bench`) it runs once, as a smoke test.

use std::time::Instant;

use hotline::media::resample::{convert, Converter};
use hotline::media::tone::{goertzel, sine};
use hotline::media::Rate;

fn sinad(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let share = goertzel(samples, freq, rate);
    10.0 * (share / (1.0 - share).max(1e-12)).log10()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 110 } else { 20 };
    for (from, to) in [
        (Rate::Wideband, Rate::Narrowband),
        (Rate::Narrowband, Rate::Wideband),
    ] {
        for freq in [1000.0, 3000.0] {
            let n = from.frame_len();
            let mut c = Converter::new(from, to);
            let (mut kept, mut framewise) = (Vec::new(), Vec::new());
            for f in 0..frames {
                let frame = sine(freq, from.hz(), f * n, n, 8000);
                kept.extend(c.convert(&frame));
                framewise.extend(convert(&frame, from, to));
            }
            let skip = 10 * to.frame_len();
            println!(
                "{} -> {} Hz, {freq} Hz tone: SINAD kept-state {:.1} dB, frame by frame {:.1} dB",
                from.hz(),
                to.hz(),
                sinad(&kept[skip..], freq, to.hz()),
                sinad(&framewise[skip..], freq, to.hz())
            );
        }
        let runs = if full { 50_000 } else { 10 };
        let frame = sine(1000.0, from.hz(), 0, from.frame_len(), 8000);
        let mut c = Converter::new(from, to);
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(c.convert(std::hint::black_box(&frame)));
        }
        let kept = started.elapsed().as_secs_f64() * 1e6 / runs as f64;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(convert(std::hint::black_box(&frame), from, to));
        }
        let framewise = started.elapsed().as_secs_f64() * 1e6 / runs as f64;
        println!(
            "{} -> {} Hz: {kept:.2} µs per 20 ms frame kept-state, {framewise:.2} µs frame by frame",
            from.hz(),
            to.hz()
        );
    }
}
