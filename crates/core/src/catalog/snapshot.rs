//! [`Catalog`]: the catalog as of one revision, with the look-ups routing
//! and the API need (entry point to queue, caller number to customer).

use std::collections::{BTreeMap, HashMap};

use super::objects::*;
use super::{Object, Revision, Versioned};
use crate::acd::{QueueSettings, RouterConfig};
use crate::ids::{QueueName, SkillName};
use crate::Error;

/// The catalog as of [`Catalog::revision`]. Each node keeps one, brought
/// up to date by applying the store's changes in revision order.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Every change up to here is applied.
    revision: Revision,
    pub(super) skills: BTreeMap<String, Versioned<Skill>>,
    pub(super) agents: BTreeMap<String, Versioned<AgentProfile>>,
    pub(super) calendars: BTreeMap<String, Versioned<super::HoursCalendar>>,
    pub(super) queues: BTreeMap<String, Versioned<QueueSettings>>,
    pub(super) entry_points: BTreeMap<String, Versioned<EntryPoint>>,
    pub(super) menus: BTreeMap<String, Versioned<KeypadMenu>>,
    pub(super) reason_codes: BTreeMap<String, Versioned<ReasonCode>>,
    pub(super) categories: BTreeMap<String, Versioned<WrapUpCategory>>,
    pub(super) customers: BTreeMap<String, Versioned<Customer>>,
    /// Caller number -> customer id, for identifying callers.
    pub(super) by_number: HashMap<String, String>,
}

impl Catalog {
    /// The revision every change up to which is applied.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// Records that every change up to `revision` is applied (a change
    /// log read to its end may hold nothing newer for this node's kinds).
    pub fn caught_up_to(&mut self, revision: Revision) {
        self.revision = self.revision.max(revision);
    }

    pub fn get<O: Object>(&self, id: &str) -> Option<&Versioned<O>> {
        O::table(self).get(id)
    }

    /// Every object of a kind, by id.
    pub fn list<O: Object>(&self) -> impl DoubleEndedIterator<Item = &Versioned<O>> {
        O::table(self).values()
    }

    /// The objects of a kind after `after` (by id), for paging.
    pub fn list_after<'a, O: Object>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a Versioned<O>> {
        use std::ops::Bound;
        let from = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Unbounded,
        };
        O::table(self).range((from, Bound::Unbounded)).map(|(_, v)| v)
    }

    pub fn count<O: Object>(&self) -> usize {
        O::table(self).len()
    }

    /// Applies one stored change: `value` written at `revision`, or the
    /// object's removal. A change no newer than what is held is ignored,
    /// so applying a change twice, or an old one late, changes nothing.
    pub fn apply<O: Object>(&mut self, id: &str, revision: Revision, value: Option<O>) {
        let held = O::table(self).get(id).map(|v| v.revision);
        if held.is_some_and(|r| r >= revision) {
            return;
        }
        let old = match value {
            Some(value) => {
                let new = value.clone();
                let old = O::table_mut(self).insert(id.to_string(), Versioned { revision, value });
                O::reindex(self, old.as_ref().map(|o| &o.value), Some(&new));
                old
            }
            None => {
                let old = O::table_mut(self).remove(id);
                O::reindex(self, old.as_ref().map(|o| &o.value), None);
                old
            }
        };
        drop(old);
        self.revision = self.revision.max(revision);
    }

    /// Whether `value` may be stored: its meaning against the catalog.
    pub fn check_put<O: Object>(&self, value: &O) -> Result<(), Error> {
        value.check(self)
    }

    /// Whether object `id` may be deleted: it exists and nothing names it.
    pub fn check_delete<O: Object>(&self, id: &str) -> Result<(), Error> {
        if self.get::<O>(id).is_none() {
            return Err(Error::NotFound {
                what: O::KIND.as_str(),
                id: id.to_string(),
            });
        }
        match O::used_by(self, id) {
            Some(by) => Err(Error::FailedPrecondition(format!(
                "{} {} is still used by {by}",
                O::KIND,
                crate::error::quote(id)
            ))),
            None => Ok(()),
        }
    }

    /// The routing core's configuration: the catalog's skills, queues and
    /// hours on `base`'s other settings. `zone` looks a time zone up by its
    /// IANA name (the caller's zone database); a calendar whose zone it
    /// does not know is left out, so the router refuses the queues that
    /// keep it.
    pub fn router_config(
        &self,
        base: &RouterConfig,
        zone: impl Fn(&str) -> Option<jiff::tz::TimeZone>,
    ) -> RouterConfig {
        RouterConfig {
            skills: self.skills.keys().map(SkillName::new).collect(),
            queues: self.queues.values().map(|q| q.value.clone()).collect(),
            hours: self
                .calendars
                .values()
                .filter_map(|c| {
                    let hours = c.value.hours(zone(&c.value.time_zone)?).ok()?;
                    Some((c.value.id.clone(), hours))
                })
                .collect(),
            ..base.clone()
        }
    }

    /// The queue callers of a dialled number join.
    pub fn queue_for(&self, number: &str) -> Option<QueueName> {
        self.entry_points
            .get(number)
            .map(|e| QueueName::new(&e.value.queue))
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.get(id).map(|c| &c.value)
    }

    pub fn customer_by_number(&self, number: &str) -> Option<&Customer> {
        self.by_number.get(number).and_then(|id| self.customer(id))
    }

    pub fn agent(&self, id: &str) -> Option<&AgentProfile> {
        self.agents.get(id).map(|a| &a.value)
    }

    /// SIP accounts of active agents with a phone: agent id -> password.
    pub fn sip_accounts(&self) -> HashMap<String, String> {
        self.agents
            .values()
            .filter(|a| a.value.active && !a.value.sip_password.is_empty())
            .map(|a| (a.value.id.clone(), a.value.sip_password.clone()))
            .collect()
    }
}
