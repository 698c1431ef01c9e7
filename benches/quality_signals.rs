//! Quality signals from stereo recordings: the CPU one recorded minute
//! costs to read (voice activity per channel, talk, overtalk, silence,
//! holds). The target: under 20 ms of CPU per recorded minute.
//!
//! Figures printed: ms of CPU per recorded minute (p50, min, max over the
//! runs) for a 10-minute, 8 kHz two-party recording pushed in 20 ms
//! chunks, as the recorder hands them over. Under `cargo test` (no
//! `--bench`) it reads one minute once, as a smoke test.

use std::time::Instant;

use hotline::quality::signals::{HoldSpan, SignalExtractor, SignalSettings};

/// `minutes` of a conversation: the parties take turns every few seconds,
/// with some overtalk, over a low noise floor.
fn conversation(minutes: usize) -> Vec<i16> {
    let n = minutes * 60 * 8_000;
    let mut out = Vec::with_capacity(2 * n);
    let mut noise: u32 = 1;
    for i in 0..n {
        let t = i as f64 / 8_000.0;
        let turn = (t / 4.0) as u64 % 3; // caller, agent, both
        noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let floor = ((noise >> 16) % 121) as i16 - 60;
        let voice = |f: f64| (6_000.0 * (2.0 * std::f64::consts::PI * f * t).sin()) as i16;
        out.push(if turn != 1 { voice(220.0) } else { floor });
        out.push(if turn != 0 { voice(140.0) } else { floor });
    }
    out
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (minutes, runs) = if full { (10, 21) } else { (1, 1) };
    let audio = conversation(minutes);
    let holds = [HoldSpan {
        start_ms: 30_000,
        end_ms: 40_000,
    }];
    let mut per_minute = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut x = SignalExtractor::new(SignalSettings::default());
        // 20 ms of stereo at 8 kHz: 320 samples.
        for chunk in audio.chunks(320) {
            x.push(chunk);
        }
        let signals = x.finish(&holds);
        let elapsed = started.elapsed();
        assert!(signals.caller_talk_ms > 0 && signals.agent_talk_ms > 0 && signals.overtalk_ms > 0);
        per_minute.push(elapsed.as_secs_f64() * 1000.0 / minutes as f64);
    }
    per_minute.sort_by(f64::total_cmp);
    println!(
        "quality signals: {:.2} ms of CPU per recorded minute (p50 of {runs} runs over {minutes} min; min {:.2}, max {:.2})",
        per_minute[per_minute.len() / 2],
        per_minute[0],
        per_minute[per_minute.len() - 1],
    );
}
