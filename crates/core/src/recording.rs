//! What the media plane leaves behind for supervisors: recording metadata
//! and the monitoring audit trail. Both are written by whichever node
//! carries the call's audio (not only the routing node), so they are plain,
//! unfenced records.

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, CustomerId, QueueName};
use crate::time::Timestamp;

/// A call's recording: one stereo WAV file and what it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRecord {
    /// Recording id and call id are the same: one recording per call.
    pub call: CallId,
    pub agent: Option<AgentId>,
    pub queue: QueueName,
    /// Caller number, to find every recording of one caller.
    pub ani: String,
    pub customer: Option<CustomerId>,
    /// When the agent answered (the recording's first sample).
    pub started_at: Timestamp,
    /// Audio written so far; final once `live` is false.
    pub duration_ms: u64,
    pub sample_rate: u32,
    /// Relative to the recordings folder, `/`-separated.
    pub path: String,
    /// The node whose disk holds the file.
    pub node: String,
    /// PCI pauses, each an audit record.
    pub pauses: Vec<PauseAudit>,
    /// Still being written (the call is connected).
    pub live: bool,
    /// In the shared recording storage: any node reads it from there.
    #[serde(default)]
    pub archived: bool,
    /// When its file was deleted at the customer's request (the metadata
    /// stays, blanked, for reports).
    #[serde(default)]
    pub erased_at: Option<Timestamp>,
    /// Talk, overtalk, silence and holds, read from the finished audio
    /// (none while live, or when they could not be read).
    #[serde(default)]
    pub signals: Option<crate::quality::signals::QualitySignals>,
}

/// One PCI pause of a recording: who paused it, when, and for how long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseAudit {
    /// The principal who paused (agent id or supervisor).
    pub by: String,
    pub at: Timestamp,
    pub length_ms: u64,
}

/// How a supervisor takes part in a monitored call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears both parties; is heard by nobody.
    Listen,
    /// Heard by the agent only (coaching).
    Whisper,
    /// Heard by both parties.
    Barge,
}

impl MonitorMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// Whether the supervisor needs a leg to speak on.
    pub fn speaks(self) -> bool {
        !matches!(self, MonitorMode::Listen)
    }
}

/// One monitoring session, for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorSessionRecord {
    pub id: String,
    /// The supervisor's token subject.
    pub supervisor: String,
    pub call: CallId,
    pub mode: MonitorMode,
    pub started_at: Timestamp,
    /// None while the session is open.
    pub ended_at: Option<Timestamp>,
}

/// Which recordings a listing returns; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    pub agent: Option<AgentId>,
    pub queue: Option<QueueName>,
    pub ani: Option<String>,
    /// Started at or after.
    pub from: Option<Timestamp>,
    /// Started before.
    pub to: Option<Timestamp>,
}

impl RecordingFilter {
    pub fn matches(&self, r: &RecordingRecord) -> bool {
        self.agent.as_ref().is_none_or(|a| r.agent.as_ref() == Some(a))
            && self.queue.as_ref().is_none_or(|q| &r.queue == q)
            && self.ani.as_ref().is_none_or(|a| &r.ani == a)
            && self.from.is_none_or(|f| r.started_at >= f)
            && self.to.is_none_or(|t| r.started_at < t)
    }
}

/// Position after which a recording listing continues: newest first by
/// (started_at, call id).
pub type RecordingCursor = (Timestamp, CallId);
