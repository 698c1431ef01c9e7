use super::*;

const RATE: usize = 8_000;

/// A synthetic two-party recording: spans of "speech" (a tone whose
/// loudness wavers, with 40 ms breaks inside words) per channel over a
/// -55 dBFS noise floor, interleaved left (caller) / right (agent).
struct Script {
    seconds: f64,
    caller: Vec<(f64, f64)>,
    agent: Vec<(f64, f64)>,
}

fn speaking(spans: &[(f64, f64)], t: f64) -> bool {
    spans.iter().any(|&(a, b)| t >= a && t < b)
}

impl Script {
    fn samples(&self) -> Vec<i16> {
        let n = (self.seconds * RATE as f64) as usize;
        let mut out = Vec::with_capacity(2 * n);
        let mut noise: u32 = 12_345;
        for i in 0..n {
            let t = i as f64 / RATE as f64;
            // A break of 40 ms every 400 ms, as between syllables.
            let in_break = (t * 1000.0) as u64 % 400 >= 360;
            let voice = |freq: f64| {
                let waver = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin().abs();
                (8_000.0 * waver * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            };
            noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let floor = ((noise >> 16) % 121) as i16 - 60;
            let left = if speaking(&self.caller, t) && !in_break {
                voice(220.0)
            } else {
                floor
            };
            let right = if speaking(&self.agent, t) && !in_break {
                voice(140.0)
            } else {
                floor
            };
            out.push(left);
            out.push(right);
        }
        out
    }
}

fn near(got: u64, want: u64, what: &str) {
    let diff = got.abs_diff(want);
    assert!(
        diff <= 100,
        "{what}: {got} ms, expected {want} ms (within 100 ms)"
    );
}

fn extract(samples: &[i16], chunk: usize, holds: &[HoldSpan]) -> QualitySignals {
    let mut x = SignalExtractor::new(SignalSettings::default());
    for c in samples.chunks(chunk) {
        x.push(c);
    }
    x.finish(holds)
}

#[test]
fn talk_overtalk_silence_and_holds_come_out_within_100_ms_of_what_was_recorded() {
    let script = Script {
        seconds: 20.0,
        // The caller explains (0-3 s), the agent cuts in at 2.5 s.
        caller: vec![(0.0, 3.0), (19.5, 20.0)],
        agent: vec![(2.5, 6.0), (18.0, 19.0)],
    };
    // Silence 6-9 s, then an 8 s hold (9-17 s); the agent speaks 1 s after.
    let holds = [HoldSpan {
        start_ms: 9_000,
        end_ms: 17_000,
    }];
    let s = extract(&script.samples(), 333, &holds);
    near(s.duration_ms, 20_000, "duration");
    near(s.caller_talk_ms, 3_500, "caller talk");
    near(s.agent_talk_ms, 4_500, "agent talk");
    near(s.overtalk_ms, 500, "overtalk");
    near(s.longest_silence_ms, 3_000, "longest silence");
    near(s.longest_silence_at_ms, 6_000, "where it starts");
    assert_eq!(s.holds.len(), 1);
    let hold = &s.holds[0];
    assert_eq!(
        hold.flag,
        HoldFlag::ApologyToCheck,
        "hold over 6 s, apology to check"
    );
    near(
        hold.agent_spoke_after_ms.expect("the agent spoke"),
        1_000,
        "spoke after the hold",
    );
    let share = s.agent_share().expect("talk");
    assert!((share - 4.5 / 8.0).abs() < 0.02, "{share}");
}

#[test]
fn a_short_hold_is_fine_and_a_long_one_without_the_agent_speaking_is_flagged() {
    let script = Script {
        seconds: 30.0,
        caller: vec![(0.0, 2.0)],
        agent: vec![(2.0, 4.0), (9.5, 10.5)],
    };
    let holds = [
        // 4 s: under the limit.
        HoldSpan {
            start_ms: 5_000,
            end_ms: 9_000,
        },
        // 10 s, then nobody speaks.
        HoldSpan {
            start_ms: 12_000,
            end_ms: 22_000,
        },
    ];
    let s = extract(&script.samples(), 8_000, &holds);
    assert_eq!(s.holds[0].flag, HoldFlag::Fine);
    assert_eq!(s.holds[1].flag, HoldFlag::NoApology);
    assert_eq!(s.holds[1].agent_spoke_after_ms, None);
    assert_eq!(s.long_holds(), 1);
    // The silence after the second hold (22-30 s) is the longest.
    near(s.longest_silence_ms, 8_000, "longest silence");
}

#[test]
fn how_the_samples_are_chunked_changes_nothing() {
    let script = Script {
        seconds: 5.0,
        caller: vec![(0.5, 2.0)],
        agent: vec![(1.5, 4.0)],
    };
    let samples = script.samples();
    let whole = extract(&samples, samples.len(), &[]);
    for chunk in [1, 3, 7, 160, 321] {
        assert_eq!(extract(&samples, chunk, &[]), whole, "chunks of {chunk}");
    }
}

#[test]
fn an_empty_recording_has_no_signals() {
    let s = extract(&[], 1, &[]);
    assert_eq!(s, QualitySignals::default());
    assert_eq!(s.agent_share(), None);
}
