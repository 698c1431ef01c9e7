//! The audio codecs a WebRTC leg carries, and the offer check that picks
//! one before anything is built.
//!
//! Invariants: an offer longer than [`MAX_SDP_LEN`] is refused before it is
//! parsed; the chosen codec is the first of ours the offer has, so a
//! preference order set by the operator holds.

use std::io::Cursor;
use std::time::Instant;

use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_PCMU};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters};

use super::super::codec::G711;
use super::super::leg::{InboundPacket, Leg};
use super::super::opus::OpusEncoder;
use super::super::resample::Converter;
use super::super::{MediaError, Rate};
pub use crate::validate::MAX_SDP_LEN;

/// The audio codecs a leg can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 u-law, 8 kHz: the phone network's codec.
    Pcmu,
    /// Opus, carried at 16 kHz (wideband).
    Opus,
}

/// Both, wideband first.
pub(super) const DEFAULT_CODECS: [AudioCodec; 2] = [AudioCodec::Opus, AudioCodec::Pcmu];

impl AudioCodec {
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU/8000",
            AudioCodec::Opus => "opus/48000/2",
        }
    }

    pub(super) fn rtp_codec(self) -> RTCRtpCodec {
        match self {
            AudioCodec::Pcmu => RTCRtpCodec {
                mime_type: MIME_TYPE_PCMU.to_owned(),
                clock_rate: 8000,
                channels: 1,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            AudioCodec::Opus => RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48000,
                channels: 2,
                // In-band FEC both ways: our decoder rebuilds a lost frame
                // from the next packet, and we send it to a peer that says
                // the same (media::opus).
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
        }
    }

    pub(super) fn parameters(self) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: self.rtp_codec(),
            payload_type: self.payload_type(),
        }
    }

    /// The RTP timestamp clock (Opus always counts at 48 kHz).
    pub(super) fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu => 8000,
            AudioCodec::Opus => 48000,
        }
    }

    /// Our payload type (the one we offer).
    pub(super) fn payload_type(self) -> u8 {
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

    /// RTP timestamp units in one 20 ms frame.
    pub(super) fn frame_ticks(self) -> u32 {
        self.clock_rate() / 50
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

    /// The codec a payload type carries, by its rtpmap value, or by the
    /// static assignment (0 is PCMU) where the offer gave none.
    pub(super) fn of_payload(pt: u8, rtpmap: Option<&str>) -> Option<AudioCodec> {
        match rtpmap {
            Some(map) => AudioCodec::from_rtpmap(map),
            None => (pt == AudioCodec::Pcmu.payload_type()).then_some(AudioCodec::Pcmu),
        }
    }

    pub(super) fn from_mime(mime: &str) -> Option<AudioCodec> {
        if mime.eq_ignore_ascii_case(MIME_TYPE_PCMU) {
            Some(AudioCodec::Pcmu)
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_OPUS) {
            Some(AudioCodec::Opus)
        } else {
            None
        }
    }

    pub(super) fn encoder(self) -> Result<Encoder, MediaError> {
        Ok(match self {
            AudioCodec::Pcmu => Encoder::Pcmu,
            AudioCodec::Opus => Encoder::Opus(Box::new(OpusEncoder::new(Rate::Wideband)?)),
        })
    }
}

/// One direction's codec state (Opus keeps some; G.711 none).
pub(super) enum Encoder {
    Pcmu,
    /// Boxed: libopus' encoder state is a few kilobytes.
    Opus(Box<OpusEncoder>),
}

impl Encoder {
    pub(super) fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        match self {
            Encoder::Pcmu => Ok(G711::Pcmu.encode(pcm)),
            Encoder::Opus(e) => e.encode(pcm),
        }
    }

    /// Follows the peer's `a=fmtp` parameters for the payload type we send
    /// (Opus adds in-band FEC for a peer that uses it).
    pub(super) fn follow_peer(&mut self, fmtp: &str) {
        if let Encoder::Opus(e) = self {
            e.follow_peer(fmtp);
        }
    }
}

/// What arrives in one payload type: its codec, and for G.711 the rate
/// conversion to the leg's rate (its filter state kept across packets).
/// Opus is decoded by the leg at playout (so libopus repairs losses) and
/// straight at the leg's rate.
pub(super) struct Incoming {
    codec: AudioCodec,
    converter: Option<Converter>,
}

impl Incoming {
    pub(super) fn new(codec: AudioCodec) -> Incoming {
        Incoming {
            codec,
            converter: None,
        }
    }

    /// Hands one packet's payload to `leg`'s jitter buffer.
    pub(super) fn push(&mut self, leg: &Leg, header: &rtc::rtp::Header, payload: &[u8], arrival: Instant) {
        // Comfort noise and the like arrive empty.
        if payload.is_empty() {
            return;
        }
        let packet = InboundPacket {
            sequence: header.sequence_number,
            timestamp: header.timestamp,
            clock_rate: self.codec.clock_rate(),
            arrival,
        };
        match self.codec {
            AudioCodec::Opus => leg.push_inbound_opus(packet, bytes::Bytes::copy_from_slice(payload)),
            AudioCodec::Pcmu => {
                let pcm = G711::Pcmu.decode(payload);
                let pcm = Converter::between(&mut self.converter, self.codec.rate(), leg.rate).convert(&pcm);
                leg.push_inbound(packet, pcm);
            }
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
pub(super) fn choose_codec(sdp: &str, ours: &[AudioCodec]) -> Result<AudioCodec, MediaError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(MediaError::Sdp(format!("longer than {MAX_SDP_LEN} bytes")));
    }
    let parsed = rtc::sdp::SessionDescription::unmarshal(&mut Cursor::new(sdp))
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
            let name = match (pt.as_str(), hotline_webrtc_lite::answer::rtpmap(m, pt)) {
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
