//! A softphone hotline drives itself: the client end of a WebRTC leg with
//! its own 20 ms clock, saying whatever its source produces and keeping
//! what it hears. The demo's simulated people, `hotline loadgen` and the
//! audio tests use it as their caller, agent or supervisor.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::media::webrtc::{WebRtcEndpoint, WebRtcSession};
use crate::media::{resample, MediaError, Rate};

/// Makes frame `n` (20 ms at 8 kHz) of what a softphone says.
pub type Source = Box<dyn FnMut(u64) -> Vec<i16> + Send>;

/// What a softphone heard.
#[derive(Default)]
struct Heard {
    /// Every sample heard, when kept.
    samples: Vec<i16>,
    frames: u64,
    /// When each burst of sound started to be heard (a loud frame after
    /// [`ONSET_QUIET_FRAMES`] quiet ones), for mouth-to-ear delay.
    onsets: Vec<Instant>,
    /// Quiet frames heard in a row.
    quiet: u32,
}

/// Quiet frames before a loud one counts as a burst's start.
const ONSET_QUIET_FRAMES: u32 = 5;
/// RMS above which a frame is loud.
const ONSET_RMS: f64 = 1000.0;
/// Onsets kept at most (a long run keeps the newest).
const MAX_ONSETS: usize = 10_000;

impl Heard {
    fn hear(&mut self, frame: &[i16], at: Instant, keep_audio: bool) {
        self.frames += 1;
        if keep_audio {
            self.samples.extend_from_slice(frame);
        }
        let energy = frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
        let loud = (energy / frame.len().max(1) as f64).sqrt() > ONSET_RMS;
        if loud && self.quiet >= ONSET_QUIET_FRAMES {
            if self.onsets.len() >= MAX_ONSETS {
                self.onsets.remove(0);
            }
            self.onsets.push(at);
        }
        self.quiet = if loud { 0 } else { self.quiet.saturating_add(1) };
    }
}

pub struct SoftPhone {
    session: Arc<WebRtcSession>,
    heard: Arc<Mutex<Heard>>,
    /// Told after each frame heard, for whoever waits on what was heard.
    frame: Arc<tokio::sync::Notify>,
    clock: JoinHandle<()>,
}

impl SoftPhone {
    /// Starts the clock and returns the SDP offer to send to hotline.
    /// With `keep_audio`, everything heard is kept (tests); otherwise only
    /// counted (load generation).
    pub async fn start(
        endpoint: &WebRtcEndpoint,
        name: &str,
        mut source: Source,
        keep_audio: bool,
    ) -> Result<(SoftPhone, String), MediaError> {
        let (session, offer) = endpoint.offer(name.to_string()).await?;
        let session = Arc::new(session);
        let heard = Arc::new(Mutex::new(Heard::default()));
        let leg = session.leg.clone();
        let sink = heard.clone();
        let frame = Arc::new(tokio::sync::Notify::new());
        let told = frame.clone();
        let clock = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0u64;
            let (mut up, mut down) = (None, None);
            while !leg.is_closed() {
                tick.tick().await;
                // Sources and listeners work at 8 kHz; the leg may be wideband.
                leg.send_frame(
                    resample::Converter::between(&mut up, Rate::Narrowband, leg.rate).convert(&source(n)),
                );
                n += 1;
                let frame = resample::Converter::between(&mut down, leg.rate, Rate::Narrowband)
                    .convert(&leg.pop_frame());
                if let Ok(mut h) = sink.lock() {
                    h.hear(&frame, Instant::now(), keep_audio);
                }
                told.notify_waiters();
            }
        });
        Ok((
            SoftPhone {
                session,
                heard,
                frame,
                clock,
            },
            offer,
        ))
    }

    /// Completes the negotiation with hotline's answer.
    pub async fn answered(&self, sdp: &str) -> Result<(), MediaError> {
        self.session.accept_answer(sdp).await
    }

    /// Waits for the media connection (ICE + DTLS) to come up.
    pub async fn connected(&self, within: Duration) -> bool {
        self.session.connected(within).await
    }

    /// Resolves after the next frame is heard.
    pub async fn frame_heard(&self) {
        self.frame.notified().await;
    }

    /// What was heard from sample `from` on, once `enough` says it is
    /// enough (checked after each frame), or after `within` with whatever
    /// was heard by then: tests wait for what they listen for, not for a
    /// fixed time.
    pub async fn hear_until(
        &self,
        from: usize,
        within: Duration,
        enough: impl Fn(&[i16]) -> bool,
    ) -> Vec<i16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.frame.notified();
            let heard = self.heard_since(from);
            if enough(&heard) || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return heard;
            }
        }
    }

    /// Number of samples heard so far (a position to read from later).
    pub fn heard_len(&self) -> usize {
        self.heard.lock().map(|h| h.samples.len()).unwrap_or(0)
    }

    /// The codec the leg negotiated.
    pub fn codec(&self) -> &str {
        &self.session.leg.codec
    }

    /// What was heard (at 8 kHz) from sample `from` on.
    pub fn heard_since(&self, from: usize) -> Vec<i16> {
        self.heard
            .lock()
            .map(|h| h.samples.get(from..).map(<[i16]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Frames the softphone's clock played out.
    pub fn frames_heard(&self) -> u64 {
        self.heard.lock().map(|h| h.frames).unwrap_or(0)
    }

    /// When each burst of sound this softphone heard began (played out).
    pub fn onsets(&self) -> Vec<Instant> {
        self.heard.lock().map(|h| h.onsets.clone()).unwrap_or_default()
    }

    /// What the incoming side saw: packets received, lost, late.
    pub fn inbound_stats(&self) -> crate::media::jitter::JitterStats {
        self.session.leg.inbound_stats()
    }

    /// Hangs up: the connection closes and the clock stops.
    pub async fn hang_up(&self) {
        self.session.close().await;
        self.clock.abort();
    }
}

impl Drop for SoftPhone {
    fn drop(&mut self) {
        self.clock.abort();
        // The connection's own tasks run until it is closed.
        let session = self.session.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { session.close().await });
        }
    }
}

/// A source saying a steady tone (test signals, synthetic speech stand-in).
pub fn tone(freq: f64, amplitude: i16) -> Source {
    Box::new(move |n| crate::media::tone::sine(freq, 8000, n as usize * 160, 160, amplitude))
}

/// A source that sounds like someone talking: syllables of 120-300 ms at a
/// voice's pitch (with a little drift), separated by short pauses and now
/// and then a breath. Seeded, so a demo run can be repeated.
pub fn speech(pitch: f64, seed: u64) -> Source {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    // Samples left in the current syllable or pause, and its pitch (0 = pause).
    let (mut left, mut freq, mut phase) = (0usize, 0.0f64, 0usize);
    Box::new(move |_| {
        let mut out = Vec::with_capacity(160);
        while out.len() < 160 {
            if left == 0 {
                if freq == 0.0 {
                    freq = pitch * rng.random_range(0.85..1.2);
                    left = rng.random_range(960..2400);
                } else {
                    freq = 0.0;
                    left = if rng.random_bool(0.15) {
                        rng.random_range(2400..6400)
                    } else {
                        rng.random_range(320..1200)
                    };
                }
            }
            let n = left.min(160 - out.len());
            if freq == 0.0 {
                out.extend(std::iter::repeat_n(0i16, n));
            } else {
                out.extend(crate::media::tone::sine(freq, 8000, phase, n, 6000));
            }
            phase += n;
            left -= n;
        }
        out
    })
}

/// When a [`pulses`] source started each burst.
pub type BurstTimes = Arc<Mutex<Vec<Instant>>>;

/// A source saying 100 ms of `freq` every `period` frames (from frame
/// `offset` on) and silence between, noting when each burst starts: with
/// [`SoftPhone::onsets`] at the far end, the mouth-to-ear delay.
pub fn pulses(freq: f64, amplitude: i16, period: u64, offset: u64) -> (Source, BurstTimes) {
    let starts: BurstTimes = Arc::new(Mutex::new(Vec::new()));
    let noted = starts.clone();
    let period = period.max(ONSET_QUIET_FRAMES as u64 + 5);
    let source = Box::new(move |n: u64| {
        let phase = (n + period - offset % period) % period;
        if phase >= 5 {
            return vec![0; 160];
        }
        if phase == 0 {
            if let Ok(mut s) = noted.lock() {
                if s.len() >= MAX_ONSETS {
                    s.remove(0);
                }
                s.push(Instant::now());
            }
        }
        crate::media::tone::sine(freq, 8000, phase as usize * 160, 160, amplitude)
    });
    (source, starts)
}

/// Each burst's delay from `starts` (said) to the first of `onsets` (heard)
/// within `window` after it; bursts nobody heard are left out.
pub fn burst_delays(starts: &[Instant], onsets: &[Instant], window: Duration) -> Vec<Duration> {
    starts
        .iter()
        .filter_map(|s| {
            onsets
                .iter()
                .find(|o| **o > *s && o.duration_since(*s) <= window)
                .map(|o| o.duration_since(*s))
        })
        .collect()
}

/// A source saying nothing.
pub fn silence() -> Source {
    Box::new(|_| vec![0; 160])
}

/// Who a softphone is, and so which service negotiates its audio.
#[derive(Clone, Copy, Debug)]
pub enum Party<'a> {
    /// Agent `id`'s softphone (AgentService.ConnectSoftphone).
    Agent(&'a str),
    /// The caller of call `id` (CallService.ConnectCallerMedia).
    Caller(&'a str),
}

/// Starts a softphone and negotiates it with hotline as `party`.
pub async fn connect(
    c: &mut crate::client::Clients,
    endpoint: &WebRtcEndpoint,
    party: Party<'_>,
    source: Source,
    keep_audio: bool,
) -> Result<SoftPhone, crate::error::Error> {
    let name = match party {
        Party::Agent(id) | Party::Caller(id) => id,
    };
    let (phone, sdp) = SoftPhone::start(endpoint, name, source, keep_audio).await?;
    let offer = Some(crate::proto::SessionOffer { sdp });
    let answer = match party {
        Party::Agent(id) => {
            c.agent
                .connect_softphone(crate::proto::SoftphoneOffer {
                    agent_id: id.to_string(),
                    offer,
                })
                .await
        }
        Party::Caller(id) => {
            c.call
                .connect_caller_media(crate::proto::CallerOffer {
                    call_id: id.to_string(),
                    offer,
                })
                .await
        }
    }
    .map_err(|s| crate::status::from_remote(&s))?
    .into_inner();
    phone.answered(&answer.sdp).await?;
    Ok(phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_after_quiet_is_an_onset_and_its_delay_is_measured() {
        let (mut source, starts) = pulses(1000.0, 8000, 50, 10);
        let mut heard = Heard::default();
        let t0 = Instant::now();
        // What was said is heard 3 frames (60 ms) later.
        let frames: Vec<Vec<i16>> = (0..120).map(&mut source).collect();
        for n in 0..123usize {
            let frame = if n >= 3 {
                frames[n - 3].clone()
            } else {
                vec![0; 160]
            };
            heard.hear(&frame, t0 + Duration::from_millis(20 * n as u64), false);
        }
        assert_eq!(heard.onsets.len(), 3, "three bursts heard");
        let said = starts.lock().expect("starts").clone();
        assert_eq!(said.len(), 3, "three bursts said");
        // Bursts start at frames 10, 60 and 110 and are heard 3 frames on;
        // each is paired with the first onset within the window after it.
        let said_at = [t0 + Duration::from_millis(200), t0 + Duration::from_millis(1200)];
        let delays = burst_delays(&said_at, &heard.onsets, Duration::from_millis(500));
        assert_eq!(delays, vec![Duration::from_millis(60), Duration::from_millis(60)]);
    }
}
