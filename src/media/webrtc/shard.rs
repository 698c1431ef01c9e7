//! A media shard: one task that owns a few UDP sockets and drives every
//! WebRTC connection on them. A node runs one shard per core; no task per
//! connection and no channel per packet.
//!
//! What reaches a shard: commands (open, answer, add a candidate, close)
//! from the signalling side, the frames its legs' parties are to hear (one
//! queue for the whole shard, tagged with the connection, drained in
//! batches), datagrams (read [`udp::BATCH`] at a time), and the time, when
//! a connection's state machine asked for it.
//!
//! Invariants:
//! - A datagram on a shared socket goes to the connection that last
//!   exchanged packets with its source address; from an unknown source it
//!   is accepted only as an ICE check naming a connection's username
//!   fragment (how a browser's first packet finds its connection). Any
//!   other is dropped and counted, never guessed.
//! - A client connection (this side offered: the demo's, load generator's
//!   and tests' softphones) has sockets of its own, so two such
//!   connections to one server never share a 5-tuple.
//! - A connection that failed or closed is forgotten, with its addresses,
//!   its username fragment and its sockets; its leg is closed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, warn};

use super::super::leg::{Leg, LegKind};
use super::super::udp::{self, RecvBatch};
use super::super::MediaError;
use super::codec::AudioCodec;
use super::connection::{Connection, Datagram, Drained};
use super::lite::LiteConnection;
use crate::metrics::media_io::{MediaTransport, SocketEvent};
use hotline_webrtc_lite::Identity;

/// Frames in flight to one shard before a frame is dropped (two ticks of
/// 500 two-party calls).
pub(super) const FRAME_QUEUE: usize = 2048;

/// Batches read from one socket before the others get a turn.
const READS_PER_TURN: usize = 8;

/// A connection within its shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct ConnKey(pub u32);

/// A socket within its shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SockId(u32);

/// What the signalling side asks of a shard.
pub(super) enum Command {
    /// Answer a browser's offer on the shard's shared sockets.
    Answer {
        /// The leg's media session id.
        id: String,
        codec: AudioCodec,
        offer: String,
        reply: oneshot::Sender<Result<Opened, MediaError>>,
    },
    /// Offer from sockets of the connection's own.
    Offer {
        id: String,
        codec: AudioCodec,
        reply: oneshot::Sender<Result<Opened, MediaError>>,
    },
    AcceptAnswer {
        key: ConnKey,
        sdp: String,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
    AddCandidate {
        key: ConnKey,
        candidate: RTCIceCandidateInit,
        reply: oneshot::Sender<Result<(), MediaError>>,
    },
}

/// A connection opened: its key, the SDP to send, and its state.
pub(super) struct Opened {
    pub key: ConnKey,
    pub sdp: String,
    pub state: watch::Receiver<RTCPeerConnectionState>,
    pub leg: Arc<Leg>,
}

/// What a shard is given to start.
pub(super) struct ShardSetup {
    pub index: usize,
    /// The shard's shared sockets, one per address it offers.
    pub sockets: Vec<std::net::UdpSocket>,
    /// Addresses client connections bind their own sockets on.
    pub client_ips: Vec<IpAddr>,
    pub commands: mpsc::Receiver<Command>,
    /// Hang-ups, on a queue of their own that never refuses one.
    pub closes: mpsc::UnboundedReceiver<ConnKey>,
    /// The legs' frames, tagged with their connection.
    pub frames: mpsc::Receiver<(u32, Vec<i16>)>,
    /// Where the legs this shard makes queue their frames.
    pub frames_tx: mpsc::Sender<(u32, Vec<i16>)>,
    pub jitter_frames: usize,
    /// The certificate answers prove themselves with.
    pub identity: Arc<Identity>,
}

struct Sock {
    io: Arc<UdpSocket>,
    local: SocketAddr,
    /// The connection whose own socket this is; None: shared.
    owner: Option<ConnKey>,
}

/// A connection of either kind: the lean answerer for browsers' offers,
/// rtc's full peer connection where this side offered.
enum Peer {
    Lite(Box<LiteConnection>),
    Full(Box<Connection>),
}

impl Peer {
    fn leg(&self) -> &Arc<Leg> {
        match self {
            Peer::Lite(c) => &c.leg,
            Peer::Full(c) => &c.leg,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Peer::Lite(c) => c.deadline,
            Peer::Full(c) => c.deadline,
        }
    }

    fn frames_failed(&self) -> u64 {
        match self {
            Peer::Lite(c) => c.frames_failed,
            Peer::Full(c) => c.frames_failed,
        }
    }

    fn local_ufrag(&self) -> Option<String> {
        match self {
            Peer::Lite(c) => c.local_ufrag(),
            Peer::Full(c) => c.local_ufrag(),
        }
    }

    fn receive(&mut self, now: Instant, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        match self {
            Peer::Lite(c) => c.receive(now, local, peer, bytes),
            Peer::Full(c) => c.receive(now, local, peer, bytes),
        }
    }

    fn send_frame(&mut self, now: Instant, frame: &[i16]) {
        match self {
            Peer::Lite(c) => c.send_frame(now, frame),
            Peer::Full(c) => c.send_frame(now, frame),
        }
    }

    fn timeout(&mut self, now: Instant) {
        match self {
            Peer::Lite(c) => c.timeout(now),
            Peer::Full(c) => c.timeout(now),
        }
    }

    fn drain(&mut self, out: &mut Vec<Datagram>, wrote_only: bool) -> Drained {
        match self {
            Peer::Lite(c) => c.drain(out),
            Peer::Full(c) => c.drain(out, wrote_only),
        }
    }

    fn close(&mut self, out: &mut Vec<Datagram>) {
        match self {
            Peer::Lite(c) => c.close(out),
            Peer::Full(c) => c.close(out),
        }
    }
}

struct Conn {
    c: Peer,
    /// Sockets of its own (a client connection's).
    own: Vec<SockId>,
    /// Shared-socket sources routed to it.
    peers: Vec<(SockId, SocketAddr)>,
    ufrag: Option<String>,
    /// The deadline its timer entry is for.
    scheduled: Option<Instant>,
}

struct Shard {
    index: usize,
    client_ips: Vec<IpAddr>,
    frames_tx: mpsc::Sender<(u32, Vec<i16>)>,
    jitter_frames: usize,
    identity: Arc<Identity>,
    next_key: u32,
    next_sock: u32,
    sockets: HashMap<SockId, Sock>,
    /// Our addresses, for sending what a connection wrote "from" one.
    by_local: HashMap<SocketAddr, SockId>,
    /// The shared sockets' addresses: every answer's candidates.
    shared: Vec<SocketAddr>,
    conns: HashMap<ConnKey, Conn>,
    by_peer: HashMap<(SockId, SocketAddr), ConnKey>,
    by_ufrag: HashMap<String, ConnKey>,
    timers: BinaryHeap<Reverse<(Instant, ConnKey)>>,
    /// Connections that took input since their outputs were drained, and
    /// whether that input was only frames to send (a cheaper drain).
    touched: Vec<(ConnKey, bool)>,
    outbox: Vec<Datagram>,
    readiness: FuturesUnordered<BoxFuture<'static, SockId>>,
    recv: RecvBatch,
    /// Datagrams that could not be sent (warned about the first time).
    sends_failed: u64,
}

/// Runs a shard until the endpoint that owns it is dropped.
pub(super) async fn run(setup: ShardSetup) {
    let ShardSetup {
        index,
        sockets,
        client_ips,
        mut commands,
        mut closes,
        mut frames,
        frames_tx,
        jitter_frames,
        identity,
    } = setup;
    let mut shard = Shard {
        index,
        client_ips,
        frames_tx,
        jitter_frames,
        identity,
        next_key: 0,
        next_sock: 0,
        sockets: HashMap::new(),
        by_local: HashMap::new(),
        shared: Vec::new(),
        conns: HashMap::new(),
        by_peer: HashMap::new(),
        by_ufrag: HashMap::new(),
        timers: BinaryHeap::new(),
        touched: Vec::new(),
        outbox: Vec::new(),
        readiness: FuturesUnordered::new(),
        recv: RecvBatch::default(),
        sends_failed: 0,
    };
    for socket in sockets {
        match shard.add_socket(socket, None) {
            Ok(addr) => shard.shared.push(addr),
            Err(e) => warn!(shard = index, error = %e, "media socket unusable"),
        }
    }
    let mut batch = Vec::with_capacity(FRAME_QUEUE);
    loop {
        let next = shard.timers.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(command) => shard.command(command),
                None => break,
            },
            Some(key) = closes.recv() => shard.close(key),
            n = frames.recv_many(&mut batch, FRAME_QUEUE) => {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                for (tag, frame) in batch.drain(..) {
                    let key = ConnKey(tag);
                    if let Some(conn) = shard.conns.get_mut(&key) {
                        conn.c.send_frame(now, &frame);
                        shard.touched.push((key, true));
                    }
                }
            }
            Some(id) = shard.readiness.next(), if !shard.readiness.is_empty() => shard.read(id),
            _ = sleep_until(next), if next.is_some() => shard.fire_timers(),
        }
        shard.flush();
    }
    let keys: Vec<ConnKey> = shard.conns.keys().copied().collect();
    for key in keys {
        shard.close(key);
    }
    shard.flush();
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

impl Shard {
    fn add_socket(
        &mut self,
        socket: std::net::UdpSocket,
        owner: Option<ConnKey>,
    ) -> std::io::Result<SocketAddr> {
        socket.set_nonblocking(true)?;
        let io = Arc::new(UdpSocket::from_std(socket)?);
        let local = io.local_addr()?;
        let id = SockId(self.next_sock);
        self.next_sock = self.next_sock.wrapping_add(1);
        self.sockets.insert(
            id,
            Sock {
                io: io.clone(),
                local,
                owner,
            },
        );
        self.by_local.insert(local, id);
        self.arm(id, io);
        Ok(local)
    }

    fn arm(&mut self, id: SockId, io: Arc<UdpSocket>) {
        self.readiness.push(Box::pin(async move {
            // An error here (the socket closed) shows on the next read.
            let _ = io.readable().await;
            id
        }));
    }

    fn new_key(&mut self) -> ConnKey {
        loop {
            let key = ConnKey(self.next_key);
            self.next_key = self.next_key.wrapping_add(1);
            if !self.conns.contains_key(&key) {
                return key;
            }
        }
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Answer {
                id,
                codec,
                offer,
                reply,
            } => {
                let _ = reply.send(self.answer(now, id, codec, offer));
            }
            Command::Offer { id, codec, reply } => {
                let _ = reply.send(self.offer(now, id, codec));
            }
            Command::AcceptAnswer { key, sdp, reply } => {
                let result = match self.conns.get_mut(&key).map(|c| &mut c.c) {
                    None => Err(MediaError::Transport("the connection is gone".into())),
                    Some(Peer::Lite(_)) => Err(MediaError::Sdp(
                        "this connection answered; it takes no answer".into(),
                    )),
                    Some(Peer::Full(c)) => RTCSessionDescription::answer(sdp)
                        .and_then(|d| c.pc.set_remote_description(now, d))
                        .map_err(|e| MediaError::Sdp(e.to_string())),
                };
                self.touched.push((key, false));
                let _ = reply.send(result);
            }
            Command::AddCandidate {
                key,
                candidate,
                reply,
            } => {
                let result = match self.conns.get_mut(&key).map(|c| &mut c.c) {
                    None => Err(MediaError::Ice("the connection is gone".into())),
                    // ICE-lite takes checks, never makes them: the
                    // browser's candidates reach us as its checks' sources,
                    // so a candidate is only checked for sense.
                    Some(Peer::Lite(_)) => check_candidate(&candidate.candidate),
                    // A browser's mDNS name cannot be resolved here; its
                    // checks reach us anyway, so the candidate is not needed.
                    Some(Peer::Full(_)) if is_mdns(&candidate.candidate) => Ok(()),
                    Some(Peer::Full(c)) => {
                        c.pc.add_remote_candidate(candidate)
                            .map_err(|e| MediaError::Ice(e.to_string()))
                    }
                };
                self.touched.push((key, false));
                let _ = reply.send(result);
            }
        }
    }

    /// The leg a new connection carries, its frames tagged with `key`.
    fn leg(&self, key: ConnKey, id: String, codec: AudioCodec) -> Arc<Leg> {
        Leg::multiplexed(
            id,
            LegKind::WebRtc,
            codec.rate(),
            codec.name().into(),
            self.jitter_frames,
            key.0,
            self.frames_tx.clone(),
        )
    }

    fn answer(
        &mut self,
        now: Instant,
        id: String,
        codec: AudioCodec,
        offer: String,
    ) -> Result<Opened, MediaError> {
        if self.shared.is_empty() {
            return Err(MediaError::Transport("no media socket on this node".into()));
        }
        let key = self.new_key();
        let leg = self.leg(key, id, codec);
        let (c, sdp, state) =
            LiteConnection::answer(&self.identity, &offer, codec, leg.clone(), &self.shared, now)?;
        self.insert_as(key, Peer::Lite(Box::new(c)), Vec::new());
        Ok(Opened { key, sdp, state, leg })
    }

    fn offer(&mut self, now: Instant, id: String, codec: AudioCodec) -> Result<Opened, MediaError> {
        let mut own = Vec::new();
        for ip in &self.client_ips {
            let socket = std::net::UdpSocket::bind(SocketAddr::new(*ip, 0))
                .map_err(|e| MediaError::Transport(format!("bind {ip}: {e}")))?;
            own.push(socket);
        }
        let key = self.new_key();
        let leg = self.leg(key, id, codec);
        let mut ids = Vec::new();
        let mut addrs = Vec::new();
        for socket in own {
            let addr = self
                .add_socket(socket, Some(key))
                .map_err(|e| MediaError::Transport(e.to_string()))?;
            addrs.push(addr);
            ids.push(self.by_local[&addr]);
        }
        let opened = (|| {
            let (mut c, state) = Connection::new(&[codec], codec, leg.clone(), &addrs, now)?;
            let sdp_err = |e: rtc::shared::error::Error| MediaError::Sdp(e.to_string());
            let offer = c.pc.create_offer(None).map_err(sdp_err)?;
            c.pc.set_local_description(now, offer).map_err(sdp_err)?;
            let sdp =
                c.pc.local_description()
                    .map(|d| d.sdp)
                    .ok_or_else(|| MediaError::Transport("no local description".into()))?;
            Ok::<_, MediaError>((c, sdp, state))
        })();
        match opened {
            Ok((c, sdp, state)) => {
                self.insert_as(key, Peer::Full(Box::new(c)), ids);
                Ok(Opened { key, sdp, state, leg })
            }
            Err(e) => {
                for id in ids {
                    self.drop_socket(id);
                }
                Err(e)
            }
        }
    }

    fn insert_as(&mut self, key: ConnKey, c: Peer, own: Vec<SockId>) {
        let ufrag = c.local_ufrag();
        if let Some(u) = &ufrag {
            self.by_ufrag.insert(u.clone(), key);
        }
        self.conns.insert(
            key,
            Conn {
                c,
                own,
                peers: Vec::new(),
                ufrag,
                scheduled: None,
            },
        );
        self.touched.push((key, false));
    }

    fn drop_socket(&mut self, id: SockId) {
        if let Some(sock) = self.sockets.remove(&id) {
            self.by_local.remove(&sock.local);
        }
    }

    fn close(&mut self, key: ConnKey) {
        if let Some(conn) = self.conns.get_mut(&key) {
            conn.c.close(&mut self.outbox);
            // The goodbye leaves before the sockets it goes out on close.
            self.send_outbox();
        }
        self.forget(key);
    }

    fn forget(&mut self, key: ConnKey) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        conn.c.leg().close();
        for peer in conn.peers {
            if self.by_peer.get(&peer) == Some(&key) {
                self.by_peer.remove(&peer);
            }
        }
        if let Some(u) = conn.ufrag {
            if self.by_ufrag.get(&u) == Some(&key) {
                self.by_ufrag.remove(&u);
            }
        }
        for id in conn.own {
            self.drop_socket(id);
        }
        if conn.c.frames_failed() > 0 {
            debug!(shard = self.index, leg = %conn.c.leg().id, frames = conn.c.frames_failed(), "frames not sent");
        }
    }

    /// Reads what waits on socket `id` and hands each datagram to its
    /// connection.
    fn read(&mut self, id: SockId) {
        let Some(sock) = self.sockets.get(&id) else {
            // A closed connection's socket: its last wake-up.
            return;
        };
        let (io, local, owner) = (sock.io.clone(), sock.local, sock.owner);
        let now = Instant::now();
        for _ in 0..READS_PER_TURN {
            match self.recv.recv(&io) {
                Ok(0) => break,
                Ok(n) => {
                    SocketEvent::Received {
                        calls: 1,
                        datagrams: n,
                    }
                    .emit(MediaTransport::WebRtc);
                    let mut unknown = 0;
                    for (from, bytes) in self.recv.datagrams() {
                        let key = owner
                            .or_else(|| self.by_peer.get(&(id, from)).copied())
                            .or_else(|| {
                                let key = stun_ufrag(bytes).and_then(|u| self.by_ufrag.get(&u).copied())?;
                                self.by_peer.insert((id, from), key);
                                self.conns.get_mut(&key)?.peers.push((id, from));
                                Some(key)
                            });
                        match key.and_then(|k| Some((k, self.conns.get_mut(&k)?))) {
                            Some((k, conn)) => {
                                conn.c.receive(now, local, from, bytes);
                                self.touched.push((k, false));
                            }
                            None => unknown += 1,
                        }
                    }
                    if unknown > 0 {
                        SocketEvent::UnknownDropped { datagrams: unknown }.emit(MediaTransport::WebRtc);
                    }
                    if n < udp::BATCH {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors surface here (a peer's port closed); the
                    // socket itself is fine.
                    debug!(shard = self.index, error = %e, "media socket read");
                }
            }
        }
        self.arm(id, io);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(conn) = self.conns.get_mut(&key) {
                if conn.scheduled == Some(at) {
                    conn.scheduled = None;
                    conn.c.timeout(now);
                    self.touched.push((key, false));
                }
            }
        }
    }

    /// Takes every touched connection's outputs and sends the datagrams.
    fn flush(&mut self) {
        let mut touched = std::mem::take(&mut self.touched);
        // By key, a connection's other inputs before its frames (false
        // sorts first), so the first entry per key says how to drain it.
        touched.sort_unstable();
        touched.dedup_by_key(|(key, _)| *key);
        for (key, wrote_only) in touched.drain(..) {
            let Some(conn) = self.conns.get_mut(&key) else {
                continue;
            };
            let from = self.outbox.len();
            let drained = conn.c.drain(&mut self.outbox, wrote_only);
            let deadline = conn.c.deadline();
            if deadline != conn.scheduled {
                if let Some(at) = deadline {
                    self.timers.push(Reverse((at, key)));
                }
                conn.scheduled = deadline;
            }
            // Where a connection sends on a shared socket, the answers come
            // from: route them back to it.
            for d in &self.outbox[from..] {
                if let Some(&id) = self.by_local.get(&d.local) {
                    let shared = self.sockets.get(&id).is_some_and(|s| s.owner.is_none());
                    if shared && !self.by_peer.contains_key(&(id, d.peer)) {
                        self.by_peer.insert((id, d.peer), key);
                        conn.peers.push((id, d.peer));
                    }
                }
            }
            if drained.ended {
                self.send_outbox();
                self.forget(key);
            }
        }
        self.touched = touched;
        self.send_outbox();
    }

    fn send_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        self.outbox.sort_by_key(|d| d.local);
        let mut rest = &self.outbox[..];
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|d| d.local == first.local).count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let Some(sock) = self
                .by_local
                .get(&first.local)
                .and_then(|id| self.sockets.get(id))
            else {
                send_failed(
                    &mut self.sends_failed,
                    self.index,
                    n,
                    "from an address this shard has no socket for",
                );
                continue;
            };
            let packets: Vec<(SocketAddr, &[u8])> = group.iter().map(|d| (d.peer, &d.bytes[..])).collect();
            let failed = udp::send_batch(&sock.io, &packets);
            SocketEvent::Sent {
                calls: 1,
                datagrams: n - failed,
            }
            .emit(MediaTransport::WebRtc);
            if failed > 0 {
                send_failed(
                    &mut self.sends_failed,
                    self.index,
                    failed,
                    "the kernel would not take them",
                );
            }
        }
        self.outbox.clear();
    }
}

/// Datagrams that could not be sent: counted, and the first time on a
/// shard (`so_far` is its tally), a warning: a call losing packets is never
/// silent.
fn send_failed(so_far: &mut u64, shard: usize, datagrams: usize, why: &str) {
    SocketEvent::SendFailed { datagrams }.emit(MediaTransport::WebRtc);
    if *so_far == 0 {
        warn!(
            shard,
            datagrams,
            why,
            "media datagrams could not be sent (counted in hotline_media_datagrams_dropped_total)"
        );
    }
    *so_far += datagrams as u64;
}

/// The username fragment an ICE check is addressed to ("ours:theirs").
fn stun_ufrag(bytes: &[u8]) -> Option<String> {
    // A STUN message: top two bits zero, the magic cookie at 4..8.
    if bytes.len() < 20 || bytes[0] & 0xC0 != 0 || bytes[4..8] != [0x21, 0x12, 0xA4, 0x42] {
        return None;
    }
    let mut message = rtc::stun::message::Message::new();
    message.unmarshal_binary(bytes).ok()?;
    let username = message.get(rtc::stun::attributes::ATTR_USERNAME).ok()?;
    let username = std::str::from_utf8(&username).ok()?;
    Some(username.split(':').next()?.to_string())
}

/// A trickled candidate parses (the empty end-of-candidates one included).
fn check_candidate(candidate: &str) -> Result<(), MediaError> {
    let value = candidate.strip_prefix("candidate:").unwrap_or(candidate);
    if value.is_empty() {
        return Ok(());
    }
    rtc::ice::candidate::unmarshal_candidate(value)
        .map(|_| ())
        .map_err(|e| MediaError::Ice(e.to_string()))
}

fn is_mdns(candidate: &str) -> bool {
    candidate
        .split_whitespace()
        .nth(4)
        .is_some_and(|host| host.ends_with(".local"))
}
