//! Stereo call recording: caller on the left channel, agent on the right,
//! 16-bit PCM at the call's rate, one file per call under
//! `ROOT/YYYY/MM/DD/<call-id>.wav`, or `<call-id>.sealed` when recordings
//! are sealed (AES-256-GCM, see [`super::sealed`]).
//!
//! Invariants: the WAV header is rewritten (hound's `flush`), or the audio
//! since the last flush sealed as a segment, at least every `flush_every`,
//! so a process killed mid-call leaves a file that opens and holds the
//! audio up to the last flush; while paused (PCI: card numbers) silence is
//! written for the paused span, so timing stays true, and every pause is
//! kept as an audit record.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sealed::{RecordingKeys, SealedWriter};
use super::{MediaError, Rate};
use crate::ids::CallId;
use crate::time::Timestamp;

/// One PCI pause: who paused, where in the recording, for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseRecord {
    pub by: String,
    /// Offset from the start of the recording.
    pub at: Duration,
    pub length: Duration,
}

/// What a finished recording holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingSummary {
    pub path: PathBuf,
    pub duration: Duration,
    pub pauses: Vec<PauseRecord>,
}

/// Where the audio goes.
enum Sink {
    Wav(hound::WavWriter<BufWriter<File>>),
    /// Boxed: its key schedule is far larger than a WAV writer.
    Sealed(Box<SealedWriter<BufWriter<File>>>),
}

impl Sink {
    fn sample_pair(&mut self, l: i16, r: i16) -> Result<(), String> {
        match self {
            Sink::Wav(w) => w
                .write_sample(l)
                .and_then(|_| w.write_sample(r))
                .map_err(|e| e.to_string()),
            Sink::Sealed(w) => {
                let [a, b] = l.to_le_bytes();
                let [c, d] = r.to_le_bytes();
                w.write_pcm(&[a, b, c, d]);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        match self {
            Sink::Wav(w) => w.flush().map_err(|e| e.to_string()),
            Sink::Sealed(w) => w.flush().map_err(|e| e.to_string()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Wav(w) => w.finalize().map_err(|e| e.to_string()),
            Sink::Sealed(w) => w.finish().map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

/// A recording's length and its PCI pauses, counted in samples per
/// channel: one bookkeeping for the file's writer and for the call's side
/// of a recording written by a writer task.
#[derive(Clone, Debug)]
pub struct Timeline {
    rate: Rate,
    /// Samples per channel recorded so far.
    written: u64,
    /// The pause in progress: who, and where it began.
    paused: Option<(String, u64)>,
    pauses: Vec<PauseRecord>,
}

impl Timeline {
    pub fn new(rate: Rate) -> Self {
        Timeline {
            rate,
            written: 0,
            paused: None,
            pauses: Vec::new(),
        }
    }

    /// `samples` more per channel were recorded.
    pub fn advance(&mut self, samples: u64) {
        self.written += samples;
    }

    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Starts a PCI pause (a second pause while paused changes nothing).
    pub fn pause(&mut self, by: &str) {
        if self.paused.is_none() {
            self.paused = Some((by.to_string(), self.written));
        }
    }

    /// Ends the pause in progress, returning its audit record.
    pub fn resume(&mut self) -> Option<PauseRecord> {
        let (by, from) = self.paused.take()?;
        let record = PauseRecord {
            by,
            at: self.offset(from),
            length: self.offset(self.written - from),
        };
        self.pauses.push(record.clone());
        Some(record)
    }

    fn offset(&self, samples: u64) -> Duration {
        Duration::from_micros(samples * 1_000_000 / u64::from(self.rate.hz()))
    }

    /// Audio bytes recorded so far (16-bit stereo; the header aside).
    pub fn bytes_written(&self) -> u64 {
        self.written * 4
    }

    /// Length recorded so far.
    pub fn duration(&self) -> Duration {
        self.offset(self.written)
    }

    /// What the finished recording at `path` holds (a pause in progress
    /// ends with it).
    pub fn summary(&mut self, path: &Path) -> RecordingSummary {
        self.resume();
        RecordingSummary {
            path: path.to_path_buf(),
            duration: self.duration(),
            pauses: self.pauses.clone(),
        }
    }
}

pub struct StereoRecorder {
    /// None once finished.
    writer: Option<Sink>,
    path: PathBuf,
    timeline: Timeline,
    /// Samples per channel since the header was last rewritten.
    unflushed: u64,
    /// Rewrite the header after this many samples per channel.
    flush_every: u64,
}

fn finished() -> MediaError {
    MediaError::Recording {
        path: String::new(),
        reason: "recording already finished".into(),
    }
}

impl StereoRecorder {
    /// `ROOT/YYYY/MM/DD/<call-id>.wav` (`.sealed` when `sealed`) for a call
    /// that started at `at` (UTC).
    pub fn path_for(root: &Path, call: &CallId, at: Timestamp, sealed: bool) -> PathBuf {
        let when = std::time::UNIX_EPOCH + Duration::from_millis(at.as_millis());
        let stamp = humantime::format_rfc3339(when).to_string();
        let (y, m, d) = (&stamp[0..4], &stamp[5..7], &stamp[8..10]);
        let ext = if sealed { "sealed" } else { "wav" };
        root.join(y).join(m).join(d).join(format!("{call}.{ext}"))
    }

    /// Creates the file (and its folders), sealed under `keys` when given.
    pub fn create(
        path: &Path,
        rate: Rate,
        flush_every: Duration,
        keys: Option<&RecordingKeys>,
    ) -> Result<Self, MediaError> {
        let err = |reason: String| MediaError::Recording {
            path: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate.hz(),
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = match keys {
            None => Sink::Wav(hound::WavWriter::create(path, spec).map_err(|e| err(e.to_string()))?),
            Some(keys) => {
                let file = File::create(path).map_err(|e| err(e.to_string()))?;
                Sink::Sealed(Box::new(
                    SealedWriter::create(BufWriter::new(file), keys, rate.hz(), 2)
                        .map_err(|e| err(e.to_string()))?,
                ))
            }
        };
        let flush_every = (u64::from(rate.hz()) * flush_every.as_millis() as u64 / 1000).max(1);
        Ok(StereoRecorder {
            writer: Some(writer),
            path: path.to_path_buf(),
            timeline: Timeline::new(rate),
            unflushed: 0,
            flush_every,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> MediaError {
        MediaError::Recording {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Appends one stretch of audio from both legs (the shorter is padded
    /// with silence); writes silence instead while paused.
    pub fn write(&mut self, caller: &[i16], agent: &[i16]) -> Result<(), MediaError> {
        let n = caller.len().max(agent.len());
        let paused = self.timeline.is_paused();
        let writer = self.writer.as_mut().ok_or_else(finished)?;
        for i in 0..n {
            let (l, r) = if paused {
                (0, 0)
            } else {
                (
                    caller.get(i).copied().unwrap_or(0),
                    agent.get(i).copied().unwrap_or(0),
                )
            };
            if let Err(e) = writer.sample_pair(l, r) {
                return Err(self.err(e));
            }
        }
        self.written(n as u64)
    }

    /// Appends interleaved caller/agent samples (a writer task's batch;
    /// silence for a pause is already in it).
    pub fn write_interleaved(&mut self, samples: &[i16]) -> Result<(), MediaError> {
        let writer = self.writer.as_mut().ok_or_else(finished)?;
        for pair in samples.chunks_exact(2) {
            if let Err(e) = writer.sample_pair(pair[0], pair[1]) {
                return Err(self.err(e));
            }
        }
        self.written((samples.len() / 2) as u64)
    }

    /// `n` samples per channel went in: counted, and the header rewritten
    /// when `flush_every` has passed.
    fn written(&mut self, n: u64) -> Result<(), MediaError> {
        self.timeline.advance(n);
        self.unflushed += n;
        if self.unflushed >= self.flush_every {
            self.unflushed = 0;
            if let Some(w) = self.writer.as_mut() {
                if let Err(e) = w.flush() {
                    return Err(self.err(e));
                }
            }
        }
        Ok(())
    }

    /// Starts a PCI pause (a second pause while paused changes nothing).
    pub fn pause(&mut self, by: &str) {
        self.timeline.pause(by);
    }

    /// Ends the pause in progress, returning its audit record.
    pub fn resume(&mut self) -> Option<PauseRecord> {
        self.timeline.resume()
    }

    /// Audio bytes written so far (16-bit stereo; the header aside).
    pub fn bytes_written(&self) -> u64 {
        self.timeline.bytes_written()
    }

    /// Length recorded so far.
    pub fn duration(&self) -> Duration {
        self.timeline.duration()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file with a final header.
    pub fn finish(mut self) -> Result<RecordingSummary, MediaError> {
        let summary = self.timeline.summary(&self.path);
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| self.err(e))?;
        }
        Ok(summary)
    }
}
