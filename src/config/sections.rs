//! The configuration's sections other than the directory: server, auth,
//! logs, store, metrics, web, SIP, callbacks, reports, quality, cluster,
//! presence and media.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// gRPC (and grpc-web) listen address.
    pub grpc_listen: SocketAddr,
    /// On shutdown, how long open requests and streams get to finish before
    /// their connections are closed.
    pub shutdown_grace_secs: u64,
    /// On shutdown, how long health reports NOT_SERVING while everything
    /// still serves, before the engine stops and the listeners close: the
    /// time load balancers and clients need to see it and move away.
    pub drain_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shutdown_grace_secs: 5,
            drain_secs: 5,
        }
    }
}

/// TURN (and STUN) servers the WebRTC pages connect through, for agents
/// and callers behind NAT with no direct path to the server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TurnConfig {
    /// turn: / turns: URLs of one TURN service (e.g. coturn), e.g.
    /// "turn:turn.example.com:3478?transport=udp"; empty: no TURN.
    pub urls: Vec<String>,
    /// The secret shared with the TURN service (coturn's
    /// static-auth-secret): credentials are made from it per request.
    pub secret: String,
    /// How long handed-out credentials work: a softphone connects once per
    /// shift and refreshes its allocation with them, so a shift's length
    /// (12 hours).
    pub ttl_secs: u64,
    /// stun: URLs, handed out as they are.
    pub stun_urls: Vec<String>,
    /// Pages use relayed candidates only: no agent's own address is ever
    /// offered (and media always goes through TURN).
    pub relay_only: bool,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            urls: Vec::new(),
            secret: String::new(),
            ttl_secs: 43_200,
            stun_urls: Vec::new(),
            relay_only: false,
        }
    }
}

/// TLS on every listener (gRPC and grpc-web, the web app, metrics) and
/// for calls to other nodes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain (PEM) the listeners present; "" = plain text.
    /// Reloaded when the file changes.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Certificates (PEM) this node trusts, besides the public roots, when
    /// it calls other nodes (e.g. `hotline dev-cert`'s ca.pem).
    pub ca_file: PathBuf,
}

impl TlsConfig {
    /// The listeners' TLS, or none for plain text.
    pub fn server(&self) -> Result<Option<crate::tls::ServerTls>, crate::tls::TlsError> {
        crate::tls::ServerTls::from_files(&self.cert_file, &self.key_file)
    }

    /// How this process calls hotline servers: over TLS when it serves TLS
    /// (a cluster is TLS throughout or not at all).
    pub fn peers(&self) -> crate::tls::PeerTls {
        if self.cert_file.as_os_str().is_empty() {
            crate::tls::PeerTls::plain()
        } else {
            crate::tls::PeerTls::trusting(self.ca_file.clone())
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret for bearer tokens; at least 16 bytes.
    pub secret: String,
    /// How often a node reads the revoked sign-ins: a revocation made on
    /// another node is enforced here within this time (at most 30 s, so
    /// "signed out everywhere" holds within a minute).
    pub revocation_poll_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            secret: String::new(),
            revocation_poll_ms: 1_000,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory` (embedded, single node) or `redis://host:port/db` (shared).
    pub url: String,
    /// Ended calls kept for ListCalls and GetCall.
    pub memory_max_ended_calls: usize,
    /// Redis key namespace (hash tag), so deployments can share a server.
    pub namespace: String,
    /// A Redis command not answered in this time fails (UNAVAILABLE).
    pub redis_timeout_ms: u64,
    /// The embedded store's file (callbacks, contacts, ended calls,
    /// recordings' metadata, grades, surveys); empty = keep nothing on disk.
    pub data_file: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "memory".into(),
            memory_max_ended_calls: 200_000,
            namespace: "hotline".into(),
            redis_timeout_ms: 1000,
            data_file: "data/hotline.redb".into(),
        }
    }
}

/// The Prometheus endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` here; "" = no metrics listener.
    pub listen: String,
    /// How often the quality gauges (FCR, satisfaction, scorecard) are
    /// computed from the store.
    pub quality_every_secs: u64,
    /// The span of contacts the quality gauges cover (a rolling day).
    pub quality_window_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9464".into(),
            quality_every_secs: 60,
            quality_window_secs: 86_400,
        }
    }
}

/// A listen address that may be off (""); the error names `key`.
fn optional_addr(key: &str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|e| invalid(key, format!("{value:?}: {e}")))
}

impl MetricsConfig {
    /// The address to listen on, if any.
    pub fn addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        optional_addr("metrics.listen", &self.listen)
    }
}

/// The browser app: agent softphone, supervisor console, caller test page,
/// and grpc-web for them on the same origin.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the pages here; "" = no web listener.
    pub listen: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

impl WebConfig {
    /// The address to listen on, if any.
    pub fn addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        optional_addr("web.listen", &self.listen)
    }
}

/// The SIP trunk (phone-network calls).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Take trunk calls over UDP here, e.g. "0.0.0.0:5060"; "" = off.
    pub listen: String,
    /// Take trunk calls over TLS here too, e.g. "0.0.0.0:5061", with the
    /// node's `[tls]` certificate; "" = off. Only over TLS may a trunk
    /// offer SRTP (SDES keys travel in its SDP).
    pub tls_listen: String,
    /// Refuse trunk calls whose audio is not SRTP (488), so every call's
    /// audio is encrypted (and every call comes over TLS).
    pub require_srtp: bool,
    /// The address our SDP gives trunks for RTP; empty: the listen address
    /// (or the first of media.ips, or 127.0.0.1, when listening on every
    /// interface). RTP ports come from media.udp_ports.
    pub media_ip: String,
    /// The key a queued caller presses to be called back instead of
    /// waiting, keeping their place; "" = off.
    pub callback_key: String,
    /// After the agent hangs up, ask the caller for a 1-5 rating.
    pub survey: bool,
    /// How long the survey waits for a key.
    pub survey_timeout_secs: u64,
    /// Keypad menus by dialled number: the caller picks an entry point.
    /// They seed the admin catalog (see the README); after that the
    /// catalog's menus are the ones played.
    pub menus: BTreeMap<String, MenuConfig>,
    /// Where keypad menus' own recordings are (a menu's `prompt` names a
    /// file in this folder). Each node reads its own copy.
    pub prompts_dir: PathBuf,
    /// The trunks allowed to call in; empty: any source (a lab setup).
    pub trunks: Vec<SipTrunkConfig>,
    /// Per-source request rates.
    pub limits: SipLimitsConfig,
    /// Calls we place through the trunk (callbacks).
    pub outbound: SipOutboundConfig,
}

/// Where callbacks are dialled: when an agent accepts a callback, hotline
/// calls the customer through this proxy and bridges the call to the agent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipOutboundConfig {
    /// The trunk's proxy (host:port as an IP address); "" = agents dial
    /// callbacks themselves.
    pub proxy: String,
    /// The caller id the customer sees (our From user).
    pub caller_id: String,
    /// A callback unanswered this long is given up (no answer).
    pub ring_timeout_secs: u64,
}

impl Default for SipOutboundConfig {
    fn default() -> Self {
        SipOutboundConfig {
            proxy: String::new(),
            caller_id: "hotline".into(),
            ring_timeout_secs: 30,
        }
    }
}

impl SipOutboundConfig {
    /// The proxy's address, if callbacks are dialled.
    pub fn proxy_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        optional_addr("sip.outbound.proxy", &self.proxy)
    }
}

/// A trunk (carrier or PBX) allowed to send calls.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SipTrunkConfig {
    pub name: String,
    /// Addresses or networks its requests come from, e.g. "192.0.2.0/24".
    pub sources: Vec<String>,
    /// Concurrent calls it may hold; 0 = no cap.
    pub max_calls: u32,
    /// Digest credentials its INVITEs must carry; both or neither (a
    /// password is better set with HOTLINE_SIP__TRUNKS... or a secret file).
    pub username: String,
    pub password: String,
}

/// Requests per second (and burst) each source may send, by kind; beyond
/// them requests are dropped unanswered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipLimitsConfig {
    pub invite_per_sec: f64,
    pub invite_burst: f64,
    pub register_per_sec: f64,
    pub register_burst: f64,
    pub options_per_sec: f64,
    pub options_burst: f64,
    /// ACK, BYE, CANCEL, INFO and responses.
    pub other_per_sec: f64,
    pub other_burst: f64,
}

impl Default for SipLimitsConfig {
    fn default() -> Self {
        SipLimitsConfig {
            invite_per_sec: 50.0,
            invite_burst: 100.0,
            register_per_sec: 5.0,
            register_burst: 20.0,
            options_per_sec: 5.0,
            options_burst: 20.0,
            other_per_sec: 500.0,
            other_burst: 1000.0,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: String::new(),
            tls_listen: String::new(),
            require_srtp: false,
            media_ip: String::new(),
            callback_key: "*".into(),
            survey: true,
            survey_timeout_secs: 10,
            menus: BTreeMap::new(),
            prompts_dir: PathBuf::from("/etc/hotline/prompts"),
            trunks: Vec::new(),
            limits: SipLimitsConfig::default(),
            outbound: SipOutboundConfig::default(),
        }
    }
}

/// A keypad menu ("press 1 for billing, 2 for repairs").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MenuConfig {
    /// What the caller hears: "builtin" ("please choose a service on your
    /// keypad") or the name of a WAV, MP3 or OGG file in `prompts_dir`
    /// saying the options.
    pub prompt: String,
    /// Key -> dialled number of an entry point (which picks the queue).
    pub options: BTreeMap<String, String>,
    /// How long to wait for a key after the prompt.
    pub timeout_secs: u64,
    /// Where a caller who presses no listed key goes (an entry point's
    /// number); "" = the call is refused.
    pub default: String,
}

impl Default for MenuConfig {
    fn default() -> Self {
        MenuConfig {
            prompt: "builtin".into(),
            options: BTreeMap::new(),
            timeout_secs: 8,
            default: String::new(),
        }
    }
}

pub(super) use hotline_core::catalog::is_key;

impl SipConfig {
    /// The trunks and limits the guard applies.
    pub fn guard(&self) -> hotline_sip::guard::Guard {
        use hotline_sip::guard::{Guard, Limits, Network, Rate, Trunk};
        let rate = |per_second, burst| Rate { per_second, burst };
        let l = &self.limits;
        Guard::new(
            self.trunks
                .iter()
                .map(|t| Trunk {
                    name: t.name.clone(),
                    sources: t.sources.iter().filter_map(|s| Network::parse(s)).collect(),
                    max_calls: t.max_calls,
                    credentials: (!t.username.is_empty()).then(|| (t.username.clone(), t.password.clone())),
                })
                .collect(),
            Limits {
                invite: rate(l.invite_per_sec, l.invite_burst),
                register: rate(l.register_per_sec, l.register_burst),
                options: rate(l.options_per_sec, l.options_burst),
                other: rate(l.other_per_sec, l.other_burst),
            },
        )
    }

    /// Where to listen, if on.
    pub fn addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        optional_addr("sip.listen", &self.listen)
    }

    /// Where to listen for SIP over TLS, if on.
    pub fn tls_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        optional_addr("sip.tls_listen", &self.tls_listen)
    }

    /// The RTP address for SDP.
    pub fn media_ip(&self, media: &MediaConfig) -> Result<std::net::IpAddr, ConfigError> {
        if !self.media_ip.is_empty() {
            return self.media_ip.parse().map_err(|_| {
                invalid(
                    "sip.media_ip",
                    format!("{:?} is not an IP address", self.media_ip),
                )
            });
        }
        if let Some(a) = self.addr()?.filter(|a| !a.ip().is_unspecified()) {
            return Ok(a.ip());
        }
        Ok(media
            .ip_addrs()?
            .into_iter()
            .next()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()))
    }
}

/// The callback promise's timing (per-queue deadlines are queue settings).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksConfig {
    /// Supervisors are warned this long before a deadline (30 minutes).
    pub warn_before_secs: u64,
    /// Back-off after the first unanswered attempt, doubled each time.
    pub retry_after_secs: u64,
    pub max_retry_after_secs: u64,
    /// A request must close this long after its work is done (2 hours).
    pub close_within_secs: u64,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            warn_before_secs: 30 * 60,
            retry_after_secs: 10 * 60,
            max_retry_after_secs: 60 * 60,
            close_within_secs: 2 * 3600,
        }
    }
}

impl CallbacksConfig {
    pub fn tracker(&self) -> crate::callback::TrackerSettings {
        crate::callback::TrackerSettings {
            warn_before: Duration::from_secs(self.warn_before_secs),
            retry_after: Duration::from_secs(self.retry_after_secs),
            max_retry_after: Duration::from_secs(self.max_retry_after_secs),
            close_within: Duration::from_secs(self.close_within_secs),
        }
    }
}

/// Report rules.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// Abandons shorter than this are not counted as abandoned.
    pub short_abandon_secs: u64,
    /// Observed FCR: a repeat contact within this many days means the
    /// first was not resolved (7; SQM Group uses 30).
    pub fcr_window_days: u64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            short_abandon_secs: 5,
            fcr_window_days: 7,
        }
    }
}

/// Quality grading.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// The scorecard GradeCall uses when the request names none.
    pub scorecard: crate::quality::Scorecard,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            scorecard: crate::quality::Scorecard::default_call_quality(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name; empty: a fresh one per start.
    pub node_id: String,
    /// host:port where other nodes reach this node; empty: the bound address.
    pub advertise: String,
    /// The routing lease: a routing node that dies is replaced within this.
    pub lease_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            node_id: String::new(),
            advertise: String::new(),
            lease_ms: 3000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// A logged-in agent with no softphone event stream for this long is
    /// logged out and gets no more offers; 0 turns the check off.
    pub grace_secs: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { grace_secs: 30 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Root of the recordings, `YYYY/MM/DD/<call-id>.wav` below it.
    pub recordings_dir: PathBuf,
    /// Recordings older than this many days are deleted by an hourly sweep;
    /// 0 keeps them forever.
    pub retention_days: u64,
    /// The WAV header is rewritten at least this often, so a crash loses at
    /// most this much of a call's recording.
    pub flush_ms: u64,
    /// What waiting and held callers hear: "builtin" or a WAV, MP3 or OGG file.
    pub hold_music: String,
    /// Waiting callers hear their place in the queue and the estimated wait
    /// after this many seconds of music (counted from the end of the last
    /// announcement); 0 turns announcements off.
    pub announce_every_secs: u64,
    /// Jitter buffer depth in 20 ms frames.
    pub jitter_frames: usize,
    /// UDP port range for media, "lo-hi"; empty lets the OS choose.
    pub udp_ports: String,
    /// Addresses offered as ICE candidates; empty offers every interface.
    pub ips: Vec<String>,
    /// Offer loopback candidates too (single-machine setups and tests).
    pub include_loopback: bool,
    /// How long a connected call waits for its agent's audio (softphone on
    /// this node or relayed from another; a SIP phone's leg appears as it
    /// answers) before the caller goes back to the queue and the agent goes
    /// not ready (milliseconds).
    pub agent_audio_grace_ms: u64,
    /// Where finished recordings are kept: "local" (this node's
    /// `recordings_dir`) or `s3://bucket/prefix` (S3-compatible object
    /// storage shared by every node; `recordings_dir` is then the spool).
    pub storage: String,
    /// Options of the object storage (object_store's S3 keys: `endpoint`,
    /// `region`, `aws_allow_http`, `access_key_id`, `secret_access_key`);
    /// credentials not given here come from the `AWS_*` environment.
    pub storage_options: BTreeMap<String, String>,
    /// Seal every new recording (AES-256-GCM under its own data key,
    /// wrapped by the first key of this file; `hotline recording-key`
    /// makes a line). Every node needs the same file: any node plays any
    /// recording. "" = plain WAV files.
    pub recording_keys_file: PathBuf,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            recordings_dir: PathBuf::from("recordings"),
            retention_days: 90,
            flush_ms: 500,
            hold_music: "builtin".into(),
            announce_every_secs: 30,
            jitter_frames: 3,
            udp_ports: String::new(),
            ips: Vec::new(),
            include_loopback: false,
            agent_audio_grace_ms: 3000,
            storage: "local".into(),
            storage_options: BTreeMap::new(),
            recording_keys_file: PathBuf::new(),
        }
    }
}

impl MediaConfig {
    /// The UDP port range, if one is set.
    pub fn port_range(&self) -> Result<Option<(u16, u16)>, ConfigError> {
        if self.udp_ports.is_empty() {
            return Ok(None);
        }
        let bad = || invalid("media.udp_ports", "expected \"low-high\", e.g. \"20000-29999\"");
        let (lo, hi) = self.udp_ports.split_once('-').ok_or_else(bad)?;
        let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
        let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
        if lo == 0 || lo > hi {
            return Err(bad());
        }
        Ok(Some((lo, hi)))
    }

    pub fn ip_addrs(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                ip.parse()
                    .map_err(|_| invalid(format!("media.ips[{i}]"), format!("{ip:?} is not an IP address")))
            })
            .collect()
    }

    /// The recording storage this names.
    pub fn archive(&self) -> Result<crate::media::archive::Archive, ConfigError> {
        crate::media::archive::Archive::from_config(&self.storage, &self.storage_options)
            .map_err(|e| invalid("media.storage", e.to_string()))
    }

    /// The recording keys, when recordings are sealed.
    pub fn recording_keys(
        &self,
    ) -> Result<Option<std::sync::Arc<crate::media::sealed::RecordingKeys>>, ConfigError> {
        if self.recording_keys_file.as_os_str().is_empty() {
            return Ok(None);
        }
        crate::media::sealed::RecordingKeys::load(&self.recording_keys_file)
            .map(Some)
            .map_err(|e| invalid("media.recording_keys_file", e.to_string()))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.recording_keys()?;
        if !(20..=10_000).contains(&self.flush_ms) {
            return Err(invalid("media.flush_ms", "must be 20..=10000"));
        }
        if !(1..=50).contains(&self.jitter_frames) {
            return Err(invalid("media.jitter_frames", "must be 1..=50"));
        }
        if !(200..=60_000).contains(&self.agent_audio_grace_ms) {
            return Err(invalid("media.agent_audio_grace_ms", "must be 200..=60000"));
        }
        if self.storage.len() > 1024 || self.storage_options.len() > 32 {
            return Err(invalid("media.storage", "at most 1024 bytes and 32 options"));
        }
        self.archive()?;
        if self.hold_music != "builtin" && !Path::new(&self.hold_music).is_file() {
            return Err(invalid(
                "media.hold_music",
                format!("{} is not a file (or use \"builtin\")", self.hold_music),
            ));
        }
        self.port_range()?;
        self.ip_addrs()?;
        Ok(())
    }
}
