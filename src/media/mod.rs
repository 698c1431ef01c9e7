//! Call audio building blocks: 16-bit PCM at 8 kHz (narrowband, G.711) or
//! 16 kHz (wideband), mono per leg. Legs (WebRTC, RTP) deliver and take
//! frames of these samples; the recorder, prompts and monitors never care
//! which kind of leg a frame came from.

pub mod announce;
pub mod archive;
pub mod call;
pub mod codec;
pub mod jitter;
pub mod leg;
pub mod mixer;
pub mod opus;
pub mod plane;
pub mod prompt;
/// Recording and monitoring records (in the core: the store keeps them).
pub use hotline_core::recording as record;
pub mod recorder;
pub mod recording_writer;
pub mod relay;
pub mod resample;
pub mod retention;
pub mod rtp;
mod rtp_shard;
pub mod sealed;
pub mod tone;
pub mod trunk;
pub mod udp;
pub mod webrtc;

/// Audio sample rates hotline carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rate {
    /// 8 kHz: G.711 (PCMU/PCMA) and the phone network.
    Narrowband,
    /// 16 kHz: both legs wideband (e.g. Opus).
    Wideband,
}

impl Rate {
    pub fn hz(self) -> u32 {
        match self {
            Rate::Narrowband => 8_000,
            Rate::Wideband => 16_000,
        }
    }

    /// The rate of `hz`, if hotline carries it.
    pub fn from_hz(hz: u32) -> Option<Rate> {
        match hz {
            8_000 => Some(Rate::Narrowband),
            16_000 => Some(Rate::Wideband),
            _ => None,
        }
    }

    /// Samples in one 20 ms frame, the packet size of RTP audio.
    pub fn frame_len(self) -> usize {
        self.hz() as usize / 50
    }
}

/// 16-bit little-endian PCM, as audio frames carry it on the wire.
pub fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// The samples of 16-bit little-endian PCM (an odd last byte is dropped).
pub fn pcm_samples(bytes: &[u8]) -> Vec<i16> {
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("audio file {path}: {reason}")]
    Decode { path: String, reason: String },
    #[error("recording {path}: {reason}")]
    Recording { path: String, reason: String },
    /// The session description is malformed or unusable.
    #[error("{0}")]
    Sdp(String),
    /// The offer shares no audio codec with hotline.
    #[error("no common audio codec: {0}")]
    NoCommonCodec(String),
    /// A trickled ICE candidate was refused.
    #[error("{0}")]
    Ice(String),
    /// The media transport failed (sockets, DTLS).
    #[error("media transport: {0}")]
    Transport(String),
}

impl From<MediaError> for crate::error::Error {
    fn from(e: MediaError) -> Self {
        use crate::error::Error;
        use MediaError as M;
        match e {
            M::Sdp(_) | M::NoCommonCodec(_) => Error::invalid("offer.sdp", e.to_string()),
            M::Ice(_) => Error::invalid("candidate", e.to_string()),
            M::Transport(_) => Error::Unavailable(e.to_string()),
            M::Decode { .. } | M::Recording { .. } => Error::Internal(e.to_string()),
        }
    }
}
