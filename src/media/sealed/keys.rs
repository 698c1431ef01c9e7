//! The key-encryption keys of sealed recordings, from a file of lines
//! `<id> <base64 of 32 random bytes>` (`#` starts a comment). The first key
//! seals new recordings; every key opens the recordings whose header names
//! it. The file is read again when it changes (its modification time is
//! looked at as each recording starts: one `stat` per call), so a rotation
//! needs no restart: put the new key first and keep the old ones while
//! recordings sealed with them are kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine;
use ring::aead::LessSafeKey;
use ring::rand::{SecureRandom, SystemRandom};

use super::{aead_key, SealError, KEY_LEN};

/// Longest key id (it is stored in every file's header).
pub const MAX_KID_LEN: usize = 64;

struct Loaded {
    /// The first key's id.
    current: String,
    keys: HashMap<String, Arc<LessSafeKey>>,
    modified: Option<SystemTime>,
}

pub struct RecordingKeys {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

/// Names the file, never a key.
impl std::fmt::Debug for RecordingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingKeys")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<(String, HashMap<String, Arc<LessSafeKey>>), SealError> {
    let bad = |line: usize, why: &str| SealError::Keys(format!("{} line {line}: {why}", path.display()));
    let text =
        std::fs::read_to_string(path).map_err(|e| SealError::Keys(format!("{}: {e}", path.display())))?;
    let mut current = None;
    let mut keys = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (id, key) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(i + 1, "expected \"<id> <base64 key>\""))?;
        let key = key.trim();
        if !valid_kid(id) {
            return Err(bad(
                i + 1,
                "the id is 1 to 64 of letters, digits, '-', '_' and '.'",
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .map_err(|_| bad(i + 1, "the key is not base64"))?;
        if bytes.len() != KEY_LEN {
            return Err(bad(i + 1, "the key is not 32 bytes"));
        }
        if keys.insert(id.to_string(), Arc::new(aead_key(&bytes)?)).is_some() {
            return Err(bad(i + 1, "the id is used twice"));
        }
        current.get_or_insert_with(|| id.to_string());
    }
    let current = current.ok_or_else(|| SealError::Keys(format!("{}: no key", path.display())))?;
    Ok((current, keys))
}

fn valid_kid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl RecordingKeys {
    /// Reads `path`; an error names the line.
    pub fn load(path: &Path) -> Result<Arc<Self>, SealError> {
        let (current, keys) = read(path)?;
        Ok(Arc::new(RecordingKeys {
            path: path.to_path_buf(),
            loaded: Mutex::new(Loaded {
                current,
                keys,
                modified: modified(path),
            }),
        }))
    }

    /// Reads the file again if it changed; a change that does not read
    /// keeps the keys held (and says why).
    fn refresh(&self, loaded: &mut Loaded) {
        let now = modified(&self.path);
        if now == loaded.modified {
            return;
        }
        loaded.modified = now;
        match read(&self.path) {
            Ok((current, keys)) => {
                tracing::info!(path = %self.path.display(), current = %current, keys = keys.len(), "recording keys read again");
                loaded.current = current;
                loaded.keys = keys;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the changed recording keys file does not read; the keys held before stay in use");
            }
        }
    }

    /// The key that seals new recordings, and its id.
    pub fn sealing(&self) -> Result<(String, Arc<LessSafeKey>), SealError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh(&mut loaded);
        let key = loaded
            .keys
            .get(&loaded.current)
            .cloned()
            .ok_or_else(|| SealError::Keys("the current key is missing".into()))?;
        Ok((loaded.current.clone(), key))
    }

    /// The key named `kid`, reading the file again first if it is not held.
    pub fn opening(&self, kid: &str) -> Result<Arc<LessSafeKey>, SealError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if !loaded.keys.contains_key(kid) {
            self.refresh(&mut loaded);
        }
        loaded.keys.get(kid).cloned().ok_or_else(|| {
            SealError::Keys(format!(
                "the recording was sealed with key {kid:?}, which {} no longer holds",
                self.path.display()
            ))
        })
    }
}

/// A new keys-file line: `<id> <base64 of 32 random bytes>`.
pub fn new_key_line(id: &str) -> Result<String, SealError> {
    if !valid_kid(id) {
        return Err(SealError::Keys(
            "the id is 1 to 64 of letters, digits, '-', '_' and '.'".into(),
        ));
    }
    let mut key = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| SealError::Crypto("no randomness".into()))?;
    Ok(format!(
        "{id} {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}
