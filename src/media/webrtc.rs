//! The WebRTC adapter: turns a client's SDP offer into a [`Leg`].
//!
//! Built on the `webrtc` crate: ICE (host candidates, with the client's
//! candidates trickled in), DTLS-SRTP as WebRTC requires, one audio track
//! each way. The answer is sent only once gathering completes, so it carries
//! every server candidate and the server never needs to trickle.
//!
//! Invariants: an offer is checked (parsable, has audio, shares a codec)
//! before any connection is made, so bad input costs no sockets; a failed or
//! closed connection closes the leg, which is how the rest of hotline learns
//! that a party hung up.

use std::io::Cursor;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tracing::debug;
use webrtc::api::interceptor_registry::configure_rtcp_reports;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_PCMU};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{APIBuilder, API};
use webrtc::ice::udp_network::{EphemeralUDP, UDPNetwork};
use webrtc::ice_transport::ice_candidate::RTCIceCandidateInit;
use webrtc::interceptor::registry::Registry;
use webrtc::media::Sample;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::{RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType};
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;
use webrtc::track::track_local::TrackLocal;

use super::codec::G711;
use super::leg::{InboundPacket, Leg, LegKind};
use super::opus::{OpusDecoder, OpusEncoder};
use super::resample;
use super::{MediaError, Rate};

pub use crate::validate::MAX_SDP_LEN;

/// How long an answer may wait for candidate gathering.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// No packets for this long: the connection is disconnected...
const ICE_DISCONNECTED: Duration = Duration::from_secs(3);
/// ...and this much longer: failed, and the leg is closed.
const ICE_FAILED: Duration = Duration::from_secs(4);
/// Consent checks while no media flows, so silence is not a failure.
const ICE_KEEPALIVE: Duration = Duration::from_secs(1);

/// Where and how WebRTC legs bind.
#[derive(Clone, Debug, Default)]
pub struct WebRtcSettings {
    /// UDP ports for media, inclusive; None lets the OS choose.
    pub udp_ports: Option<(u16, u16)>,
    /// Only these addresses are offered as candidates; empty offers all.
    pub ips: Vec<IpAddr>,
    /// Offer loopback candidates (tests, single-machine setups).
    pub include_loopback: bool,
    /// Jitter buffer depth, in 20 ms frames.
    pub jitter_frames: usize,
    /// Codecs offered or accepted, most preferred first; empty: Opus, then
    /// PCMU.
    pub codecs: Vec<AudioCodec>,
}

/// The audio codecs a leg can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioCodec {
    /// G.711 u-law, 8 kHz: the phone network's codec.
    Pcmu,
    /// Opus, carried at 16 kHz (wideband).
    Opus,
}

/// Both, wideband first.
const DEFAULT_CODECS: [AudioCodec; 2] = [AudioCodec::Opus, AudioCodec::Pcmu];

impl AudioCodec {
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU/8000",
            AudioCodec::Opus => "opus/48000/2",
        }
    }

    fn capability(self) -> RTCRtpCodecCapability {
        match self {
            AudioCodec::Pcmu => RTCRtpCodecCapability {
                mime_type: MIME_TYPE_PCMU.to_owned(),
                clock_rate: 8000,
                channels: 1,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            AudioCodec::Opus => RTCRtpCodecCapability {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
        }
    }

    /// The RTP timestamp clock (Opus always counts at 48 kHz).
    fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu => 8000,
            AudioCodec::Opus => 48000,
        }
    }

    fn payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Opus => 111,
        }
    }

    /// The rate of the PCM this codec's legs carry.
    pub fn rate(self) -> Rate {
        match self {
            AudioCodec::Pcmu => Rate::Narrowband,
            AudioCodec::Opus => Rate::Wideband,
        }
    }

    /// The codec an SDP rtpmap value ("PCMU/8000", "opus/48000/2") names.
    fn from_rtpmap(map: &str) -> Option<AudioCodec> {
        let map = map.to_ascii_lowercase();
        match map.as_str() {
            "pcmu/8000" | "pcmu/8000/1" => Some(AudioCodec::Pcmu),
            "opus/48000/2" | "opus/48000" => Some(AudioCodec::Opus),
            _ => None,
        }
    }

    fn from_mime(mime: &str) -> Option<AudioCodec> {
        if mime.eq_ignore_ascii_case(MIME_TYPE_PCMU) {
            Some(AudioCodec::Pcmu)
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_OPUS) {
            Some(AudioCodec::Opus)
        } else {
            None
        }
    }

    fn encoder(self) -> Result<Encoder, MediaError> {
        Ok(match self {
            AudioCodec::Pcmu => Encoder::Pcmu,
            AudioCodec::Opus => Encoder::Opus(OpusEncoder::new(Rate::Wideband)?),
        })
    }

    fn decoder(self) -> Result<Decoder, MediaError> {
        Ok(match self {
            AudioCodec::Pcmu => Decoder::Pcmu,
            AudioCodec::Opus => Decoder::Opus(OpusDecoder::new(Rate::Wideband)?),
        })
    }
}

/// One direction's codec state (Opus keeps some; G.711 none).
enum Encoder {
    Pcmu,
    Opus(OpusEncoder),
}

impl Encoder {
    fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        match self {
            Encoder::Pcmu => Ok(G711::Pcmu.encode(pcm)),
            Encoder::Opus(e) => e.encode(pcm),
        }
    }
}

enum Decoder {
    Pcmu,
    Opus(OpusDecoder),
}

impl Decoder {
    fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, MediaError> {
        match self {
            Decoder::Pcmu => Ok(G711::Pcmu.decode(payload)),
            Decoder::Opus(d) => d.decode(payload),
        }
    }
}

/// Checks an offer before anything is built: it parses, it has an audio
/// section, and that section offers a codec hotline carries. Returns the
/// codec hotline will use (Opus when offered, else PCMU).
pub fn check_offer(sdp: &str) -> Result<AudioCodec, MediaError> {
    choose_codec(sdp, &DEFAULT_CODECS)
}

/// The first of `ours` (in our order of preference) that the offer has.
fn choose_codec(sdp: &str, ours: &[AudioCodec]) -> Result<AudioCodec, MediaError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(MediaError::Sdp(format!("longer than {MAX_SDP_LEN} bytes")));
    }
    let parsed = webrtc::sdp::description::session::SessionDescription::unmarshal(&mut Cursor::new(sdp))
        .map_err(|e| MediaError::Sdp(e.to_string()))?;
    let audio: Vec<_> = parsed
        .media_descriptions
        .iter()
        .filter(|m| m.media_name.media == "audio")
        .collect();
    if audio.is_empty() {
        return Err(MediaError::Sdp("no audio section (m=audio)".into()));
    }
    let mut offered = Vec::new();
    let mut usable = Vec::new();
    for m in &audio {
        for pt in &m.media_name.formats {
            let rtpmap = m
                .attributes
                .iter()
                .filter(|a| a.key == "rtpmap")
                .filter_map(|a| a.value.as_deref())
                .find_map(|v| v.strip_prefix(pt.as_str()).and_then(|r| r.strip_prefix(' ')));
            let name = match (pt.as_str(), rtpmap) {
                (_, Some(map)) => map.to_string(),
                ("0", None) => "PCMU/8000".to_string(),
                (other, None) => format!("payload type {other}"),
            };
            if let Some(codec) = AudioCodec::from_rtpmap(&name) {
                usable.push(codec);
            }
            offered.push(name);
        }
    }
    ours.iter().find(|c| usable.contains(c)).copied().ok_or_else(|| {
        let ours: Vec<&str> = ours.iter().map(|c| c.name()).collect();
        MediaError::NoCommonCodec(format!(
            "offered {}; hotline carries {}",
            if offered.is_empty() {
                "nothing".to_string()
            } else {
                offered.join(", ")
            },
            ours.join(" or ")
        ))
    })
}

/// Builds WebRTC legs; one per node, shared by every negotiation.
pub struct WebRtcEndpoint {
    api: API,
    jitter_frames: usize,
    /// Most preferred first; the first is what this endpoint offers.
    codecs: Vec<AudioCodec>,
}

/// A negotiated WebRTC leg and the connection carrying it.
pub struct WebRtcSession {
    pub leg: Arc<Leg>,
    pc: Arc<RTCPeerConnection>,
    /// The connection's state as it changes.
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl WebRtcEndpoint {
    pub fn new(settings: &WebRtcSettings) -> Result<Self, MediaError> {
        let transport = |e: webrtc::Error| MediaError::Transport(e.to_string());
        let codecs = if settings.codecs.is_empty() {
            DEFAULT_CODECS.to_vec()
        } else {
            settings.codecs.clone()
        };
        let mut media = MediaEngine::default();
        for codec in &codecs {
            media
                .register_codec(
                    RTCRtpCodecParameters {
                        capability: codec.capability(),
                        payload_type: codec.payload_type(),
                        ..Default::default()
                    },
                    RTPCodecType::Audio,
                )
                .map_err(transport)?;
        }
        // Receiver and sender reports only: NACK and congestion control buy
        // nothing for 20 ms voice frames and cost per-packet work.
        let registry = configure_rtcp_reports(Registry::new());
        let mut se = SettingEngine::default();
        if let Some((lo, hi)) = settings.udp_ports {
            let udp = EphemeralUDP::new(lo, hi).map_err(|e| MediaError::Transport(e.to_string()))?;
            se.set_udp_network(UDPNetwork::Ephemeral(udp));
        }
        if !settings.ips.is_empty() {
            let allowed = settings.ips.clone();
            se.set_ip_filter(Box::new(move |ip| allowed.contains(&ip)));
        }
        se.set_include_loopback_candidate(settings.include_loopback);
        // A party that vanished without a goodbye (tab closed, network gone)
        // counts as hung up after DISCONNECTED + FAILED of silence, not the
        // library's 30 s: nobody waits that long on a dead line.
        se.set_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), Some(ICE_KEEPALIVE));
        let api = APIBuilder::new()
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(se)
            .build();
        Ok(WebRtcEndpoint {
            api,
            jitter_frames: settings.jitter_frames.max(1),
            codecs,
        })
    }

    /// Answers a client's offer with a new leg named `id`.
    pub async fn answer(&self, id: String, offer: &str) -> Result<(WebRtcSession, String), MediaError> {
        let codec = choose_codec(offer, &self.codecs)?;
        self.session(id, codec, |pc| async move { negotiate(&pc, offer).await })
            .await
    }

    /// The client side: a new leg and its SDP offer (of this endpoint's
    /// codecs, sending the first), for softphones hotline drives itself (the
    /// demo, load generation, tests). Complete it with
    /// [`WebRtcSession::accept_answer`].
    pub async fn offer(&self, id: String) -> Result<(WebRtcSession, String), MediaError> {
        let codec = self.codecs.first().copied().unwrap_or(AudioCodec::Pcmu);
        self.session(id, codec, |pc| async move {
            let transport = |e: webrtc::Error| MediaError::Transport(e.to_string());
            let offer = pc.create_offer(None).await.map_err(transport)?;
            let mut gathered = pc.gathering_complete_promise().await;
            pc.set_local_description(offer).await.map_err(transport)?;
            let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.recv()).await;
            pc.local_description()
                .await
                .map(|d| d.sdp)
                .ok_or_else(|| MediaError::Transport("no local description".into()))
        })
        .await
    }

    /// A connection with one audio leg of `codec`, then `describe` (which
    /// yields the SDP to send); the connection is closed if either fails.
    async fn session<F, Fut>(
        &self,
        id: String,
        codec: AudioCodec,
        describe: F,
    ) -> Result<(WebRtcSession, String), MediaError>
    where
        F: FnOnce(Arc<RTCPeerConnection>) -> Fut,
        Fut: std::future::Future<Output = Result<String, MediaError>>,
    {
        let pc = Arc::new(
            self.api
                .new_peer_connection(RTCConfiguration::default())
                .await
                .map_err(|e| MediaError::Transport(e.to_string()))?,
        );
        let (leg, io) = Leg::new(
            id,
            LegKind::WebRtc,
            codec.rate(),
            codec.name().into(),
            self.jitter_frames,
        );
        let result = async {
            let state = attach_audio(&pc, &leg, io, codec).await?;
            let sdp = describe(pc.clone()).await?;
            Ok::<_, MediaError>((state, sdp))
        }
        .await;
        match result {
            Ok((state, sdp)) => Ok((WebRtcSession { leg, pc, state }, sdp)),
            Err(e) => {
                let _ = pc.close().await;
                Err(e)
            }
        }
    }
}

/// Wires the leg to the connection: its frames out on a local track, the
/// remote track's packets into its jitter buffer, and connection failure or
/// close to the leg's close.
async fn attach_audio(
    pc: &Arc<RTCPeerConnection>,
    leg: &Arc<Leg>,
    mut io: super::leg::LegTransport,
    codec: AudioCodec,
) -> Result<watch::Receiver<RTCPeerConnectionState>, MediaError> {
    let track = Arc::new(TrackLocalStaticSample::new(
        codec.capability(),
        "audio".into(),
        "hotline".into(),
    ));
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal + Send + Sync>)
        .await
        .map_err(|e| MediaError::Transport(e.to_string()))?;
    // RTCP must be read for the interceptors (reports) to run.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        while sender.read(&mut buf).await.is_ok() {}
    });
    let mut encoder = codec.encoder()?;
    tokio::spawn(async move {
        while let Some(frame) = io.outbound.recv().await {
            let Ok(payload) = encoder.encode(&frame) else {
                continue;
            };
            let sample = Sample {
                data: Bytes::from(payload),
                duration: Duration::from_millis(20),
                ..Default::default()
            };
            if track.write_sample(&sample).await.is_err() {
                break;
            }
        }
    });
    let weak: Weak<Leg> = Arc::downgrade(leg);
    pc.on_track(Box::new(move |remote, _, _| {
        let weak = weak.clone();
        Box::pin(async move {
            // What the remote sends may differ from what we send (both
            // were in the answer); decode what arrives, at the leg's rate.
            // The library leaves the codec of static payload type 0 blank;
            // the payload type still says PCMU.
            let theirs = AudioCodec::from_mime(&remote.codec().capability.mime_type)
                .or_else(|| {
                    (remote.payload_type() == AudioCodec::Pcmu.payload_type()).then_some(AudioCodec::Pcmu)
                })
                .unwrap_or(codec);
            let Ok(mut decoder) = theirs.decoder() else { return };
            tokio::spawn(async move {
                // The track's rate conversion, its filter state kept.
                let mut converter: Option<resample::Converter> = None;
                while let Ok((packet, _)) = remote.read_rtp().await {
                    let Some(leg) = weak.upgrade() else { break };
                    // Comfort noise and the like arrive empty.
                    if packet.payload.is_empty() {
                        continue;
                    }
                    // A corrupt packet is lost audio, concealed like any other.
                    if let Ok(pcm) = decoder.decode(&packet.payload) {
                        let pcm = resample::Converter::between(&mut converter, theirs.rate(), leg.rate)
                            .convert(&pcm);
                        leg.push_inbound(
                            InboundPacket {
                                sequence: packet.header.sequence_number,
                                timestamp: packet.header.timestamp,
                                clock_rate: theirs.clock_rate(),
                                arrival: std::time::Instant::now(),
                            },
                            pcm,
                        );
                    }
                }
            });
        })
    }));
    let weak: Weak<Leg> = Arc::downgrade(leg);
    let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
    pc.on_peer_connection_state_change(Box::new(move |state| {
        let _ = state_tx.send(state);
        if let Some(leg) = weak.upgrade() {
            debug!(leg = %leg.id, ?state, "media connection state");
            if matches!(
                state,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            ) {
                leg.close();
            }
        }
        Box::pin(async {})
    }));
    Ok(state_rx)
}

async fn negotiate(pc: &RTCPeerConnection, offer: &str) -> Result<String, MediaError> {
    let offer =
        RTCSessionDescription::offer(offer.to_string()).map_err(|e| MediaError::Sdp(e.to_string()))?;
    pc.set_remote_description(offer)
        .await
        .map_err(|e| MediaError::Sdp(e.to_string()))?;
    let answer = pc
        .create_answer(None)
        .await
        .map_err(|e| MediaError::Sdp(e.to_string()))?;
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(answer)
        .await
        .map_err(|e| MediaError::Transport(e.to_string()))?;
    let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered.recv()).await;
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| MediaError::Transport("no local description after negotiation".into()))
}

impl WebRtcSession {
    /// Completes a session this side offered.
    pub async fn accept_answer(&self, sdp: &str) -> Result<(), MediaError> {
        let answer =
            RTCSessionDescription::answer(sdp.to_string()).map_err(|e| MediaError::Sdp(e.to_string()))?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(|e| MediaError::Sdp(e.to_string()))
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
        self.pc
            .add_ice_candidate(candidate)
            .await
            .map_err(|e| MediaError::Ice(e.to_string()))
    }

    /// Hangs up: closes the connection and the leg.
    pub async fn close(&self) {
        self.leg.close();
        let _ = self.pc.close().await;
    }
}
