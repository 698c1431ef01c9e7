//! The node's media plane: every WebRTC leg this node terminates, and one
//! task per call with audio here (see [`super::call`]).
//!
//! Legs live where they were negotiated. A call's media task runs on the
//! node holding its caller's leg; an agent whose softphone (or SIP phone)
//! is on another node, and a supervisor monitoring from another node, join
//! through the node-to-node relay ([`super::relay`]), found through the
//! cluster's media directory. The registry is a map behind a short std
//! lock, never held across an await, in the style of mini-redis' shared
//! state.
//!
//! Invariants: at most one caller leg per call and one softphone leg per
//! agent (a new one replaces and closes the old); a call's task is started
//! only for a live call and removes its entry when it ends; on a cluster,
//! the directory names this node for every agent leg and call task here
//! (announced before use, withdrawn only if still ours); every monitoring
//! session has an audit record from its start, closed when it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::webrtc::RTCIceCandidateInit;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use super::announce::Announcer;
use super::call::{CallMedia, Control, MonitorTap, StereoFrame, TAP_BUFFER};
use super::leg::Leg;
use super::prompt::Prompt;
use super::record::{MonitorMode, MonitorSessionRecord, RecordingRecord};
use super::relay::{RelayError, Relays};
use super::rtp::RtpSession;
use super::webrtc::{WebRtcEndpoint, WebRtcSession, WebRtcSettings};
use crate::cluster::directory::{Located, MediaDirectory};
use crate::cluster::RouterLink;
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::store::Store;
use crate::time::Timestamp;

mod recordings;

/// Recordings (in pages of 500, newest first) checked at start for ones a
/// crash left live.
const RECOVERY_PAGES: usize = 20;

/// How this node handles call audio.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    pub webrtc: WebRtcSettings,
    /// Root of `YYYY/MM/DD/<call-id>.wav`: the recordings themselves, or
    /// the spool of those still to go to a shared archive.
    pub recordings_dir: PathBuf,
    /// Where finished recordings are kept.
    pub archive: super::archive::Archive,
    /// Rewrite the WAV header (or seal a segment) at least this often
    /// (what a crash can lose).
    pub flush_every: Duration,
    /// Seal recordings under these keys (and open sealed ones); none:
    /// plain WAV, and sealed recordings cannot be played here.
    pub recording_keys: Option<std::sync::Arc<super::sealed::RecordingKeys>>,
    /// Tell waiting callers their place and wait this often; none: never.
    pub announce_every: Option<Duration>,
    /// How long a connected call waits for its agent's audio (a SIP phone's
    /// leg appears as it answers; a relay takes a round trip) before the
    /// caller goes back to the queue.
    pub agent_audio_grace: Duration,
}

/// What a node of a cluster needs to carry audio across nodes.
pub struct ClusterMedia {
    /// Where legs and call tasks are, and which nodes live.
    pub directory: MediaDirectory,
    /// Connections to peers' relays.
    pub relays: Relays,
    /// The routing lease: a node silent for two of its three beats in a
    /// lease is taken as lost.
    pub lease: Duration,
}

/// Why an agent's audio cannot reach a call right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentAudioProblem {
    /// No softphone or phone leg connected anywhere.
    NoLeg,
    /// The node holding the leg is lost.
    NodeLost { node: String },
    /// The relay from the node holding the leg cannot be set up.
    RelayFailed(String),
}

impl std::fmt::Display for AgentAudioProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentAudioProblem::NoLeg => write!(f, "the agent has no softphone or phone connected"),
            AgentAudioProblem::NodeLost { node } => write!(f, "node lost: {node} held the agent's audio"),
            AgentAudioProblem::RelayFailed(why) => write!(f, "the agent's audio relay failed: {why}"),
        }
    }
}

/// What the media plane's parts share.
pub(super) struct Shared {
    pub endpoint: WebRtcEndpoint,
    pub link: RouterLink,
    pub store: Arc<dyn Store>,
    pub settings: MediaSettings,
    /// What waiting and held callers hear.
    pub hold: Prompt,
    /// Position and wait announcements for waiting callers.
    pub announcer: Announcer,
    /// This node's id, stamped on recordings (whose disk holds the file).
    pub node: String,
    /// Cross-node media, on a cluster; none on a single node.
    pub cluster: Option<ClusterMedia>,
    /// Call tasks running and uploads in flight, so a shutdown waits for
    /// recordings to be finished and archived.
    busy: watch::Sender<usize>,
    registry: Mutex<Registry>,
    shutdown: watch::Receiver<bool>,
}

#[derive(Default)]
struct Registry {
    /// Each agent's audio: a WebRTC softphone, or the RTP leg of a call to
    /// their registered SIP phone.
    softphones: HashMap<AgentId, CallerMedia>,
    calls: HashMap<CallId, CallEntry>,
    monitors: HashMap<String, Arc<WebRtcSession>>,
}

struct CallEntry {
    caller: CallerMedia,
    control: mpsc::Sender<Control>,
    /// Never sent: dropped with the entry when the call's media task has
    /// let go of the caller's leg, which is what [`MediaPlane::call_released`]
    /// waiters hear.
    released: watch::Sender<()>,
}

/// What carries a party's audio (a caller's, or an agent's).
enum CallerMedia {
    WebRtc(Arc<WebRtcSession>),
    Rtp(Arc<RtpSession>),
}

impl CallerMedia {
    fn leg(&self) -> Arc<Leg> {
        match self {
            CallerMedia::WebRtc(s) => s.leg.clone(),
            CallerMedia::Rtp(s) => s.leg.clone(),
        }
    }

    async fn close(&self) {
        match self {
            CallerMedia::WebRtc(s) => s.close().await,
            // The trunk's call owns the RTP session: it may still talk to
            // the caller after the call (survey) and hangs it up itself.
            CallerMedia::Rtp(_) => {}
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            CallerMedia::WebRtc(s) => s.leg.is_closed(),
            CallerMedia::Rtp(s) => s.leg.is_closed(),
        }
    }
}

/// A cheap, cloneable handle on the node's media plane.
#[derive(Clone)]
pub struct MediaPlane {
    pub(super) shared: Arc<Shared>,
}

/// A supervisor's monitoring session as the API serves it.
pub struct MonitorSession {
    pub id: String,
    /// The SDP answer for WHISPER and BARGE.
    pub answer: Option<(String, String)>,
    pub frames: mpsc::Receiver<StereoFrame>,
    /// Closes the audit record (and the supervisor's leg) when dropped.
    pub guard: MonitorGuard,
}

impl MediaPlane {
    pub fn new(
        settings: MediaSettings,
        hold: Prompt,
        link: RouterLink,
        store: Arc<dyn Store>,
        node: String,
        cluster: Option<ClusterMedia>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, Error> {
        let endpoint = WebRtcEndpoint::new(&settings.webrtc)?;
        let announcer = Announcer::builtin(hold.rate())?;
        Ok(MediaPlane {
            shared: Arc::new(Shared {
                endpoint,
                link,
                store,
                settings,
                hold,
                announcer,
                node,
                cluster,
                busy: watch::channel(0).0,
                registry: Mutex::new(Registry::default()),
                shutdown,
            }),
        })
    }

    fn registry(&self) -> Result<std::sync::MutexGuard<'_, Registry>, Error> {
        self.shared.registry()
    }

    /// Resolves once this node's media task for `call` has let go of the
    /// caller's leg (at once if it has none): the SIP gateway waits for it
    /// before it speaks to a caller whose call just ended (the survey).
    pub async fn call_released(&self, call: &CallId) {
        let released = self
            .shared
            .registry()
            .ok()
            .and_then(|r| r.calls.get(call).map(|e| e.released.subscribe()));
        if let Some(mut rx) = released {
            // Never sent: this returns when the entry, and its sender, go.
            let _ = rx.changed().await;
        }
    }

    /// Connects an agent's softphone; replaces (and hangs up) a previous one.
    pub async fn connect_softphone(&self, agent: &AgentId, offer: &str) -> Result<(String, String), Error> {
        let id = new_session_id();
        let (session, answer) = self.shared.endpoint.answer(id.clone(), offer).await?;
        let codec = session.leg.codec.clone();
        let old = self
            .registry()?
            .softphones
            .insert(agent.clone(), CallerMedia::WebRtc(Arc::new(session)));
        if let Some(old) = old {
            old.close().await;
        }
        self.shared.announce_agent(agent).await;
        info!(agent = %agent, session = %id, codec = %codec, "softphone connected");
        Ok((answer, codec))
    }

    /// The agent's SIP phone answered: its RTP leg is the agent's audio
    /// until [`Self::disconnect_agent_rtp`] (a WebRTC softphone it replaces
    /// is hung up).
    pub async fn connect_agent_rtp(&self, agent: &AgentId, session: Arc<RtpSession>) -> Result<(), Error> {
        let old = self
            .registry()?
            .softphones
            .insert(agent.clone(), CallerMedia::Rtp(session));
        if let Some(CallerMedia::WebRtc(old)) = old {
            old.close().await;
        }
        self.shared.announce_agent(agent).await;
        info!(agent = %agent, "SIP phone audio connected");
        Ok(())
    }

    /// The call to the agent's phone ended: its leg stops being the agent's
    /// audio (unless another replaced it already).
    pub fn disconnect_agent_rtp(&self, agent: &AgentId, session: &Arc<RtpSession>) {
        let removed = self.registry().is_ok_and(|mut r| {
            let same =
                matches!(r.softphones.get(agent), Some(CallerMedia::Rtp(s)) if Arc::ptr_eq(s, session));
            same && r.softphones.remove(agent).is_some()
        });
        if removed {
            if let Some(cluster) = &self.shared.cluster {
                let directory = cluster.directory.clone();
                let agent = agent.clone();
                tokio::spawn(async move {
                    if let Err(e) = directory.withdraw_agent(&agent).await {
                        warn!(agent = %agent, error = %e, "withdrawing the agent's phone leg from the media directory");
                    }
                });
            }
        }
    }

    pub async fn softphone_candidate(&self, agent: &AgentId, c: RTCIceCandidateInit) -> Result<(), Error> {
        let session = self.registry()?.softphones.get(agent).and_then(|m| match m {
            CallerMedia::WebRtc(s) => Some(s.clone()),
            CallerMedia::Rtp(_) => None,
        });
        let session = session.ok_or_else(|| Error::NotFound {
            what: "softphone session of agent",
            id: agent.to_string(),
        })?;
        Ok(session.add_candidate(c).await?)
    }

    /// Connects a caller's audio to a live call and starts the call's media
    /// task (hold audio now, the agent once answered).
    pub async fn connect_caller(&self, call: &CallId, offer: &str) -> Result<(String, String), Error> {
        let Some(watch_stream) = self.shared.link.watch_call(call.clone()).await? else {
            return Err(Error::FailedPrecondition(format!("call {call} has ended")));
        };
        self.refuse_second_caller(call)?;
        let (session, answer) = self.shared.endpoint.answer(new_session_id(), offer).await?;
        let codec = session.leg.codec.clone();
        self.start_call(call, watch_stream, CallerMedia::WebRtc(Arc::new(session)))
            .await?;
        Ok((answer, codec))
    }

    /// Carries a phone-network caller's RTP leg into a live call, as
    /// [`Self::connect_caller`] does for WebRTC.
    pub async fn connect_rtp_caller(&self, call: &CallId, session: Arc<RtpSession>) -> Result<(), Error> {
        let Some(watch_stream) = self.shared.link.watch_call(call.clone()).await? else {
            return Err(Error::FailedPrecondition(format!("call {call} has ended")));
        };
        self.start_call(call, watch_stream, CallerMedia::Rtp(session))
            .await
    }

    fn refuse_second_caller(&self, call: &CallId) -> Result<(), Error> {
        if self.registry()?.calls.contains_key(call) {
            return Err(Error::FailedPrecondition(format!(
                "call {call} already has caller media"
            )));
        }
        Ok(())
    }

    /// Registers the caller's media and starts the call's task; a second
    /// caller for the same call is refused and hung up.
    async fn start_call(
        &self,
        call: &CallId,
        watch_stream: crate::cluster::CallStream,
        caller: CallerMedia,
    ) -> Result<(), Error> {
        let leg = caller.leg();
        let (control, control_rx) = mpsc::channel(16);
        let refused = {
            let mut registry = self.registry()?;
            if registry.calls.contains_key(call) {
                Some(caller)
            } else {
                registry.calls.insert(
                    call.clone(),
                    CallEntry {
                        caller,
                        control,
                        released: watch::channel(()).0,
                    },
                );
                None
            }
        };
        if let Some(caller) = refused {
            caller.close().await;
            return Err(Error::FailedPrecondition(format!(
                "call {call} already has caller media"
            )));
        }
        self.shared.announce_call(call).await;
        info!(call = %call, codec = %leg.codec, kind = leg.kind.label(), "caller media connected");
        let media = CallMedia::new(call.clone(), leg, self.shared.clone());
        let busy = self.shared.busy_guard();
        tokio::spawn(async move {
            media
                .run(Some(watch_stream), control_rx, busy.shared.shutdown.clone())
                .await;
            drop(busy);
        });
        Ok(())
    }

    pub async fn caller_candidate(&self, call: &CallId, c: RTCIceCandidateInit) -> Result<(), Error> {
        let session = self.registry()?.calls.get(call).and_then(|e| match &e.caller {
            CallerMedia::WebRtc(s) => Some(s.clone()),
            CallerMedia::Rtp(_) => None,
        });
        let session = session.ok_or_else(|| Error::NotFound {
            what: "caller media of call",
            id: call.to_string(),
        })?;
        Ok(session.add_candidate(c).await?)
    }

    pub(super) fn control_of(&self, call: &CallId) -> Result<mpsc::Sender<Control>, Error> {
        self.registry()?
            .calls
            .get(call)
            .map(|e| e.control.clone())
            .ok_or_else(|| Error::NotFound {
                what: "call with audio on this node",
                id: call.to_string(),
            })
    }

    async fn ask(
        &self,
        call: &CallId,
        make: impl FnOnce(oneshot::Sender<Result<RecordingRecord, Error>>) -> Control,
    ) -> Result<RecordingRecord, Error> {
        let (tx, rx) = oneshot::channel();
        self.control_of(call)?
            .send(make(tx))
            .await
            .map_err(|_| Error::FailedPrecondition(format!("call {call} has ended")))?;
        rx.await
            .map_err(|_| Error::FailedPrecondition(format!("call {call} has ended")))?
    }

    /// PCI pause: silence is recorded until resumed.
    pub async fn pause_recording(&self, call: &CallId, by: &str) -> Result<RecordingRecord, Error> {
        let by = by.to_string();
        self.ask(call, |reply| Control::Pause { by, reply }).await
    }

    pub async fn resume_recording(&self, call: &CallId) -> Result<RecordingRecord, Error> {
        self.ask(call, |reply| Control::Resume { reply }).await
    }

    /// Starts monitoring a call with audio on this node. WHISPER and BARGE
    /// need the supervisor's SDP offer (their leg to speak on).
    pub async fn monitor(
        &self,
        call: &CallId,
        mode: MonitorMode,
        supervisor: &str,
        offer: Option<&str>,
    ) -> Result<MonitorSession, Error> {
        // The call's audio is here, or on the node the directory names.
        let here = match self.control_of(call) {
            Ok(control) => Ok(control),
            Err(Error::NotFound { .. }) if self.shared.cluster.is_some() => {
                Err(self.shared.locate_call_media(call).await?)
            }
            Err(e) => return Err(e),
        };
        let id = new_session_id();
        let (leg, answer) = match (mode.speaks(), offer) {
            (false, _) => (None, None),
            (true, None) => {
                return Err(Error::invalid(
                    "offer",
                    format!("{} needs the supervisor's SDP offer", mode.as_str()),
                ))
            }
            (true, Some(offer)) => {
                let (session, answer) = self.shared.endpoint.answer(id.clone(), offer).await?;
                let session = Arc::new(session);
                let codec = session.leg.codec.clone();
                self.registry()?.monitors.insert(id.clone(), session.clone());
                (Some(session.leg.clone()), Some((answer, codec)))
            }
        };
        let record = MonitorSessionRecord {
            id: id.clone(),
            supervisor: supervisor.to_string(),
            call: call.clone(),
            mode,
            started_at: Timestamp::now_wall(),
            ended_at: None,
        };
        let guard = MonitorGuard {
            plane: self.clone(),
            record: Some(record.clone()),
        };
        // Audited before any audio flows.
        self.shared.store.put_monitor_session(&record).await?;
        let (frames_tx, frames) = mpsc::channel(TAP_BUFFER);
        match here {
            Ok(control) => control
                .send(Control::AddMonitor(MonitorTap {
                    id: id.clone(),
                    mode,
                    leg,
                    frames: frames_tx,
                    sequence: 0,
                    inbound: None,
                    outbound: None,
                }))
                .await
                .map_err(|_| Error::FailedPrecondition(format!("call {call} has ended")))?,
            Err(peer) => {
                let relays = &self
                    .shared
                    .cluster
                    .as_ref()
                    .ok_or_else(|| Error::Internal("no cluster".into()))?
                    .relays;
                if let Err(e) = relays.open_monitor(&peer, call, &id, mode, leg, frames_tx).await {
                    warn!(call = %call, session = %id, error = %e, "cannot monitor a call on another node");
                    crate::metrics::events::media_unreachable(
                        "supervisor",
                        crate::metrics::events::Unreachable::RelayFailed,
                    );
                    return Err(match e {
                        RelayError::NotThere { .. } => {
                            Error::FailedPrecondition(format!("call {call} has ended"))
                        }
                        RelayError::Failed { .. } => Error::Unavailable(format!(
                            "the call's audio is on another node that cannot be reached: {e}"
                        )),
                    });
                }
            }
        }
        info!(call = %call, session = %id, supervisor, mode = mode.as_str(), "monitoring session opened");
        Ok(MonitorSession {
            id,
            answer,
            frames,
            guard,
        })
    }

    pub async fn monitor_candidate(&self, session: &str, c: RTCIceCandidateInit) -> Result<(), Error> {
        let leg = self.registry()?.monitors.get(session).cloned();
        let leg = leg.ok_or_else(|| Error::NotFound {
            what: "monitoring session with a leg",
            id: session.to_string(),
        })?;
        Ok(leg.add_candidate(c).await?)
    }
}

impl Shared {
    fn registry(&self) -> Result<std::sync::MutexGuard<'_, Registry>, Error> {
        self.registry
            .lock()
            .map_err(|_| Error::Internal("media registry lock poisoned".into()))
    }

    /// The agent's softphone leg, if connected to this node.
    pub fn agent_leg(&self, agent: &AgentId) -> Option<Arc<Leg>> {
        self.registry()
            .ok()?
            .softphones
            .get(agent)
            .filter(|s| !s.is_closed())
            .map(|s| s.leg())
    }

    /// A call's task ended: hang up the caller's leg.
    pub async fn call_finished(&self, call: &CallId) {
        let entry = self.registry().ok().and_then(|mut r| r.calls.remove(call));
        if let Some(entry) = entry {
            entry.caller.close().await;
        }
        if let Some(cluster) = &self.cluster {
            if let Err(e) = cluster.directory.withdraw_call(call).await {
                warn!(call = %call, error = %e, "withdrawing the call from the media directory");
            }
        }
    }

    /// Counts one piece of work a shutdown waits for, until dropped.
    pub(super) fn busy_guard(self: &Arc<Self>) -> BusyGuard {
        self.busy.send_modify(|n| *n += 1);
        BusyGuard { shared: self.clone() }
    }

    /// Moves a finished recording into the shared archive: uploaded, then
    /// marked archived, then its spool file deleted. A failure leaves the
    /// file for the next spool sweep (warned and counted). True if moved.
    pub async fn archive_recording(&self, mut rec: RecordingRecord) -> bool {
        let archive = &self.settings.archive;
        match archive.upload(&self.settings.recordings_dir, &rec.path).await {
            Ok(bytes) => {
                rec.archived = true;
                if let Err(e) = self.store.put_recording(&rec).await {
                    warn!(call = %rec.call, error = %e, "recording uploaded but its metadata not saved; retrying later");
                    crate::metrics::events::recording_archived(false);
                    return false;
                }
                self.remove_spooled(&rec).await;
                crate::metrics::events::recording_archived(true);
                info!(call = %rec.call, bytes, storage = %archive, "recording archived");
                true
            }
            Err(e) => {
                warn!(call = %rec.call, error = %e, storage = %archive, "cannot archive the recording; it stays in the spool for the next try");
                crate::metrics::events::recording_archived(false);
                false
            }
        }
    }

    async fn remove_spooled(&self, rec: &RecordingRecord) {
        let path = self.settings.recordings_dir.join(&rec.path);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(call = %rec.call, error = %e, "removing an archived recording's spool file"),
        }
    }

    /// Names this node as the holder of the agent's leg. A directory that
    /// cannot be written leaves the leg usable here only: warned, since
    /// calls from other nodes will not find it.
    async fn announce_agent(&self, agent: &AgentId) {
        if let Some(cluster) = &self.cluster {
            if let Err(e) = cluster.directory.announce_agent(agent).await {
                warn!(agent = %agent, error = %e, "cannot announce the agent's leg: calls on other nodes will not reach it");
            }
        }
    }

    async fn announce_call(&self, call: &CallId) {
        if let Some(cluster) = &self.cluster {
            if let Err(e) = cluster.directory.announce_call(call).await {
                warn!(call = %call, error = %e, "cannot announce the call's media: supervisors on other nodes will not reach it");
            }
        }
    }

    /// The live node running `call`'s media task, other than this one.
    pub async fn locate_call_media(
        &self,
        call: &CallId,
    ) -> Result<crate::cluster::directory::NodeAddr, Error> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or_else(|| Error::Internal("not a cluster".into()))?;
        match cluster.directory.locate_call(call).await? {
            Located::At(peer) if peer.node != self.node => Ok(peer),
            Located::At(_) | Located::Nowhere => Err(Error::NotFound {
                what: "call with audio",
                id: call.to_string(),
            }),
            Located::Lost { node } => Err(Error::FailedPrecondition(format!(
                "node lost: {node} carried call {call}'s audio"
            ))),
        }
    }

    /// The agent's leg for `call`: on this node, else relayed from the node
    /// holding it.
    pub async fn reach_agent_leg(
        &self,
        agent: &AgentId,
        call: &CallId,
    ) -> Result<Arc<Leg>, AgentAudioProblem> {
        if let Some(leg) = self.agent_leg(agent) {
            return Ok(leg);
        }
        let Some(cluster) = &self.cluster else {
            return Err(AgentAudioProblem::NoLeg);
        };
        let peer = match cluster.directory.locate_agent(agent).await {
            Ok(Located::At(peer)) if peer.node != self.node => peer,
            Ok(Located::At(_)) | Ok(Located::Nowhere) => return Err(AgentAudioProblem::NoLeg),
            Ok(Located::Lost { node }) => return Err(AgentAudioProblem::NodeLost { node }),
            Err(e) => return Err(AgentAudioProblem::RelayFailed(e.to_string())),
        };
        let jitter = self.settings.webrtc.jitter_frames;
        match cluster.relays.open_agent_leg(&peer, agent, call, jitter).await {
            Ok(leg) => Ok(leg),
            Err(RelayError::NotThere { .. }) => Err(AgentAudioProblem::NoLeg),
            Err(e) => {
                // A node that stopped beating (two of the three beats in a
                // lease) and whose relay port fails is gone, not slow.
                if peer.silent_for > cluster.lease * 2 / 3 {
                    Err(AgentAudioProblem::NodeLost { node: peer.node })
                } else {
                    Err(AgentAudioProblem::RelayFailed(e.to_string()))
                }
            }
        }
    }
}

/// One call task or upload a shutdown waits for.
pub(super) struct BusyGuard {
    pub(super) shared: Arc<Shared>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.shared.busy.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Ends a monitoring session when dropped (the call ended or the supervisor
/// went away): closes the audit record and hangs up the supervisor's leg.
pub struct MonitorGuard {
    plane: MediaPlane,
    record: Option<MonitorSessionRecord>,
}

impl Drop for MonitorGuard {
    fn drop(&mut self) {
        let Some(mut record) = self.record.take() else {
            return;
        };
        let plane = self.plane.clone();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            record.ended_at = Some(Timestamp::now_wall());
            let leg = plane
                .registry()
                .ok()
                .and_then(|mut r| r.monitors.remove(&record.id));
            if let Some(leg) = leg {
                leg.close().await;
            }
            info!(call = %record.call, session = %record.id, "monitoring session closed");
            if let Err(e) = plane.shared.store.put_monitor_session(&record).await {
                warn!(session = %record.id, error = %e, "closing the monitoring audit record");
            }
        });
    }
}

pub use super::archive::ByteStream;

fn new_session_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
