//! [`LiveCatalog`]: this node's [`Catalog`], and the task that keeps it
//! current.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info, warn};

use hotline_core::catalog::{Catalog, Revision};
use hotline_core::for_kind;

use crate::store::catalog::{CatalogStore, CatalogWrite, StoredObject};
use crate::store::StoreError;

/// How often a node asks the store whether the catalog changed: the most a
/// change made on another node waits before this one routes by it.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// Who the audit names for the seed.
pub const SEED_ACTOR: &str = "configuration file";

/// Changes read from the store per round trip while catching up.
const PAGE: usize = 2_000;

/// This node's view of the catalog. Cheap to clone (shared).
#[derive(Clone)]
pub struct LiveCatalog {
    shared: Arc<Shared>,
}

struct Shared {
    /// The catalog as of the last change applied. A std lock: held only to
    /// read or apply, never across an await.
    catalog: RwLock<Catalog>,
    /// The revision applied, for whoever acts on changes (the routing
    /// core's feed).
    revision: watch::Sender<Revision>,
    /// Whether the store's catalog has been read once: until then this
    /// node knows no queue, agent or customer, and does not serve.
    loaded: watch::Sender<bool>,
    store: Arc<dyn CatalogStore>,
    /// The configuration file's catalog, written to a store whose catalog
    /// was never written (by whichever node gets there first).
    seed: Vec<CatalogWrite>,
    /// Serialises catch-ups, so two never read the same changes twice.
    refreshing: tokio::sync::Mutex<()>,
}

/// Decodes a stored object and applies it (a body that does not decode is
/// reported and skipped: the catalog keeps the object as it was).
fn apply(catalog: &mut Catalog, o: StoredObject) {
    let revision = o.revision;
    let decoded = for_kind!(o.kind, T => {
        match o.body.as_deref().map(serde_json::from_str::<T>).transpose() {
            Ok(value) => {
                catalog.apply::<T>(&o.id, revision, value);
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    if let Err(e) = decoded {
        warn!(kind = %o.kind, id = %o.id, %revision, error = %e, "a catalog object in the store does not read; kept as it was");
        crate::metrics::events::catalog_object_unreadable();
    }
    catalog.caught_up_to(revision);
}

impl LiveCatalog {
    /// An empty view over `store`, which `seed` fills if it has never been
    /// written; [`Self::ensure_seeded`] and [`Self::refresh`] fill it.
    pub fn new(store: Arc<dyn CatalogStore>, seed: Vec<CatalogWrite>) -> Self {
        LiveCatalog {
            shared: Arc::new(Shared {
                catalog: RwLock::new(Catalog::default()),
                revision: watch::channel(Revision(0)).0,
                loaded: watch::channel(false).0,
                store,
                seed,
                refreshing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The catalog now. Do not hold the guard across an await.
    pub fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        // A panic while applying leaves the catalog as it was applied so
        // far, which is still a catalog: read through the poison.
        self.shared.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The revision applied; changes each time new changes are applied.
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.shared.revision.subscribe()
    }

    /// Turns true once the store's catalog has been read.
    pub fn loaded(&self) -> watch::Receiver<bool> {
        self.shared.loaded.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn CatalogStore> {
        &self.shared.store
    }

    /// Seeds a never-written store from the configuration file, then
    /// catches up: what a node does before it routes.
    pub async fn ensure_seeded(&self) -> Result<(), StoreError> {
        if self.read().revision() == Revision(0) && self.shared.store.catalog_revision().await? == Revision(0)
        {
            let at = crate::time::Timestamp::now_wall();
            if self
                .shared
                .store
                .catalog_seed(SEED_ACTOR, at, &self.shared.seed)
                .await?
            {
                info!(
                    objects = self.shared.seed.len(),
                    "the store's catalog was empty: seeded from the configuration file"
                );
            }
        }
        self.refresh().await.map(|_| ())
    }

    /// Applies every change the store holds after this node's revision;
    /// how many it applied.
    pub async fn refresh(&self) -> Result<usize, StoreError> {
        let _one = self.shared.refreshing.lock().await;
        let mut applied = 0;
        loop {
            let since = self.read().revision();
            let changes = self.shared.store.catalog_changes(since, PAGE).await?;
            let n = changes.len();
            if n > 0 {
                let mut catalog = self.shared.catalog.write().unwrap_or_else(|p| p.into_inner());
                for o in changes {
                    apply(&mut catalog, o);
                }
            }
            applied += n;
            if n < PAGE {
                break;
            }
        }
        self.shared.loaded.send_replace(true);
        if applied > 0 {
            let revision = self.read().revision();
            self.shared.revision.send_replace(revision);
            crate::metrics::events::catalog_revision(revision.0);
            debug!(%revision, applied, "catalog changes applied");
        }
        Ok(applied)
    }

    /// Keeps the view current until `shutdown`: asks the store for its
    /// revision every [`POLL_EVERY`] and catches up when it moved. A store
    /// that cannot be read is warned about once per outage (and counted);
    /// the node routes by what it has meanwhile.
    pub fn spawn_watcher(&self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                    _ = tick.tick() => {
                        let outcome = match live.shared.store.catalog_revision().await {
                            Ok(Revision(0)) => live.ensure_seeded().await,
                            Ok(r) if r > live.read().revision() => live.refresh().await.map(|_| ()),
                            Ok(_) => Ok(()),
                            Err(e) => Err(e),
                        };
                        match outcome {
                            Ok(()) if failing => {
                                failing = false;
                                info!("the catalog is read from the store again");
                            }
                            Ok(()) => {}
                            Err(e) => {
                                crate::metrics::events::catalog_refresh_failed();
                                if !failing {
                                    failing = true;
                                    warn!(error = %e, "cannot read catalog changes from the store; routing by the catalog as last read");
                                }
                            }
                        }
                    }
                }
            }
        })
    }
}
