//! "Sign this person out everywhere": every node refuses a revoked
//! subject's tokens from sign-ins before the revocation.
//!
//! Invariants:
//! - the node that revokes enforces it before the RPC returns (its own
//!   copy is updated once the store holds the revocation);
//! - every other node enforces it within one poll interval of the write
//!   while its store answers: it polls one counter and reads the set only
//!   when the counter moved;
//! - a poll the store does not answer is counted and warned (once per
//!   outage), and the copy read before keeps being enforced;
//! - the check is a map look-up under a read lock: it runs in the gRPC
//!   interceptor, on every request, without awaiting anything.
//!
//! A token's sign-in is its `auth_time` where the identity provider sets
//! it (a silent refresh keeps the sign-in's time, so a revoked session
//! cannot refresh its way back), else its `iat`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::Verified;
use crate::error::Error;
use crate::store::sessions::{Revocation, SessionStore};
use crate::time::Timestamp;

#[derive(Clone)]
pub struct Revocations {
    store: Arc<dyn SessionStore>,
    /// Subject -> sign-ins before this time are refused. Written by the
    /// poller and by [`Self::revoke`]; read by every request.
    revoked: Arc<RwLock<HashMap<String, Timestamp>>>,
    /// Whether the last poll failed: warn once per outage, not per poll.
    failing: Arc<AtomicBool>,
}

impl Revocations {
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Revocations {
            store,
            revoked: Arc::default(),
            failing: Arc::default(),
        }
    }

    /// Refuses `v` if its subject was revoked after it signed in.
    pub fn check(&self, v: &Verified) -> Result<(), Error> {
        let revoked = self
            .revoked
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match revoked.get(&v.principal.sub) {
            Some(at) if v.signed_in_at < *at => Err(Error::Unauthenticated(format!(
                "the sessions of {} were revoked at {}; sign in again",
                hotline_core::error::quote(&v.principal.sub),
                at.as_millis()
            ))),
            _ => Ok(()),
        }
    }

    /// Records `r` in the store, then enforces it here at once.
    pub async fn revoke(&self, r: &Revocation) -> Result<(), Error> {
        self.store.revoke(r).await?;
        self.apply(std::slice::from_ref(r));
        crate::metrics::events::sessions_revoked();
        info!(subject = %r.subject, actor = %r.actor, reason = %r.reason, "sessions revoked");
        Ok(())
    }

    fn apply(&self, list: &[Revocation]) {
        let mut revoked = self
            .revoked
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for r in list {
            let at = revoked.entry(r.subject.clone()).or_insert(r.at);
            *at = (*at).max(r.at);
        }
    }

    /// Reads the store's revocations now and then every `every` until
    /// `shutdown`: the first read is awaited, so a node starts enforcing
    /// what was revoked before it started (unless the store does not
    /// answer, which the poller then retries).
    pub async fn start(&self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut seen = self.poll(None).await;
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => seen = this.poll(seen).await,
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    /// One poll: the revision, and the set when it moved since `seen`.
    /// Returns the revision now applied (`seen` again when the store did
    /// not answer).
    async fn poll(&self, seen: Option<u64>) -> Option<u64> {
        let read = async {
            let revision = self.store.revocations_revision().await?;
            if Some(revision) == seen {
                return Ok(revision);
            }
            let list = self.store.revocations().await?;
            self.apply(&list);
            Ok::<_, crate::store::StoreError>(revision)
        };
        match read.await {
            Ok(revision) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    info!("the revoked sign-ins are read again");
                }
                Some(revision)
            }
            Err(e) => {
                crate::metrics::events::revocation_read_failed();
                if !self.failing.swap(true, Ordering::Relaxed) {
                    warn!(error = %e, "cannot read the revoked sign-ins; revocations made on other nodes are not enforced here until the store answers");
                }
                seen
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Principal, Role};
    use crate::store::sessions::MemorySessions;

    fn token(sub: &str, signed_in_at: u64) -> Verified {
        Verified {
            principal: Principal {
                sub: sub.into(),
                role: Role::Agent,
            },
            signed_in_at: Timestamp(signed_in_at),
        }
    }

    fn revocation(sub: &str, at: u64) -> Revocation {
        Revocation {
            subject: sub.into(),
            at: Timestamp(at),
            actor: "ada".into(),
            reason: "test".into(),
        }
    }

    #[tokio::test]
    async fn a_revocation_refuses_sign_ins_before_it_and_only_its_subjects() {
        let r = Revocations::new(Arc::new(MemorySessions::default()));
        r.revoke(&revocation("alice", 5_000)).await.unwrap();
        let refused = r.check(&token("alice", 4_999)).unwrap_err();
        assert!(matches!(refused, Error::Unauthenticated(_)), "{refused:?}");
        assert!(refused.to_string().contains("revoked"), "{refused}");
        r.check(&token("alice", 5_000))
            .expect("a sign-in after the revocation");
        r.check(&token("bob", 1)).expect("another subject");
    }

    #[tokio::test]
    async fn another_nodes_revocation_is_enforced_after_one_poll() {
        let store: Arc<dyn SessionStore> = Arc::new(MemorySessions::default());
        let here = Revocations::new(store.clone());
        let there = Revocations::new(store);
        let seen = here.poll(None).await;
        there.revoke(&revocation("alice", 5_000)).await.unwrap();
        here.check(&token("alice", 1)).expect("not polled yet");
        let moved = here.poll(seen).await;
        assert_ne!(moved, seen);
        assert!(here.check(&token("alice", 1)).is_err());
    }

    #[tokio::test]
    async fn an_earlier_revocation_never_moves_the_cut_back() {
        let r = Revocations::new(Arc::new(MemorySessions::default()));
        r.apply(&[revocation("alice", 5_000)]);
        r.apply(&[revocation("alice", 3_000)]);
        assert!(r.check(&token("alice", 4_000)).is_err());
    }
}
