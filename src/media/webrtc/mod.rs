//! The WebRTC adapter: turns a client's SDP offer into a [`Leg`].
//!
//! Every connection is a sans-IO state machine with no sockets or tasks of
//! its own. A browser's offer is answered by `hotline-webrtc-lite`
//! ([`lite`]): ICE-lite, DTLS-SRTP and SRTP in place. Where hotline offers
//! (its own softphones: demo, load generation, tests), the connection is
//! webrtc-rs' full `rtc` peer connection ([`connection`]). A node runs one
//! media shard per core ([`shard`]); a shard owns its UDP sockets, reads
//! and writes them in batches, and drives every connection on them. The
//! answer carries the shard's host candidates, so the server never needs
//! to trickle.
//!
//! Invariants: an offer is checked (parsable, has audio, shares a codec)
//! before any connection is made, so bad input costs nothing; a failed or
//! closed connection closes the leg, which is how the rest of hotline
//! learns that a party hung up; dropping a [`WebRtcSession`] closes its
//! connection.

mod codec;
mod connection;
mod lite;
mod shard;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rtc::peer_connection::state::RTCPeerConnectionState;
use tokio::sync::{mpsc, oneshot, watch};

pub use codec::{check_offer, AudioCodec, MAX_SDP_LEN};
/// A trickled ICE candidate, as a browser sends it.
pub use rtc::peer_connection::transport::RTCIceCandidateInit;

use self::codec::{choose_codec, DEFAULT_CODECS};
use self::shard::{Command, ConnKey, Opened, ShardSetup};
use super::leg::Leg;
use super::MediaError;

/// Commands queued to one shard (negotiations are rare next to packets).
const COMMAND_QUEUE: usize = 256;

/// Where and how WebRTC legs bind.
#[derive(Clone, Debug, Default)]
pub struct WebRtcSettings {
    /// UDP ports for media, inclusive; None lets the OS choose. Each media
    /// shard takes one port per address (client connections, which only
    /// the demo, load generator and tests make, take ports of their own).
    pub udp_ports: Option<(u16, u16)>,
    /// Only these addresses are offered as candidates; empty offers every
    /// IPv4 address of the machine's interfaces.
    pub ips: Vec<IpAddr>,
    /// Offer loopback candidates (tests, single-machine setups).
    pub include_loopback: bool,
    /// Jitter buffer depth, in 20 ms frames.
    pub jitter_frames: usize,
    /// Codecs offered or accepted, most preferred first; empty: Opus, then
    /// PCMU.
    pub codecs: Vec<AudioCodec>,
}

/// One shard's queues.
struct ShardHandle {
    commands: mpsc::Sender<Command>,
    closes: mpsc::UnboundedSender<ConnKey>,
}

/// Builds WebRTC legs; one per node, shared by every negotiation.
pub struct WebRtcEndpoint {
    shards: Vec<ShardHandle>,
    /// Round robin over the shards.
    next: AtomicUsize,
    jitter_frames: usize,
    /// Most preferred first; the first is what this endpoint offers.
    codecs: Vec<AudioCodec>,
}

/// A negotiated WebRTC leg and the connection carrying it.
pub struct WebRtcSession {
    pub leg: Arc<Leg>,
    shard: mpsc::Sender<Command>,
    /// Hang-ups never wait and are never refused (a call centre's shift
    /// change ends hundreds at once); at most one per live connection.
    closes: mpsc::UnboundedSender<ConnKey>,
    key: ConnKey,
    /// The connection's state as it changes.
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl WebRtcEndpoint {
    /// Binds the media shards' sockets and starts the shards (one per
    /// core) on the current tokio runtime; they stop when the endpoint is
    /// dropped.
    pub fn new(settings: &WebRtcSettings) -> Result<Self, MediaError> {
        let codecs = if settings.codecs.is_empty() {
            DEFAULT_CODECS.to_vec()
        } else {
            settings.codecs.clone()
        };
        let ips = candidate_ips(settings)?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| MediaError::Transport("WebRTC media needs a running tokio runtime".into()))?;
        let count = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut shards = Vec::with_capacity(count);
        let identity = Arc::new(hotline_webrtc_lite::Identity::generate()?);
        let mut port_cursor = settings.udp_ports.map(|(lo, _)| lo);
        for index in 0..count {
            let mut sockets = Vec::new();
            for ip in &ips {
                sockets.push(bind(*ip, settings.udp_ports, &mut port_cursor)?);
            }
            let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
            let (frames, frames_rx) = mpsc::channel(shard::FRAME_QUEUE);
            let (closes, closes_rx) = mpsc::unbounded_channel();
            runtime.spawn(shard::run(ShardSetup {
                index,
                sockets,
                client_ips: ips.clone(),
                commands: commands_rx,
                closes: closes_rx,
                frames: frames_rx,
                frames_tx: frames,
                jitter_frames: settings.jitter_frames.max(1),
                identity: identity.clone(),
            }));
            shards.push(ShardHandle { commands, closes });
        }
        Ok(WebRtcEndpoint {
            shards,
            next: AtomicUsize::new(0),
            jitter_frames: settings.jitter_frames.max(1),
            codecs,
        })
    }

    fn shard(&self) -> &ShardHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        &self.shards[i]
    }

    /// Answers a client's offer with a new leg named `id`.
    pub async fn answer(&self, id: String, offer: &str) -> Result<(WebRtcSession, String), MediaError> {
        let codec = choose_codec(offer, &self.codecs)?;
        let shard = self.shard();
        let (reply, opened) = oneshot::channel();
        let command = Command::Answer {
            id,
            codec,
            offer: offer.to_string(),
            reply,
        };
        open(shard, command, opened).await
    }

    /// The client side: a new leg and its SDP offer (of this endpoint's
    /// first codec), for softphones hotline drives itself (the demo, load
    /// generation, tests). Complete it with [`WebRtcSession::accept_answer`].
    pub async fn offer(&self, id: String) -> Result<(WebRtcSession, String), MediaError> {
        let codec = self.codecs.first().copied().unwrap_or(AudioCodec::Pcmu);
        let shard = self.shard();
        let (reply, opened) = oneshot::channel();
        open(shard, Command::Offer { id, codec, reply }, opened).await
    }

    /// The jitter buffer depth legs get, in frames.
    pub fn jitter_frames(&self) -> usize {
        self.jitter_frames
    }
}

async fn open(
    shard: &ShardHandle,
    command: Command,
    opened: oneshot::Receiver<Result<Opened, MediaError>>,
) -> Result<(WebRtcSession, String), MediaError> {
    let gone = || MediaError::Transport("the media shard stopped".into());
    shard.commands.send(command).await.map_err(|_| gone())?;
    let Opened { key, sdp, state, leg } = opened.await.map_err(|_| gone())??;
    Ok((
        WebRtcSession {
            leg,
            shard: shard.commands.clone(),
            closes: shard.closes.clone(),
            key,
            state,
        },
        sdp,
    ))
}

/// The addresses offered as host candidates.
fn candidate_ips(settings: &WebRtcSettings) -> Result<Vec<IpAddr>, MediaError> {
    let mut ips: Vec<IpAddr> = if settings.ips.is_empty() {
        rtc::shared::ifaces::ifaces()
            .map_err(|e| MediaError::Transport(format!("listing network interfaces: {e}")))?
            .into_iter()
            .filter_map(|i| i.addr.map(|a| a.ip()))
            // IPv4 only: the shards' sockets are IPv4.
            .filter(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
            .collect()
    } else {
        settings.ips.clone()
    };
    if settings.include_loopback && !ips.iter().any(|ip| ip.is_loopback()) {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if !settings.include_loopback && !settings.ips.is_empty() {
        ips.retain(|ip| !ip.is_loopback() || settings.ips.contains(ip));
    }
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return Err(MediaError::Transport(
            "no address to offer WebRTC media on (set media.ips, or media.include_loopback)".into(),
        ));
    }
    Ok(ips)
}

/// Binds a socket on `ip`, in `ports` if given (from `cursor` on).
fn bind(
    ip: IpAddr,
    ports: Option<(u16, u16)>,
    cursor: &mut Option<u16>,
) -> Result<std::net::UdpSocket, MediaError> {
    let Some((lo, hi)) = ports else {
        return std::net::UdpSocket::bind(SocketAddr::new(ip, 0))
            .map_err(|e| MediaError::Transport(format!("bind {ip}: {e}")));
    };
    let start = cursor.unwrap_or(lo).clamp(lo, hi);
    for port in (start..=hi).chain(lo..start) {
        if let Ok(socket) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
            *cursor = port.checked_add(1);
            return Ok(socket);
        }
    }
    Err(MediaError::Transport(format!(
        "no free UDP port on {ip} in {lo}-{hi} for media"
    )))
}

impl WebRtcSession {
    /// Completes a session this side offered.
    pub async fn accept_answer(&self, sdp: &str) -> Result<(), MediaError> {
        let (reply, done) = oneshot::channel();
        self.ask(Command::AcceptAnswer {
            key: self.key,
            sdp: sdp.to_string(),
            reply,
        })
        .await?;
        done.await
            .map_err(|_| MediaError::Transport("the media shard stopped".into()))?
    }

    /// Waits until ICE and DTLS are up; false if the connection failed or
    /// `within` passed first.
    pub async fn connected(&self, within: Duration) -> bool {
        let mut state = self.state.clone();
        let outcome = tokio::time::timeout(within, async {
            state
                .wait_for(|s| {
                    matches!(
                        s,
                        RTCPeerConnectionState::Connected
                            | RTCPeerConnectionState::Failed
                            | RTCPeerConnectionState::Closed
                    )
                })
                .await
                .map(|s| *s == RTCPeerConnectionState::Connected)
        })
        .await;
        matches!(outcome, Ok(Ok(true)))
    }

    /// Adds one of the client's trickled candidates.
    pub async fn add_candidate(&self, candidate: RTCIceCandidateInit) -> Result<(), MediaError> {
        if candidate.candidate.len() > 1024 {
            return Err(MediaError::Ice("candidate longer than 1024 bytes".into()));
        }
        let (reply, done) = oneshot::channel();
        self.ask(Command::AddCandidate {
            key: self.key,
            candidate,
            reply,
        })
        .await?;
        done.await
            .map_err(|_| MediaError::Ice("the media shard stopped".into()))?
    }

    async fn ask(&self, command: Command) -> Result<(), MediaError> {
        self.shard
            .send(command)
            .await
            .map_err(|_| MediaError::Transport("the media shard stopped".into()))
    }

    /// Hangs up: closes the connection and the leg.
    pub async fn close(&self) {
        self.leg.close();
        // Closing twice is harmless; a stopped shard closed everything.
        let _ = self.closes.send(self.key);
    }
}

impl Drop for WebRtcSession {
    fn drop(&mut self) {
        self.leg.close();
        let _ = self.closes.send(self.key);
    }
}

#[cfg(test)]
mod tests;
