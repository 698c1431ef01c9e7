//! Plain domain values shared by the routing core, the store and the API.

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CallId, CallbackId, CustomerId, QueueName, SkillName};
use crate::time::Timestamp;

/// Customer tier from the customer directory (DOMAIN.md "Customer tiers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    KeyAccount,
    Potential,
    Regular,
    OneOff,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::KeyAccount, Tier::Potential, Tier::Regular, Tier::OneOff];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::KeyAccount => "key-account",
            Tier::Potential => "potential",
            Tier::Regular => "regular",
            Tier::OneOff => "one-off",
        }
    }
}

/// What an agent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    LoggedOut,
    Available,
    /// An offer rings at the agent's softphone.
    Reserved,
    OnCall,
    WrapUp,
    NotReady,
}

impl AgentState {
    pub const ALL: [AgentState; 6] = [
        AgentState::LoggedOut,
        AgentState::Available,
        AgentState::Reserved,
        AgentState::OnCall,
        AgentState::WrapUp,
        AgentState::NotReady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged-out",
            AgentState::Available => "available",
            AgentState::Reserved => "reserved",
            AgentState::OnCall => "on-call",
            AgentState::WrapUp => "wrap-up",
            AgentState::NotReady => "not-ready",
        }
    }
}

/// Proficiency 1..=10.
pub const MIN_PROFICIENCY: u8 = 1;
pub const MAX_PROFICIENCY: u8 = 10;

/// A skill an agent has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillLevel {
    pub skill: SkillName,
    pub proficiency: u8,
}

/// A skill a call needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub skill: SkillName,
    pub min_proficiency: u8,
    /// Dropped by a relaxation step with `drop_optional_skills`.
    #[serde(default)]
    pub optional: bool,
}

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Offering,
    Connected,
    Ended,
}

/// How a call ended; every call ends in exactly one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallOutcome {
    Answered,
    Abandoned,
    Overflowed,
    Rejected,
    /// Arrived while the queue was closed: its announcement played, or a
    /// callback booked for the next opening.
    Closed,
}

/// The agent's wrap-up verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    Resolved,
    Unresolved,
    CallbackNeeded,
}

/// Why an offer was withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RescindReason {
    Declined,
    NoAnswer,
    CallerHungUp,
    AgentUnavailable,
    Overflowed,
}

/// One offer decision, kept with the call so supervisors can ask why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    pub at: Timestamp,
    pub agent: AgentId,
    pub trigger: String,
    pub strategy: String,
    pub score: i64,
    pub relaxation_step: u32,
    pub requirements: Vec<Requirement>,
    pub candidates_considered: u32,
    pub passed_over: Vec<PassedOver>,
}

/// A candidate that was not chosen, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassedOver {
    pub agent: AgentId,
    pub reason: String,
}

/// An agent as the store keeps it and the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: AgentId,
    pub display_name: String,
    pub skills: Vec<SkillLevel>,
    pub state: AgentState,
    pub not_ready_reason: Option<String>,
    /// Why the agent entered its current state.
    pub state_reason: String,
    pub current_call: Option<CallId>,
    pub state_since: Timestamp,
    pub idle_since: Timestamp,
    pub calls_handled: u32,
    pub consecutive_misses: u32,
    pub pending_not_ready: Option<String>,
}

impl AgentRecord {
    /// An agent that is not signed in.
    pub fn logged_out(id: AgentId, display_name: String, now: Timestamp, reason: &str) -> Self {
        AgentRecord {
            id,
            display_name,
            skills: Vec::new(),
            state: AgentState::LoggedOut,
            not_ready_reason: None,
            state_reason: reason.to_string(),
            current_call: None,
            state_since: now,
            idle_since: now,
            calls_handled: 0,
            consecutive_misses: 0,
            pending_not_ready: None,
        }
    }
}

impl CallRecord {
    /// A call as it arrives in `queue`: queued, nothing decided yet.
    pub fn arrived(
        id: CallId,
        ani: String,
        dnis: String,
        queue: QueueName,
        tier: Tier,
        now: Timestamp,
    ) -> Self {
        CallRecord {
            id,
            ani,
            dnis,
            customer: None,
            tier,
            queue,
            requirements: Vec::new(),
            priority_ms: 0,
            status: CallStatus::Queued,
            agent: None,
            enqueued_at: now,
            answered_at: None,
            ended_at: None,
            outcome: None,
            end_reason: None,
            on_hold: false,
            preferred_agent: None,
            relaxation_step: 0,
            original_position: 0,
            hold_ms: 0,
            decisions: Vec::new(),
            node: None,
            callback: None,
        }
    }
}

/// Marks a work item as a callback: the agent dials the customer; there
/// is no caller on the line while it waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackWork {
    pub id: CallbackId,
    pub deadline: Timestamp,
}

/// A call as the store keeps it and the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub id: CallId,
    pub ani: String,
    pub dnis: String,
    pub customer: Option<CustomerId>,
    pub tier: Tier,
    pub queue: QueueName,
    pub requirements: Vec<Requirement>,
    pub priority_ms: i64,
    pub status: CallStatus,
    pub agent: Option<AgentId>,
    pub enqueued_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<CallOutcome>,
    pub end_reason: Option<String>,
    pub on_hold: bool,
    pub preferred_agent: Option<AgentId>,
    pub relaxation_step: u32,
    pub original_position: u32,
    pub hold_ms: u64,
    /// Every offer made for this call, oldest first (bounded).
    pub decisions: Vec<RoutingDecision>,
    /// The node holding the caller's leg; if that node is lost, so is the call.
    #[serde(default)]
    pub node: Option<String>,
    /// Set on a callback's work item.
    #[serde(default)]
    pub callback: Option<CallbackWork>,
}

/// A handled contact: what FCR, first-contact ownership and reports read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub call: CallId,
    /// Customer id, else caller number: who "the same customer" is.
    pub customer_key: String,
    pub agent: AgentId,
    pub queue: QueueName,
    pub tier: Tier,
    pub disposition: Option<Disposition>,
    pub category: Option<String>,
    pub notes: Option<String>,
    pub enqueued_at: Timestamp,
    pub answered_at: Timestamp,
    pub ended_at: Timestamp,
    pub wrap_up_ended_at: Timestamp,
    pub hold_ms: u64,
    /// The callback this contact dialled, if it was one.
    #[serde(default)]
    pub callback: Option<CallbackId>,
}

impl ContactRecord {
    /// True when the contact leaves the customer's issue open with its owner.
    pub fn leaves_issue_open(&self) -> bool {
        matches!(
            self.disposition,
            Some(Disposition::Unresolved | Disposition::CallbackNeeded)
        )
    }
}
