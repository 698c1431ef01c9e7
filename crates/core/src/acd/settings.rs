//! Per-queue routing settings. Deserialized straight from the `[queues.NAME]`
//! tables of the configuration file; every duration is whole seconds so a
//! config file reads the way an operator thinks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::{Requirement, Tier};
use crate::ids::{QueueName, SkillName};

/// How a waiting call picks among several qualified free agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent free the longest (fairest spread of work).
    #[default]
    LongestIdle,
    /// Highest summed proficiency over the call's required skills.
    MostProficient,
    /// Fewest calls answered since login.
    FewestCalls,
    /// Agents in turn, by login order.
    RoundRobin,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::MostProficient => "most-proficient",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::RoundRobin => "round-robin",
        }
    }
}

/// What to do with a call when no logged-in agent could ever serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoAgentsPolicy {
    /// Queue it anyway; someone may log in.
    #[default]
    Wait,
    /// Send it to the overflow queue (or end it as overflowed without one).
    Overflow,
    /// Refuse it with a reason.
    Reject,
}

/// A relaxation step. Steps are cumulative: once a call has waited `after_secs`
/// this step and all earlier ones are in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxationStep {
    pub after_secs: u64,
    /// Lowers every minimum proficiency by this much (never below 1).
    #[serde(default)]
    pub lower_proficiency_by: u8,
    /// Drops requirements marked optional.
    #[serde(default)]
    pub drop_optional_skills: bool,
}

/// Head start per tier, in seconds. A call's rank is its enqueue time minus its
/// head start, so higher tiers go first while aging bounds every wait: a call
/// is never passed by one that arrived more than the largest head-start gap later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierPriority {
    pub key_account_secs: u64,
    pub potential_secs: u64,
    pub regular_secs: u64,
    pub one_off_secs: u64,
}

impl Default for TierPriority {
    fn default() -> Self {
        TierPriority {
            key_account_secs: 300,
            potential_secs: 120,
            regular_secs: 60,
            one_off_secs: 0,
        }
    }
}

impl TierPriority {
    pub fn head_start(&self, tier: Tier) -> Duration {
        Duration::from_secs(match tier {
            Tier::KeyAccount => self.key_account_secs,
            Tier::Potential => self.potential_secs,
            Tier::Regular => self.regular_secs,
            Tier::OneOff => self.one_off_secs,
        })
    }
}

/// One queue's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// The queue's id: filled from the table key by the configuration
    /// loader, stored with the queue in the admin catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<QueueName>,
    /// Skills every call of this queue needs.
    pub required_skills: Vec<Requirement>,
    pub strategy: Strategy,
    pub tier_priority: TierPriority,
    pub relaxation: Vec<RelaxationStep>,
    /// How long an offer rings before it is rescinded as unanswered.
    pub ring_timeout_secs: u64,
    /// Longest wrap-up before the agent is made available again.
    pub wrap_up_secs: u64,
    /// Calls waiting beyond this many are overflowed or rejected at entry.
    pub max_queue_len: usize,
    /// A call waiting longer overflows; 0 = no limit.
    pub max_wait_secs: u64,
    /// Where overflowing calls go; none = they end as overflowed.
    pub overflow_queue: Option<QueueName>,
    pub when_no_agents: NoAgentsPolicy,
    /// How long a repeat caller waits for the owner of their open issue.
    pub preferred_agent_wait_secs: u64,
    /// Missed offers in a row after which the agent goes not ready.
    pub max_consecutive_misses: u32,
    /// An agent who declined or missed a call is not offered it again for this long.
    pub reoffer_delay_secs: u64,
    /// Service level counts calls answered within this many seconds.
    pub service_level_secs: u64,
    /// The share of calls (percent) to answer within `service_level_secs`:
    /// what staffing plans for (80 answered within 20 s by default).
    pub service_level_target_percent: u32,
    /// A callback's deadline: this long after it is created (4 hours).
    pub callback_deadline_secs: u64,
    /// In the last this-many seconds before its deadline a callback goes
    /// above the live calls of its tier; before, it ranks as a live call
    /// arriving then (so live callers go first while there is time).
    pub callback_urgent_before_secs: u64,
    /// Dialling attempts before a callback fails.
    pub callback_max_attempts: u32,
    /// A caller with a known number who abandons after waiting this long
    /// gets a callback; 0 = never.
    pub callback_on_abandon_after_secs: u64,
    /// A wrap-up that leaves the issue open (unresolved, callback needed)
    /// creates a callback owned by the agent.
    pub callback_on_open_wrap_up: bool,
    /// The hours calendar the queue is open by ("" = always open). While
    /// closed, arriving calls get `when_closed`.
    pub hours: String,
    pub when_closed: WhenClosed,
    /// The hours calendar callback deadlines count open time in ("" =
    /// around the clock): "within 4 business hours".
    pub callback_hours: String,
}

/// What a queue does with a call that arrives while its hours say closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenClosed {
    /// The caller hears the closed announcement and is released.
    #[default]
    Announce,
    /// The caller is told they will be called back, and a callback is
    /// booked for the next opening.
    Callback,
    /// The call goes to the overflow queue (which has its own hours).
    Overflow,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            name: None,
            required_skills: Vec::new(),
            strategy: Strategy::LongestIdle,
            tier_priority: TierPriority::default(),
            relaxation: Vec::new(),
            ring_timeout_secs: 15,
            wrap_up_secs: 60,
            max_queue_len: 500,
            max_wait_secs: 0,
            overflow_queue: None,
            when_no_agents: NoAgentsPolicy::Wait,
            preferred_agent_wait_secs: 30,
            max_consecutive_misses: 3,
            reoffer_delay_secs: 10,
            service_level_secs: 20,
            service_level_target_percent: 80,
            callback_deadline_secs: 4 * 3600,
            callback_urgent_before_secs: 30 * 60,
            callback_max_attempts: 3,
            callback_on_abandon_after_secs: 30,
            callback_on_open_wrap_up: true,
            hours: String::new(),
            when_closed: WhenClosed::Announce,
            callback_hours: String::new(),
        }
    }
}

impl QueueSettings {
    pub fn named(name: &str) -> Self {
        QueueSettings {
            name: Some(QueueName::new(name)),
            ..Default::default()
        }
    }

    pub fn with_skill(mut self, skill: &str, min_proficiency: u8) -> Self {
        self.required_skills.push(Requirement {
            skill: SkillName::new(skill),
            min_proficiency,
            optional: false,
        });
        self
    }
}

/// Everything the routing core is configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterConfig {
    /// The skill catalog: agents and calls may name only these.
    pub skills: Vec<SkillName>,
    pub queues: Vec<QueueSettings>,
    /// A logged-in agent with no open event stream for this long is logged
    /// out (none: presence is not enforced).
    pub presence_grace: Option<std::time::Duration>,
    /// A caller who hangs up sooner than this was not really waiting (a
    /// misdial, a change of mind): counted as a short abandon, apart from
    /// the abandoned calls that service level counts. Zero counts every
    /// abandon. The same rule as the reports and the metrics.
    pub short_abandon: std::time::Duration,
    /// Hours calendars by id, their zones looked up: what queues' `hours`
    /// name.
    pub hours: std::collections::BTreeMap<String, crate::hours::OpenHours>,
}
