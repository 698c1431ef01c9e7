//! Sealed recordings: a call's stereo PCM encrypted as it is written, so
//! no recording lies on disk (or in object storage) in the clear.
//!
//! Each file has its own 256-bit data key, sealed (wrapped) with AES-256-GCM
//! under a key-encryption key from `[media] recording_keys_file`, named by
//! its id in the file's header; the audio follows as AES-256-GCM segments
//! under the data key, one per flush. Rotating the key-encryption key
//! (a new first line in the keys file) seals new recordings with it; older
//! recordings open with the key their header names, as long as the file
//! still holds it.
//!
//! The layout (all integers big-endian):
//!
//! ```text
//! magic "HLSEAL01" | pcm_len u64 | rate u32 | channels u16 | kid_len u8 | kid
//!   | wrap_nonce [12] | wrapped data key [32 + 16] | nonce_prefix [7]
//! then segments: len u32 | AES-256-GCM(data key, prefix | counter u32 | last u8,
//!                                       aad = the header from `rate` on) of PCM
//! ```
//!
//! Invariants:
//! - nothing on disk is plaintext audio or a RIFF header;
//! - `pcm_len` is rewritten after each segment is written, so a process
//!   killed mid-call leaves a file whose complete segments all open (it is
//!   the one field not authenticated: it only bounds what a reader emits,
//!   and a reader that runs out of segments before it fails, saying so);
//! - segments cannot be reordered, dropped from the middle, or moved
//!   between files: the nonce counts them, and each file has its own key;
//! - the final segment is marked `last`: a reader knows a finished file from
//!   one cut short.

mod keys;
mod open;

pub use keys::{new_key_line, RecordingKeys};
pub use open::unseal;

use std::io::{Seek, SeekFrom, Write};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};

pub const MAGIC: &[u8; 8] = b"HLSEAL01";
/// Where `pcm_len` sits.
const PCM_LEN_AT: u64 = 8;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const PREFIX_LEN: usize = 7;
/// Longest segment a reader accepts (plaintext and tag): 16 MiB, far more
/// than a flush's audio.
pub const MAX_SEGMENT: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("recording keys: {0}")]
    Keys(String),
    #[error("sealing failed: {0}")]
    Crypto(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("sealed recording: {0}")]
    Damaged(String),
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

fn aead_key(bytes: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Crypto("bad key length".into()))
}

/// The audio length, in milliseconds, a sealed file's header says its
/// whole segments hold (what a crash left); none if the file is not
/// sealed.
pub fn sealed_duration_ms(path: &std::path::Path) -> Result<Option<u64>, SealError> {
    use std::io::Read;
    let mut head = [0u8; 22];
    let mut file = std::fs::File::open(path)?;
    if file.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
        return Ok(None);
    }
    let be = |r: std::ops::Range<usize>| head[r].iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let (pcm_len, rate, channels) = (be(8..16), be(16..20), be(20..22));
    Ok(Some(pcm_len / (2 * channels).max(1) * 1000 / rate.max(1)))
}

/// Writes one sealed recording to `out` (a file: the length field is
/// rewritten in place).
pub struct SealedWriter<W: Write + Seek> {
    out: W,
    key: LessSafeKey,
    prefix: [u8; PREFIX_LEN],
    /// The header from `rate` on: every segment's associated data.
    aad: Vec<u8>,
    counter: u32,
    pcm_len: u64,
    /// Plaintext waiting for the next segment.
    pending: Vec<u8>,
}

impl<W: Write + Seek> SealedWriter<W> {
    /// Starts a file sealed under the keys' current key-encryption key.
    pub fn create(mut out: W, keys: &RecordingKeys, rate: u32, channels: u16) -> Result<Self, SealError> {
        let rng = SystemRandom::new();
        let fill = |buf: &mut [u8]| {
            rng.fill(buf)
                .map_err(|_| SealError::Crypto("no randomness".into()))
        };
        let mut data_key = [0u8; KEY_LEN];
        fill(&mut data_key)?;
        let mut wrap_nonce = [0u8; 12];
        fill(&mut wrap_nonce)?;
        let mut prefix = [0u8; PREFIX_LEN];
        fill(&mut prefix)?;
        let (kid, kek) = keys.sealing()?;
        let mut wrapped = data_key.to_vec();
        kek.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(wrap_nonce),
            Aad::from(kid.as_bytes()),
            &mut wrapped,
        )
        .map_err(|_| SealError::Crypto("cannot wrap the data key".into()))?;
        let mut aad = Vec::with_capacity(96);
        aad.extend_from_slice(&rate.to_be_bytes());
        aad.extend_from_slice(&channels.to_be_bytes());
        aad.push(kid.len() as u8);
        aad.extend_from_slice(kid.as_bytes());
        aad.extend_from_slice(&wrap_nonce);
        aad.extend_from_slice(&wrapped);
        aad.extend_from_slice(&prefix);
        out.write_all(MAGIC)?;
        out.write_all(&0u64.to_be_bytes())?;
        out.write_all(&aad)?;
        Ok(SealedWriter {
            out,
            key: aead_key(&data_key)?,
            prefix,
            aad,
            counter: 0,
            pcm_len: 0,
            pending: Vec::new(),
        })
    }

    /// Queues audio for the next segment.
    pub fn write_pcm(&mut self, pcm: &[u8]) {
        self.pending.extend_from_slice(pcm);
    }

    /// Plaintext bytes sealed or queued.
    pub fn pcm_len(&self) -> u64 {
        self.pcm_len + self.pending.len() as u64
    }

    fn segment(&mut self, last: bool) -> Result<(), SealError> {
        let mut sealed = std::mem::take(&mut self.pending);
        let plain = sealed.len() as u64;
        self.key
            .seal_in_place_append_tag(
                nonce(&self.prefix, self.counter, last),
                Aad::from(&self.aad),
                &mut sealed,
            )
            .map_err(|_| SealError::Crypto("cannot seal a segment".into()))?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| SealError::Crypto("too many segments".into()))?;
        self.out.write_all(&(sealed.len() as u32).to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.pcm_len += plain;
        // The length field follows the segments that are whole on disk.
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(PCM_LEN_AT))?;
        self.out.write_all(&self.pcm_len.to_be_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(())
    }

    /// Seals what is queued as a segment (nothing queued: nothing to do).
    pub fn flush(&mut self) -> Result<(), SealError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.segment(false)
    }

    /// Seals what is queued as the final segment.
    pub fn finish(mut self) -> Result<W, SealError> {
        self.segment(true)?;
        Ok(self.out)
    }
}
