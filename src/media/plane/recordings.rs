//! Recordings on this node's disk and in the archive: recovering those a
//! dead node left live, archiving the spool, draining at shutdown, and
//! reading a recording back as chunks.

use super::*;
use crate::cluster::directory::NodeAddr;

impl MediaPlane {
    /// Closes the recordings this node left live when it died: each gets its
    /// duration from what the file holds (the WAV header written at the
    /// last flush, or a sealed file's length field) and stops being live.
    /// Run once at start.
    pub async fn recover_recordings(&self) -> Result<usize, Error> {
        let mut recovered = 0;
        let mut cursor = None;
        for _ in 0..RECOVERY_PAGES {
            let page = self
                .shared
                .store
                .list_recordings(&Default::default(), cursor.as_ref(), 500)
                .await?;
            let Some(last) = page.last() else { break };
            cursor = Some((last.started_at, last.call.clone()));
            for mut rec in page.into_iter().filter(|r| r.live && r.node == self.shared.node) {
                let path = self.recording_path(&rec)?;
                let duration = tokio::task::spawn_blocking(move || {
                    match crate::media::sealed::sealed_duration_ms(&path) {
                        Ok(Some(ms)) => Ok(ms),
                        Err(e) => Err(e.to_string()),
                        Ok(None) => hound::WavReader::open(&path)
                            .map(|r| u64::from(r.duration()) * 1000 / u64::from(r.spec().sample_rate.max(1)))
                            .map_err(|e| e.to_string()),
                    }
                })
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
                match duration {
                    Ok(ms) => rec.duration_ms = ms,
                    Err(e) => warn!(call = %rec.call, error = %e, "recording left by a crash does not open"),
                }
                rec.live = false;
                info!(call = %rec.call, duration_ms = rec.duration_ms, "closed a recording left live by a crash");
                self.shared.store.put_recording(&rec).await?;
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    /// Moves what the spool holds that is finished and not yet archived
    /// (failed uploads, recordings a crash left) into the shared archive.
    /// Run at start, after [`Self::recover_recordings`], and every minute.
    pub async fn archive_spool(&self) -> Result<usize, Error> {
        if !self.shared.settings.archive.is_shared() {
            return Ok(0);
        }
        let root = self.shared.settings.recordings_dir.clone();
        let files = tokio::task::spawn_blocking(move || crate::media::archive::spool_files(&root))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut moved = 0;
        for relative in files {
            let Some(call) = relative
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_suffix(".wav").or_else(|| name.strip_suffix(".sealed")))
                .map(CallId::new)
            else {
                continue;
            };
            if self.registry()?.calls.contains_key(&call) {
                continue;
            }
            let Some(rec) = self.shared.store.get_recording(&call).await? else {
                continue;
            };
            if rec.live || rec.node != self.shared.node || rec.path != relative {
                continue;
            }
            if rec.archived {
                // Uploaded, but the spool file outlived it.
                self.shared.remove_spooled(&rec).await;
                continue;
            }
            if self.shared.archive_recording(rec).await {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// At shutdown: waits (at most `within`) until every call task has
    /// closed its recording and every upload to the archive finished, so a
    /// stopping node leaves nothing half-written or unarchived behind.
    pub async fn drain(&self, within: Duration) {
        let mut busy = self.shared.busy.subscribe();
        let drained = tokio::time::timeout(within, busy.wait_for(|n| *n == 0)).await;
        if drained.is_err() {
            warn!(
                busy = *self.shared.busy.borrow(),
                "shutting down with recordings still being finished or archived; the spool keeps them for the next start"
            );
        }
    }

    /// Where a recording's file is on this node's disk.
    pub fn recording_path(&self, rec: &RecordingRecord) -> Result<PathBuf, Error> {
        self.safe_path(&rec.path)
            .ok_or_else(|| Error::Internal(format!("recording {} has an unsafe path", rec.call)))
    }

    /// `relative` under the recordings folder, if it stays there.
    fn safe_path(&self, relative: &str) -> Option<PathBuf> {
        let relative = std::path::Path::new(relative);
        let plain = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        (plain && !relative.as_os_str().is_empty())
            .then(|| self.shared.settings.recordings_dir.join(relative))
    }

    /// A recording's file as a stream of chunks: from the shared archive,
    /// this node's disk, or the node that made it while that node lives.
    /// A recording as WAV, unsealed here when it is sealed (wherever its
    /// bytes come from).
    pub async fn recording_chunks(&self, rec: &RecordingRecord) -> Result<ByteStream, Error> {
        let raw = self.recording_bytes(rec).await?;
        Ok(crate::media::sealed::unseal(
            raw,
            self.shared.settings.recording_keys.clone(),
        ))
    }

    /// The cluster, and the running node whose disk holds `rec`'s file
    /// (FAILED_PRECONDITION when that node is not running).
    async fn node_of(&self, rec: &RecordingRecord) -> Result<(&ClusterMedia, NodeAddr), Error> {
        let cluster = self
            .shared
            .cluster
            .as_ref()
            .ok_or_else(|| Error::Internal("not a cluster".into()))?;
        match cluster.directory.node(&rec.node).await? {
            Located::At(peer) => Ok((cluster, peer)),
            _ => Err(Error::FailedPrecondition(format!(
                "recording {} is on node {}, which is not running",
                rec.call, rec.node
            ))),
        }
    }

    /// A recording's bytes as stored (sealed or not).
    async fn recording_bytes(&self, rec: &RecordingRecord) -> Result<ByteStream, Error> {
        if rec.archived {
            return Ok(self.shared.settings.archive.open(&rec.path).await?);
        }
        let path = self.recording_path(rec)?;
        let here = rec.node == self.shared.node || self.shared.cluster.is_none();
        if here || tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return file_chunks(
                &path,
                &format!("recording {} (made on node {})", rec.call, rec.node),
            )
            .await;
        }
        let (cluster, peer) = self.node_of(rec).await?;
        let stream = cluster
            .relays
            .fetch_recording(&peer, &rec.path)
            .await
            .map_err(|e| Error::Unavailable(format!("recording {}: {e}", rec.call)))?;
        use futures::StreamExt;
        Ok(Box::pin(stream.map(|chunk| {
            chunk.map(|c| c.data).map_err(|s| {
                Error::Unavailable(format!("reading the recording from its node: {}", s.message()))
            })
        })))
    }

    /// Deletes a finished recording's file wherever it is kept: the shared
    /// archive, this node's disk, or the disk of the node that made it
    /// (asked over the cluster). False when there was nothing left to
    /// delete. A file on a node that is not running cannot be deleted:
    /// that is an error, so the erasure is not reported done.
    pub async fn delete_recording(&self, rec: &RecordingRecord) -> Result<bool, Error> {
        if rec.path.is_empty() {
            return Ok(false);
        }
        if rec.archived {
            self.shared.settings.archive.delete(&rec.path).await?;
        }
        let path = self.recording_path(rec)?;
        let here = rec.node == self.shared.node || self.shared.cluster.is_none();
        if here || rec.archived || tokio::fs::try_exists(&path).await.unwrap_or(false) {
            let local = remove_file(&path).await?;
            return Ok(rec.archived || local);
        }
        let (cluster, peer) = self.node_of(rec).await?;
        cluster
            .relays
            .delete_recording(&peer, &rec.path)
            .await
            .map_err(|e| Error::Unavailable(format!("deleting recording {}: {e}", rec.call)))
    }

    /// Deletes a recording file of this node's disk, for a peer.
    pub(in crate::media) async fn delete_local_recording(&self, relative: &str) -> Result<bool, Error> {
        let path = self
            .safe_path(relative)
            .ok_or_else(|| Error::invalid("path", "must be a relative path under the recordings folder"))?;
        remove_file(&path).await
    }

    /// A recording file of this node's disk in chunks, for a peer.
    pub(in crate::media) async fn local_recording_chunks(
        &self,
        relative: &str,
    ) -> Result<
        std::pin::Pin<
            Box<
                dyn futures::Stream<Item = Result<crate::proto::cluster::RecordingChunk, tonic::Status>>
                    + Send,
            >,
        >,
        Error,
    > {
        use futures::StreamExt;
        let path = self
            .safe_path(relative)
            .ok_or_else(|| Error::invalid("path", "must be a relative path under the recordings folder"))?;
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(Error::NotFound {
                what: "recording file on this node",
                id: relative.chars().take(64).collect(),
            });
        }
        let chunks = file_chunks(&path, "the recording file").await?;
        Ok(Box::pin(chunks.map(|c| {
            c.map(|data| crate::proto::cluster::RecordingChunk { data })
                .map_err(crate::status::status)
        })))
    }
}

/// Chunk size for streaming recordings (an hour-long call is 115 MB).
const RECORDING_CHUNK: usize = 64 * 1024;

/// `path`'s bytes; `what` names the recording in errors.
async fn file_chunks(path: &std::path::Path, what: &str) -> Result<ByteStream, Error> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        Error::FailedPrecondition(format!("{what} is not readable ({}): {e}", path.display()))
    })?;
    Ok(Box::pin(futures::stream::unfold(Some(file), |file| async move {
        use tokio::io::AsyncReadExt;
        let mut file = file?;
        let mut data = vec![0u8; RECORDING_CHUNK];
        match file.read(&mut data).await {
            Ok(0) => None,
            Ok(n) => {
                data.truncate(n);
                Some((Ok(data), Some(file)))
            }
            Err(e) => Some((
                Err(Error::Unavailable(format!("reading the recording: {e}"))),
                None,
            )),
        }
    })))
}

/// Removes a file; false when it was not there.
async fn remove_file(path: &std::path::Path) -> Result<bool, Error> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Unavailable(format!("deleting {}: {e}", path.display()))),
    }
}
