//! The directory the API looks things up in: entry points, customers and
//! agents, built from the configuration.

use std::collections::HashMap;

use crate::acd::Tier;
use crate::ids::{AgentId, CustomerId, QueueName};

use super::*;

/// Look-ups the API needs from the configuration: entry points, customers,
/// agents. Tiers are data: they come from here, never from code.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    entry_points: HashMap<String, QueueName>,
    customers_by_id: HashMap<String, (CustomerId, Tier)>,
    customers_by_number: HashMap<String, (CustomerId, Tier)>,
    /// The number to call a customer back on.
    first_numbers: HashMap<String, String>,
    agents: HashMap<AgentId, AgentEntry>,
}

impl Directory {
    pub fn new(config: &Config) -> Self {
        let mut d = Directory::default();
        for (dnis, q) in &config.entry_points {
            d.entry_points.insert(dnis.clone(), QueueName::new(q));
        }
        for c in &config.customers {
            let v = (CustomerId::new(&c.id), c.tier);
            d.customers_by_id.insert(c.id.clone(), v.clone());
            if let Some(n) = c.numbers.first() {
                d.first_numbers.insert(c.id.clone(), n.clone());
            }
            for n in &c.numbers {
                d.customers_by_number.insert(n.clone(), v.clone());
            }
        }
        for a in &config.agents {
            d.agents.insert(AgentId::new(&a.id), a.clone());
        }
        d
    }

    pub fn queue_for(&self, dnis: &str) -> Option<&QueueName> {
        self.entry_points.get(dnis)
    }

    /// The first of a customer's numbers, to call them back on.
    pub fn first_number(&self, id: &str) -> Option<String> {
        self.first_numbers.get(id).cloned()
    }

    pub fn customer(&self, id: &str) -> Option<&(CustomerId, Tier)> {
        self.customers_by_id.get(id)
    }

    pub fn customer_by_number(&self, number: &str) -> Option<&(CustomerId, Tier)> {
        self.customers_by_number.get(number)
    }

    pub fn agent(&self, id: &AgentId) -> Option<&AgentEntry> {
        self.agents.get(id)
    }

    pub fn agent_ids(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.keys()
    }
}
