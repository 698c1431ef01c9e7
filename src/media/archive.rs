//! Where finished recordings are kept, behind one interface.
//!
//! - **Local** (the embedded default): the recordings folder is the archive.
//!   A recording stays on the disk of the node that made it; other nodes of
//!   a cluster fetch it from that node while it runs.
//! - **Object storage** (S3 and S3-compatible servers, through the
//!   `object_store` crate): shared by every node. The recordings folder is a
//!   spool: the crash-safe file is written there while the call runs and
//!   moved to the store when it ends; what is in the spool and not live is
//!   exactly what still has to go (a failed upload, a crash), and a sweep at
//!   start and every minute moves it. Any node reads an archived recording,
//!   whether or not the node that made it still exists.
//!
//! Invariants: a recording's metadata says `archived` only after its object
//! was written in full; the spool file is deleted only after that; keys are
//! `<prefix>/YYYY/MM/DD/<call-id>.wav`, the spool's relative path.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use crate::error::Error;
use crate::time::Timestamp;

/// A recording's bytes, a chunk at a time.
pub type ByteStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<Vec<u8>, Error>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("recording storage {url}: {reason}")]
    Config { url: String, reason: String },
    #[error("recording storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("recording spool file {path}: {reason}")]
    Spool { path: String, reason: String },
}

impl From<ArchiveError> for Error {
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Config { .. } => Error::invalid("media.storage", e.to_string()),
            _ => Error::Unavailable(e.to_string()),
        }
    }
}

/// Where finished recordings go.
#[derive(Clone, Debug)]
pub enum Archive {
    /// They stay in the recordings folder of the node that made them.
    Local,
    /// Shared object storage.
    Object {
        store: Arc<dyn ObjectStore>,
        /// Key prefix (the URL's path).
        prefix: ObjectPath,
        /// The storage URL, for logs.
        url: String,
    },
}

impl Archive {
    /// `"local"`, or `s3://bucket[/prefix]` with `options` (object_store's
    /// S3 keys: `endpoint`, `region`, `aws_allow_http`, `access_key_id`,
    /// `secret_access_key`, ...). Credentials and region not given here come
    /// from the usual `AWS_*` environment variables.
    pub fn from_config(url: &str, options: &BTreeMap<String, String>) -> Result<Archive, ArchiveError> {
        if url == "local" {
            return Ok(Archive::Local);
        }
        let bad = |reason: String| ArchiveError::Config {
            url: url.to_string(),
            reason,
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected \"local\" or s3://bucket/prefix".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket named".into()));
        }
        // reqwest's rustls takes the process's crypto provider: ring, the
        // one compiled in (installing it again is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in options {
            let key = AmazonS3ConfigKey::from_str(key).map_err(|_| bad(format!("unknown option {key:?}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Archive::Object {
            store: Arc::new(store),
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            url: url.to_string(),
        })
    }

    /// Whether every node reads from it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Archive::Object { .. })
    }

    fn key(prefix: &ObjectPath, relative: &str) -> ObjectPath {
        let mut key = prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            key = key.clone().join(part);
        }
        key
    }

    /// Moves a finished spool file (`relative` below the spool) into the
    /// store; the spool file is left to the caller to delete once the
    /// metadata says so.
    pub async fn upload(&self, spool: &FsPath, relative: &str) -> Result<u64, ArchiveError> {
        let Archive::Object { store, prefix, .. } = self else {
            return Ok(0);
        };
        let path = spool.join(relative);
        let spool_err = |e: std::io::Error| ArchiveError::Spool {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut file = tokio::fs::File::open(&path).await.map_err(spool_err)?;
        let mut writer = object_store::buffered::BufWriter::new(store.clone(), Self::key(prefix, relative));
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        match copied {
            Ok(bytes) => match writer.shutdown().await {
                Ok(()) => Ok(bytes),
                Err(e) => Err(ArchiveError::Spool {
                    path: path.display().to_string(),
                    reason: format!("upload: {e}"),
                }),
            },
            Err(e) => {
                let _ = writer.abort().await;
                Err(spool_err(e))
            }
        }
    }

    /// An archived recording's bytes.
    pub async fn open(&self, relative: &str) -> Result<ByteStream, ArchiveError> {
        let Archive::Object { store, prefix, .. } = self else {
            return Err(ArchiveError::Config {
                url: "local".into(),
                reason: "recordings are not archived in object storage here".into(),
            });
        };
        let got = store.get(&Self::key(prefix, relative)).await?;
        Ok(Box::pin(got.into_stream().map(|chunk| {
            chunk
                .map(|b| b.to_vec())
                .map_err(|e| Error::Unavailable(format!("reading the recording from storage: {e}")))
        })))
    }

    /// Deletes one archived recording (a customer's erasure); deleting one
    /// already gone succeeds.
    pub async fn delete(&self, relative: &str) -> Result<(), ArchiveError> {
        let Archive::Object { store, prefix, .. } = self else {
            return Ok(());
        };
        match store.delete(&Self::key(prefix, relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes archived recordings older than `keep`; (files, bytes).
    pub async fn sweep(&self, now: Timestamp, keep: Duration) -> Result<(u64, u64), ArchiveError> {
        let Archive::Object { store, prefix, .. } = self else {
            return Ok((0, 0));
        };
        let cutoff_ms = now.as_millis().saturating_sub(keep.as_millis() as u64) as i64;
        let mut listing = store.list(Some(prefix));
        let (mut files, mut bytes) = (0, 0);
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if meta.last_modified.timestamp_millis() < cutoff_ms {
                store.delete(&meta.location).await?;
                files += 1;
                bytes += meta.size;
            }
        }
        Ok((files, bytes))
    }
}

/// Every recording (`.wav`, or `.sealed`) below the spool `root`, as
/// `/`-separated paths relative to it.
pub fn spool_files(root: &FsPath) -> Vec<String> {
    fn walk(dir: &FsPath, root: &FsPath, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|x| x == "wav" || x == "sealed") {
                if let Ok(relative) = path.strip_prefix(root) {
                    let parts: Vec<String> = relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    out.push(parts.join("/"));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

impl std::fmt::Display for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Archive::Local => write!(f, "the local recordings folder"),
            Archive::Object { url, .. } => write!(f, "{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_are_local_or_s3_with_known_options() {
        assert!(matches!(
            Archive::from_config("local", &BTreeMap::new()),
            Ok(Archive::Local)
        ));
        let options: BTreeMap<String, String> = [
            ("endpoint".to_string(), "http://127.0.0.1:9000".to_string()),
            ("region".to_string(), "eu-west-1".to_string()),
            ("aws_allow_http".to_string(), "true".to_string()),
        ]
        .into();
        match Archive::from_config("s3://calls/prod/", &options) {
            Ok(Archive::Object { prefix, .. }) => assert_eq!(prefix.as_ref(), "prod"),
            other => panic!("expected object storage, got {other:?}"),
        }
        for (url, says) in [("ftp://x", "expected"), ("s3:///nobucket", "no bucket")] {
            let e = Archive::from_config(url, &BTreeMap::new()).expect_err(url);
            assert!(e.to_string().contains(says), "{e}");
        }
        let bad: BTreeMap<String, String> = [("colour".to_string(), "blue".to_string())].into();
        let e = Archive::from_config("s3://calls", &bad).expect_err("unknown option");
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn keys_are_the_spool_path_below_the_prefix() {
        let key = Archive::key(&ObjectPath::from("prod"), "2026/11/29/call.wav");
        assert_eq!(key.as_ref(), "prod/2026/11/29/call.wav");
        let key = Archive::key(&ObjectPath::from(""), "2026/11/29/call.wav");
        assert_eq!(key.as_ref(), "2026/11/29/call.wav");
    }
}
