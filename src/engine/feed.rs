//! The routing core's feed from the admin catalog: when the catalog
//! changes (on any node), the engine reconfigures skills and queues and
//! gives signed-in agents their new skills, without a restart. Calls in
//! progress keep their terms (see `acd::router::reconfigure`).

use std::collections::HashMap;

use tokio::sync::watch;
use tracing::{info, warn};

use super::Core;
use crate::acd::{AgentState, RouterConfig, SkillLevel};
use crate::admin::LiveCatalog;
use crate::ids::AgentId;
use crate::time::Now;
use hotline_core::catalog::{AgentProfile, Revision};

pub struct CatalogFeed {
    live: LiveCatalog,
    /// Signals each revision the node applies.
    changes: watch::Receiver<Revision>,
    /// The settings the catalog does not hold (presence, short abandons).
    base: RouterConfig,
    /// The configuration the router runs now.
    applied: RouterConfig,
    /// Each agent's catalog skills as last given to the router, so only a
    /// change in the catalog (not a sign-in with chosen skills) reaches it.
    skills: HashMap<String, Vec<SkillLevel>>,
}

/// Whether two skill lists hold the same levels, in any order.
fn same_skills(a: &[SkillLevel], b: &[SkillLevel]) -> bool {
    let key = |l: &[SkillLevel]| {
        let mut v: Vec<(String, u8)> = l.iter().map(|s| (s.skill.to_string(), s.proficiency)).collect();
        v.sort();
        v
    };
    key(a) == key(b)
}

impl CatalogFeed {
    /// A feed for a router built from `live` as it stands, on `base`.
    pub fn new(live: LiveCatalog, base: RouterConfig) -> Self {
        let mut changes = live.subscribe();
        // The first pass looks at everything: agents restored from the
        // store may hold skills the catalog has changed since.
        changes.mark_changed();
        let applied = live.read().router_config(&base, crate::admin::zone);
        CatalogFeed {
            live,
            changes,
            base,
            applied,
            skills: HashMap::new(),
        }
    }

    /// Resolves when the catalog has changed (never without a feed).
    pub async fn changed(feed: &mut Option<CatalogFeed>) {
        let Some(f) = feed else {
            return std::future::pending().await;
        };
        if f.changes.changed().await.is_err() {
            // The catalog is gone (shutting down): nothing more to apply.
            std::future::pending::<()>().await;
        }
    }

    /// Brings the router in line with the catalog.
    pub fn apply(&mut self, core: &mut Core, now: Now) {
        let catalog = self.live.read();
        let revision = catalog.revision();
        let config = catalog.router_config(&self.base, crate::admin::zone);
        if config != self.applied {
            match core.router.handle_reconfigure(now, config.clone()) {
                Ok(()) => {
                    core.desk.reconfigured(&core.router);
                    info!(%revision, queues = config.queues.len(), skills = config.skills.len(), "routing reconfigured from the catalog");
                    self.applied = config;
                }
                Err(e) => {
                    crate::metrics::events::catalog_not_applied();
                    warn!(%revision, error = %e, "the catalog's routing settings were refused by the routing core; routing as before");
                }
            }
        }
        for entry in catalog.list::<AgentProfile>() {
            let agent = &entry.value;
            let id = AgentId::new(&agent.id);
            let Some(record) = core.router.agent(&id) else {
                // Never signed in on this router: takes them at login.
                continue;
            };
            let state = record.state;
            let changed = self
                .skills
                .get(&agent.id)
                .is_none_or(|s| !same_skills(s, &agent.skills));
            if changed && !same_skills(&record.skills, &agent.skills) {
                if let Err(e) = core.router.handle_agent_skills_changed(now, &id, &agent.skills) {
                    crate::metrics::events::catalog_not_applied();
                    warn!(agent = %id, error = %e, "the agent's new skills were refused by the routing core");
                }
            }
            self.skills.insert(agent.id.clone(), agent.skills.clone());
            if !agent.active && matches!(state, AgentState::Available | AgentState::NotReady) {
                if let Err(e) = core
                    .router
                    .handle_agent_logout(now, &id, Some("an admin (deactivated)"))
                {
                    warn!(agent = %id, error = %e, "signing out a deactivated agent");
                }
            }
        }
    }
}
