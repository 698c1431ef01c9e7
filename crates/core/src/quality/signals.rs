//! Quality signals from a stereo call recording (caller on the left, agent
//! on the right), without speech recognition: who talked how much, where
//! they talked over each other, the longest silence, and the holds, with
//! the manuals' etiquette rule (a hold longer than 6 seconds needs an
//! apology when the agent returns) turned into a flag for the grader.
//!
//! Sans-IO and streaming: the driver pushes the recording's samples as
//! they come (any chunking) and, at the end, the hold spans; nothing here
//! reads a file or a clock, so it runs off the media tick.
//!
//! Invariants:
//! - audio is judged in frames of `frame_ms`; a frame is speech on a
//!   channel when its RMS level is at or above `speech_dbfs`, and a gap of
//!   at most `hangover_ms` between speech frames counts as speech (the
//!   pauses inside a sentence), so spans are exact to a frame plus the
//!   hangover;
//! - overtalk is time both channels are speech; silence is time neither
//!   is, outside holds (on hold, the caller hears music and nobody talks);
//! - a hold longer than `long_hold_ms` is flagged "apology to check" when
//!   the agent speaks within `apology_within_ms` of resuming (whether the
//!   words are an apology is for the grader), and "no apology" when not.

use serde::{Deserialize, Serialize};

/// How the signals are measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSettings {
    pub sample_rate: u32,
    pub frame_ms: u32,
    /// The level (dB below full scale) at or above which a frame is speech.
    pub speech_dbfs: f64,
    pub hangover_ms: u32,
    /// The manuals' 6 seconds.
    pub long_hold_ms: u64,
    /// How soon after resuming the agent must speak.
    pub apology_within_ms: u64,
}

impl Default for SignalSettings {
    fn default() -> Self {
        SignalSettings {
            sample_rate: 8_000,
            frame_ms: 20,
            speech_dbfs: -40.0,
            hangover_ms: 60,
            long_hold_ms: 6_000,
            apology_within_ms: 3_000,
        }
    }
}

/// A hold, in milliseconds from the recording's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSpan {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// What a long hold asks of the grader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldFlag {
    /// Not over the limit.
    Fine,
    /// Over the limit and the agent spoke soon after: was it an apology?
    ApologyToCheck,
    /// Over the limit and the agent did not speak soon after.
    NoApology,
}

impl HoldFlag {
    pub const NAMES: [&'static str; 3] = ["fine", "apology-to-check", "no-apology"];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldFlag::Fine => Self::NAMES[0],
            HoldFlag::ApologyToCheck => Self::NAMES[1],
            HoldFlag::NoApology => Self::NAMES[2],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSignal {
    pub start_ms: u64,
    pub end_ms: u64,
    /// When the agent first spoke after resuming, from the resume.
    pub agent_spoke_after_ms: Option<u64>,
    pub flag: HoldFlag,
}

/// The signals of one recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualitySignals {
    pub duration_ms: u64,
    pub caller_talk_ms: u64,
    pub agent_talk_ms: u64,
    pub overtalk_ms: u64,
    /// The longest stretch where neither spoke, outside holds.
    pub longest_silence_ms: u64,
    /// Where it starts.
    pub longest_silence_at_ms: u64,
    pub holds: Vec<HoldSignal>,
}

impl QualitySignals {
    /// The agent's share of the talk (0..=1); none when nobody talked.
    pub fn agent_share(&self) -> Option<f64> {
        let total = self.caller_talk_ms + self.agent_talk_ms;
        (total > 0).then(|| self.agent_talk_ms as f64 / total as f64)
    }

    /// Holds over the limit.
    pub fn long_holds(&self) -> usize {
        self.holds.iter().filter(|h| h.flag != HoldFlag::Fine).count()
    }
}

/// One channel's voice activity, frame by frame.
#[derive(Clone, Debug, Default)]
struct Channel {
    /// Per frame: the level was speech (before the hangover).
    loud: Vec<bool>,
}

/// Reads a recording's samples as they come.
pub struct SignalExtractor {
    settings: SignalSettings,
    frame_len: usize,
    /// Squared level at or above which a frame is speech.
    threshold: f64,
    /// The frame being filled: (sum of squares left, right), samples.
    sums: (f64, f64),
    filled: usize,
    caller: Channel,
    agent: Channel,
    /// A sample of the left channel waiting for its right one.
    odd: Option<i16>,
}

impl SignalExtractor {
    pub fn new(settings: SignalSettings) -> Self {
        let frame_len = (settings.sample_rate as usize * settings.frame_ms as usize / 1000).max(1);
        let full = f64::from(i16::MAX);
        let threshold = (full * 10f64.powf(settings.speech_dbfs / 20.0)).powi(2);
        SignalExtractor {
            settings,
            frame_len,
            threshold,
            sums: (0.0, 0.0),
            filled: 0,
            caller: Channel::default(),
            agent: Channel::default(),
            odd: None,
        }
    }

    /// Interleaved stereo samples (left = caller, right = agent), in any
    /// chunks.
    pub fn push(&mut self, interleaved: &[i16]) {
        let mut rest = interleaved;
        if let Some(left) = self.odd.take() {
            let Some((&right, tail)) = rest.split_first() else {
                self.odd = Some(left);
                return;
            };
            self.sample(left, right);
            rest = tail;
        }
        let mut pairs = rest.chunks_exact(2);
        for p in &mut pairs {
            self.sample(p[0], p[1]);
        }
        if let [left] = pairs.remainder() {
            self.odd = Some(*left);
        }
    }

    fn sample(&mut self, left: i16, right: i16) {
        self.sums.0 += f64::from(left).powi(2);
        self.sums.1 += f64::from(right).powi(2);
        self.filled += 1;
        if self.filled == self.frame_len {
            self.close_frame();
        }
    }

    fn close_frame(&mut self) {
        let n = self.filled.max(1) as f64;
        self.caller.loud.push(self.sums.0 / n >= self.threshold);
        self.agent.loud.push(self.sums.1 / n >= self.threshold);
        self.sums = (0.0, 0.0);
        self.filled = 0;
    }

    /// The signals, given the recording's holds.
    pub fn finish(mut self, holds: &[HoldSpan]) -> QualitySignals {
        if self.filled > 0 {
            self.close_frame();
        }
        let frame_ms = u64::from(self.settings.frame_ms);
        let gap = (self.settings.hangover_ms / self.settings.frame_ms.max(1)) as usize;
        let caller = with_hangover(&self.caller.loud, gap);
        let agent = with_hangover(&self.agent.loud, gap);
        let frames = caller.len();
        let on_hold = |f: usize| {
            let at = f as u64 * frame_ms;
            holds.iter().any(|h| at >= h.start_ms && at < h.end_ms)
        };
        let mut s = QualitySignals {
            duration_ms: frames as u64 * frame_ms,
            ..Default::default()
        };
        let mut silence_from: Option<usize> = None;
        for f in 0..=frames {
            let quiet = f < frames && !caller[f] && !agent[f] && !on_hold(f);
            match (quiet, silence_from) {
                (true, None) => silence_from = Some(f),
                (false, Some(from)) => {
                    let len = (f - from) as u64 * frame_ms;
                    if len > s.longest_silence_ms {
                        s.longest_silence_ms = len;
                        s.longest_silence_at_ms = from as u64 * frame_ms;
                    }
                    silence_from = None;
                }
                _ => {}
            }
            if f == frames {
                break;
            }
            s.caller_talk_ms += u64::from(caller[f]) * frame_ms;
            s.agent_talk_ms += u64::from(agent[f]) * frame_ms;
            s.overtalk_ms += u64::from(caller[f] && agent[f]) * frame_ms;
        }
        s.holds = holds
            .iter()
            .map(|h| {
                let resumed = (h.end_ms / frame_ms) as usize;
                let agent_spoke_after_ms = agent
                    .iter()
                    .enumerate()
                    .skip(resumed)
                    .find(|(_, &on)| on)
                    .map(|(f, _)| (f as u64 * frame_ms).saturating_sub(h.end_ms));
                let long = h.end_ms.saturating_sub(h.start_ms) > self.settings.long_hold_ms;
                let flag = match agent_spoke_after_ms {
                    _ if !long => HoldFlag::Fine,
                    Some(after) if after <= self.settings.apology_within_ms => HoldFlag::ApologyToCheck,
                    _ => HoldFlag::NoApology,
                };
                HoldSignal {
                    start_ms: h.start_ms,
                    end_ms: h.end_ms,
                    agent_spoke_after_ms,
                    flag,
                }
            })
            .collect();
        s
    }
}

/// Speech frames with gaps of at most `gap` frames between them filled.
fn with_hangover(loud: &[bool], gap: usize) -> Vec<bool> {
    let mut out = loud.to_vec();
    let mut last: Option<usize> = None;
    for (f, &on) in loud.iter().enumerate() {
        if !on {
            continue;
        }
        if let Some(prev) = last {
            if f - prev > 1 && f - prev - 1 <= gap {
                out[prev + 1..f].iter_mut().for_each(|v| *v = true);
            }
        }
        last = Some(f);
    }
    out
}

#[cfg(test)]
mod tests;
