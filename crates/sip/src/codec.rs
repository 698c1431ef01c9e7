//! G.711 (PCMU / PCMA), the phone network's codec and WebRTC's mandatory
//! narrowband one: 8 kHz, one byte per sample.

use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum G711 {
    /// μ-law, RTP payload type 0.
    Pcmu,
    /// A-law, RTP payload type 8.
    Pcma,
}

impl G711 {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The codec for a static payload type, if it is G.711.
    pub fn from_payload_type(pt: u8) -> Option<G711> {
        match pt {
            0 => Some(G711::Pcmu),
            8 => Some(G711::Pcma),
            _ => None,
        }
    }

    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        match self {
            G711::Pcmu => pcm.iter().map(|&s| encode_ulaw(s)).collect(),
            G711::Pcma => pcm.iter().map(|&s| encode_alaw(s)).collect(),
        }
    }

    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        match self {
            G711::Pcmu => payload.iter().map(|&b| decode_ulaw(b)).collect(),
            G711::Pcma => payload.iter().map(|&b| decode_alaw(b)).collect(),
        }
    }
}
