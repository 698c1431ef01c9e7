//! A recording's quality signals, computed beside the call's clock: the
//! tick hands over what it recorded (a second at a time, never waiting),
//! and a task of its own runs the core's extractor
//! (`hotline_core::quality::signals`); the holds are the call's held
//! stretches, as the recording's offsets.
//!
//! Invariants: the tick never waits on the extractor (a full hand-over
//! queue drops the batch, and the signals are then not kept: a partial
//! reading would mislead a grader); the signals are final when the
//! recording is closed, and are saved with its metadata.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::warn;

use hotline_core::quality::signals::{HoldSpan, QualitySignals, SignalExtractor, SignalSettings};

/// Seconds of audio handed over at once.
const BATCH_SECS: usize = 1;
/// Batches the extractor may lag behind.
const QUEUE: usize = 16;
/// How long closing a recording waits for its signals.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

enum Feed {
    Audio(Vec<i16>),
    Done(Vec<HoldSpan>),
}

/// The tick's side of a recording's signals.
pub(super) struct SignalFeed {
    /// Interleaved stereo (caller, agent) not yet handed over.
    batch: Vec<i16>,
    batch_len: usize,
    tx: mpsc::Sender<Feed>,
    task: tokio::task::JoinHandle<Option<QualitySignals>>,
    holds: Vec<HoldSpan>,
    /// The hold in progress, from this offset (ms).
    held_from: Option<u64>,
    /// A batch was dropped: the signals would be partial.
    lost: bool,
}

impl SignalFeed {
    /// Starts the extractor for a recording at `sample_rate`.
    pub(super) fn start(sample_rate: u32) -> SignalFeed {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(async move {
            let mut x = SignalExtractor::new(SignalSettings {
                sample_rate,
                ..SignalSettings::default()
            });
            while let Some(feed) = rx.recv().await {
                match feed {
                    Feed::Audio(samples) => x.push(&samples),
                    Feed::Done(holds) => return Some(x.finish(&holds)),
                }
            }
            None
        });
        let batch_len = 2 * sample_rate as usize * BATCH_SECS;
        SignalFeed {
            batch: Vec::with_capacity(batch_len),
            batch_len,
            tx,
            task,
            holds: Vec::new(),
            held_from: None,
            lost: false,
        }
    }

    /// What the recording just wrote (caller, agent), and whether the call
    /// is held at `at_ms` into the recording.
    pub(super) fn push(&mut self, caller: &[i16], agent: &[i16], held: bool, at_ms: u64) {
        match (held, self.held_from) {
            (true, None) => self.held_from = Some(at_ms),
            (false, Some(from)) => {
                self.holds.push(HoldSpan {
                    start_ms: from,
                    end_ms: at_ms,
                });
                self.held_from = None;
            }
            _ => {}
        }
        for i in 0..caller.len().max(agent.len()) {
            self.batch.push(caller.get(i).copied().unwrap_or(0));
            self.batch.push(agent.get(i).copied().unwrap_or(0));
        }
        if self.batch.len() >= self.batch_len {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_len));
            if self.tx.try_send(Feed::Audio(full)).is_err() {
                self.lost = true;
            }
        }
    }

    /// The signals of the recording closed at `end_ms`; none when audio
    /// was lost on the way or the extractor did not answer (said in a
    /// warning and counted).
    pub(super) async fn finish(mut self, end_ms: u64, call: &str) -> Option<QualitySignals> {
        if let Some(from) = self.held_from.take() {
            self.holds.push(HoldSpan {
                start_ms: from,
                end_ms,
            });
        }
        let rest = std::mem::take(&mut self.batch);
        let sent = async {
            self.tx.send(Feed::Audio(rest)).await.ok()?;
            self.tx
                .send(Feed::Done(std::mem::take(&mut self.holds)))
                .await
                .ok()?;
            (&mut self.task).await.ok().flatten()
        };
        let signals = tokio::time::timeout(FINISH_WITHIN, sent).await.ok().flatten();
        self.task.abort();
        match signals {
            Some(s) if !self.lost => Some(s),
            _ => {
                let reason = if self.lost {
                    "audio could not be handed to the extractor in time"
                } else {
                    "the extractor did not finish"
                };
                warn!(call, reason, "the recording's quality signals are not kept");
                crate::metrics::quality::signals_failed();
                None
            }
        }
    }
}
