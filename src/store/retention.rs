//! Retention of stored records: each node sweeps at start and then every
//! `[retention] sweep_every_secs`, deleting each kind's records older than
//! its period (`[retention]`; recordings' metadata by `[media]
//! retention_days`, like their files) and the audit trail's events older
//! than `audit_days`.
//!
//! Invariants: live records are never deleted (the store's `prune` skips
//! them); a sweep deletes in batches of [`BATCH`] and at most
//! [`MAX_BATCHES`] per kind, so it ends and others get the store between
//! batches; every node may sweep at once (deleting is idempotent); a kind
//! that fails is logged, counted (`hotline_retention_failures_total`) and
//! tried again next sweep, and the other kinds still go.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::audit::AuditLog;
use super::cases::CaseStore;
use super::{RecordKind, Store};
use crate::time::Timestamp;

/// Records deleted per store call.
pub const BATCH: usize = 1_000;
/// Store calls per kind per sweep, at most.
pub const MAX_BATCHES: usize = 1_000;

/// What is kept, for how long.
#[derive(Clone)]
pub struct Retention {
    pub store: Arc<dyn Store>,
    pub audit: Arc<dyn AuditLog>,
    /// Each kind kept for a while (kinds kept for ever are absent).
    pub policy: Vec<(RecordKind, Duration)>,
    /// The audit trail's period; none: for ever.
    pub audit_keep: Option<Duration>,
    pub cases: Arc<dyn CaseStore>,
    /// Closed cases' period; none: for ever.
    pub cases_keep: Option<Duration>,
}

/// What one sweep deleted, by kind (`audit` for the trail).
pub type Swept = BTreeMap<&'static str, u64>;

fn cutoff(now: Timestamp, keep: Duration) -> Timestamp {
    Timestamp::from_millis(now.as_millis().saturating_sub(crate::time::duration_ms(keep)))
}

impl Retention {
    /// Deletes what is past its period at `now`.
    pub async fn sweep(&self, now: Timestamp) -> Swept {
        let mut swept = Swept::new();
        for (kind, keep) in &self.policy {
            let before = cutoff(now, *keep);
            let n = drain(kind.as_str(), || self.store.prune(*kind, before, BATCH)).await;
            swept.insert(kind.as_str(), n);
        }
        if let Some(keep) = self.audit_keep {
            // One trim takes all (a second finds nothing and ends it).
            let before = cutoff(now, keep);
            let n = drain("audit", || self.audit.audit_prune(before)).await;
            swept.insert("audit", n);
        }
        if let Some(keep) = self.cases_keep {
            let before = cutoff(now, keep);
            let n = drain("cases", || self.cases.prune_closed(before, BATCH)).await;
            swept.insert("cases", n);
        }
        if swept.values().any(|n| *n > 0) {
            info!(?swept, "retention: deleted records past their period");
        }
        swept
    }

    /// Sweeps now and then every `every`, until `shutdown`.
    pub fn spawn(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        for kind in RecordKind::ALL
            .map(RecordKind::as_str)
            .into_iter()
            .chain(["audit"])
        {
            crate::metrics::events::retention_series(kind);
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                self.sweep(Timestamp::now_wall()).await;
            }
        });
    }
}

/// Runs `batch` (a deletion of at most [`BATCH`] records of `kind`) until
/// one deletes fewer, at most [`MAX_BATCHES`] times; how many it deleted,
/// counted. A failure is warned and counted, and the kind waits for the
/// next sweep.
async fn drain<F, Fut>(kind: &'static str, mut batch: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, super::StoreError>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        match batch().await {
            Ok(n) => {
                total += n;
                if n < BATCH as u64 {
                    break;
                }
            }
            Err(e) => {
                warn!(kind, error = %e, "retention: could not delete old records; trying again next sweep");
                crate::metrics::events::retention_failed(kind);
                break;
            }
        }
    }
    crate::metrics::events::records_pruned(kind, total);
    total
}
