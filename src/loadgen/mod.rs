//! `hotline loadgen`: load generators whose figures go in the issue notes.
//! - `claims`: atomic agent claims per second a store takes.
//! - `routing`: calls per second the routing engine carries through a
//!   store, every change recorded before it is acknowledged.
//! - `calls`: concurrent bridged, recorded WebRTC calls a server carries,
//!   with its CPU per call-second, packet loss and recording bandwidth.
//! - `sip`: phone-network calls at a rate through the SIP trunk, answered by
//!   agents' registered SIP phones (sipp on both sides), with failed calls,
//!   CPU per call-second and recording bandwidth.
//! - `catalog`: the admin catalog at a directory's size (import time and
//!   memory, look-up p99, a change's spread to another node).
//! - `revocation`: the time "sign out everywhere" takes to reach another
//!   node.

pub mod calls;
pub mod catalog;
pub mod claims;
pub mod revocation;
pub mod routing;
pub mod sip;

pub use claims::{claims, ClaimReport};

/// Two nodes in this process on one fresh Redis (a `redis-server` on a
/// free port, keeping nothing on disk) under a namespace of their own, with
/// no web, metrics or SIP listener: what the cluster load generators
/// measure.
pub(crate) struct TwoNodes {
    pub a: crate::server::RunningServer,
    pub b: crate::server::RunningServer,
    /// The configuration both run with.
    pub config: crate::config::Config,
    /// Kept for the nodes' lifetime; stopped when dropped.
    redis: calls::RedisProcess,
    /// Redis's scratch folder, removed by [`TwoNodes::stop`].
    dir: std::path::PathBuf,
}

impl TwoNodes {
    pub(crate) async fn start(
        config: &crate::config::Config,
        name: &str,
    ) -> Result<Self, crate::error::Error> {
        let failed =
            |e: &dyn std::fmt::Display| crate::error::Error::Unavailable(format!("loadgen {name}: {e}"));
        let dir = std::env::temp_dir().join(format!("hotline-loadgen-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| failed(&e))?;
        let redis = calls::RedisProcess::start(&dir).await?;
        let mut config = config.clone();
        config.store.url = format!("redis://127.0.0.1:{}/0", redis.port);
        config.store.namespace = format!("loadgen-{name}-{}", uuid::Uuid::now_v7().simple());
        config.server.grpc_listen = "127.0.0.1:0".parse().map_err(|e| failed(&e))?;
        config.metrics.listen.clear();
        config.web.listen.clear();
        config.sip.listen.clear();
        let a = crate::server::start(&config).await?;
        let b = crate::server::start(&config).await?;
        Ok(TwoNodes {
            a,
            b,
            config,
            redis,
            dir,
        })
    }

    /// Shuts both nodes down, then Redis, and removes its folder.
    pub(crate) async fn stop(self) -> Result<(), crate::error::Error> {
        self.a.shutdown().await?;
        self.b.shutdown().await?;
        drop(self.redis);
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}
