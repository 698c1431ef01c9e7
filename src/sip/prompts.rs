//! What phone callers hear from the keypad features: the menu prompt, the
//! survey question, the callback confirmation, the closed announcements
//! and the goodbye. Built in (`deploy/prompts/keypad/`, spoken by
//! espeak-ng) so a server needs no files; a keypad menu may name its own
//! recording, a file in the node's prompts folder (`[sip] prompts_dir`).
//!
//! Menus live in the admin catalog and change while the node runs, so
//! their recordings are read when a caller first needs them and read again
//! when the file changes. A recording that cannot be read is never
//! silence: the caller hears the built-in menu prompt, and the operator
//! gets a warning log and `hotline_prompts_unreadable_total`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tracing::warn;

use crate::media::prompt::Prompt;
use crate::media::{MediaError, Rate};

macro_rules! builtin {
    ($name:literal) => {
        Prompt::decode(
            concat!("builtin keypad prompt ", $name),
            std::io::Cursor::new(include_bytes!(concat!(
                "../../deploy/prompts/keypad/",
                $name,
                ".wav"
            ))),
            Rate::Narrowband,
        )
    };
}

/// Every prompt the trunk plays.
#[derive(Clone, Debug)]
pub struct KeypadPrompts {
    /// "Please choose a service on your keypad": menus without their own
    /// recording, and those whose recording cannot be read.
    pub menu: Prompt,
    pub survey: Prompt,
    pub thanks: Prompt,
    pub callback: Prompt,
    /// A queue's hours say closed: call again during opening hours.
    pub closed: Prompt,
    /// A queue's hours say closed, and a callback is booked for the opening.
    pub closed_callback: Prompt,
    /// Menus' own recordings.
    pub library: PromptLibrary,
}

impl KeypadPrompts {
    pub fn load(prompts_dir: PathBuf) -> Result<Self, MediaError> {
        Ok(KeypadPrompts {
            menu: builtin!("menu")?,
            survey: builtin!("survey")?,
            thanks: builtin!("thanks")?,
            callback: builtin!("callback")?,
            closed: builtin!("closed")?,
            closed_callback: builtin!("closed-callback")?,
            library: PromptLibrary::new(prompts_dir),
        })
    }

    /// What a menu whose prompt is `name` plays ("builtin" or a file in
    /// the prompts folder; see the module for a file that cannot be read).
    pub async fn menu_prompt(&self, name: &str) -> Prompt {
        if name == "builtin" {
            return self.menu.clone();
        }
        match self.library.get(name).await {
            Ok(p) => p,
            Err(e) => {
                warn!(prompt = %name, error = %e, "a keypad menu's recording cannot be played; the built-in prompt plays instead");
                crate::metrics::events::prompt_unreadable("keypad_menu");
                self.menu.clone()
            }
        }
    }
}

/// Recordings in one folder, decoded on first use and again when the
/// file's modification time changes.
#[derive(Clone, Debug)]
pub struct PromptLibrary {
    dir: PathBuf,
    /// Name -> the file's modification time when decoded, and the audio.
    decoded: Arc<Mutex<HashMap<String, (SystemTime, Prompt)>>>,
}

impl PromptLibrary {
    pub fn new(dir: PathBuf) -> Self {
        PromptLibrary {
            dir,
            decoded: Arc::default(),
        }
    }

    /// The recording `name` (a plain file name, checked where it was
    /// written: `validate::prompt_name`), decoded at 8 kHz.
    pub async fn get(&self, name: &str) -> Result<Prompt, MediaError> {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(MediaError::Decode {
                path: name.to_string(),
                reason: "not a plain file name".into(),
            });
        }
        let path = self.dir.join(name);
        let decoded = self.decoded.clone();
        let name = name.to_string();
        // File reads and decoding block: off the runtime's threads.
        tokio::task::spawn_blocking(move || {
            let unreadable = |e: std::io::Error| MediaError::Decode {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(unreadable)?;
            if let Some((at, p)) = decoded.lock().ok().and_then(|d| d.get(&name).cloned()) {
                if at == modified {
                    return Ok(p);
                }
            }
            let prompt = Prompt::load(&path, Rate::Narrowband)?;
            if let Ok(mut d) = decoded.lock() {
                d.insert(name, (modified, prompt.clone()));
            }
            Ok(prompt)
        })
        .await
        .map_err(|e| MediaError::Decode {
            path: "prompt".into(),
            reason: e.to_string(),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &std::path::Path, seconds: u32) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create");
        for i in 0..8000 * seconds {
            w.write_sample(((i % 40) as i16 - 20) * 500).expect("sample");
        }
        w.finalize().expect("finalize");
    }

    #[tokio::test]
    async fn a_menu_recording_is_read_again_when_its_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("menu.wav");
        write_wav(&path, 1);
        let library = PromptLibrary::new(dir.path().to_path_buf());
        assert_eq!(library.get("menu.wav").await.expect("read").len(), 8000);
        write_wav(&path, 2);
        // A clock too coarse to tell the two writes apart must not hide
        // the change: the second write is dated later.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("date the file");
        assert_eq!(library.get("menu.wav").await.expect("read again").len(), 16_000);
    }

    #[tokio::test]
    async fn a_missing_or_outside_recording_is_an_error_and_the_menu_plays_the_builtin_prompt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let prompts = KeypadPrompts::load(dir.path().to_path_buf()).expect("builtins");
        assert!(prompts.library.get("missing.wav").await.is_err());
        assert!(prompts.library.get("../menu.wav").await.is_err());
        let played = prompts.menu_prompt("missing.wav").await;
        assert_eq!(played.len(), prompts.menu.len());
    }
}
