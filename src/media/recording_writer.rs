//! A recording written off the call's 20 ms clock: the tick interleaves
//! both parties into a batch and hands it, every [`HANDOFF`], to a writer
//! task that owns the file ([`StereoRecorder`]: the WAV or sealed sink,
//! its periodic header rewrite). The tick never touches the disk.
//!
//! Invariants:
//! - The crash-safety promise holds: audio reaches the writer at most
//!   [`HANDOFF`] after it was said, and the writer makes it readable at
//!   least every `flush_every`, so a kill loses at most their sum (500 ms
//!   + 200 ms by default; tests/recording_crash.rs).
//! - Nothing recorded is dropped to keep up: a writer that falls behind
//!   makes the tick's batch grow, up to [`MAX_BACKLOG`]; past that, or on
//!   the writer's first error (a full disk), [`QueuedRecorder::write`]
//!   fails and the call closes its recording with a warning, as a failed
//!   write always did.
//! - Timing stays true: while paused (PCI) the tick writes silence for the
//!   paused span, and every pause is kept as an audit record.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::recorder::{PauseRecord, RecordingSummary, StereoRecorder, Timeline};
use super::sealed::RecordingKeys;
use super::{MediaError, Rate};

/// How much audio the tick gathers before handing it to the writer.
pub const HANDOFF: Duration = Duration::from_millis(200);

/// Audio the tick holds for a writer that fell behind before the
/// recording is given up (and the call warned about).
pub const MAX_BACKLOG: Duration = Duration::from_secs(10);

/// Batches in flight to one writer.
const QUEUE: usize = 8;

/// The call's side of a recording written by a writer task.
pub struct QueuedRecorder {
    path: PathBuf,
    /// Interleaved caller/agent samples not yet handed over.
    batch: Vec<i16>,
    /// Interleaved samples per handoff, and the most the batch may hold.
    handoff: usize,
    backlog: usize,
    to_writer: mpsc::Sender<Vec<i16>>,
    /// The writer's first error, read by the tick.
    failed: Arc<Mutex<Option<String>>>,
    writer: JoinHandle<Result<(), MediaError>>,
    /// What has been recorded, pauses included (the writer keeps its own
    /// count of what reached the file).
    timeline: Timeline,
}

impl QueuedRecorder {
    /// Creates the file (and its folders), sealed under `keys` when given,
    /// and starts its writer on the current runtime.
    pub fn create(
        path: &Path,
        rate: Rate,
        flush_every: Duration,
        keys: Option<&RecordingKeys>,
    ) -> Result<Self, MediaError> {
        let file = StereoRecorder::create(path, rate, flush_every, keys)?;
        let per_second = 2 * rate.hz() as usize;
        let handoff = per_second * HANDOFF.as_millis() as usize / 1000;
        let backlog = per_second * MAX_BACKLOG.as_secs() as usize;
        let (to_writer, batches) = mpsc::channel(QUEUE);
        let failed = Arc::new(Mutex::new(None));
        let writer = tokio::spawn(write(file, batches, failed.clone()));
        Ok(QueuedRecorder {
            path: path.to_path_buf(),
            batch: Vec::with_capacity(handoff),
            handoff,
            backlog,
            to_writer,
            failed,
            writer,
            timeline: Timeline::new(rate),
        })
    }

    fn err(&self, reason: impl Into<String>) -> MediaError {
        MediaError::Recording {
            path: self.path.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Appends one stretch of both parties (the shorter padded with
    /// silence; silence instead while paused). Fails once the writer has
    /// failed or fallen [`MAX_BACKLOG`] behind.
    pub fn write(&mut self, caller: &[i16], agent: &[i16]) -> Result<(), MediaError> {
        if let Some(e) = self.failed.lock().ok().and_then(|f| f.clone()) {
            return Err(self.err(e));
        }
        let n = caller.len().max(agent.len());
        if self.timeline.is_paused() {
            self.batch.resize(self.batch.len() + 2 * n, 0);
        } else {
            for i in 0..n {
                self.batch.push(caller.get(i).copied().unwrap_or(0));
                self.batch.push(agent.get(i).copied().unwrap_or(0));
            }
        }
        self.timeline.advance(n as u64);
        if self.batch.len() >= self.handoff {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(self.handoff));
            match self.to_writer.try_send(full) {
                Ok(()) => {}
                // Behind: keep it, and hand it over with the next batch.
                Err(mpsc::error::TrySendError::Full(mut kept)) => {
                    kept.append(&mut self.batch);
                    self.batch = kept;
                    if self.batch.len() > self.backlog {
                        return Err(self.err(format!(
                            "the disk fell more than {} s behind",
                            MAX_BACKLOG.as_secs()
                        )));
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(self.err("the recording's writer stopped"));
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

    /// Audio bytes recorded so far (16-bit stereo; the header aside).
    pub fn bytes_written(&self) -> u64 {
        self.timeline.bytes_written()
    }

    /// Length recorded so far.
    pub fn duration(&self) -> Duration {
        self.timeline.duration()
    }

    /// Hands over the rest, waits for the writer to close the file with a
    /// final header.
    pub async fn finish(mut self) -> Result<RecordingSummary, MediaError> {
        let rest = std::mem::take(&mut self.batch);
        let summary = self.timeline.summary(&self.path);
        if !rest.is_empty() && self.to_writer.send(rest).await.is_err() {
            return Err(self.err("the recording's writer stopped"));
        }
        let QueuedRecorder {
            to_writer, writer, ..
        } = self;
        drop(to_writer);
        match writer.await {
            Ok(result) => result.map(|()| summary),
            Err(e) => Err(MediaError::Recording {
                path: summary.path.display().to_string(),
                reason: format!("the recording's writer ended: {e}"),
            }),
        }
    }
}

/// The writer: every batch into the file, then the final header.
async fn write(
    mut file: StereoRecorder,
    mut batches: mpsc::Receiver<Vec<i16>>,
    failed: Arc<Mutex<Option<String>>>,
) -> Result<(), MediaError> {
    while let Some(batch) = batches.recv().await {
        // A few microseconds into the page cache (a header rewrite every
        // flush_every): short enough for a runtime task.
        if let Err(e) = file.write_interleaved(&batch) {
            if let Ok(mut f) = failed.lock() {
                *f = Some(e.to_string());
            }
            return Err(e);
        }
    }
    file.finish().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: i16, rate: Rate) -> Vec<i16> {
        vec![value; rate.frame_len()]
    }

    #[tokio::test]
    async fn the_writer_holds_each_party_on_its_channel_and_silence_for_a_pause() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026/11/30/c-1.wav");
        let rate = Rate::Narrowband;
        let mut rec = QueuedRecorder::create(&path, rate, Duration::from_millis(500), None).expect("create");
        // 1 s talking, 0.5 s paused, 0.5 s talking: several handoffs.
        for _ in 0..50 {
            rec.write(&frame(1000, rate), &frame(-1000, rate)).expect("write");
        }
        rec.pause("supervisor");
        for _ in 0..25 {
            rec.write(&frame(1000, rate), &frame(-1000, rate)).expect("write");
        }
        let pause = rec.resume().expect("a pause");
        assert_eq!(pause.at, Duration::from_secs(1));
        assert_eq!(pause.length, Duration::from_millis(500));
        for _ in 0..25 {
            rec.write(&frame(2000, rate), &frame(-2000, rate)).expect("write");
        }
        let summary = rec.finish().await.expect("finish");
        assert_eq!(summary.duration, Duration::from_secs(2));
        let samples: Vec<i16> = hound::WavReader::open(&path)
            .expect("a readable WAV")
            .into_samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("samples");
        assert_eq!(samples.len(), 2 * 16_000);
        let at = |second: f64| {
            let i = (second * 8000.0) as usize * 2;
            (samples[i], samples[i + 1])
        };
        assert_eq!(at(0.5), (1000, -1000));
        assert_eq!(at(1.25), (0, 0));
        assert_eq!(at(1.75), (2000, -2000));
    }
}
