//! A call's recording: started when both parties are on the line, saved
//! as it changes, closed (and handed to the archive) when the call ends.

use super::*;

/// A call's recording in progress.
pub(super) struct Recording {
    pub(super) recorder: QueuedRecorder,
    pub(super) record: RecordingRecord,
    /// Wall-clock start of the pause in progress.
    pub(super) paused_at: Option<Timestamp>,
    /// Bytes already counted in the metrics.
    pub(super) reported_bytes: u64,
    /// The quality signals' extractor, fed what is recorded.
    pub(super) signals: Option<SignalFeed>,
}

impl Recording {
    /// Writes one tick of both parties (silence while paused) and hands
    /// what the file holds to the signals' extractor.
    pub(super) fn write(
        &mut self,
        caller: &[i16],
        agent: &[i16],
        held: bool,
    ) -> Result<(), super::super::MediaError> {
        if let Some(feed) = self.signals.as_mut() {
            let at_ms = crate::time::duration_ms(self.recorder.duration());
            if self.paused_at.is_some() {
                let quiet = vec![0i16; caller.len().max(agent.len())];
                feed.push(&quiet, &quiet, held, at_ms);
            } else {
                feed.push(caller, agent, held, at_ms);
            }
        }
        self.recorder.write(caller, agent)
    }
}

impl CallMedia {
    pub(super) async fn start_recording(&mut self) {
        let Some(call) = self.last.clone() else { return };
        // Wideband only when both parties are (else 8 kHz holds everything).
        let now = Timestamp::now_wall();
        let shared = self.shared.clone();
        let root = &shared.settings.recordings_dir;
        let keys = shared.settings.recording_keys.as_deref();
        let path = StereoRecorder::path_for(root, &self.call, now, keys.is_some());
        let wideband = |leg: &Leg| leg.rate == Rate::Wideband;
        let rate = match &self.agent_leg {
            Some(agent) if wideband(&self.caller) && wideband(agent) => Rate::Wideband,
            _ => Rate::Narrowband,
        };
        self.rate = rate;
        let recorder = match QueuedRecorder::create(&path, rate, self.shared.settings.flush_every, keys) {
            Ok(r) => r,
            Err(e) => {
                warn!(call = %self.call, error = %e, "cannot start the recording; the call goes on unrecorded");
                crate::metrics::events::recording_failed();
                return;
            }
        };
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let record = RecordingRecord {
            call: self.call.clone(),
            agent: self.agent.clone(),
            queue: call.queue.clone(),
            ani: call.ani.clone(),
            customer: call.customer.clone(),
            started_at: now,
            duration_ms: 0,
            sample_rate: rate.hz(),
            path: relative,
            node: self.shared.node.clone(),
            pauses: Vec::new(),
            live: true,
            archived: false,
            erased_at: None,
            signals: None,
        };
        self.save(&record).await;
        info!(call = %self.call, path = %path.display(), "recording started");
        self.recording = Some(Recording {
            recorder,
            record,
            paused_at: None,
            reported_bytes: 0,
            signals: Some(SignalFeed::start(rate.hz())),
        });
    }

    pub(super) async fn save(&self, record: &RecordingRecord) {
        if let Err(e) = self.shared.store.put_recording(record).await {
            warn!(call = %self.call, error = %e, "saving recording metadata");
        }
    }

    pub(super) fn not_recording(&self) -> Error {
        Error::FailedPrecondition(format!(
            "call {} is not being recorded (not connected)",
            self.call
        ))
    }

    pub(super) async fn close_recording(&mut self) {
        self.report_media();
        let Some(mut rec) = self.recording.take() else {
            return;
        };
        if let Some(at) = rec.paused_at.take() {
            if let Some(pause) = rec.recorder.resume() {
                rec.record.pauses.push(PauseAudit {
                    by: pause.by,
                    at,
                    length_ms: crate::time::duration_ms(pause.length),
                });
            }
        }
        match rec.recorder.finish().await {
            Ok(summary) => rec.record.duration_ms = crate::time::duration_ms(summary.duration),
            Err(e) => warn!(call = %self.call, error = %e, "finishing the recording"),
        }
        if let Some(feed) = rec.signals.take() {
            rec.record.signals = feed.finish(rec.record.duration_ms, self.call.as_str()).await;
            if let Some(s) = &rec.record.signals {
                crate::metrics::quality::recording_analysed(rec.record.queue.as_str(), s);
            }
        }
        rec.record.live = false;
        info!(call = %self.call, duration_ms = rec.record.duration_ms, "recording finished");
        self.save(&rec.record).await;
        if self.shared.settings.archive.is_shared() {
            // Beside the call's end, not in its way (a shutdown waits for it).
            let busy = self.shared.busy_guard();
            tokio::spawn(async move {
                busy.shared.archive_recording(rec.record).await;
                drop(busy);
            });
        }
    }
}
