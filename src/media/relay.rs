//! The node-to-node media relay: a party whose leg ends on another node than
//! the call's media task joins the call as one more [`Leg`].
//!
//! Two kinds of relay over the one HTTP/2 connection this node keeps to each
//! peer (`hotline.cluster.v1.MediaRelay`), authenticated by the node token
//! and the cluster protocol version:
//! - **agent**: the call's node opens the agent's leg on the node holding
//!   it (a WebRTC softphone or a SIP phone's RTP leg), as one channel of the
//!   batched agent trunk between the two nodes ([`super::trunk`]). That node
//!   diverts the leg's packets to the trunk as they arrive, and plays what
//!   comes back to the agent. The call's node sees a [`LegKind::Relay`] leg
//!   whose jitter buffer is the only one on the path.
//! - **monitor**: a supervisor's node opens a tap on the call's node (one
//!   stream per tap: few, and not worth batching); the call's node sends
//!   the call's stereo frames and, for WHISPER and BARGE, what the
//!   supervisor hears; the supervisor's node sends their speech.
//!
//! Invariants: a relay ends when either side ends its stream, when the
//! relayed leg closes, or when the leg it carries is replaced on the holding
//! node (the call's node then opens it again); a leg is diverted by at most
//! one relay, and a relay ending undoes only its own diversion. Frames are
//! never awaited on: a relay that falls behind drops frames, never stalls a
//! call's clock. HTTP/2 keep-alives find a peer that vanished without
//! closing its connection.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};
use tracing::info;

use super::call::{Control, MonitorTap, StereoFrame, TAP_BUFFER};
use super::leg::{Diverted, InboundPacket, Leg, LegKind, LegTransport};
use super::plane::MediaPlane;
use super::record::MonitorMode;
use super::trunk::TrunkClient;
use super::{pcm_bytes, pcm_samples, Rate};
use crate::cluster::directory::NodeAddr;
use crate::cluster::protocol::NodeCredentials;
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::proto::cluster::media_relay_client::MediaRelayClient;
use crate::proto::cluster::media_relay_server::MediaRelay;
use crate::proto::cluster::{
    monitor_relay_down, monitor_relay_up, AgentTrunkDown, AgentTrunkUp, DeleteRecordingRequest,
    DeleteRecordingResponse, FetchRecordingRequest, LegFrame, MonitorOpened, MonitorRelayDown,
    MonitorRelayUp, OpenMonitor, RecordingChunk,
};
use crate::status::status;

/// Frames queued per relay direction (200 ms) before frames are dropped.
const RELAY_QUEUE: usize = 10;
/// How long opening a relay may take (connecting included).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// Batches queued towards a peer on an agent trunk (about 40 ms).
const TRUNK_QUEUE: usize = 32;

pub(super) type Client = MediaRelayClient<InterceptedService<Channel, NodeCredentials>>;
type RelayStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Why a relay could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The peer has no such leg (or call with audio) now.
    #[error("node {node} has no {what}")]
    NotThere { node: String, what: String },
    /// The peer could not be reached, refused, or broke the protocol.
    #[error("relay to node {node} at {addr}: {reason}")]
    Failed {
        node: String,
        addr: String,
        reason: String,
    },
}

/// Client side: one HTTP/2 connection per peer node, shared by every relay
/// to it.
pub struct Relays {
    credentials: NodeCredentials,
    /// Plain or TLS, as this node serves.
    peers: crate::tls::PeerTls,
    channels: Mutex<HashMap<String, Channel>>,
    /// The agent trunk to each peer (by address), while it works.
    trunks: Mutex<HashMap<String, Arc<TrunkClient>>>,
}

impl Relays {
    pub fn new(node_token: &str, peers: crate::tls::PeerTls) -> Result<Self, Error> {
        Ok(Relays {
            credentials: NodeCredentials::new(node_token)?,
            peers,
            channels: Mutex::new(HashMap::new()),
            trunks: Mutex::new(HashMap::new()),
        })
    }

    fn client(&self, peer: &NodeAddr) -> Result<Client, RelayError> {
        let failed = |reason: String| RelayError::Failed {
            node: peer.node.clone(),
            addr: peer.addr.clone(),
            reason,
        };
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| failed("relay channel map poisoned".into()))?;
        let channel = match channels.get(&peer.addr) {
            Some(c) => c.clone(),
            None => {
                let c = self
                    .peers
                    .endpoint(&peer.addr)
                    .map_err(|e| failed(e.to_string()))?
                    .connect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(1))
                    .keep_alive_timeout(Duration::from_secs(2))
                    .keep_alive_while_idle(true)
                    .connect_lazy();
                channels.insert(peer.addr.clone(), c.clone());
                c
            }
        };
        Ok(MediaRelayClient::with_interceptor(
            channel,
            self.credentials.clone(),
        ))
    }

    /// Opens `agent`'s leg on `peer` for `call`: a local leg carrying the
    /// agent's audio until either side ends it, on the trunk to `peer`
    /// (opened now if there is none, or the last one broke).
    pub async fn open_agent_leg(
        &self,
        peer: &NodeAddr,
        agent: &AgentId,
        call: &CallId,
        jitter_frames: usize,
    ) -> Result<Arc<Leg>, RelayError> {
        let trunk = {
            let mut trunks = self.trunks.lock().map_err(|_| RelayError::Failed {
                node: peer.node.clone(),
                addr: peer.addr.clone(),
                reason: "trunk map poisoned".into(),
            })?;
            match trunks.get(&peer.addr) {
                Some(t) if !t.is_broken() => t.clone(),
                _ => {
                    let t = TrunkClient::start(peer.clone(), self.client(peer)?);
                    trunks.insert(peer.addr.clone(), t.clone());
                    t
                }
            }
        };
        trunk.open_agent_leg(agent, call, jitter_frames).await
    }

    /// Opens a monitoring tap on `call` at `peer`: the stereo frames, and
    /// (when `leg` is the supervisor's) their speech both ways.
    pub async fn open_monitor(
        &self,
        peer: &NodeAddr,
        call: &CallId,
        session: &str,
        mode: MonitorMode,
        leg: Option<Arc<Leg>>,
        frames: mpsc::Sender<StereoFrame>,
    ) -> Result<(), RelayError> {
        let failed = |reason: String| RelayError::Failed {
            node: peer.node.clone(),
            addr: peer.addr.clone(),
            reason,
        };
        let mut client = self.client(peer)?;
        let (up, up_rx) = mpsc::channel(RELAY_QUEUE);
        let open = MonitorRelayUp {
            msg: Some(monitor_relay_up::Msg::Open(OpenMonitor {
                call_id: call.to_string(),
                session_id: session.to_string(),
                mode: mode_number(mode),
                leg_sample_rate: leg.as_ref().map(|l| l.rate.hz()).unwrap_or(0),
            })),
        };
        up.try_send(open).map_err(|_| failed("relay queue".into()))?;
        let opening = async {
            let mut down = client
                .relay_monitor(ReceiverStream::new(up_rx))
                .await
                .map_err(|s| refused(peer, s, format!("call {call} with audio")))?
                .into_inner();
            match down.message().await {
                Ok(Some(MonitorRelayDown {
                    msg: Some(monitor_relay_down::Msg::Opened(_)),
                })) => Ok(down),
                Ok(_) => Err(failed("the peer answered without opening the tap".into())),
                Err(s) => Err(refused(peer, s, format!("call {call} with audio"))),
            }
        };
        let down = tokio::time::timeout(OPEN_TIMEOUT, opening)
            .await
            .map_err(|_| failed(format!("no answer within {OPEN_TIMEOUT:?}")))??;
        crate::metrics::events::relay_opened("monitor");
        info!(call = %call, session, node = %peer.node, "monitoring a call on another node");
        tokio::spawn(drive_monitor_client(leg, up, down, frames));
        Ok(())
    }

    /// Streams a recording file that `peer` keeps on its disk.
    pub async fn fetch_recording(
        &self,
        peer: &NodeAddr,
        path: &str,
    ) -> Result<Streaming<RecordingChunk>, RelayError> {
        let mut client = self.client(peer)?;
        client
            .fetch_recording(FetchRecordingRequest {
                path: path.to_string(),
            })
            .await
            .map(|r| r.into_inner())
            .map_err(|s| refused(peer, s, format!("recording {path}")))
    }
}

impl Relays {
    /// Deletes a recording file that `peer` keeps on its disk.
    pub async fn delete_recording(&self, peer: &NodeAddr, path: &str) -> Result<bool, RelayError> {
        let mut client = self.client(peer)?;
        client
            .delete_recording(DeleteRecordingRequest {
                path: path.to_string(),
            })
            .await
            .map(|r| r.into_inner().deleted)
            .map_err(|s| refused(peer, s, format!("recording {path}")))
    }
}

pub(super) fn refused(peer: &NodeAddr, s: Status, what: String) -> RelayError {
    if s.code() == tonic::Code::NotFound {
        RelayError::NotThere {
            node: peer.node.clone(),
            what,
        }
    } else {
        RelayError::Failed {
            node: peer.node.clone(),
            addr: peer.addr.clone(),
            reason: format!("{:?}: {}", s.code(), s.message()),
        }
    }
}

fn mode_number(mode: MonitorMode) -> i32 {
    match mode {
        MonitorMode::Listen => 1,
        MonitorMode::Whisper => 2,
        MonitorMode::Barge => 3,
    }
}

fn mode_from(n: i32) -> Option<MonitorMode> {
    match n {
        1 => Some(MonitorMode::Listen),
        2 => Some(MonitorMode::Whisper),
        3 => Some(MonitorMode::Barge),
        _ => None,
    }
}

pub(super) fn frame_of(packet: &InboundPacket, pcm: &[i16]) -> LegFrame {
    LegFrame {
        sequence: u32::from(packet.sequence),
        timestamp: packet.timestamp,
        clock_rate: packet.clock_rate,
        pcm: pcm_bytes(pcm),
    }
}

pub(super) fn outbound_frame(pcm: &[i16]) -> LegFrame {
    LegFrame {
        pcm: pcm_bytes(pcm),
        ..Default::default()
    }
}

/// A relayed frame into the leg's jitter buffer, as if its packet had
/// arrived here now. Frames of the wrong length are dropped (lost audio,
/// concealed), never played.
pub(super) fn push_relayed(leg: &Leg, f: LegFrame) {
    let pcm = pcm_samples(&f.pcm);
    if pcm.len() != leg.rate.frame_len() {
        return;
    }
    leg.push_inbound(
        InboundPacket {
            sequence: (f.sequence & 0xffff) as u16,
            timestamp: f.timestamp,
            clock_rate: f.clock_rate.max(1),
            arrival: std::time::Instant::now(),
        },
        pcm,
    );
}

/// What a party hears, from a relayed frame (at the leg's rate).
pub(super) fn play_relayed(leg: &Leg, f: &LegFrame) {
    let pcm = pcm_samples(&f.pcm);
    if pcm.len() == leg.rate.frame_len() {
        leg.send_frame(pcm);
    }
}

/// The supervisor's node's side of a monitoring relay.
async fn drive_monitor_client(
    leg: Option<Arc<Leg>>,
    up: mpsc::Sender<MonitorRelayUp>,
    mut down: Streaming<MonitorRelayDown>,
    frames: mpsc::Sender<StereoFrame>,
) {
    let mut diverted = leg.as_ref().and_then(|l| l.divert());
    loop {
        tokio::select! {
            said = recv_diverted(&mut diverted) => match said {
                Some((packet, pcm)) => {
                    let msg = MonitorRelayUp { msg: Some(monitor_relay_up::Msg::Frame(frame_of(&packet, &pcm))) };
                    if let Err(mpsc::error::TrySendError::Closed(_)) = up.try_send(msg) {
                        break;
                    }
                }
                None => diverted = None,
            },
            msg = down.message() => match msg {
                Ok(Some(MonitorRelayDown { msg: Some(monitor_relay_down::Msg::Stereo(f)) })) => {
                    let Some(rate) = Rate::from_hz(f.sample_rate) else { continue };
                    let frame = StereoFrame {
                        sequence: f.sequence,
                        rate,
                        caller: pcm_samples(&f.caller_pcm),
                        agent: pcm_samples(&f.agent_pcm),
                    };
                    // A listener that cannot keep up loses frames.
                    let _ = frames.try_send(frame);
                }
                Ok(Some(MonitorRelayDown { msg: Some(monitor_relay_down::Msg::Heard(f)) })) => {
                    if let Some(leg) = &leg {
                        play_relayed(leg, &f);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            },
            _ = frames.closed() => break,
        }
    }
    if let (Some(leg), Some((generation, _))) = (&leg, &diverted) {
        leg.undivert(*generation);
    }
}

async fn recv_diverted(diverted: &mut Option<Diverted>) -> Option<(InboundPacket, Vec<i16>)> {
    match diverted {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Server side: what this node offers its peers.
pub struct RelayService {
    pub plane: MediaPlane,
}

/// The first message of a relay stream, within [`OPEN_TIMEOUT`].
async fn first<T, O>(up: &mut Streaming<T>, pick: impl FnOnce(T) -> Option<O>) -> Result<O, Error> {
    match tokio::time::timeout(OPEN_TIMEOUT, up.message()).await {
        Ok(Ok(Some(m))) => {
            pick(m).ok_or_else(|| Error::invalid("open", "the first message must open the relay"))
        }
        Ok(Ok(None)) => Err(Error::invalid("open", "the stream ended before opening")),
        Ok(Err(s)) => Err(Error::Unavailable(format!("relay stream: {}", s.message()))),
        Err(_) => Err(Error::invalid("open", "no opening message in time")),
    }
}

#[tonic::async_trait]
impl MediaRelay for RelayService {
    type AgentTrunkStream = RelayStream<AgentTrunkDown>;

    async fn agent_trunk(
        &self,
        req: Request<Streaming<AgentTrunkUp>>,
    ) -> Result<Response<Self::AgentTrunkStream>, Status> {
        let (tx, rx) = mpsc::channel(TRUNK_QUEUE);
        info!("a peer node opened an agent trunk to this node");
        tokio::spawn(super::trunk::serve_trunk(
            self.plane.shared.clone(),
            req.into_inner(),
            tx,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type RelayMonitorStream = RelayStream<MonitorRelayDown>;

    async fn relay_monitor(
        &self,
        req: Request<Streaming<MonitorRelayUp>>,
    ) -> Result<Response<Self::RelayMonitorStream>, Status> {
        let mut up = req.into_inner();
        let open = first(&mut up, |m| match m.msg {
            Some(monitor_relay_up::Msg::Open(o)) => Some(o),
            _ => None,
        })
        .await
        .map_err(status)?;
        let call = CallId::new(crate::validate::id("open.call_id", &open.call_id).map_err(status)?);
        let session = crate::validate::id("open.session_id", &open.session_id)
            .map_err(status)?
            .to_string();
        let mode = mode_from(open.mode)
            .ok_or_else(|| Error::invalid("open.mode", "1, 2 or 3"))
            .map_err(status)?;
        let control = self.plane.control_of(&call).map_err(status)?;
        let speaks = match open.leg_sample_rate {
            0 => None,
            hz => Some(
                Rate::from_hz(hz)
                    .ok_or_else(|| Error::invalid("open.leg_sample_rate", "8000 or 16000"))
                    .map_err(status)?,
            ),
        };
        let jitter = self.plane.shared.settings.webrtc.jitter_frames;
        let (leg, io) = match speaks {
            Some(rate) => {
                let (leg, io) = Leg::new(
                    format!("relay:monitor:{session}"),
                    LegKind::Relay,
                    rate,
                    "relay".into(),
                    jitter,
                );
                (Some(leg), Some(io))
            }
            None => (None, None),
        };
        let (frames_tx, frames) = mpsc::channel(TAP_BUFFER);
        control
            .send(Control::AddMonitor(MonitorTap {
                id: session.clone(),
                mode,
                leg: leg.clone(),
                frames: frames_tx,
                sequence: 0,
                inbound: None,
                outbound: None,
            }))
            .await
            .map_err(|_| Error::FailedPrecondition(format!("call {call} has ended")))
            .map_err(status)?;
        let (tx, rx) = mpsc::channel(TAP_BUFFER);
        let opened = MonitorRelayDown {
            msg: Some(monitor_relay_down::Msg::Opened(MonitorOpened { sample_rate: 0 })),
        };
        let _ = tx.try_send(Ok(opened));
        info!(call = %call, session = %session, mode = mode.as_str(), "monitoring tap relayed to another node");
        tokio::spawn(serve_monitor(leg, io, frames, up, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type FetchRecordingStream = RelayStream<RecordingChunk>;

    async fn fetch_recording(
        &self,
        req: Request<FetchRecordingRequest>,
    ) -> Result<Response<Self::FetchRecordingStream>, Status> {
        let path = req.into_inner().path;
        // A recording's path: YYYY/MM/DD/<call id>.wav.
        let path = crate::validate::id("path", &path).map_err(status)?;
        let stream = self.plane.local_recording_chunks(path).await.map_err(status)?;
        Ok(Response::new(stream))
    }

    async fn delete_recording(
        &self,
        req: Request<DeleteRecordingRequest>,
    ) -> Result<Response<DeleteRecordingResponse>, Status> {
        let path = req.into_inner().path;
        let path = crate::validate::id("path", &path).map_err(status)?;
        let deleted = self.plane.delete_local_recording(path).await.map_err(status)?;
        Ok(Response::new(DeleteRecordingResponse { deleted }))
    }
}

/// The call's node's side of a monitoring relay.
async fn serve_monitor(
    leg: Option<Arc<Leg>>,
    mut io: Option<LegTransport>,
    mut frames: mpsc::Receiver<StereoFrame>,
    mut up: Streaming<MonitorRelayUp>,
    tx: mpsc::Sender<Result<MonitorRelayDown, Status>>,
) {
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some(f) => {
                    let msg = MonitorRelayDown {
                        msg: Some(monitor_relay_down::Msg::Stereo(crate::proto::cluster::StereoFrame {
                            sequence: f.sequence,
                            sample_rate: f.rate.hz(),
                            caller_pcm: pcm_bytes(&f.caller),
                            agent_pcm: pcm_bytes(&f.agent),
                        })),
                    };
                    if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Ok(msg)) {
                        break;
                    }
                }
                // The call ended.
                None => break,
            },
            heard = recv_outbound(&mut io) => match heard {
                Some(pcm) => {
                    let msg = MonitorRelayDown { msg: Some(monitor_relay_down::Msg::Heard(outbound_frame(&pcm))) };
                    let _ = tx.try_send(Ok(msg));
                }
                None => io = None,
            },
            msg = up.message() => match msg {
                Ok(Some(MonitorRelayUp { msg: Some(monitor_relay_up::Msg::Frame(f)) })) => {
                    if let Some(leg) = &leg {
                        push_relayed(leg, f);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            },
            _ = tx.closed() => break,
        }
    }
    if let Some(leg) = leg {
        leg.close();
    }
}

async fn recv_outbound(io: &mut Option<LegTransport>) -> Option<Vec<i16>> {
    match io {
        Some(io) => io.outbound.recv().await,
        None => std::future::pending().await,
    }
}
