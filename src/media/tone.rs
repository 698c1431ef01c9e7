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

/// Share (0..=1) of the `window`-sample stretches of `samples` in which
/// `freq` dominates (a [`goertzel`] score over 0.5). One Goertzel over a
/// whole recording needs the tone's phase to run on unbroken: a frame a
/// jitter buffer dropped or repeated turns the phase and can cancel the sum.
/// Here such a frame costs only the stretch it falls in.
pub fn tone_share(samples: &[i16], freq: f64, rate: u32, window: usize) -> f64 {
    let window = window.max(1);
    let stretches = samples.len() / window;
    if stretches == 0 {
        return 0.0;
    }
    let toned = samples
        .chunks_exact(window)
        .filter(|w| goertzel(w, freq, rate) > 0.5)
        .count();
    toned as f64 / stretches as f64
}

/// Frame `f` (20 ms at 16 kHz) of a voice-like sound: a glottal buzz whose
/// pitch glides between 100 and 180 Hz, shaped by two formants and spoken
/// in syllables (four a second). Speech codecs code it as voiced speech,
/// and repeating the last frame cannot follow its pitch or level.
pub fn voice_frame(f: usize) -> Vec<i16> {
    let formant = |hz: f64, centre: f64, width: f64| 1.0 / (1.0 + ((hz - centre) / width).powi(2));
    (f * 320..(f + 1) * 320)
        .map(|n| {
            let t = n as f64 / 16_000.0;
            // The pitch 140 + 40 sin(2 pi 0.7 t), and its phase (integrated).
            let f0 = 140.0 + 40.0 * (2.0 * PI * 0.7 * t).sin();
            let phase = 2.0 * PI * (140.0 * t - 40.0 / (2.0 * PI * 0.7) * (2.0 * PI * 0.7 * t).cos());
            let mut v = 0.0;
            for k in (1..40).take_while(|&k| f0 * f64::from(k) <= 7000.0) {
                let hz = f0 * f64::from(k);
                let gain = (formant(hz, 700.0, 150.0) + 0.5 * formant(hz, 1200.0, 200.0)) / f64::from(k);
                v += gain * (phase * f64::from(k)).sin();
            }
            let syllables = 0.55 + 0.45 * (2.0 * PI * 4.0 * t).sin();
            (v * syllables * 9000.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 440 Hz tone whose phase jumps half a period every 150 ms, as when
    /// frames are dropped: the whole-signal score collapses, the share of
    /// 100 ms stretches holding the tone does not.
    #[test]
    fn tone_share_survives_phase_jumps_that_cancel_a_whole_signal_goertzel() {
        let rate = 8000;
        let mut samples = Vec::new();
        for piece in 0..40 {
            let half_period = if piece % 2 == 0 { 0 } else { 9 };
            samples.extend(sine(440.0, rate, samples.len() + half_period, 1200, 8000));
        }
        assert!(goertzel(&samples, 440.0, rate) < 0.3);
        assert!(tone_share(&samples, 440.0, rate, 800) > 0.6);
        assert_eq!(tone_share(&samples, 1000.0, rate, 800), 0.0);
        assert_eq!(tone_share(&[], 440.0, rate, 800), 0.0);
    }
}
