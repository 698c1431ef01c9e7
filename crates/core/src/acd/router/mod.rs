//! The routing state machine.
//!
//! Invariants (checked by `tests/routing_invariants.rs` over random operation
//! sequences):
//! - an agent holds at most one offer or call at a time (`AgentSlot::call`);
//! - a call is in exactly one place: a queue's waiting set, one agent's
//!   preferred set, offered to one agent, or connected to one agent;
//! - an offer made by the router (not a transfer or preferred-agent offer) goes
//!   to an agent satisfying the requirements in force at that moment;
//! - a free agent takes the best-ranked waiting call it qualifies for, so within
//!   one tier calls are served oldest first, and since rank = enqueue time minus
//!   a bounded tier head start, no call starves;
//! - every call ends exactly once, as answered, abandoned, overflowed or rejected.
//!
//! The state and its outputs live here; the code that changes it is split by
//! concern into the submodules: `queries`, `agents` and `calls` (the inputs),
//! `admission` (queues), `matching`, `lifecycle` (offer to wrap-up, agent
//! states), `timers`, `restore` and `reconfigure` (live catalog changes).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slab::Slab;

use super::event::Event;
use super::model::*;
use super::settings::{NoAgentsPolicy, QueueSettings, RouterConfig, Strategy, WhenClosed};
use crate::ids::{AgentId, CallId, CallbackId, CustomerId, QueueName, SkillName};
use crate::time::{duration_ms, Deadlines, Monotonic, Now, TimerQueue, Timestamp};

mod admission;
mod agents;
mod calls;
mod lifecycle;
mod matching;
mod queries;
mod reconfigure;
mod restore;
mod timers;

/// Routing decisions kept per call; older ones are dropped first.
const MAX_DECISIONS_PER_CALL: usize = 32;
/// Passed-over candidates recorded per decision.
const MAX_PASSED_OVER: usize = 16;
/// Free agents looked at, beyond the candidates, to explain who lacked the
/// pivot skill; bounded so explanations never cost a scan of every agent.
const EXPLAIN_SCAN: usize = 64;
/// Overflow hops a call may take before it ends, so a cycle of overflow
/// queues cannot bounce a call forever.
const MAX_OVERFLOW_HOPS: u8 = 8;

/// Errors the routing core reports for an input it cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    #[error("unknown queue {0}")]
    UnknownQueue(QueueName),
    #[error("unknown skill {0}")]
    UnknownSkill(SkillName),
    #[error("proficiency {value} for skill {skill} is outside 1..=10")]
    InvalidProficiency { skill: SkillName, value: u32 },
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
    #[error("agent {agent} is {state}: cannot {action}", state = state.as_str())]
    WrongAgentState {
        agent: AgentId,
        state: AgentState,
        action: &'static str,
    },
    #[error("call {0} is not waiting in a queue")]
    NotQueued(CallId),
    #[error("call {call} is not offered to agent {agent}")]
    NotOffered { call: CallId, agent: AgentId },
    #[error("call {call} is not connected to agent {agent}")]
    NotConnected { call: CallId, agent: AgentId },
    #[error("agent {agent} is not wrapping up call {call}")]
    NotWrappingUp { call: CallId, agent: AgentId },
    #[error("invalid configuration at {key}: {reason}")]
    Config { key: String, reason: String },
}

/// An agent signing in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentLogin {
    pub id: AgentId,
    pub display_name: String,
    pub skills: Vec<SkillLevel>,
    pub start_available: bool,
}

/// A call arriving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncomingCall {
    pub id: CallId,
    pub ani: String,
    pub dnis: String,
    pub customer: Option<CustomerId>,
    pub tier: Tier,
    pub queue: QueueName,
    /// Requirements of this call on top of the queue's.
    pub extra_requirements: Vec<Requirement>,
    /// Owner of the customer's open issue (first-contact ownership).
    pub preferred_agent: Option<AgentId>,
    /// The node holding the caller's leg (none on a single node).
    #[serde(default)]
    pub node: Option<String>,
    /// Set for a callback's work item.
    #[serde(default)]
    pub callback: Option<CallbackWork>,
}

/// Where a transferred call goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TransferTarget {
    Queue(QueueName),
    Agent(AgentId),
}

/// An agent's place in [`Router::agents`]. Agents are never removed (a
/// logged-out agent keeps its slot), so an index stays valid for the
/// router's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct AgentIdx(usize);

/// A live call's key in [`Router::calls`]. Keys are reused once a call
/// ends, so whatever outlives a call (timers) also carries its serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct CallIdx(usize);

/// A queue's place in [`Router::queues`], fixed by the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct QueueIdx(usize);

impl Router {
    /// Every queue, in configuration order.
    fn queue_indices(&self) -> impl Iterator<Item = QueueIdx> {
        (0..self.queues.len()).map(QueueIdx)
    }
}

impl std::ops::Index<AgentIdx> for Vec<AgentSlot> {
    type Output = AgentSlot;
    fn index(&self, i: AgentIdx) -> &AgentSlot {
        &self[i.0]
    }
}

impl std::ops::IndexMut<AgentIdx> for Vec<AgentSlot> {
    fn index_mut(&mut self, i: AgentIdx) -> &mut AgentSlot {
        &mut self[i.0]
    }
}

impl std::ops::Index<CallIdx> for Slab<CallSlot> {
    type Output = CallSlot;
    fn index(&self, i: CallIdx) -> &CallSlot {
        &self[i.0]
    }
}

impl std::ops::IndexMut<CallIdx> for Slab<CallSlot> {
    fn index_mut(&mut self, i: CallIdx) -> &mut CallSlot {
        &mut self[i.0]
    }
}

impl std::ops::Index<QueueIdx> for Vec<QueueState> {
    type Output = QueueState;
    fn index(&self, i: QueueIdx) -> &QueueState {
        &self[i.0]
    }
}

impl std::ops::IndexMut<QueueIdx> for Vec<QueueState> {
    fn index_mut(&mut self, i: QueueIdx) -> &mut QueueState {
        &mut self[i.0]
    }
}

/// A requirement with its skill interned.
#[derive(Clone, Copy, Debug)]
struct Req {
    skill: u16,
    min: u8,
    optional: bool,
}

/// Queue order: rank (enqueue time minus tier head start) then arrival serial,
/// so ties break by arrival and the order is total and deterministic.
type Rank = (i64, u64);

struct QueueState {
    settings: QueueSettings,
    name: QueueName,
    reqs: Vec<Req>,
    /// Index of the overflow queue, resolved once.
    overflow_to: Option<QueueIdx>,
    waiting: BTreeSet<(Rank, CallIdx)>,
    /// Calls ringing at an agent.
    offering: u32,
    /// Logged-in agents eligible at full relaxation; drives `when_no_agents`.
    eligible_logged_in: u32,
    /// Agent index whose turn is next, for round-robin (agents in login order).
    rr_next: usize,
    counters: QueueCounters,
    /// No longer configured: takes no new calls, serves those waiting.
    retired: bool,
}

impl QueueState {
    /// A queue with nothing waiting, its requirements not yet interned.
    fn new(name: QueueName, settings: QueueSettings) -> Self {
        QueueState {
            settings,
            name,
            reqs: Vec::new(),
            overflow_to: None,
            waiting: BTreeSet::new(),
            offering: 0,
            eligible_logged_in: 0,
            rr_next: 0,
            counters: QueueCounters::default(),
            retired: false,
        }
    }
}

/// Per-queue counters since the last `reset_daily_counters`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounters {
    pub offered: u32,
    pub answered: u32,
    pub answered_within_threshold: u32,
    /// Callers who hung up while waiting, after at least the short-abandon
    /// time; these count against service level.
    pub abandoned: u32,
    /// Callers who hung up sooner (not counted in `abandoned`).
    #[serde(default)]
    pub short_abandons: u32,
    pub overflowed: u32,
    pub rejected: u32,
    /// Calls that arrived while the queue's hours said closed.
    #[serde(default)]
    pub closed: u32,
    /// Contacts whose wrap-up ended, and their handle time (answer to end
    /// of wrap-up) summed: the average handle time behind wait estimates.
    #[serde(default)]
    pub handled: u32,
    #[serde(default)]
    pub handle_ms: u64,
}

impl QueueCounters {
    /// Average handle time, once any contact was handled.
    pub fn average_handle_time(&self) -> Option<Duration> {
        (self.handled > 0).then(|| Duration::from_millis(self.handle_ms / u64::from(self.handled)))
    }
}

/// What an agent is busy with (see [`Router::agent_work`]).
#[derive(Clone, Debug, PartialEq)]
pub enum AgentWork {
    /// A call rings at the agent until `expires_at`.
    Offered { call: CallRecord, expires_at: Timestamp },
    /// The agent talks with the caller.
    Connected { call: CallRecord },
    /// The call ended; wrap-up ends by itself at `deadline`.
    WrappingUp { call: CallId, deadline: Timestamp },
}

/// Where a waiting call stands, for the caller's announcements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePosition {
    /// 1 = next to be served in its queue.
    pub position: u32,
    /// Estimated wait: position x average handle time / agents serving the
    /// queue (not on break); none before any contact of the queue was handled.
    pub estimated_wait: Option<Duration>,
}

/// A queue's live figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    pub name: QueueName,
    pub waiting: u32,
    pub offering: u32,
    pub oldest_wait: Duration,
    /// Logged-in agents eligible for this queue, by state.
    pub agents_by_state: Vec<(AgentState, u32)>,
    pub counters: QueueCounters,
    pub service_level_threshold_secs: u64,
}

#[derive(Clone, Debug)]
enum Phase {
    Waiting,
    /// Held for the owner of the customer's open issue until `until`.
    PreferredWait {
        agent: AgentIdx,
    },
    Offering {
        agent: AgentIdx,
        seq: u32,
        /// When the ring times out (re-sent to a softphone that reconnects).
        expires_at: Timestamp,
    },
    Connected {
        agent: AgentIdx,
        leg_answered_at: Timestamp,
        hold_since: Option<Timestamp>,
    },
}

struct CallSlot {
    /// Unique across the router's life; timers carry it to detect reuse of the slab index.
    serial: u64,
    record: CallRecord,
    queue: QueueIdx,
    /// Queue requirements plus the call's own, interned.
    reqs: Vec<Req>,
    /// The call's own requirements, kept to rebuild `reqs` when it changes queue.
    extra: Vec<Req>,
    rank: Rank,
    /// Entry into the current queue: relaxation and maximum wait count from here.
    queue_entered_at: Timestamp,
    phase: Phase,
    /// Agents who declined or missed this call, and until when they are skipped.
    passed: Vec<(AgentIdx, Timestamp)>,
    offer_seq: u32,
    overflow_hops: u8,
}

struct WrapUpState {
    contact: ContactRecord,
    seq: u32,
    /// When wrap-up ends by itself (re-sent to a softphone that reconnects).
    deadline: Timestamp,
}

struct AgentSlot {
    record: AgentRecord,
    /// Sorted by skill index for binary search.
    skills: Vec<(u16, u8)>,
    /// Queues this agent can serve at full relaxation.
    eligible_queues: Vec<QueueIdx>,
    /// The call offered to or connected with this agent (slab index).
    call: Option<CallIdx>,
    wrap: Option<WrapUpState>,
    wrap_seq: u32,
    /// Open event streams (softphones) of this agent.
    streams: u32,
    /// Bumped whenever presence changes, so a stale grace timer does nothing.
    presence_seq: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Re-try routing a waiting call (relaxation step or re-offer delay passed).
    CallCheck {
        call: CallIdx,
        serial: u64,
    },
    RingTimeout {
        call: CallIdx,
        serial: u64,
        seq: u32,
    },
    MaxWait {
        call: CallIdx,
        serial: u64,
        hops: u8,
    },
    PreferredExpired {
        call: CallIdx,
        serial: u64,
    },
    WrapUpEnd {
        agent: AgentIdx,
        seq: u32,
    },
    /// The agent's softphone has been gone for the grace period.
    PresenceExpired {
        agent: AgentIdx,
        seq: u32,
    },
    /// A waiting callback enters its last stretch before the deadline.
    CallbackUrgent {
        call: CallIdx,
        serial: u64,
    },
}

/// Why an agent cannot take a call.
#[derive(Clone, Copy, Debug)]
enum Unqualified {
    Missing(u16),
    Low { skill: u16, has: u8, needs: u8 },
}

/// Why the matching loop passed over an agent, as plain numbers: the loop
/// records these and the explanation's text is written once, after the
/// choice (`Router::explain`), so no string is built per candidate.
#[derive(Clone, Copy, Debug)]
enum PassedFor {
    /// Declined or missed this call within the re-offer delay.
    Recently,
    Unqualified(Unqualified),
    /// Scored lower than the best found.
    LowerScore(i64),
    /// Scored the same but idle less long.
    SameScoreIdleLess(i64),
}

/// What a free agent should take next.
#[derive(Clone, Copy, Debug)]
enum NextCall {
    /// A call held for this agent (first-contact ownership).
    Preferred(CallIdx),
    /// The best-ranked waiting call the agent qualifies for.
    Queued {
        rank: Rank,
        cidx: CallIdx,
        relax: Relax,
        considered: u32,
    },
}

/// The relaxation in force for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Relax {
    step: u32,
    lower: u8,
    drop_optional: bool,
}

/// The skill-based ACD. Feed it inputs with `handle_*`, carry out what
/// `poll_event` returns, and call `handle_timeout` at `poll_timeout`.
pub struct Router {
    skill_names: Vec<SkillName>,
    skill_index: HashMap<SkillName, u16>,
    queues: Vec<QueueState>,
    queue_index: HashMap<QueueName, QueueIdx>,
    agents: Vec<AgentSlot>,
    agent_index: HashMap<AgentId, AgentIdx>,
    /// Available agents having each skill, longest idle first.
    available_by_skill: Vec<BTreeSet<(Timestamp, AgentIdx)>>,
    /// All available agents, longest idle first (for calls with no requirements).
    available_all: BTreeSet<(Timestamp, AgentIdx)>,
    /// Available agents having each skill, strongest first, then longest idle
    /// (for most-proficient routing).
    available_by_proficiency: Vec<BTreeSet<(Reverse<u8>, Timestamp, AgentIdx)>>,
    calls: Slab<CallSlot>,
    call_index: HashMap<CallId, CallIdx>,
    /// Calls held for their preferred agent, by agent.
    preferred_waiting: HashMap<AgentIdx, BTreeSet<(Rank, CallIdx)>>,
    /// Wall-clock timers, each with its arming serial so timers due together
    /// fire in the order armed. Wall clock because what they time is
    /// recorded and survives a failover (waits, wrap-up, presence).
    timers: TimerQueue<Timestamp, (u64, TimerKind)>,
    /// Ring timeouts, on the driver's monotonic clock: an offer rings its
    /// full time even if the wall clock is stepped meanwhile.
    ring_timers: TimerQueue<Monotonic, (u64, TimerKind)>,
    /// The monotonic reading of the input being handled (set on entry by
    /// every input that takes the time).
    mono: Monotonic,
    events: VecDeque<Event>,
    next_serial: u64,
    /// How long a logged-in agent may have no event stream (none: unenforced).
    presence_grace: Option<Duration>,
    /// Abandons shorter than this count apart ([`RouterConfig::short_abandon`]).
    short_abandon: Duration,
    /// Hours calendars by id ([`RouterConfig::hours`]).
    hours: std::collections::BTreeMap<String, crate::hours::OpenHours>,
}

impl Router {
    /// Builds a router; rejects settings that name unknown skills or queues.
    pub fn new(config: RouterConfig) -> Result<Self, RouteError> {
        let mut skill_index = HashMap::new();
        for (i, s) in config.skills.iter().enumerate() {
            let i = u16::try_from(i).map_err(|_| RouteError::Config {
                key: "skills".into(),
                reason: "more than 65535 skills".into(),
            })?;
            if skill_index.insert(s.clone(), i).is_some() {
                return Err(RouteError::Config {
                    key: "skills".into(),
                    reason: format!("skill {s} listed twice"),
                });
            }
        }
        let mut queue_index = HashMap::new();
        for (i, q) in config.queues.iter().enumerate() {
            let name = q.name.clone().ok_or_else(|| RouteError::Config {
                key: format!("queues[{i}]"),
                reason: "queue has no name".into(),
            })?;
            if queue_index.insert(name.clone(), QueueIdx(i)).is_some() {
                return Err(RouteError::Config {
                    key: format!("queues.{name}"),
                    reason: "queue defined twice".into(),
                });
            }
        }
        let mut queues = Vec::with_capacity(config.queues.len());
        for q in &config.queues {
            let name = q.name.clone().unwrap_or_else(|| QueueName::new(""));
            let key = |field: &str| format!("queues.{name}.{field}");
            let mut reqs = Vec::new();
            for r in &q.required_skills {
                let skill = *skill_index.get(&r.skill).ok_or_else(|| RouteError::Config {
                    key: key("required_skills"),
                    reason: format!("unknown skill {}", r.skill),
                })?;
                if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&r.min_proficiency) {
                    return Err(RouteError::Config {
                        key: key("required_skills"),
                        reason: format!(
                            "min_proficiency {} for {} is outside 1..=10",
                            r.min_proficiency, r.skill
                        ),
                    });
                }
                reqs.push(Req {
                    skill,
                    min: r.min_proficiency,
                    optional: r.optional,
                });
            }
            let overflow_to = match &q.overflow_queue {
                None => None,
                Some(o) => Some(*queue_index.get(o).ok_or_else(|| RouteError::Config {
                    key: key("overflow_queue"),
                    reason: format!("unknown queue {o}"),
                })?),
            };
            if q.ring_timeout_secs == 0 {
                return Err(RouteError::Config {
                    key: key("ring_timeout_secs"),
                    reason: "must be at least 1".into(),
                });
            }
            if q.max_queue_len == 0 {
                return Err(RouteError::Config {
                    key: key("max_queue_len"),
                    reason: "must be at least 1".into(),
                });
            }
            if q.max_consecutive_misses == 0 {
                return Err(RouteError::Config {
                    key: key("max_consecutive_misses"),
                    reason: "must be at least 1".into(),
                });
            }
            if q.callback_deadline_secs == 0 {
                return Err(RouteError::Config {
                    key: key("callback_deadline_secs"),
                    reason: "must be at least 1".into(),
                });
            }
            if q.callback_max_attempts == 0 {
                return Err(RouteError::Config {
                    key: key("callback_max_attempts"),
                    reason: "must be at least 1".into(),
                });
            }
            for (field, calendar) in [("hours", &q.hours), ("callback_hours", &q.callback_hours)] {
                if !calendar.is_empty() && !config.hours.contains_key(calendar) {
                    return Err(RouteError::Config {
                        key: key(field),
                        reason: format!("unknown hours calendar {calendar}"),
                    });
                }
            }
            if !q.hours.is_empty() && q.when_closed == WhenClosed::Overflow && q.overflow_queue.is_none() {
                return Err(RouteError::Config {
                    key: key("when_closed"),
                    reason: "overflow needs an overflow_queue".into(),
                });
            }
            if q.relaxation
                .windows(2)
                .any(|w| w[0].after_secs >= w[1].after_secs)
            {
                return Err(RouteError::Config {
                    key: key("relaxation"),
                    reason: "steps must be in increasing after_secs order".into(),
                });
            }
            queues.push(QueueState {
                reqs,
                overflow_to,
                ..QueueState::new(name.clone(), q.clone())
            });
        }
        Ok(Router {
            available_by_skill: vec![BTreeSet::new(); config.skills.len()],
            available_by_proficiency: vec![BTreeSet::new(); config.skills.len()],
            skill_names: config.skills,
            skill_index,
            queues,
            queue_index,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            available_all: BTreeSet::new(),
            calls: Slab::new(),
            call_index: HashMap::new(),
            preferred_waiting: HashMap::new(),
            timers: TimerQueue::new(),
            ring_timers: TimerQueue::new(),
            mono: Monotonic::default(),
            events: VecDeque::new(),
            next_serial: 0,
            presence_grace: config.presence_grace,
            short_abandon: config.short_abandon,
            hours: config.hours,
        })
    }

    // ----- outputs ---------------------------------------------------------

    /// The next thing the driver must carry out, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next event, without taking it.
    pub fn peek_event(&self) -> Option<&Event> {
        self.events.front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Deadlines {
        Deadlines {
            wall: self.timers.next_at(),
            mono: self.ring_timers.next_at(),
        }
    }

    /// Takes both readings of an input's time: keeps the monotonic one for
    /// the ring timers this input may arm, returns the wall-clock one.
    fn enter(&mut self, now: Now) -> Timestamp {
        self.mono = now.mono;
        now.wall
    }
}

fn state_slot(s: AgentState) -> usize {
    match s {
        AgentState::LoggedOut => 0,
        AgentState::Available => 1,
        AgentState::Reserved => 2,
        AgentState::OnCall => 3,
        AgentState::WrapUp => 4,
        AgentState::NotReady => 5,
    }
}
