//! Hold music and announcements, decoded from WAV, MP3 or OGG files with
//! rodio's decoder (no audio device needed), converted once to mono 16-bit
//! PCM at the call's rate, then played in a loop frame by frame.

use std::fs::File;
use std::io::BufReader;
use std::num::NonZero;
use std::path::Path;
use std::sync::Arc;

use rodio::source::UniformSourceIterator;
use rodio::Decoder;

use super::{MediaError, Rate};

/// A decoded prompt, shared by every call that plays it.
#[derive(Clone, Debug)]
pub struct Prompt {
    samples: Arc<[i16]>,
    rate: Rate,
}

/// Longest prompt kept in memory (10 minutes), so a wrong file cannot eat
/// the server's memory.
const MAX_SECONDS: usize = 600;

impl Prompt {
    /// Decodes `path` and converts it to mono at `rate`.
    pub fn load(path: &Path, rate: Rate) -> Result<Prompt, MediaError> {
        let file = File::open(path).map_err(|e| MediaError::Decode {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::decode(&path.display().to_string(), BufReader::new(file), rate)
    }

    /// The hold music built into the binary (`deploy/prompts/hold-music.wav`),
    /// so a server needs no files beside it.
    pub fn builtin_hold_music(rate: Rate) -> Result<Prompt, MediaError> {
        const HOLD_MUSIC: &[u8] = include_bytes!("../../deploy/prompts/hold-music.wav");
        Self::decode("builtin hold music", std::io::Cursor::new(HOLD_MUSIC), rate)
    }

    /// Decodes audio named `name` (for errors) from `reader`.
    pub fn decode<R>(name: &str, reader: R, rate: Rate) -> Result<Prompt, MediaError>
    where
        R: std::io::Read + std::io::Seek + Send + Sync + 'static,
    {
        let err = |reason: String| MediaError::Decode {
            path: name.to_string(),
            reason,
        };
        let decoder = Decoder::new(reader).map_err(|e| err(e.to_string()))?;
        let mono = NonZero::new(1u16).ok_or_else(|| err("channel count".into()))?;
        let hz = NonZero::new(rate.hz()).ok_or_else(|| err("sample rate".into()))?;
        let samples: Vec<i16> = UniformSourceIterator::new(decoder, mono, hz)
            .take(MAX_SECONDS * rate.hz() as usize)
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .collect();
        if samples.is_empty() {
            return Err(err("no audio in the file".into()));
        }
        Ok(Prompt {
            samples: samples.into(),
            rate,
        })
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Several prompts (of one rate) played one after another.
    pub fn concat(parts: &[&Prompt]) -> Option<Prompt> {
        let rate = parts.first()?.rate;
        let samples: Vec<i16> = parts
            .iter()
            .filter(|p| p.rate == rate)
            .flat_map(|p| p.samples.iter().copied())
            .collect();
        Some(Prompt {
            samples: samples.into(),
            rate,
        })
    }

    /// Plays the prompt once, one frame at a time (the last one padded).
    pub fn once(&self) -> impl Iterator<Item = Vec<i16>> + Send + Sync + 'static {
        let n = self.rate.frame_len();
        let samples = self.samples.clone();
        (0..samples.len().div_ceil(n)).map(move |i| {
            let mut frame = samples[i * n..((i + 1) * n).min(samples.len())].to_vec();
            frame.resize(n, 0);
            frame
        })
    }

    /// A player that loops the prompt, one frame at a time.
    pub fn player(&self) -> PromptPlayer {
        PromptPlayer {
            prompt: self.clone(),
            pos: 0,
        }
    }
}

/// Where one call is in a looping prompt.
#[derive(Clone, Debug)]
pub struct PromptPlayer {
    prompt: Prompt,
    pos: usize,
}

impl PromptPlayer {
    /// The next 20 ms frame, wrapping around at the end.
    pub fn next_frame(&mut self) -> Vec<i16> {
        let n = self.prompt.rate.frame_len();
        let s = &self.prompt.samples;
        let frame = (0..n).map(|i| s[(self.pos + i) % s.len()]).collect();
        self.pos = (self.pos + n) % s.len();
        frame
    }
}
