//! The configuration file's catalog as the writes that seed an empty
//! store, in [`Kind::ALL`] order so nothing names an object not yet
//! written.

use hotline_core::acd::SkillLevel;
use hotline_core::catalog::{AgentProfile, Customer, EntryPoint, KeypadMenu, Kind, Object, Skill};
use hotline_core::ids::{QueueName, SkillName};

use super::Config;
use crate::acd::QueueSettings;
use crate::store::catalog::{CatalogWrite, Expect};
use crate::store::StoreError;

fn write<O: Object>(value: &O) -> Result<CatalogWrite, StoreError> {
    Ok(CatalogWrite {
        kind: O::KIND,
        id: value.id().to_string(),
        expect: Expect::Any,
        body: Some(serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
            key: format!("{} {}", O::KIND, value.id()),
            reason: e.to_string(),
        })?),
    })
}

/// Every object of `config`'s catalog, as writes.
pub fn seed_writes(config: &Config) -> Result<Vec<CatalogWrite>, StoreError> {
    let mut out = Vec::new();
    for s in &config.skills {
        out.push(write(&Skill {
            name: s.clone(),
            description: String::new(),
        })?);
    }
    for a in &config.agents {
        out.push(write(&AgentProfile {
            id: a.id.clone(),
            display_name: a.name.clone(),
            skills: a
                .skills
                .iter()
                .map(|(s, p)| SkillLevel {
                    skill: SkillName::new(s),
                    proficiency: *p,
                })
                .collect(),
            sip_password: a.sip_password.clone(),
            active: true,
        })?);
    }
    for c in &config.calendars {
        out.push(write(c)?);
    }
    for (name, q) in &config.queues {
        out.push(write(&QueueSettings {
            name: Some(QueueName::new(name)),
            ..q.clone()
        })?);
    }
    for (number, queue) in &config.entry_points {
        out.push(write(&EntryPoint {
            number: number.clone(),
            queue: queue.clone(),
            description: String::new(),
        })?);
    }
    for (number, m) in &config.sip.menus {
        out.push(write(&KeypadMenu {
            number: number.clone(),
            description: String::new(),
            prompt: m.prompt.clone(),
            options: m.options.clone(),
            timeout_secs: m.timeout_secs,
            default_entry_point: m.default.clone(),
        })?);
    }
    for r in &config.reason_codes {
        out.push(write(r)?);
    }
    for c in &config.wrap_up_categories {
        out.push(write(c)?);
    }
    for c in &config.customers {
        out.push(write(&Customer {
            id: c.id.clone(),
            name: c.name.clone(),
            tier: c.tier,
            numbers: c.numbers.clone(),
            ..Customer::default()
        })?);
    }
    debug_assert!(out
        .windows(2)
        .all(|w| kind_order(w[0].kind) <= kind_order(w[1].kind)));
    Ok(out)
}

fn kind_order(k: Kind) -> usize {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(usize::MAX)
}
