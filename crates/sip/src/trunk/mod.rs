//! The trunk's user-agent server as a sans-IO state machine (in the style of
//! str0m and quinn-proto): datagrams and decisions go in with the time,
//! datagrams to send and call events come out, timers are polled. No
//! sockets, no clock, no unseeded randomness.
//!
//! A trunk call: INVITE -> 100 Trying -> (the call is queued) 180 Ringing
//! with our SDP, so the caller hears hold music and announcements as early
//! media -> 200 OK with the same SDP when an agent answers -> ACK. Either
//! side may end it: the caller by CANCEL before the answer (an abandon; the
//! INVITE gets 487) or BYE after it, we by a final error before the answer
//! or BYE after it.
//!
//! Invariants (RFC 3261 over UDP):
//! - a retransmitted INVITE gets the last response again; a request of a
//!   call we do not know gets 481 (BYE, CANCEL) or is absorbed (ACK);
//! - our 200 OK is retransmitted from T1 doubling to T2 until the ACK, and
//!   after 64*T1 without one the call ends (a BYE is sent);
//! - a final error to an INVITE is retransmitted the same way until its
//!   ACK, for at most 64*T1;
//! - our BYE is retransmitted from T1 doubling to T2 until a final
//!   response, for at most 64*T1;
//! - a call is forgotten 64*T1 after it ended, so late retransmissions are
//!   still answered from memory;
//! - every call event is emitted once: `Incoming` once per call,
//!   `Cancelled` or `Ended` once per call that was `Incoming`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::digest::Challenger;
use super::guard::{Guard, Kind, Verdict};
use super::message::{self, Method, Request, Response, ResponseParts};
use super::sdes::{SdesCrypto, SrtpKey};
use super::sdp::AudioOffer;
use super::transport::Transport;
use hotline_time::{Monotonic, TimerQueue};

mod dialog;
mod outbound;
mod registrar;
mod timers;
mod uas;

pub use outbound::Dial;
use outbound::OutCall;
pub use registrar::{Binding, Registrar, MAX_EXPIRES, MIN_EXPIRES};

/// RFC 3261 T1 (round-trip estimate) and T2 (maximum retransmit interval).
pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);

/// A trunk call's key: its SIP Call-ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SipCallKey(pub String);

impl std::fmt::Display for SipCallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the core tells its adapter.
#[derive(Clone, Debug, PartialEq)]
pub enum TrunkEvent {
    /// A new call: queue it, open its RTP leg, then `handle_accept` (or
    /// `handle_reject`).
    Incoming {
        key: SipCallKey,
        /// The caller's number (From user part).
        from_number: String,
        /// The dialled number (Request-URI user part).
        to_number: String,
        source: SocketAddr,
        /// How its signalling came (TLS: its SDP keys were not overheard).
        transport: Transport,
        offer: AudioOffer,
    },
    /// The caller gave up before the answer (CANCEL).
    Cancelled { key: SipCallKey },
    /// The call is over: the caller's BYE, or our 200 OK never acknowledged.
    Ended { key: SipCallKey },
    /// The caller pressed a key, signalled by SIP INFO (RFC 4733 keys
    /// arrive on the RTP leg).
    Key { key: SipCallKey, pressed: char },
    /// The caller put us on hold or took us off (re-INVITE).
    HoldChanged { key: SipCallKey, on_hold: bool },
    /// A call we placed was answered (and acknowledged).
    DialAnswered { key: SipCallKey, answer: AudioOffer },
    /// A call we placed was refused (the final code) or never answered
    /// (408).
    DialFailed { key: SipCallKey, code: u16 },
    /// An agent's phone registered (or moved).
    PhoneRegistered {
        user: String,
        contact: String,
        source: SocketAddr,
    },
    /// An agent's phone registration lapsed or was withdrawn.
    PhoneUnregistered { user: String },
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Queued: 100 or 180 sent, no final response yet.
    Early,
    /// 200 OK sent; waiting for its ACK.
    Answered,
    /// ACK received: the call is up.
    Confirmed,
    /// Ended; kept to answer retransmissions until forgotten.
    Ended,
}

/// A retransmitted message and its schedule.
#[derive(Clone, Debug)]
pub(crate) struct Retransmit {
    bytes: Vec<u8>,
    interval: Duration,
    give_up_at: Monotonic,
}

impl Retransmit {
    /// First sent at `now`: resent from T1, given up after 64*T1.
    fn new(bytes: Vec<u8>, now: Monotonic) -> Self {
        Retransmit {
            bytes,
            interval: T1,
            give_up_at: now.plus(T1 * 64),
        }
    }

    /// Due at `now`: when to resend next (the interval doubled up to T2,
    /// never past the give-up time), or none when it is time to give up.
    fn next(&mut self, now: Monotonic) -> Option<Monotonic> {
        if now >= self.give_up_at {
            return None;
        }
        self.interval = (self.interval * 2).min(T2);
        Some(now.plus(self.interval).min(self.give_up_at))
    }
}

struct Call {
    state: State,
    invite: Request,
    source: SocketAddr,
    /// The transport the INVITE came on; the dialog stays on it.
    transport: Transport,
    /// SRTP: the far end's key (from its offer) and ours (from the
    /// adapter), kept so a re-INVITE is answered with the same keys.
    srtp: Option<(SdesCrypto, SrtpKey)>,
    local_tag: String,
    /// Our SDP, once accepted.
    local_sdp: Option<String>,
    /// The last response to the INVITE, resent on its retransmissions.
    last_invite_response: Option<Vec<u8>>,
    /// The 200 OK or final error awaiting its ACK.
    awaiting_ack: Option<Retransmit>,
    /// Our BYE awaiting its final response.
    bye: Option<(String, Retransmit)>,
    /// Our next CSeq for requests we send in the dialog.
    local_cseq: u32,
    /// The adapter was told about this call (and must hear how it ends).
    announced: bool,
    /// The trunk it came from (for its concurrent-call cap).
    trunk: Option<String>,
    sdp_version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Resend what awaits an ACK.
    AckWait(SipCallKey),
    /// Resend our BYE.
    Bye(SipCallKey),
    /// Forget an ended call (taken or placed).
    Forget(SipCallKey),
    /// Resend a placed call's INVITE, or give up on it.
    Invite(SipCallKey),
    /// Resend a placed call's CANCEL or BYE.
    OutRequest(SipCallKey),
    /// A phone's registration may have lapsed.
    Registration(String),
}

/// How the core names itself.
#[derive(Clone, Debug)]
pub struct TrunkSettings {
    /// Our address on the trunk, for Contact and Via.
    pub local: SocketAddr,
    /// Our SIP-over-TLS listener's address, for Contact on TLS calls.
    pub tls_local: Option<SocketAddr>,
    /// Refuse trunk calls without SRTP (488): every call's audio is
    /// encrypted, so every call comes over TLS.
    pub require_srtp: bool,
    /// Seeds tags and branches (tests pass a fixed one).
    pub seed: u64,
}

/// What the core refused or dropped since last asked (for the metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrunkStats {
    /// From no configured trunk: dropped unanswered.
    pub unknown_source: u64,
    /// Over a source's rate: dropped unanswered.
    pub rate_limited: u64,
    /// A trunk at its concurrent-call cap: refused 503.
    pub over_capacity: u64,
    /// Malformed requests (answered 400 when possible).
    pub malformed: u64,
    /// INVITEs without valid credentials from a trunk that needs them (401).
    pub unauthenticated: u64,
    /// SRTP offers over a transport that exposes their keys (488).
    pub sdes_not_over_tls: u64,
    /// Plain RTP offers while SRTP is required (488).
    pub srtp_required: u64,
}

pub struct TrunkCore {
    settings: TrunkSettings,
    /// Who may send, how fast.
    guard: Guard,
    /// Digest challenges for trunks with credentials (a secret of this process).
    challenger: Challenger,
    stats: TrunkStats,
    rng: SmallRng,
    /// Calls the trunk sent us.
    calls: HashMap<SipCallKey, Call>,
    /// Calls we placed (callbacks, agents' phones).
    outbound: HashMap<SipCallKey, OutCall>,
    /// Agents' phones, when agents may register one.
    registrar: Option<Registrar>,
    timers: TimerQueue<Monotonic, Timer>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TrunkEvent>,
}

/// Why a call is refused (the final response code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No entry point for the dialled number (404).
    UnknownNumber,
    /// The queue is full or closed (486).
    Busy,
    /// We cannot take calls now (503).
    Unavailable,
    /// The call ended before it was answered, on our side (480).
    Ended,
}

impl Refusal {
    fn code(self) -> u16 {
        match self {
            Refusal::UnknownNumber => 404,
            Refusal::Busy => 486,
            Refusal::Unavailable => 503,
            Refusal::Ended => 480,
        }
    }
}

impl TrunkCore {
    /// Agents may register phones (with these accounts).
    pub fn with_registrar(mut self, registrar: Registrar) -> Self {
        self.registrar = Some(registrar);
        self
    }

    /// The phone accounts changed: REGISTER is served while there are any
    /// (405 otherwise, as for a trunk that takes no phones).
    pub fn set_phone_accounts(&mut self, accounts: std::collections::HashMap<String, String>) {
        match &mut self.registrar {
            Some(r) => r.set_accounts(accounts),
            None if !accounts.is_empty() => self.registrar = Some(Registrar::new(accounts)),
            None => {}
        }
    }

    pub fn new(settings: TrunkSettings, guard: Guard) -> Self {
        let mut rng = SmallRng::seed_from_u64(settings.seed);
        let secret = format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>());
        TrunkCore {
            guard,
            challenger: Challenger::new(secret),
            stats: TrunkStats::default(),
            rng,
            settings,
            calls: HashMap::new(),
            outbound: HashMap::new(),
            registrar: None,
            timers: TimerQueue::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TrunkEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Monotonic> {
        self.timers.next_at()
    }

    /// Calls the core remembers (live or recently ended).
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Our Contact on `transport` (TLS has its own listener).
    fn contact(&self, transport: Transport) -> String {
        match (transport, self.settings.tls_local) {
            (Transport::Tls, Some(tls)) => transport.contact(tls),
            _ => transport.contact(self.settings.local),
        }
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { to, bytes });
    }

    /// What was dropped or refused since the last call.
    pub fn take_stats(&mut self) -> TrunkStats {
        std::mem::take(&mut self.stats)
    }

    /// One datagram from `from`.
    pub fn handle_datagram(&mut self, now: Monotonic, from: SocketAddr, bytes: &[u8]) {
        self.handle_message(now, from, Transport::Udp, bytes);
    }

    /// One message from `from`: a datagram, or one framed from a TCP or
    /// TLS connection (replies to `from` go back on that connection).
    pub fn handle_message(&mut self, now: Monotonic, from: SocketAddr, transport: Transport, bytes: &[u8]) {
        // The guard first, on the request line alone: strangers and floods
        // cost no parsing.
        let kind = if bytes.starts_with(b"INVITE ") {
            Kind::Invite
        } else if bytes.starts_with(b"REGISTER ") {
            Kind::Register
        } else if bytes.starts_with(b"OPTIONS ") {
            Kind::Options
        } else {
            Kind::Other
        };
        // Agents' phones and the far ends of calls we placed are not trunks
        // but are let through the allow-list (still rate-limited).
        let ip = from.ip();
        // Asked only of sources outside the trunks' lists (the scans are
        // not for every datagram of a trunk).
        let open = self.guard.lists_trunks()
            && self.guard.trunk_of(ip).is_none()
            && (self
                .registrar
                .as_ref()
                .is_some_and(|r| kind == Kind::Register || r.knows_source(ip))
                || self.outbound.values().any(|c| c.next_hop().ip() == ip));
        let trunk = match self.guard.check(now, ip, kind, open) {
            Verdict::Admit(trunk) => trunk,
            Verdict::Unknown => {
                self.stats.unknown_source += 1;
                return;
            }
            Verdict::Limited => {
                self.stats.rate_limited += 1;
                return;
            }
        };
        match message::parse(bytes) {
            Ok(message::Message::Request(req)) => self.handle_request(now, from, transport, trunk, *req),
            Ok(message::Message::Response(resp)) => self.handle_response(now, resp),
            Err(e) => {
                self.stats.malformed += 1;
                if let Some(reply) = message::bad_request(bytes, &e.to_string()) {
                    self.send(from, reply);
                }
            }
        }
    }

    /// Live calls from `trunk`.
    fn calls_of(&self, trunk: &str) -> u32 {
        self.calls
            .values()
            .filter(|c| c.state != State::Ended && c.trunk.as_deref() == Some(trunk))
            .count() as u32
    }

    fn reply(&mut self, to: SocketAddr, req: &Request, code: u16, parts: ResponseParts<'_>) -> Vec<u8> {
        let bytes = message::write_response(req, code, &parts);
        self.send(to, bytes.clone());
        bytes
    }

    fn handle_request(
        &mut self,
        now: Monotonic,
        from: SocketAddr,
        transport: Transport,
        trunk: Option<String>,
        req: Request,
    ) {
        let key = SipCallKey(req.call_id.clone());
        if req.method != Method::Register && self.handle_out_request(now, from, &req) {
            return;
        }
        match req.method {
            Method::Register if self.registrar.is_some() => self.handle_register(now, from, req),
            Method::Invite => self.handle_invite(now, from, transport, trunk, key, req),
            Method::Ack => self.handle_ack(now, key, &req),
            Method::Cancel => self.handle_cancel(now, from, key, req),
            Method::Bye => self.handle_bye(now, from, key, req),
            Method::Options => {
                self.reply(
                    from,
                    &req,
                    200,
                    ResponseParts {
                        allow: true,
                        ..Default::default()
                    },
                );
            }
            Method::Info => {
                let live = self
                    .calls
                    .get(&key)
                    .is_some_and(|c| c.state != State::Ended && c.announced);
                if !live {
                    self.reply(from, &req, 481, ResponseParts::default());
                    return;
                }
                let pressed = message::info_key(&req);
                self.reply(from, &req, 200, ResponseParts::default());
                if let Some(key_char) = pressed {
                    self.events.push_back(TrunkEvent::Key {
                        key,
                        pressed: key_char,
                    });
                }
            }
            Method::Register | Method::Other => {
                self.reply(
                    from,
                    &req,
                    405,
                    ResponseParts {
                        allow: true,
                        ..Default::default()
                    },
                );
            }
        }
    }

    fn handle_response(&mut self, now: Monotonic, resp: Response) {
        if self.outbound.contains_key(&SipCallKey(resp.call_id.clone())) {
            self.handle_out_response(now, resp);
            return;
        }
        if resp.method != Method::Bye || resp.code < 200 {
            return;
        }
        let key = SipCallKey(resp.call_id);
        if let Some(call) = self.calls.get_mut(&key) {
            if call
                .bye
                .as_ref()
                .is_some_and(|(branch, _)| *branch == resp.branch)
            {
                call.bye = None;
            }
        }
    }

    /// Marks the call ended (announcing it once) and schedules forgetting it.
    fn end(&mut self, now: Monotonic, key: &SipCallKey) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if call.state == State::Ended {
            return;
        }
        call.state = State::Ended;
        call.awaiting_ack = None;
        if std::mem::take(&mut call.announced) {
            self.events.push_back(TrunkEvent::Ended { key: key.clone() });
        }
        self.timers.arm(now.plus(T1 * 64), Timer::Forget(key.clone()));
    }

    /// Sends `bytes` (a final response to an INVITE) to the call's source
    /// and resends it until the ACK.
    fn await_ack(&mut self, now: Monotonic, key: &SipCallKey, bytes: Vec<u8>) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        call.awaiting_ack = Some(Retransmit::new(bytes.clone(), now));
        let to = call.source;
        self.send(to, bytes);
        self.timers.arm(now.plus(T1), Timer::AckWait(key.clone()));
    }

    /// A final error to the INVITE, retransmitted until its ACK.
    fn final_error(&mut self, now: Monotonic, key: &SipCallKey, code: u16) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let bytes = message::write_response(
            &call.invite,
            code,
            &ResponseParts {
                to_tag: Some(&call.local_tag),
                ..Default::default()
            },
        );
        call.state = State::Ended;
        call.last_invite_response = Some(bytes.clone());
        self.await_ack(now, key, bytes);
        self.timers.arm(now.plus(T1 * 64), Timer::Forget(key.clone()));
    }
}

impl Call {
    fn new(invite: Request, source: SocketAddr, local_tag: String, state: State) -> Self {
        Call {
            state,
            invite,
            source,
            transport: Transport::Udp,
            srtp: None,
            local_tag,
            local_sdp: None,
            last_invite_response: None,
            awaiting_ack: None,
            bye: None,
            local_cseq: 0,
            announced: false,
            trunk: None,
            sdp_version: 1,
        }
    }
}

/// The SDP session id: stable per call, from our tag.
fn session_id(tag: &str) -> u64 {
    u64::from_str_radix(tag.get(..12).unwrap_or("1"), 16).unwrap_or(1)
}

/// The RTP address our SDP names.
fn local_rtp_of(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| {
            l.strip_prefix("c=IN IP4 ")
                .or_else(|| l.strip_prefix("c=IN IP6 "))
        })?
        .trim()
        .parse()
        .ok()?;
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port))
}
