//! The SIP trunk adapter: one task owns the UDP socket (and hears every TCP
//! connection's framed messages) and the sans-IO
//! [`TrunkCore`] (in the style of mini-redis: the state has one owner;
//! call tasks send it commands); each trunk call has its own task that
//! queues the call through `CallService` and follows it.
//!
//! Invariants: the core only sees time through this task's
//! [`MonotonicClock`] (its timers must not jump with the wall clock); every `Incoming` call gets a task, and that task hears how
//! the caller's side ended (`Cancelled`/`Ended`); a call that could not be
//! queued is refused with a final response and never left ringing; the
//! socket task stops at shutdown, after sending what the core had queued.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::dialer::callback_call;
use super::framing::StreamFramer;
use super::guard::Guard;
use super::inbound::trunk_call;
use super::phone::phone;
use super::prompts::KeypadPrompts;
use super::sdes::{SdesCrypto, SrtpKey};
use super::sdp::AudioOffer;
use super::transport::Transport;
use super::trunk::{
    Binding, Dial, Refusal, Registrar, SipCallKey, TrunkCore, TrunkEvent, TrunkSettings, TrunkStats,
};
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::dialer::CallbackDial;
use crate::error::Error;
use crate::ids::CallId;

use crate::media::rtp::{RtpEngine, RtpParams};
use crate::time::MonotonicClock;
use crate::tls::{TlsConn, TlsIncoming};

/// Commands a call task sends to the socket task.
#[derive(Debug)]
pub(super) enum Command {
    Accept {
        key: SipCallKey,
        local_rtp: SocketAddr,
        /// Our SRTP key, when the offer was SRTP.
        srtp: Option<SrtpKey>,
    },
    Reject {
        key: SipCallKey,
        why: Refusal,
    },
    Answer {
        key: SipCallKey,
    },
    Hangup {
        key: SipCallKey,
    },
    /// Place a call; its key comes back on `placed`, what happens to it on
    /// `side`.
    Dial {
        dial: Dial,
        side: mpsc::Sender<CallerSide>,
        placed: oneshot::Sender<SipCallKey>,
    },
    /// A callback's placed call is over (its work item may be dialled again).
    CallbackDone(CallId),
}

/// What a call task hears about the far end.
#[derive(Debug)]
pub(super) enum CallerSide {
    /// The far end cancelled or hung up.
    Gone,
    /// The far end pressed a key (SIP INFO or RFC 4733).
    Key(char),
    /// A call we placed was answered.
    Answered(AudioOffer),
    /// A call we placed was refused (the SIP code) or never answered (408).
    Failed(u16),
}

/// How the gateway runs.
#[derive(Clone, Debug)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// The address our SDP offers for RTP (reachable by the trunk).
    pub media_ip: IpAddr,
    pub rtp_ports: Option<(u16, u16)>,
    pub jitter_frames: usize,
    /// The queued caller's callback key ("" = off).
    pub callback_key: String,
    /// Ask for a rating after the agent hangs up.
    pub survey: bool,
    pub survey_timeout_secs: u64,
    /// Where callbacks are dialled, if hotline dials them.
    pub outbound_proxy: Option<SocketAddr>,
    /// Our caller id on callbacks.
    pub caller_id: String,
    /// A placed call unanswered this long is given up.
    pub ring_timeout_secs: u64,
    /// SIP over TLS: where, and the node's TLS configuration (none: off).
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Refuse trunk calls without SRTP (488).
    pub require_srtp: bool,
}

/// Where the gateway listens.
#[derive(Clone, Copy, Debug)]
pub struct GatewayAddrs {
    /// UDP and TCP.
    pub sip: SocketAddr,
    /// TLS, when on.
    pub tls: Option<SocketAddr>,
}

/// Binds the SIP socket (and the TLS listener) and serves trunk calls
/// until `shutdown`; returns the bound addresses.
pub async fn start(
    settings: GatewaySettings,
    guard: Guard,
    keypad: KeypadPrompts,
    ctx: App,
    dials: mpsc::Receiver<CallbackDial>,
    shutdown: watch::Receiver<bool>,
) -> Result<GatewayAddrs, Error> {
    let (socket, tcp, local) = bind_pair(settings.listen).await?;
    let tls = match &settings.tls {
        Some((listen, config)) => {
            let listener = TcpListener::bind(listen).await.map_err(|e| {
                Error::Unavailable(format!("cannot listen for SIP over TLS on {listen}: {e}"))
            })?;
            let incoming = TlsIncoming::new(listener, config.clone(), "SIP", shutdown.clone())
                .map_err(|e| Error::Unavailable(format!("SIP over TLS on {listen}: {e}")))?;
            Some(incoming)
        }
        None => None,
    };
    let tls_local = tls.as_ref().map(|t| t.local_addr());
    // Contact and Via name an address the trunk can reach.
    let advertise = |a: SocketAddr| {
        if a.ip().is_unspecified() {
            SocketAddr::new(settings.media_ip, a.port())
        } else {
            a
        }
    };
    let mut core = TrunkCore::new(
        TrunkSettings {
            local: advertise(local),
            tls_local: tls_local.map(advertise),
            require_srtp: settings.require_srtp,
            seed: rand::random(),
        },
        guard,
    );
    // Agents' phone accounts as the catalog holds them, kept current by
    // the loop below.
    let accounts = ctx.catalog.read().sip_accounts();
    if !accounts.is_empty() {
        core = core.with_registrar(Registrar::new(accounts));
    }
    info!(%local, "SIP trunk listening (UDP and TCP)");
    if let Some(tls_local) = tls_local {
        info!(%tls_local, require_srtp = settings.require_srtp, "SIP trunk listening (TLS)");
    } else if !local.ip().is_loopback() {
        warn!(%local, "SIP trunk without TLS: signalling is readable on the network and trunks cannot offer SRTP; set [sip] tls_listen");
    }
    let listeners = Listeners { socket, tcp, tls };
    tokio::spawn(run(listeners, core, settings, ctx, keypad, dials, shutdown));
    Ok(GatewayAddrs {
        sip: local,
        tls: tls_local,
    })
}

/// The sockets the socket task reads.
struct Listeners {
    socket: UdpSocket,
    tcp: TcpListener,
    /// SIP over TLS, handshaken.
    tls: Option<TlsIncoming>,
}

/// Binds UDP and TCP on the same address and port (RFC 3261 18: both are
/// required). With port 0 the OS picks the UDP port, which may be taken for
/// TCP: then another is tried.
async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), Error> {
    let attempts = if listen.port() == 0 { 16 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let socket = UdpSocket::bind(listen)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot listen for SIP on {listen}: {e}")))?;
        let local = socket
            .local_addr()
            .map_err(|e| Error::Unavailable(format!("SIP socket address: {e}")))?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((socket, tcp, local)),
            Err(e) => {
                last = Some(Error::Unavailable(format!(
                    "cannot listen for SIP over TCP on {local}: {e}"
                )))
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Unavailable(format!("cannot listen for SIP on {listen}"))))
}

/// What TCP and TLS connections tell the socket task.
enum Stream {
    Opened(SocketAddr, Transport, mpsc::Sender<Vec<u8>>),
    Message(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

/// Concurrent TCP connections; more are refused (a trunk needs a few).
const MAX_CONNECTIONS: usize = 1024;

/// One TCP or TLS connection: framed messages in, the core's replies out.
async fn connection<S>(stream: S, peer: SocketAddr, transport: Transport, to_core: mpsc::Sender<Stream>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    if to_core
        .send(Stream::Opened(peer, transport, out_tx))
        .await
        .is_err()
    {
        return;
    }
    let write = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 8192];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            match framer.next_message() {
                Ok(Some(msg)) => {
                    if to_core.send(Stream::Message(peer, msg)).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    debug!(%peer, error = %e, "closing a SIP connection that cannot be framed");
                    break 'read;
                }
            }
        }
    }
    write.abort();
    let _ = to_core.send(Stream::Closed(peer)).await;
}

#[allow(clippy::too_many_arguments)]
async fn run(
    listeners: Listeners,
    mut core: TrunkCore,
    settings: GatewaySettings,
    ctx: App,
    keypad: KeypadPrompts,
    mut dials: mpsc::Receiver<CallbackDial>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Listeners { socket, tcp, mut tls } = listeners;
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Command>(1024);
    // Catalog changes (phone accounts added, changed or removed).
    let mut catalog = ctx.catalog.subscribe();
    // Accounts read before the catalog was loaded are taken again now.
    catalog.mark_changed();
    let cx = CallContext {
        app: ctx,
        rtp: Arc::new(RtpEngine::start()),
        settings,
        keypad: Arc::new(keypad),
        cmds: cmd_tx,
    };
    // Every call with a task (taken or placed), and how to tell it about the far end.
    let mut calls: HashMap<SipCallKey, mpsc::Sender<CallerSide>> = HashMap::new();
    // Registered agents' phones, each followed by a task while it lives.
    let mut phones: HashMap<String, watch::Sender<Option<Binding>>> = HashMap::new();
    // Callback work items being dialled (each is dialled once at a time).
    let mut dialling: std::collections::HashSet<CallId> = std::collections::HashSet::new();
    // Open TCP and TLS connections by peer: replies to a peer go back on
    // its stream.
    let mut streams: HashMap<SocketAddr, (Transport, mpsc::Sender<Vec<u8>>)> = HashMap::new();
    let (stream_tx, mut stream_rx) = mpsc::channel::<Stream>(1024);
    let mut buf = vec![0u8; 65_536];
    let clock = MonotonicClock::new();
    loop {
        let next = core.poll_timeout();
        let sleep = async move {
            match next {
                Some(at) => {
                    let wait = at.since(clock.now()) + std::time::Duration::from_millis(1);
                    tokio::time::sleep(wait).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => core.handle_datagram(clock.now(), from, &buf[..n]),
                Err(e) => debug!(error = %e, "SIP receive"),
            },
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) if streams.len() < MAX_CONNECTIONS => {
                    tokio::spawn(connection(stream, peer, Transport::Tcp, stream_tx.clone()));
                }
                Ok((_, peer)) => debug!(%peer, "SIP connection refused: too many open"),
                Err(e) => debug!(error = %e, "SIP accept"),
            },
            Some((conn, peer)) = next_tls(&mut tls) => {
                if streams.len() < MAX_CONNECTIONS {
                    tokio::spawn(connection(conn, peer, Transport::Tls, stream_tx.clone()));
                } else {
                    debug!(%peer, "SIP over TLS connection refused: too many open");
                }
            },
            Some(event) = stream_rx.recv() => match event {
                Stream::Opened(peer, transport, tx) => {
                    streams.insert(peer, (transport, tx));
                }
                Stream::Message(peer, msg) => {
                    let transport = streams.get(&peer).map_or(Transport::Tcp, |(t, _)| *t);
                    core.handle_message(clock.now(), peer, transport, &msg);
                }
                Stream::Closed(peer) => {
                    streams.remove(&peer);
                }
            },
            Some(dial) = dials.recv() => match cx.settings.outbound_proxy {
                Some(proxy) if dialling.insert(dial.call.clone()) => {
                    let (cx, call) = (cx.clone(), dial.call.clone());
                    tokio::spawn(async move {
                        callback_call(dial, proxy, cx.clone()).await;
                        let _ = cx.cmds.send(Command::CallbackDone(call)).await;
                    });
                }
                Some(_) => debug!(call = %dial.call, "callback already being dialled"),
                None => debug!(call = %dial.call, "callbacks are dialled by agents here"),
            },
            Some(cmd) = cmd_rx.recv() => {
                let now = clock.now();
                match cmd {
                    Command::CallbackDone(call) => {
                        dialling.remove(&call);
                    }
                    Command::Dial { dial, side, placed } => {
                        let key = core.handle_dial(now, dial);
                        calls.insert(key.clone(), side);
                        let _ = placed.send(key);
                    }
                    Command::Accept { key, local_rtp, srtp } => core.handle_accept(now, &key, local_rtp, srtp),
                    Command::Reject { key, why } => {
                        calls.remove(&key);
                        core.handle_reject(now, &key, why);
                    }
                    Command::Answer { key } => core.handle_answer(now, &key),
                    Command::Hangup { key } => {
                        calls.remove(&key);
                        core.handle_hangup(now, &key);
                    }
                }
            }
            _ = sleep => core.handle_timeout(clock.now()),
            Ok(()) = catalog.changed() => {
                core.set_phone_accounts(cx.app.catalog.read().sip_accounts());
            }
            _ = shutdown.wait_for(|s| *s) => break,
        }
        while let Some(t) = core.poll_transmit() {
            // A peer on TCP hears back on its connection (a full one loses
            // the message; SIP over TCP does not retransmit, the peer's
            // transaction times out).
            if let Some((_, stream)) = streams.get(&t.to) {
                let _ = stream.try_send(t.bytes);
                continue;
            }
            if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                debug!(to = %t.to, error = %e, "SIP send");
            }
        }
        let refused = core.take_stats();
        if refused != TrunkStats::default() {
            crate::metrics::events::sip_refused(&refused);
        }
        while let Some(event) = core.poll_event() {
            match event {
                TrunkEvent::Incoming {
                    key,
                    from_number,
                    to_number,
                    source,
                    transport,
                    offer,
                } => {
                    let (tx, rx) = mpsc::channel(16);
                    calls.insert(key.clone(), tx);
                    let srtp = offer.srtp.map(|c| c.suite.name());
                    info!(sip_call = %key, from = %from_number, to = %to_number, %source, transport = transport.via(), srtp, "trunk call arriving");
                    tokio::spawn(trunk_call(
                        TrunkCall {
                            key,
                            from_number,
                            to_number,
                            params: RtpParams::from(&offer),
                            srtp: offer.srtp,
                        },
                        cx.clone(),
                        rx,
                    ));
                }
                TrunkEvent::Key { key, pressed } => {
                    if let Some(tx) = calls.get(&key) {
                        let _ = tx.try_send(CallerSide::Key(pressed));
                    }
                }
                TrunkEvent::Cancelled { key } | TrunkEvent::Ended { key } => {
                    if let Some(tx) = calls.remove(&key) {
                        let _ = tx.try_send(CallerSide::Gone);
                    }
                }
                TrunkEvent::HoldChanged { key, on_hold } => {
                    debug!(sip_call = %key, on_hold, "trunk hold changed");
                }
                TrunkEvent::DialAnswered { key, answer } => {
                    if let Some(tx) = calls.get(&key) {
                        let _ = tx.try_send(CallerSide::Answered(answer));
                    }
                }
                TrunkEvent::DialFailed { key, code } => {
                    if let Some(tx) = calls.remove(&key) {
                        let _ = tx.try_send(CallerSide::Failed(code));
                    }
                }
                TrunkEvent::PhoneRegistered {
                    user,
                    contact,
                    source,
                } => {
                    info!(agent = %user, %contact, %source, "agent phone registered");
                    let binding = core.phone_of(&user).cloned();
                    let live = phones.get(&user).is_some_and(|tx| !tx.is_closed());
                    match phones.get(&user) {
                        Some(tx) if live => {
                            let _ = tx.send(binding);
                        }
                        _ => {
                            let (tx, rx) = watch::channel(binding);
                            phones.insert(user.clone(), tx);
                            tokio::spawn(phone(crate::ids::AgentId::new(&user), rx, cx.clone()));
                        }
                    }
                }
                TrunkEvent::PhoneUnregistered { user } => {
                    info!(agent = %user, "agent phone unregistered");
                    if let Some(tx) = phones.remove(&user) {
                        let _ = tx.send(None);
                    }
                }
            }
        }
    }
    // Ending: every call on this trunk is hung up.
    let now = clock.now();
    for key in calls.keys() {
        core.handle_hangup(now, key);
    }
    while let Some(t) = core.poll_transmit() {
        match streams.get(&t.to) {
            Some((_, stream)) => {
                let _ = stream.try_send(t.bytes);
            }
            None => {
                let _ = socket.send_to(&t.bytes, t.to).await;
            }
        }
    }
    info!("SIP trunk stopped");
}

/// A call the trunk offered, handed to its own task ([`trunk_call`]).
pub(super) struct TrunkCall {
    pub key: SipCallKey,
    pub from_number: String,
    pub to_number: String,
    pub params: RtpParams,
    /// The far end's SRTP key (an SRTP offer, over TLS).
    pub srtp: Option<SdesCrypto>,
}

/// The next handshaken TLS connection, or never when TLS is off.
async fn next_tls(tls: &mut Option<TlsIncoming>) -> Option<(TlsConn, SocketAddr)> {
    match tls {
        Some(t) => t.accept().await,
        None => std::future::pending().await,
    }
}

/// What a call task needs besides its call.
#[derive(Clone)]
pub(super) struct CallContext {
    pub app: App,
    /// The shards that carry this gateway's RTP legs.
    pub rtp: Arc<RtpEngine>,
    pub settings: GatewaySettings,
    pub keypad: Arc<KeypadPrompts>,
    pub cmds: mpsc::Sender<Command>,
}

/// Places a call through the socket task: its key, and what the far end
/// does; none when the gateway has stopped.
pub(super) async fn place(cx: &CallContext, dial: Dial) -> Option<(SipCallKey, mpsc::Receiver<CallerSide>)> {
    let (side_tx, side) = mpsc::channel(16);
    let (placed_tx, placed) = oneshot::channel();
    cx.cmds
        .send(Command::Dial {
            dial,
            side: side_tx,
            placed: placed_tx,
        })
        .await
        .ok()?;
    let key = placed.await.ok()?;
    Some((key, side))
}

/// The gateway acting for the phone network: a telephony principal of
/// this node (the in-process twin of the web demo's caller page).
pub(super) fn trunk_principal() -> Principal {
    Principal {
        sub: "sip-trunk".into(),
        role: Role::Telephony,
    }
}

/// The gateway acting for `agent`: the agent whose phone authenticated as
/// them, or for whom it dials a callback they accepted.
pub(super) fn agent_principal(agent: &crate::ids::AgentId) -> Principal {
    Principal {
        sub: agent.to_string(),
        role: Role::Agent,
    }
}
