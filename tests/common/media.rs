//! A test rig for call audio: a server whose media binds to loopback, a
//! WebRTC endpoint for the test's own softphones, and helpers to connect
//! callers, agents and supervisors through real ICE and DTLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotline::client::softphone::{connect, Party, SoftPhone, Source};
use hotline::media::tone::{goertzel, sine, tone_share};
use hotline::media::webrtc::{AudioCodec, WebRtcEndpoint, WebRtcSettings};
use hotline::proto;

use super::{Agent, TestServer, CONFIG};

/// The hold-music test signal: a 600 Hz tone.
pub const HOLD_HZ: f64 = 600.0;

pub struct AudioRig {
    pub server: TestServer,
    pub endpoint: WebRtcEndpoint,
    pub recordings: PathBuf,
    _dir: tempfile::TempDir,
}

/// Media settings that keep everything on loopback (test peers speak PCMU
/// unless told otherwise).
pub fn loopback() -> WebRtcSettings {
    WebRtcSettings {
        udp_ports: None,
        ips: vec!["127.0.0.1".parse().expect("ip")],
        include_loopback: true,
        jitter_frames: 3,
        codecs: vec![AudioCodec::Pcmu],
    }
}

/// A loopback endpoint for test peers offering `codec`.
pub fn endpoint(codec: AudioCodec) -> WebRtcEndpoint {
    WebRtcEndpoint::new(&WebRtcSettings {
        codecs: vec![codec],
        ..loopback()
    })
    .expect("endpoint")
}

/// Writes `seconds` of a tone as an 8 kHz mono WAV (a stand-in prompt).
pub fn write_tone_wav(path: &Path, freq: f64, seconds: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for s in sine(freq, 8000, 0, 8000 * seconds, 8000) {
        w.write_sample(s).expect("write");
    }
    w.finalize().expect("finalize");
}

impl AudioRig {
    pub async fn start() -> AudioRig {
        Self::start_with("").await
    }

    /// A rig whose `[media]` table has `extra` lines too.
    pub async fn start_with(extra: &str) -> AudioRig {
        Self::on_config(CONFIG, extra).await
    }

    /// A rig on `base` (the test configuration, changed) whose `[media]`
    /// table has `extra` lines too.
    pub async fn on_config(base: &str, extra: &str) -> AudioRig {
        let dir = tempfile::tempdir().expect("tempdir");
        let recordings = dir.path().join("recordings");
        let hold = dir.path().join("hold.wav");
        write_tone_wav(&hold, HOLD_HZ, 2);
        let config = format!(
            "{base}\n[media]\nrecordings_dir = {:?}\nhold_music = {:?}\ninclude_loopback = true\nips = [\"127.0.0.1\"]\nflush_ms = 100\n{extra}\n",
            recordings.display().to_string(),
            hold.display().to_string(),
        );
        let server = TestServer::with_config(&config).await;
        let endpoint = WebRtcEndpoint::new(&loopback()).expect("endpoint");
        AudioRig {
            server,
            endpoint,
            recordings,
            _dir: dir,
        }
    }

    /// A node of a cluster on `redis` (its own recordings folder), whose
    /// `[media]` table has `extra` lines too.
    pub async fn cluster_node(redis: &super::redis::RedisServer, extra: &str) -> AudioRig {
        Self::on_config(&cluster_config(redis, ""), extra).await
    }

    /// Connects `agent`'s softphone, saying `source`.
    pub async fn softphone(&self, agent: &mut Agent, source: Source) -> SoftPhone {
        self.softphone_on(&self.endpoint, agent, source).await
    }

    /// Connects `agent`'s softphone from `endpoint` (its codec), saying `source`.
    pub async fn softphone_on(
        &self,
        endpoint: &WebRtcEndpoint,
        agent: &mut Agent,
        source: Source,
    ) -> SoftPhone {
        let id = agent.id.clone();
        let phone = connect(&mut agent.c, endpoint, Party::Agent(&id), source, true)
            .await
            .expect("softphone negotiates");
        assert!(
            phone.connected(Duration::from_secs(10)).await,
            "softphone connects"
        );
        phone
    }

    /// Connects a caller's audio to `call_id`, saying `source`.
    pub async fn caller(&self, call_id: &str, source: Source) -> SoftPhone {
        self.caller_on(&self.endpoint, call_id, source).await
    }

    /// Connects a caller from `endpoint` (its codec) to `call_id`.
    pub async fn caller_on(&self, endpoint: &WebRtcEndpoint, call_id: &str, source: Source) -> SoftPhone {
        let phone = connect(
            &mut self.server.edge(),
            endpoint,
            Party::Caller(call_id),
            source,
            true,
        )
        .await
        .expect("caller media negotiates");
        assert!(phone.connected(Duration::from_secs(10)).await, "caller connects");
        phone
    }

    /// Where a recording's file is.
    pub fn recording_file(&self, rec: &proto::Recording) -> PathBuf {
        self.recordings.join(&rec.path)
    }
}

/// The test configuration for a node of a cluster on `redis`, with `extra`
/// lines in its `[cluster]` table. The lease is short so takeovers and lost
/// nodes show quickly, but not so short that a loaded test machine pausing a
/// node for a few hundred ms loses it.
pub fn cluster_config(redis: &super::redis::RedisServer, extra: &str) -> String {
    format!(
        "{CONFIG}\n[store]\nurl = \"{}\"\nnamespace = \"cluster\"\n[cluster]\nlease_ms = 1500\n{extra}\n",
        redis.url()
    )
}

/// How long a test waits for a party to hear what it listens for.
pub const HEAR_WITHIN: Duration = Duration::from_secs(10);

/// What `phone` heard from sample `from` on, once its last `seconds` hold
/// `freq` (score over `share`), or after [`HEAR_WITHIN`] with whatever it
/// heard: the caller asserts on it.
pub async fn hears(phone: &SoftPhone, from: usize, freq: f64, seconds: f64, share: f64) -> Vec<i16> {
    let needed = (8000.0 * seconds) as usize;
    phone
        .hear_until(from, HEAR_WITHIN, |h| {
            h.len() >= needed && tail_power(h, freq, seconds) > share
        })
        .await
}

/// How much of `freq` the last `seconds` of 8 kHz `samples` hold (0..=1):
/// the share of 100 ms stretches it dominates (see [`holds`]).
pub fn tail_power(samples: &[i16], freq: f64, seconds: f64) -> f64 {
    let n = ((8000.0 * seconds) as usize).min(samples.len());
    holds(&samples[samples.len() - n..], freq, 8000)
}

/// How much of `freq` a typical 100 ms stretch of `samples` holds (0..=1):
/// the median of the stretches' Goertzel scores. Audio that crossed a
/// network is checked this way, never with one Goertzel sum over the whole
/// of it: a single frame a jitter buffer concealed on a loaded machine
/// turns the tone's phase and can halve such a sum although every listener
/// heard the tone. A mix (a whisper over the caller) scores its share.
pub fn holds(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let mut scores: Vec<f64> = samples
        .chunks_exact(rate as usize / 10)
        .map(|w| goertzel(w, freq, rate))
        .collect();
    if scores.is_empty() {
        return 0.0;
    }
    scores.sort_by(f64::total_cmp);
    scores[scores.len() / 2]
}

/// Little-endian PCM bytes back to samples.
pub fn pcm(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Left and right channels of a stereo WAV file.
pub fn stereo(path: &Path) -> (Vec<i16>, Vec<i16>, hound::WavSpec) {
    let mut r = hound::WavReader::open(path).expect("the recording opens");
    let spec = r.spec();
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left = all.iter().step_by(2).copied().collect();
    let right = all.iter().skip(1).step_by(2).copied().collect();
    (left, right, spec)
}

/// How much of a recording's `channel` (0 left, 1 right) holds `freq`: the
/// share of 100 ms stretches in which it dominates. By stretches, because a
/// frame a jitter buffer dropped or repeated turns a tone's phase (and can
/// cancel one Goertzel sum over the whole file) but not what was heard.
pub fn channel_share(path: &Path, channel: usize, freq: f64) -> f64 {
    let (left, right, spec) = stereo(path);
    let samples = if channel == 0 { left } else { right };
    tone_share(&samples, freq, spec.sample_rate, spec.sample_rate as usize / 10)
}

/// Asserts that a call's recording holds `left_hz` on the left (the caller
/// or customer) and `right_hz` on the right (the agent's side), for most of
/// its length; `who` names the two sides in the failure.
pub fn assert_sides(path: &Path, left_hz: f64, right_hz: f64, who: (&str, &str)) {
    let left = channel_share(path, 0, left_hz);
    let right = channel_share(path, 1, right_hz);
    assert!(
        left > 0.4,
        "{}'s {left_hz} Hz is on the left ({left:.2} of the recording)",
        who.0
    );
    assert!(
        right > 0.4,
        "{}'s {right_hz} Hz is on the right ({right:.2} of the recording)",
        who.1
    );
}

/// Every WAV file below `dir`.
pub fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(wav_files(&p));
        } else if p.extension().is_some_and(|x| x == "wav") {
            out.push(p);
        }
    }
    out
}

/// The finished (no longer live) recording of `call_id`, once listed.
pub async fn finished_recording(rig: &AudioRig, call_id: &str) -> proto::Recording {
    let deadline = std::time::Instant::now() + super::SOON;
    loop {
        let page = rig
            .server
            .supervisor()
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .expect("list recordings")
            .into_inner();
        if let Some(r) = page
            .recordings
            .into_iter()
            .find(|r| r.call_id == call_id && !r.live)
        {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the finished recording of {call_id} is listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// alice (1 kHz) takes a caller's (440 Hz) call to billing on `rig`,
/// talks for a second, holds the caller for `hold` (waited out: the hold's
/// length is what the caller of this is testing), resumes and talks a
/// second more, then hangs up. Returns the call id and how long the hold
/// lasted between the two requests.
pub async fn call_with_a_hold(rig: &AudioRig, hold: Duration) -> (String, Duration) {
    use hotline::client::softphone::tone;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("getting ready").await;
    let _alice_phone = rig.softphone(&mut alice, tone(1000.0, 8000)).await;
    let call = s.start_call("+2000", "100").await;
    let _caller = rig.caller(&call.call_id, tone(440.0, 8000)).await;
    alice.available().await;
    alice.expect_offer(super::SOON).await;
    alice.accept(&call.call_id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = std::time::Instant::now();
    alice
        .c
        .agent
        .hold(alice.action(&call.call_id))
        .await
        .expect("held");
    tokio::time::sleep(hold).await;
    alice
        .c
        .agent
        .resume(alice.action(&call.call_id))
        .await
        .expect("resumed");
    let held_for = held.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    alice.hangup(&call.call_id).await;
    (call.call_id, held_for)
}
