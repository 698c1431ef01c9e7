//! The catalog's objects and the meaning each must have. Field names are
//! the API's (update masks name them); every field has a default so a
//! stored object written by an older version still reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{queue_id, Catalog, Kind, Object, Versioned};
use crate::acd::{QueueSettings, RouterConfig, SkillLevel, Tier, MAX_PROFICIENCY, MIN_PROFICIENCY};
use crate::Error;

/// A skill of the catalog: agents have it at a proficiency, queues need it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Skill {
    pub name: String,
    pub description: String,
}

/// An agent: who may sign in, with which skills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentProfile {
    pub id: String,
    pub display_name: String,
    /// At most one level per skill, each 1..=10.
    pub skills: Vec<SkillLevel>,
    /// The digest password of the agent's SIP phone (username: the id);
    /// "" = no phone. Written through the API, never returned by it.
    pub sip_password: String,
    /// A deactivated agent cannot sign in; kept for history and reports.
    pub active: bool,
}

impl Default for AgentProfile {
    fn default() -> Self {
        AgentProfile {
            id: String::new(),
            display_name: String::new(),
            skills: Vec::new(),
            sip_password: String::new(),
            active: true,
        }
    }
}

/// A dialled number and the queue its callers join.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntryPoint {
    pub number: String,
    pub queue: String,
    pub description: String,
}

/// A keypad menu on a dialled number ("press 1 for billing, 2 for
/// repairs"): the key a phone caller presses picks an entry point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeypadMenu {
    /// The dialled number the menu answers.
    pub number: String,
    pub description: String,
    /// What the caller hears: "builtin" ("please choose a service on your
    /// keypad") or the file name of a recording in each node's prompts
    /// folder.
    pub prompt: String,
    /// Key (0-9, * or #) -> the number of the entry point it picks.
    pub options: BTreeMap<String, String>,
    /// How long to wait for a key after the prompt.
    pub timeout_secs: u64,
    /// Where a caller who presses no listed key goes (an entry point's
    /// number); "" = the call is refused.
    pub default_entry_point: String,
}

impl Default for KeypadMenu {
    fn default() -> Self {
        KeypadMenu {
            number: String::new(),
            description: String::new(),
            prompt: "builtin".into(),
            options: BTreeMap::new(),
            timeout_secs: 8,
            default_entry_point: String::new(),
        }
    }
}

/// A single keypad key: 0-9, * or #.
pub fn is_key(k: &str) -> bool {
    k.len() == 1 && k.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

/// A reason an agent gives for not taking calls (lunch, training).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReasonCode {
    pub code: String,
    pub label: String,
    /// Offered to agents; an inactive code stays for history.
    pub active: bool,
}

impl Default for ReasonCode {
    fn default() -> Self {
        ReasonCode {
            code: String::new(),
            label: String::new(),
            active: true,
        }
    }
}

/// An issue category an agent files a contact under at wrap-up; FCR is
/// counted per category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WrapUpCategory {
    pub code: String,
    pub label: String,
    pub active: bool,
}

impl Default for WrapUpCategory {
    fn default() -> Self {
        WrapUpCategory {
            code: String::new(),
            label: String::new(),
            active: true,
        }
    }
}

/// A customer's maintenance cover (DOMAIN.md, the repair flow): new
/// customers have a free period, then a contract to sign or renew; those
/// without one are quoted paid service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contract {
    #[default]
    None,
    FreePeriod,
    Contract,
}

impl Contract {
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::None => "none",
            Contract::FreePeriod => "free-period",
            Contract::Contract => "contract",
        }
    }
}

/// Whether a customer's maintenance cover holds on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cover {
    /// No contract and no free period: paid service is quoted.
    None,
    /// A free period or contract that holds.
    Active(Contract),
    /// It ended before the day asked about: to renew.
    Expired(Contract),
}

impl Cover {
    pub fn as_str(self) -> &'static str {
        match self {
            Cover::None => "none",
            Cover::Active(_) => "active",
            Cover::Expired(_) => "expired",
        }
    }
}

/// A customer of the directory, found by id or by any of their numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub tier: Tier,
    /// Caller numbers that identify the customer; the first is the one
    /// callbacks dial.
    pub numbers: Vec<String>,
    /// The agent who manages a key account ("" = none).
    pub account_manager: String,
    pub contract: Contract,
    /// The last day the cover holds (none: open-ended or no cover).
    pub contract_expires: Option<jiff::civil::Date>,
}

impl Customer {
    /// Their cover on `day` (the expiry day itself is covered).
    pub fn cover(&self, day: jiff::civil::Date) -> Cover {
        match (self.contract, self.contract_expires) {
            (Contract::None, _) => Cover::None,
            (c, Some(last)) if last < day => Cover::Expired(c),
            (c, _) => Cover::Active(c),
        }
    }
}

impl Default for Customer {
    fn default() -> Self {
        Customer {
            id: String::new(),
            name: String::new(),
            tier: Tier::Regular,
            numbers: Vec::new(),
            account_manager: String::new(),
            contract: Contract::None,
            contract_expires: None,
        }
    }
}

impl Customer {
    /// Whether the repair flow may treat the customer as covered on `day`.
    pub fn covered_on(&self, day: jiff::civil::Date) -> bool {
        self.contract != Contract::None && self.contract_expires.is_none_or(|last| day <= last)
    }
}

fn proficiency_ok(field: &str, levels: &[SkillLevel], catalog: &Catalog) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for l in levels {
        if catalog.get::<Skill>(l.skill.as_str()).is_none() {
            return Err(Error::invalid(field, format!("unknown skill {}", l.skill)));
        }
        if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&l.proficiency) {
            return Err(Error::invalid(
                field,
                format!(
                    "proficiency {} for {} is outside {MIN_PROFICIENCY}..={MAX_PROFICIENCY}",
                    l.proficiency, l.skill
                ),
            ));
        }
        if !seen.insert(l.skill.as_str()) {
            return Err(Error::invalid(field, format!("skill {} listed twice", l.skill)));
        }
    }
    Ok(())
}

impl Object for Skill {
    const ID_FIELD: &'static str = "name";
    const KIND: Kind = Kind::Skill;
    fn id(&self) -> &str {
        &self.name
    }
    fn used_by(c: &Catalog, id: &str) -> Option<String> {
        c.list::<AgentProfile>()
            .filter(|a| a.value.skills.iter().any(|s| s.skill.as_str() == id))
            .map(|a| format!("agent {}", a.value.id))
            .chain(
                c.list::<QueueSettings>()
                    .filter(|q| q.value.required_skills.iter().any(|r| r.skill.as_str() == id))
                    .map(|q| format!("queue {}", queue_id(&q.value))),
            )
            .next()
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.skills
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.skills
    }
}

impl Object for AgentProfile {
    const ID_FIELD: &'static str = "id";
    const KIND: Kind = Kind::Agent;
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self, c: &Catalog) -> Result<(), Error> {
        proficiency_ok("skills", &self.skills, c)
    }
    fn used_by(c: &Catalog, id: &str) -> Option<String> {
        c.list::<Customer>()
            .filter(|cu| cu.value.account_manager == id)
            .map(|cu| format!("customer {} (account manager)", cu.value.id))
            .next()
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.agents
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.agents
    }
}

impl Object for QueueSettings {
    const ID_FIELD: &'static str = "name";
    const KIND: Kind = Kind::Queue;
    fn id(&self) -> &str {
        queue_id(self)
    }
    /// The routing core's own checks, on the catalog with this queue put:
    /// what it would refuse at start it refuses here.
    fn check(&self, c: &Catalog) -> Result<(), Error> {
        if self
            .overflow_queue
            .as_ref()
            .is_some_and(|o| o.as_str() == self.id())
        {
            return Err(Error::invalid(
                "overflow_queue",
                "a queue cannot overflow to itself",
            ));
        }
        let mut queues: Vec<QueueSettings> = c
            .list::<QueueSettings>()
            .filter(|q| q.value.id() != self.id())
            .map(|q| q.value.clone())
            .collect();
        queues.push(self.clone());
        // Zones do not matter here (they were checked when the calendar
        // was written): UTC stands in.
        let config = RouterConfig {
            queues,
            ..c.router_config(&RouterConfig::default(), |_| Some(jiff::tz::TimeZone::UTC))
        };
        let prefix = format!("queues.{}.", self.id());
        crate::acd::Router::new(config).map(|_| ()).map_err(|e| match e {
            crate::acd::RouteError::Config { key, reason } => {
                Error::invalid(key.strip_prefix(&prefix).unwrap_or(&key), reason)
            }
            other => Error::invalid("required_skills", other.to_string()),
        })
    }
    fn used_by(c: &Catalog, id: &str) -> Option<String> {
        c.list::<EntryPoint>()
            .filter(|e| e.value.queue == id)
            .map(|e| format!("entry point {}", e.value.number))
            .chain(
                c.list::<QueueSettings>()
                    .filter(|q| q.value.overflow_queue.as_ref().is_some_and(|o| o.as_str() == id))
                    .map(|q| format!("queue {} (overflow)", queue_id(&q.value))),
            )
            .next()
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.queues
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.queues
    }
}

impl Object for EntryPoint {
    const ID_FIELD: &'static str = "number";
    const KIND: Kind = Kind::EntryPoint;
    fn id(&self) -> &str {
        &self.number
    }
    fn check(&self, c: &Catalog) -> Result<(), Error> {
        if c.get::<QueueSettings>(&self.queue).is_none() {
            return Err(Error::invalid("queue", format!("unknown queue {}", self.queue)));
        }
        if c.get::<KeypadMenu>(&self.number).is_some() {
            return Err(Error::invalid(
                "number",
                format!("{} is a keypad menu's number", self.number),
            ));
        }
        Ok(())
    }
    fn used_by(c: &Catalog, id: &str) -> Option<String> {
        c.list::<KeypadMenu>()
            .find(|m| m.value.default_entry_point == id || m.value.options.values().any(|t| t == id))
            .map(|m| format!("keypad menu {}", m.value.number))
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.entry_points
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.entry_points
    }
}

impl Object for KeypadMenu {
    const ID_FIELD: &'static str = "number";
    const KIND: Kind = Kind::KeypadMenu;
    fn id(&self) -> &str {
        &self.number
    }
    fn check(&self, c: &Catalog) -> Result<(), Error> {
        if c.get::<EntryPoint>(&self.number).is_some() {
            return Err(Error::invalid(
                "number",
                format!("{} is an entry point's number", self.number),
            ));
        }
        if self.options.is_empty() {
            return Err(Error::invalid("options", "a menu needs at least one option"));
        }
        if self.timeout_secs == 0 {
            return Err(Error::invalid("timeout_secs", "must be at least 1"));
        }
        for (key, target) in &self.options {
            if !is_key(key) {
                return Err(Error::invalid(
                    format!("options.{key}"),
                    "a key is one of 0-9, * or #",
                ));
            }
            if c.get::<EntryPoint>(target).is_none() {
                return Err(Error::invalid(
                    format!("options.{key}"),
                    format!("unknown entry point {target}"),
                ));
            }
        }
        if !self.default_entry_point.is_empty() && c.get::<EntryPoint>(&self.default_entry_point).is_none() {
            return Err(Error::invalid(
                "default_entry_point",
                format!("unknown entry point {}", self.default_entry_point),
            ));
        }
        Ok(())
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.menus
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.menus
    }
}

impl Object for ReasonCode {
    const ID_FIELD: &'static str = "code";
    const KIND: Kind = Kind::ReasonCode;
    fn id(&self) -> &str {
        &self.code
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.reason_codes
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.reason_codes
    }
}

impl Object for WrapUpCategory {
    const ID_FIELD: &'static str = "code";
    const KIND: Kind = Kind::WrapUpCategory;
    fn id(&self) -> &str {
        &self.code
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.categories
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.categories
    }
}

impl Object for Customer {
    const ID_FIELD: &'static str = "id";
    const KIND: Kind = Kind::Customer;
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self, c: &Catalog) -> Result<(), Error> {
        for n in &self.numbers {
            if let Some(other) = c.customer_by_number(n).filter(|o| o.id != self.id) {
                return Err(Error::invalid(
                    "numbers",
                    format!("{n} is already customer {}'s number", other.id),
                ));
            }
        }
        if self
            .numbers
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            != self.numbers.len()
        {
            return Err(Error::invalid("numbers", "a number is listed twice"));
        }
        if !self.account_manager.is_empty() && c.get::<AgentProfile>(&self.account_manager).is_none() {
            return Err(Error::invalid(
                "account_manager",
                format!("unknown agent {}", self.account_manager),
            ));
        }
        if self.contract == Contract::None && self.contract_expires.is_some() {
            return Err(Error::invalid("contract_expires", "set without a contract"));
        }
        Ok(())
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.customers
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.customers
    }
    fn reindex(c: &mut Catalog, old: Option<&Self>, new: Option<&Self>) {
        if let Some(old) = old {
            for n in &old.numbers {
                if c.by_number.get(n).is_some_and(|id| *id == old.id) {
                    c.by_number.remove(n);
                }
            }
        }
        if let Some(new) = new {
            for n in &new.numbers {
                c.by_number.insert(n.clone(), new.id.clone());
            }
        }
    }
}
