//! Test and synthetic audio: sine tones, and the Goertzel filter that tells
//! how much of one frequency a signal holds (used to check what a recording
//! or a leg carried without an FFT).

use std::f64::consts::PI;

/// `n` samples of a sine at `freq` Hz, amplitude `amp` (0..=32767), starting
/// at sample `offset` (so consecutive frames join without a click).
pub fn sine(freq: f64, rate: u32, offset: usize, n: usize, amp: i16) -> Vec<i16> {
    (offset..offset + n)
        .map(|i| (f64::from(amp) * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
        .collect()
}

/// Power of `freq` in `samples` relative to the signal's total power (0..=1):
/// near 1 for a pure tone at `freq`, near 0 for silence or other tones.
pub fn goertzel(samples: &[i16], freq: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut total = 0.0f64;
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    if total == 0.0 {
        return 0.0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A pure tone of n samples has Goertzel power (n/2)^2 * A^2 and total
    // power n * A^2 / 2: normalise so that it scores 1.
    (2.0 * power / (samples.len() as f64 * total)).min(1.0)
}
