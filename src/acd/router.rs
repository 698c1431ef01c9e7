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

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slab::Slab;

use super::event::Event;
use super::model::*;
use super::settings::{NoAgentsPolicy, QueueSettings, RouterConfig, Strategy};
use crate::ids::{AgentId, CallId, CallbackId, CustomerId, QueueName, SkillName};
use crate::time::{duration_ms, Timestamp};

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
    overflow_to: Option<usize>,
    waiting: BTreeSet<(Rank, usize)>,
    /// Calls ringing at an agent.
    offering: u32,
    /// Logged-in agents eligible at full relaxation; drives `when_no_agents`.
    eligible_logged_in: u32,
    /// Agent index whose turn is next, for round-robin (agents in login order).
    rr_next: usize,
    counters: QueueCounters,
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
        agent: usize,
    },
    Offering {
        agent: usize,
        seq: u32,
        /// When the ring times out (re-sent to a softphone that reconnects).
        expires_at: Timestamp,
    },
    Connected {
        agent: usize,
        leg_answered_at: Timestamp,
        hold_since: Option<Timestamp>,
    },
}

struct CallSlot {
    /// Unique across the router's life; timers carry it to detect reuse of the slab index.
    serial: u64,
    record: CallRecord,
    queue: usize,
    /// Queue requirements plus the call's own, interned.
    reqs: Vec<Req>,
    /// The call's own requirements, kept to rebuild `reqs` when it changes queue.
    extra: Vec<Req>,
    rank: Rank,
    /// Entry into the current queue: relaxation and maximum wait count from here.
    queue_entered_at: Timestamp,
    phase: Phase,
    /// Agents who declined or missed this call, and until when they are skipped.
    passed: Vec<(usize, Timestamp)>,
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
    eligible_queues: Vec<usize>,
    /// The call offered to or connected with this agent (slab index).
    call: Option<usize>,
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
        call: usize,
        serial: u64,
    },
    RingTimeout {
        call: usize,
        serial: u64,
        seq: u32,
    },
    MaxWait {
        call: usize,
        serial: u64,
        hops: u8,
    },
    PreferredExpired {
        call: usize,
        serial: u64,
    },
    WrapUpEnd {
        agent: usize,
        seq: u32,
    },
    /// The agent's softphone has been gone for the grace period.
    PresenceExpired {
        agent: usize,
        seq: u32,
    },
    /// A waiting callback enters its last stretch before the deadline.
    CallbackUrgent {
        call: usize,
        serial: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Timestamp,
    /// Insertion order, so timers due together fire in a deterministic order.
    seq: u64,
    kind: TimerKind,
}

/// Why an agent cannot take a call.
enum Unqualified {
    Missing(u16),
    Low { skill: u16, has: u8, needs: u8 },
}

/// What a free agent should take next.
#[derive(Clone, Copy, Debug)]
enum NextCall {
    /// A call held for this agent (first-contact ownership).
    Preferred(usize),
    /// The best-ranked waiting call the agent qualifies for.
    Queued {
        rank: Rank,
        cidx: usize,
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
    queue_index: HashMap<QueueName, usize>,
    agents: Vec<AgentSlot>,
    agent_index: HashMap<AgentId, usize>,
    /// Available agents having each skill, longest idle first.
    available_by_skill: Vec<BTreeSet<(Timestamp, usize)>>,
    /// All available agents, longest idle first (for calls with no requirements).
    available_all: BTreeSet<(Timestamp, usize)>,
    /// Available agents having each skill, strongest first, then longest idle
    /// (for most-proficient routing).
    available_by_proficiency: Vec<BTreeSet<(Reverse<u8>, Timestamp, usize)>>,
    calls: Slab<CallSlot>,
    call_index: HashMap<CallId, usize>,
    /// Calls held for their preferred agent, by agent.
    preferred_waiting: HashMap<usize, BTreeSet<(Rank, usize)>>,
    timers: BinaryHeap<Reverse<Timer>>,
    events: VecDeque<Event>,
    next_serial: u64,
    /// How long a logged-in agent may have no event stream (none: unenforced).
    presence_grace: Option<Duration>,
    /// Abandons shorter than this count apart ([`RouterConfig::short_abandon`]).
    short_abandon: Duration,
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
            if queue_index.insert(name.clone(), i).is_some() {
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
            if let Some(hours) = &q.business_hours {
                hours.calendar().map_err(|(field, reason)| RouteError::Config {
                    key: key(&format!("business_hours.{field}")),
                    reason,
                })?;
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
                settings: q.clone(),
                name: name.clone(),
                reqs,
                overflow_to,
                waiting: BTreeSet::new(),
                offering: 0,
                eligible_logged_in: 0,
                rr_next: 0,
                counters: QueueCounters::default(),
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
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            next_serial: 0,
            presence_grace: config.presence_grace,
            short_abandon: config.short_abandon,
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
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse(t)| t.at)
    }

    // ----- queries ---------------------------------------------------------

    pub fn agent(&self, id: &AgentId) -> Option<&AgentRecord> {
        self.agent_index.get(id).map(|&i| &self.agents[i].record)
    }

    pub fn call(&self, id: &CallId) -> Option<CallRecord> {
        self.call_index.get(id).map(|&c| self.snapshot(c))
    }

    /// The work an agent holds right now (an offer ringing, a call, a
    /// wrap-up), so a softphone that connects, or connects again after a
    /// takeover or a reload, is shown it and not only the agent's state.
    pub fn agent_work(&self, id: &AgentId) -> Option<AgentWork> {
        let aidx = *self.agent_index.get(id)?;
        let agent = &self.agents[aidx];
        if let Some(wrap) = &agent.wrap {
            return Some(AgentWork::WrappingUp {
                call: wrap.contact.call.clone(),
                deadline: wrap.deadline,
            });
        }
        let cidx = agent.call?;
        match self.calls[cidx].phase {
            Phase::Offering { expires_at, .. } => Some(AgentWork::Offered {
                call: self.snapshot(cidx),
                expires_at,
            }),
            Phase::Connected { .. } => Some(AgentWork::Connected {
                call: self.snapshot(cidx),
            }),
            Phase::Waiting | Phase::PreferredWait { .. } => None,
        }
    }

    /// Agents by state, each once (logged-out agents included).
    /// Calls answered and not yet done with: connected, or with an agent
    /// still wrapping up after them.
    pub fn answered_calls(&self) -> Vec<CallId> {
        let connected = self
            .calls
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Connected { .. }))
            .map(|(_, c)| c.record.id.clone());
        let wrapping = self
            .agents
            .iter()
            .filter_map(|a| a.wrap.as_ref().map(|w| w.contact.call.clone()));
        connected.chain(wrapping).collect()
    }

    pub fn agents_by_state(&self) -> Vec<(AgentState, u32)> {
        let mut counts: Vec<(AgentState, u32)> = AgentState::ALL.iter().map(|s| (*s, 0)).collect();
        for a in &self.agents {
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == a.record.state) {
                c.1 += 1;
            }
        }
        counts
    }

    /// Calls (and callback work items) live in the router.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Every callback work item in the router, with its callback.
    pub fn callback_items(&self) -> Vec<(CallbackId, CallId)> {
        self.calls
            .iter()
            .filter_map(|(_, c)| {
                c.record
                    .callback
                    .as_ref()
                    .map(|cb| (cb.id.clone(), c.record.id.clone()))
            })
            .collect()
    }

    pub fn queue_names(&self) -> impl Iterator<Item = &QueueName> {
        self.queues.iter().map(|q| &q.name)
    }

    pub fn has_queue(&self, name: &QueueName) -> bool {
        self.queue_index.contains_key(name)
    }

    pub fn has_skill(&self, name: &SkillName) -> bool {
        self.skill_index.contains_key(name)
    }

    /// The queue's settings, for adapters (wrap-up countdowns, SL thresholds).
    pub fn queue_settings(&self, name: &QueueName) -> Option<&QueueSettings> {
        self.queue_index.get(name).map(|&q| &self.queues[q].settings)
    }

    /// Waiting calls of a queue in the order they will be served.
    pub fn waiting_calls(&self, queue: &QueueName) -> Vec<CallId> {
        self.queue_index
            .get(queue)
            .map(|&q| {
                self.queues[q]
                    .waiting
                    .iter()
                    .map(|&(_, c)| self.calls[c].record.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Where a waiting call stands in its queue; none unless it waits.
    pub fn queue_position(&self, call: &CallId) -> Option<QueuePosition> {
        let cidx = *self.call_index.get(call)?;
        let slot = &self.calls[cidx];
        let queue = &self.queues[slot.queue];
        if !queue.waiting.contains(&(slot.rank, cidx)) {
            return None;
        }
        let position = queue.waiting.range(..(slot.rank, cidx)).count() as u32 + 1;
        let serving = self
            .agents
            .iter()
            .filter(|a| {
                !matches!(a.record.state, AgentState::LoggedOut | AgentState::NotReady)
                    && a.eligible_queues.contains(&slot.queue)
            })
            .count()
            .max(1) as u32;
        let estimated_wait = queue
            .counters
            .average_handle_time()
            .map(|aht| aht * position / serving);
        Some(QueuePosition {
            position,
            estimated_wait,
        })
    }

    /// Live figures of every queue.
    pub fn queue_views(&self, now: Timestamp) -> Vec<QueueView> {
        let mut by_state = vec![[0u32; 6]; self.queues.len()];
        for a in &self.agents {
            if a.record.state == AgentState::LoggedOut {
                continue;
            }
            let s = state_slot(a.record.state);
            for &q in &a.eligible_queues {
                by_state[q][s] += 1;
            }
        }
        self.queues
            .iter()
            .enumerate()
            .map(|(qi, q)| {
                let oldest = q
                    .waiting
                    .iter()
                    .map(|&(_, c)| self.calls[c].queue_entered_at)
                    .min()
                    .map(|t| now.since(t))
                    .unwrap_or_default();
                QueueView {
                    name: q.name.clone(),
                    waiting: q.waiting.len() as u32,
                    offering: q.offering,
                    oldest_wait: oldest,
                    agents_by_state: AgentState::ALL
                        .iter()
                        .filter(|s| **s != AgentState::LoggedOut)
                        .map(|s| (*s, by_state[qi][state_slot(*s)]))
                        .collect(),
                    counters: q.counters,
                    service_level_threshold_secs: q.settings.service_level_secs,
                }
            })
            .collect()
    }

    /// Starts a new counting period (the driver calls this at midnight).
    pub fn reset_daily_counters(&mut self) {
        for q in &mut self.queues {
            q.counters = QueueCounters::default();
        }
    }

    // ----- agent inputs ----------------------------------------------------

    /// Signs an agent in. Signing in again while logged in changes nothing.
    pub fn handle_agent_login(&mut self, now: Timestamp, login: AgentLogin) -> Result<(), RouteError> {
        let mut skills = Vec::with_capacity(login.skills.len());
        for s in &login.skills {
            skills.push(self.intern(&s.skill, s.proficiency)?);
        }
        skills.sort_unstable();
        skills.dedup_by_key(|s| s.0);
        let aidx = self.slot_for(now, &login.id);
        if self.agents[aidx].record.state != AgentState::LoggedOut {
            return Ok(());
        }
        let eligible: Vec<usize> = (0..self.queues.len())
            .filter(|&q| self.eligible_for_queue(&skills, q))
            .collect();
        for &q in &eligible {
            self.queues[q].eligible_logged_in += 1;
        }
        let agent = &mut self.agents[aidx];
        agent.record.display_name = login.display_name;
        agent.record.skills = skills
            .iter()
            .map(|&(s, p)| SkillLevel {
                skill: self.skill_names[usize::from(s)].clone(),
                proficiency: p,
            })
            .collect();
        agent.record.calls_handled = 0;
        agent.record.consecutive_misses = 0;
        agent.record.pending_not_ready = None;
        agent.skills = skills;
        agent.eligible_queues = eligible;
        if login.start_available {
            self.make_available(now, aidx, "logged in");
            self.route_agent(now, aidx);
        } else {
            self.set_state(
                now,
                aidx,
                AgentState::NotReady,
                Some("logged-in".into()),
                "logged in",
            );
        }
        if self.agents[aidx].streams == 0 {
            self.arm_presence(now, aidx);
        }
        Ok(())
    }

    /// The agent's slot, created logged out on first sight (agents are never
    /// removed, so indexes stay valid).
    fn slot_for(&mut self, now: Timestamp, id: &AgentId) -> usize {
        if let Some(&a) = self.agent_index.get(id) {
            return a;
        }
        let a = self.agents.len();
        self.agents.push(AgentSlot {
            record: AgentRecord::logged_out(id.clone(), String::new(), now, ""),
            skills: Vec::new(),
            eligible_queues: Vec::new(),
            call: None,
            wrap: None,
            wrap_seq: 0,
            streams: 0,
            presence_seq: 0,
        });
        self.agent_index.insert(id.clone(), a);
        a
    }

    /// The agent's softphone opened an event stream (before or after login).
    pub fn handle_agent_stream_opened(&mut self, now: Timestamp, id: &AgentId) -> Result<(), RouteError> {
        let aidx = self.slot_for(now, id);
        let agent = &mut self.agents[aidx];
        agent.streams += 1;
        agent.presence_seq += 1;
        Ok(())
    }

    /// An event stream of the agent closed; with none left, the agent is
    /// logged out unless one opens within the presence grace period.
    pub fn handle_agent_stream_closed(&mut self, now: Timestamp, id: &AgentId) -> Result<(), RouteError> {
        let aidx = self.agent_idx(id)?;
        let agent = &mut self.agents[aidx];
        agent.streams = agent.streams.saturating_sub(1);
        if agent.streams == 0 {
            self.arm_presence(now, aidx);
        }
        Ok(())
    }

    fn arm_presence(&mut self, now: Timestamp, aidx: usize) {
        let Some(grace) = self.presence_grace else {
            return;
        };
        let agent = &mut self.agents[aidx];
        agent.presence_seq += 1;
        let seq = agent.presence_seq;
        self.push_timer(now.plus(grace), TimerKind::PresenceExpired { agent: aidx, seq });
    }

    /// Signs an agent out. `forced_by` (a supervisor) may log out an agent on a
    /// call, which ends the call; the agent itself must hang up first.
    pub fn handle_agent_logout(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        forced_by: Option<&str>,
    ) -> Result<(), RouteError> {
        let aidx = self.agent_idx(id)?;
        let reason = match forced_by {
            Some(by) => format!("logged out by {by}"),
            None => "logged out".to_string(),
        };
        let mut rescinded = None;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => return Ok(()),
            AgentState::Available | AgentState::NotReady => {}
            AgentState::Reserved => {
                rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable)
            }
            AgentState::OnCall => {
                if forced_by.is_none() {
                    return Err(self.wrong_state(aidx, "log out during a call; hang up first"));
                }
                if let Some(c) = self.agents[aidx].call {
                    self.end_connected(now, c, &reason);
                }
                self.finish_wrap_up(now, aidx, None, None, None);
            }
            AgentState::WrapUp => self.finish_wrap_up(now, aidx, None, None, None),
        }
        let eligible = std::mem::take(&mut self.agents[aidx].eligible_queues);
        self.agents[aidx].wrap = None;
        self.set_state(now, aidx, AgentState::LoggedOut, None, &reason);
        for q in eligible {
            self.queues[q].eligible_logged_in -= 1;
            if self.queues[q].eligible_logged_in == 0 {
                self.apply_no_agents_policy(now, q);
            }
        }
        self.route_again(now, rescinded);
        Ok(())
    }

    /// The shared store refused the claim of `agent` for `call`: it holds the
    /// agent as busy (another writer got there first). The offer is
    /// withdrawn, the agent is parked not ready until its softphone asks to
    /// be available again (which re-syncs it), and the call goes on to the
    /// next candidate.
    pub fn handle_claim_refused(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        call: &CallId,
        why: &str,
    ) -> Result<(), RouteError> {
        let (aidx, _) = self.offered_pair(agent, call)?;
        let rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable);
        self.set_state(
            now,
            aidx,
            AgentState::NotReady,
            Some("claim-refused".into()),
            &format!("the store refused the claim: {why}"),
        );
        self.route_again(now, rescinded);
        Ok(())
    }

    /// Offers a call taken back from an agent to someone else, if it is still
    /// waiting (the no-agents policy may have ended it meanwhile).
    fn route_again(&mut self, now: Timestamp, call: Option<(usize, u64)>) {
        if let Some((cidx, serial)) = call {
            if self.live(cidx, serial) {
                self.route_call(now, cidx, "re-queued");
            }
        }
    }

    /// The agent (or a supervisor) asks for AVAILABLE. While busy this cancels a
    /// pending not-ready request, since the agent becomes available after wrap-up anyway.
    pub fn handle_set_available(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        why: &str,
    ) -> Result<(), RouteError> {
        let aidx = self.agent_idx(id)?;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => Err(self.wrong_state(aidx, "become available before logging in")),
            AgentState::Available => Ok(()),
            AgentState::NotReady => {
                self.make_available(now, aidx, why);
                self.route_agent(now, aidx);
                Ok(())
            }
            AgentState::Reserved | AgentState::OnCall | AgentState::WrapUp => {
                self.agents[aidx].record.pending_not_ready = None;
                Ok(())
            }
        }
    }

    /// The agent (or a supervisor) asks for NOT_READY. A ringing offer is
    /// rescinded; on a call or in wrap-up the request waits for wrap-up to end.
    pub fn handle_set_not_ready(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        reason: &str,
        why: &str,
    ) -> Result<(), RouteError> {
        let aidx = self.agent_idx(id)?;
        match self.agents[aidx].record.state {
            AgentState::LoggedOut => Err(self.wrong_state(aidx, "go not ready before logging in")),
            AgentState::Available | AgentState::NotReady => {
                self.set_state(now, aidx, AgentState::NotReady, Some(reason.into()), why);
                Ok(())
            }
            AgentState::Reserved => {
                let rescinded = self.rescind_offer(now, aidx, RescindReason::AgentUnavailable);
                self.set_state(now, aidx, AgentState::NotReady, Some(reason.into()), why);
                self.route_again(now, rescinded);
                Ok(())
            }
            AgentState::OnCall | AgentState::WrapUp => {
                self.agents[aidx].record.pending_not_ready = Some(reason.into());
                Ok(())
            }
        }
    }

    pub fn handle_offer_accepted(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let (aidx, cidx) = self.offered_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Connected {
            agent: aidx,
            leg_answered_at: now,
            hold_since: None,
        };
        let first_answer = slot.record.answered_at.is_none();
        if first_answer {
            slot.record.answered_at = Some(now);
        }
        let wait = now.since(slot.record.enqueued_at);
        let q = slot.queue;
        // Callbacks are counted as callbacks, not as answered calls.
        let live_call = slot.record.callback.is_none();
        let queue = &mut self.queues[q];
        queue.offering -= 1;
        if first_answer && live_call {
            queue.counters.answered += 1;
            if wait <= Duration::from_secs(queue.settings.service_level_secs) {
                queue.counters.answered_within_threshold += 1;
            }
        }
        let agent = &mut self.agents[aidx];
        agent.record.consecutive_misses = 0;
        agent.record.calls_handled += 1;
        self.set_state(now, aidx, AgentState::OnCall, None, "answered");
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallConnected {
            agent: id.clone(),
            call: snapshot,
        });
        Ok(())
    }

    pub fn handle_offer_declined(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let (aidx, cidx) = self.offered_pair(id, call)?;
        self.rescind_offer(now, aidx, RescindReason::Declined);
        self.make_available(now, aidx, "declined an offer");
        self.route_call(now, cidx, "re-queued");
        self.route_agent(now, aidx);
        Ok(())
    }

    pub fn handle_agent_hangup(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
    ) -> Result<(), RouteError> {
        let (_, cidx) = self.connected_pair(id, call)?;
        self.end_connected(now, cidx, "agent hung up");
        Ok(())
    }

    pub fn handle_hold(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
        hold: bool,
    ) -> Result<(), RouteError> {
        let (_, cidx) = self.connected_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        if let Phase::Connected { hold_since, .. } = &mut slot.phase {
            match (hold, *hold_since) {
                (true, None) => *hold_since = Some(now),
                (false, Some(since)) => {
                    slot.record.hold_ms += duration_ms(now.since(since));
                    *hold_since = None;
                }
                _ => return Ok(()),
            }
            slot.record.on_hold = hold;
        }
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallUpdated { call: snapshot });
        Ok(())
    }

    /// Hands a connected call on; the transferring agent enters wrap-up.
    pub fn handle_transfer(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
        target: TransferTarget,
    ) -> Result<(), RouteError> {
        let (aidx, cidx) = self.connected_pair(id, call)?;
        match &target {
            TransferTarget::Queue(q) => {
                let q = *self
                    .queue_index
                    .get(q)
                    .ok_or_else(|| RouteError::UnknownQueue(q.clone()))?;
                self.release_connected_agent(now, cidx, aidx);
                self.enter_queue(now, cidx, q);
                self.route_call(now, cidx, "transfer");
            }
            TransferTarget::Agent(to) => {
                let to_idx = self.agent_idx(to)?;
                if to_idx == aidx || self.agents[to_idx].record.state != AgentState::Available {
                    return Err(self.wrong_state(to_idx, "take a transfer unless available"));
                }
                self.release_connected_agent(now, cidx, aidx);
                self.calls[cidx].phase = Phase::Waiting;
                let decision = RoutingDecision {
                    at: now,
                    agent: to.clone(),
                    trigger: "transfer-to-agent".into(),
                    strategy: format!("transfer from {id}"),
                    score: 0,
                    relaxation_step: 0,
                    requirements: Vec::new(),
                    candidates_considered: 1,
                    passed_over: Vec::new(),
                };
                self.offer(now, cidx, to_idx, decision);
            }
        }
        Ok(())
    }

    /// The agent's audio could not reach the call (no softphone anywhere, or
    /// the relay from the node holding it could not be set up): nothing was
    /// said, so the caller goes back to the queue in their old place (rank
    /// kept, no contact written) and the agent goes not ready with the
    /// reason, so they are offered nothing until they fix their softphone.
    pub fn handle_agent_audio_failed(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
        reason: &str,
    ) -> Result<(), RouteError> {
        let (aidx, cidx) = self.connected_pair(id, call)?;
        let slot = &mut self.calls[cidx];
        if let Phase::Connected {
            hold_since: Some(since),
            ..
        } = slot.phase
        {
            slot.record.hold_ms += duration_ms(now.since(since));
            slot.record.on_hold = false;
        }
        self.agents[aidx].call = None;
        self.events.push_back(Event::AgentAudioFailed {
            agent: id.clone(),
            call: call.clone(),
            reason: reason.to_string(),
        });
        self.set_state(
            now,
            aidx,
            AgentState::NotReady,
            Some("softphone audio unreachable".into()),
            &format!("the call was returned to the queue: {reason}"),
        );
        let q = self.calls[cidx].queue;
        self.enter_queue(now, cidx, q);
        self.route_call(now, cidx, "agent audio failed");
        Ok(())
    }

    /// Ends wrap-up with the agent's disposition.
    pub fn handle_wrap_up_completed(
        &mut self,
        now: Timestamp,
        id: &AgentId,
        call: &CallId,
        disposition: Option<Disposition>,
        category: Option<String>,
        notes: Option<String>,
    ) -> Result<(), RouteError> {
        let aidx = self.agent_idx(id)?;
        let agent = &self.agents[aidx];
        let matches = agent.record.state == AgentState::WrapUp
            && agent.wrap.as_ref().is_some_and(|w| &w.contact.call == call);
        if !matches {
            return Err(RouteError::NotWrappingUp {
                call: call.clone(),
                agent: id.clone(),
            });
        }
        self.finish_wrap_up(now, aidx, disposition, category, notes);
        self.after_wrap_up(now, aidx);
        Ok(())
    }

    // ----- restore -----------------------------------------------------------

    /// Rebuilds live state from stored records, when this node takes over
    /// routing or restarts. `agents` are every agent record; `calls` are the
    /// live calls plus the ended calls agents are still wrapping up.
    ///
    /// Offers that were ringing are withdrawn (the call waits again in its
    /// original place, the agent is available); connected calls and wrap-ups
    /// continue, wrap-ups with a fresh deadline. Changes are reported as
    /// events so the store catches up. Agents start with no softphone stream
    /// here, so the presence grace period starts now.
    pub fn handle_restore(&mut self, now: Timestamp, agents: Vec<AgentRecord>, calls: Vec<CallRecord>) {
        let mut by_id: HashMap<CallId, CallRecord> = calls.into_iter().map(|c| (c.id.clone(), c)).collect();
        for record in agents {
            let aidx = self.slot_for(now, &record.id);
            let skills = {
                let mut v: Vec<(u16, u8)> = record
                    .skills
                    .iter()
                    .filter_map(|s| self.intern(&s.skill, s.proficiency).ok())
                    .collect();
                v.sort_unstable();
                v.dedup_by_key(|s| s.0);
                v
            };
            let logged_in = record.state != AgentState::LoggedOut;
            let eligible: Vec<usize> = if logged_in {
                (0..self.queues.len())
                    .filter(|&q| self.eligible_for_queue(&skills, q))
                    .collect()
            } else {
                Vec::new()
            };
            for &q in &eligible {
                self.queues[q].eligible_logged_in += 1;
            }
            let state = record.state;
            let current = record.current_call.clone();
            let agent = &mut self.agents[aidx];
            agent.record = record;
            agent.record.state = AgentState::LoggedOut;
            agent.skills = skills;
            agent.eligible_queues = eligible;
            match state {
                AgentState::LoggedOut => {}
                AgentState::NotReady => {
                    let reason = agent.record.not_ready_reason.take();
                    let why = agent.record.state_reason.clone();
                    self.set_state(now, aidx, AgentState::NotReady, reason, &why);
                }
                AgentState::Available | AgentState::Reserved => self.make_available(now, aidx, "restored"),
                AgentState::OnCall => {
                    let connected = current
                        .as_ref()
                        .and_then(|c| by_id.get(c))
                        .is_some_and(|c| c.status == CallStatus::Connected);
                    if connected {
                        // The call is attached when it is restored below.
                        self.agents[aidx].record.state = AgentState::OnCall;
                    } else {
                        self.make_available(now, aidx, "restored: call gone");
                    }
                }
                AgentState::WrapUp => match current.as_ref().and_then(|c| by_id.get(c)) {
                    Some(call) => {
                        let contact = ContactRecord {
                            call: call.id.clone(),
                            customer_key: call
                                .customer
                                .as_ref()
                                .map(|c| c.to_string())
                                .unwrap_or_else(|| call.ani.clone()),
                            agent: self.agents[aidx].record.id.clone(),
                            queue: call.queue.clone(),
                            tier: call.tier,
                            disposition: None,
                            category: None,
                            notes: None,
                            enqueued_at: call.enqueued_at,
                            answered_at: call.answered_at.unwrap_or(call.enqueued_at),
                            ended_at: call.ended_at.unwrap_or(now),
                            wrap_up_ended_at: now,
                            hold_ms: call.hold_ms,
                            callback: call.callback.as_ref().map(|cb| cb.id.clone()),
                        };
                        self.start_wrap_up(now, aidx, contact);
                    }
                    None => self.make_available(now, aidx, "restored: wrap-up gone"),
                },
            }
            if self.agents[aidx].record.state != AgentState::LoggedOut {
                self.arm_presence(now, aidx);
            }
        }
        for (_, record) in by_id.drain() {
            if record.status == CallStatus::Ended {
                continue;
            }
            self.restore_call(now, record);
        }
        // An agent whose call could not be restored is free again.
        for aidx in 0..self.agents.len() {
            if self.agents[aidx].record.state == AgentState::OnCall && self.agents[aidx].call.is_none() {
                self.make_available(now, aidx, "restored: call gone");
            }
        }
        // Free agents pick up whatever waits.
        for aidx in 0..self.agents.len() {
            if self.agents[aidx].record.state == AgentState::Available {
                self.route_agent(now, aidx);
            }
        }
    }

    fn restore_call(&mut self, now: Timestamp, record: CallRecord) {
        let Some(&q) = self.queue_index.get(&record.queue) else {
            let mut ended = record;
            ended.status = CallStatus::Ended;
            ended.outcome = Some(if ended.answered_at.is_some() {
                CallOutcome::Answered
            } else {
                CallOutcome::Rejected
            });
            ended.end_reason = Some(format!("queue {} is no longer configured", ended.queue));
            ended.ended_at = Some(now);
            self.events.push_back(Event::CallEnded { call: ended });
            return;
        };
        let extra: Vec<Req> = record
            .requirements
            .iter()
            .filter_map(|r| {
                self.intern(&r.skill, r.min_proficiency)
                    .ok()
                    .map(|(skill, min)| Req {
                        skill,
                        min,
                        optional: r.optional,
                    })
            })
            .collect();
        let connected_agent = match (&record.status, &record.agent) {
            (CallStatus::Connected, Some(a)) => self.agent_index.get(a).copied().filter(|&ai| {
                self.agents[ai].record.state == AgentState::OnCall && self.agents[ai].call.is_none()
            }),
            _ => None,
        };
        let serial = self.serial();
        let id = record.id.clone();
        let cidx = self.insert_call(now, serial, record, q, extra);
        self.call_index.insert(id, cidx);
        match connected_agent {
            Some(aidx) => {
                // Requirements and rank as in its queue, should it be transferred.
                self.set_queue(now, cidx, q);
                let slot = &mut self.calls[cidx];
                slot.phase = Phase::Connected {
                    agent: aidx,
                    leg_answered_at: slot.record.answered_at.unwrap_or(now),
                    hold_since: slot.record.on_hold.then_some(now),
                };
                self.agents[aidx].call = Some(cidx);
                self.agents[aidx].record.current_call = Some(self.calls[cidx].record.id.clone());
            }
            None => {
                // Rang or waited: wait again in its original place.
                let original = self.calls[cidx].record.original_position;
                self.calls[cidx].record.agent = None;
                self.enter_queue(now, cidx, q);
                self.calls[cidx].record.original_position = original.max(1);
            }
        }
    }

    // ----- call inputs -----------------------------------------------------

    /// A call arrives.
    pub fn handle_call_arrived(&mut self, now: Timestamp, call: IncomingCall) -> Result<(), RouteError> {
        if self.call_index.contains_key(&call.id) {
            return Err(RouteError::DuplicateCall(call.id));
        }
        let q = *self
            .queue_index
            .get(&call.queue)
            .ok_or_else(|| RouteError::UnknownQueue(call.queue.clone()))?;
        let mut extra = Vec::with_capacity(call.extra_requirements.len());
        for r in &call.extra_requirements {
            let (skill, min) = self.intern(&r.skill, r.min_proficiency)?;
            extra.push(Req {
                skill,
                min,
                optional: r.optional,
            });
        }
        let preferred = match &call.preferred_agent {
            Some(p) => Some(self.agent_idx(p)?),
            None => None,
        };
        let serial = self.serial();
        let record = CallRecord {
            id: call.id.clone(),
            ani: call.ani,
            dnis: call.dnis,
            customer: call.customer,
            tier: call.tier,
            queue: call.queue,
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
            preferred_agent: call.preferred_agent,
            relaxation_step: 0,
            original_position: 0,
            hold_ms: 0,
            decisions: Vec::new(),
            node: call.node,
            callback: call.callback,
        };
        let cidx = self.insert_call(now, serial, record, q, extra);
        self.call_index.insert(call.id, cidx);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallArrived { call: snapshot });

        // A logged-in owner gets the first chance; the call waits for them
        // outside the queue order until the preference expires.
        if let Some(p) = preferred.filter(|&p| self.agents[p].record.state != AgentState::LoggedOut) {
            self.set_queue(now, cidx, q);
            self.queues[q].counters.offered += 1;
            let rank = self.calls[cidx].rank;
            self.calls[cidx].phase = Phase::PreferredWait { agent: p };
            self.calls[cidx].record.original_position = 1;
            self.preferred_waiting.entry(p).or_default().insert((rank, cidx));
            let wait = Duration::from_secs(self.queues[q].settings.preferred_agent_wait_secs);
            self.push_timer(now.plus(wait), TimerKind::PreferredExpired { call: cidx, serial });
            self.arm_queue_timers(now, cidx);
            let snapshot = self.snapshot(cidx);
            self.events.push_back(Event::CallQueued { call: snapshot });
            if self.agents[p].record.state == AgentState::Available {
                self.route_agent(now, p);
            }
            return Ok(());
        }
        if self.admit(now, cidx, q) {
            self.route_call(now, cidx, "call-arrived");
        }
        Ok(())
    }

    /// The caller hung up (or the telephony edge lost the call).
    pub fn handle_caller_hangup(&mut self, now: Timestamp, call: &CallId) -> Result<(), RouteError> {
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        // A callback has no caller on the line: the hang-up that turned a
        // queued call into one (or any later one) changes nothing.
        if self.calls[cidx].record.callback.is_some() {
            return Ok(());
        }
        self.caller_gone(now, cidx, "caller hung up");
        Ok(())
    }

    /// The waiting caller asked to be called back: the call becomes the
    /// callback's work item in the same place in the queue, and the caller
    /// may hang up.
    pub fn handle_callback_requested(
        &mut self,
        now: Timestamp,
        call: &CallId,
        work: CallbackWork,
    ) -> Result<(), RouteError> {
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        let slot = &self.calls[cidx];
        if !matches!(slot.phase, Phase::Waiting | Phase::PreferredWait { .. })
            || slot.record.callback.is_some()
        {
            return Err(RouteError::NotQueued(call.clone()));
        }
        self.calls[cidx].record.callback = Some(work);
        // No caller waits any more: no maximum wait, no overflow.
        let serial = self.calls[cidx].serial;
        self.arm_callback_timer(now, cidx, serial);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallUpdated { call: snapshot });
        Ok(())
    }

    /// A callback's work item is withdrawn (cancelled or rescheduled) while
    /// it waits or rings; an item an agent already took is left to them.
    pub fn handle_callback_withdrawn(
        &mut self,
        now: Timestamp,
        call: &CallId,
        why: &str,
    ) -> Result<(), RouteError> {
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        if self.calls[cidx].record.callback.is_none() {
            return Err(RouteError::NotQueued(call.clone()));
        }
        if matches!(self.calls[cidx].phase, Phase::Connected { .. }) {
            return Ok(());
        }
        self.caller_gone(now, cidx, why);
        Ok(())
    }

    /// Every live call whose caller's leg is on a node not in `alive` ends:
    /// that node is gone, and the callers with it.
    /// Ends the calls whose caller's node is not among `alive`; returns how
    /// many.
    pub fn handle_nodes_alive(&mut self, now: Timestamp, alive: &[String]) -> usize {
        let lost: Vec<(usize, String)> = self
            .calls
            .iter()
            .filter_map(|(cidx, c)| {
                let node = c.record.node.as_ref()?;
                (!alive.contains(node)).then(|| (cidx, node.clone()))
            })
            .collect();
        let count = lost.len();
        for (cidx, node) in lost {
            if self.calls.contains(cidx) {
                self.caller_gone(now, cidx, &format!("node lost: {node} held the caller's audio"));
            }
        }
        count
    }

    /// The call's media could not go on (the node holding a party's audio
    /// was lost): it ends with `why`, callbacks' work items included.
    pub fn handle_media_lost(&mut self, now: Timestamp, call: &CallId, why: &str) -> Result<(), RouteError> {
        let cidx = *self
            .call_index
            .get(call)
            .ok_or_else(|| RouteError::UnknownCall(call.clone()))?;
        self.caller_gone(now, cidx, why);
        Ok(())
    }

    fn caller_gone(&mut self, now: Timestamp, cidx: usize, why: &str) {
        match self.calls[cidx].phase.clone() {
            Phase::Waiting | Phase::PreferredWait { .. } => {
                self.unlink_waiting(cidx);
                self.end_unanswered(now, cidx, CallOutcome::Abandoned, format!("{why} while queued"));
            }
            Phase::Offering { agent, .. } => {
                self.rescind_offer(now, agent, RescindReason::CallerHungUp);
                self.unlink_waiting(cidx);
                self.end_unanswered(now, cidx, CallOutcome::Abandoned, format!("{why} while ringing"));
                self.make_available(now, agent, "offer withdrawn: caller hung up");
                self.route_agent(now, agent);
            }
            Phase::Connected { .. } => self.end_connected(now, cidx, why),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(Reverse(t)) = self.timers.peek().copied() {
            if t.at > now {
                break;
            }
            self.timers.pop();
            self.fire(now, t.kind);
        }
    }

    // ----- internals: timers -----------------------------------------------

    fn fire(&mut self, now: Timestamp, kind: TimerKind) {
        match kind {
            TimerKind::CallCheck { call, serial } => {
                if self.live(call, serial) && matches!(self.calls[call].phase, Phase::Waiting) {
                    self.route_call(now, call, "relaxation");
                }
            }
            TimerKind::RingTimeout { call, serial, seq } => {
                if !self.live(call, serial) {
                    return;
                }
                let Phase::Offering { agent, seq: s, .. } = self.calls[call].phase else {
                    return;
                };
                if s != seq {
                    return;
                }
                self.rescind_offer(now, agent, RescindReason::NoAnswer);
                let q = self.calls[call].queue;
                let limit = self.queues[q].settings.max_consecutive_misses;
                let a = &mut self.agents[agent];
                a.record.consecutive_misses += 1;
                let misses = a.record.consecutive_misses;
                if misses >= limit {
                    self.set_state(
                        now,
                        agent,
                        AgentState::NotReady,
                        Some("no-answer".into()),
                        &format!("missed {misses} offers in a row"),
                    );
                } else {
                    self.make_available(now, agent, "offer not answered");
                }
                self.route_call(now, call, "re-queued");
                if self.agents[agent].record.state == AgentState::Available {
                    self.route_agent(now, agent);
                }
            }
            TimerKind::MaxWait { call, serial, hops } => {
                if !self.live(call, serial) || self.calls[call].overflow_hops != hops {
                    return;
                }
                match self.calls[call].phase {
                    Phase::Waiting | Phase::PreferredWait { .. } => {
                        let q = self.calls[call].queue;
                        let secs = self.queues[q].settings.max_wait_secs;
                        self.unlink_waiting(call);
                        self.overflow(now, call, format!("maximum wait {secs} s"));
                    }
                    // Let a ringing offer finish; look again just after it expires.
                    Phase::Offering { .. } => {
                        let q = self.calls[call].queue;
                        let ring = Duration::from_secs(self.queues[q].settings.ring_timeout_secs);
                        self.push_timer(now.plus(ring), kind);
                    }
                    Phase::Connected { .. } => {}
                }
            }
            TimerKind::CallbackUrgent { call, serial } => {
                if self.live(call, serial) && matches!(self.calls[call].phase, Phase::Waiting) {
                    self.make_callback_urgent(call);
                    self.route_call(now, call, "callback deadline near");
                }
            }
            TimerKind::PreferredExpired { call, serial } => {
                if !self.live(call, serial) {
                    return;
                }
                if let Phase::PreferredWait { .. } = self.calls[call].phase {
                    self.unlink_waiting(call);
                    self.calls[call].phase = Phase::Waiting;
                    let (rank, q) = (self.calls[call].rank, self.calls[call].queue);
                    self.queues[q].waiting.insert((rank, call));
                    self.route_call(now, call, "preferred-agent wait over");
                }
            }
            TimerKind::PresenceExpired { agent, seq } => {
                let a = &self.agents[agent];
                if a.presence_seq == seq && a.streams == 0 && a.record.state != AgentState::LoggedOut {
                    let id = a.record.id.clone();
                    let grace = self.presence_grace.unwrap_or_default().as_secs();
                    let by = format!("presence check: no softphone connected for {grace} s");
                    let _ = self.handle_agent_logout(now, &id, Some(&by));
                }
            }
            TimerKind::WrapUpEnd { agent, seq } => {
                let a = &self.agents[agent];
                if a.record.state == AgentState::WrapUp && a.wrap.as_ref().is_some_and(|w| w.seq == seq) {
                    self.finish_wrap_up(now, agent, None, None, None);
                    self.after_wrap_up(now, agent);
                }
            }
        }
    }

    fn live(&self, call: usize, serial: u64) -> bool {
        self.calls.get(call).is_some_and(|c| c.serial == serial)
    }

    fn push_timer(&mut self, at: Timestamp, kind: TimerKind) {
        let seq = self.serial();
        self.timers.push(Reverse(Timer { at, seq, kind }));
    }

    fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    // ----- internals: queues -----------------------------------------------

    /// Sets the call's queue, requirements and rank for queue `q`.
    fn set_queue(&mut self, now: Timestamp, cidx: usize, q: usize) {
        let queue = &self.queues[q];
        let head_start = queue
            .settings
            .tier_priority
            .head_start(self.calls[cidx].record.tier);
        let mut reqs = queue.reqs.clone();
        let slot = &mut self.calls[cidx];
        for e in &slot.extra {
            match reqs.iter_mut().find(|r| r.skill == e.skill) {
                Some(r) => {
                    r.min = r.min.max(e.min);
                    r.optional &= e.optional;
                }
                None => reqs.push(*e),
            }
        }
        slot.record.requirements = reqs
            .iter()
            .map(|r| Requirement {
                skill: self.skill_names[usize::from(r.skill)].clone(),
                min_proficiency: r.min,
                optional: r.optional,
            })
            .collect();
        slot.reqs = reqs;
        slot.queue = q;
        slot.record.queue = queue.name.clone();
        slot.record.priority_ms = duration_ms(head_start) as i64;
        // A callback ranks as a live call of its tier arriving when its
        // urgent stretch begins: earliest deadline first among callbacks,
        // and live callers ahead of it while there is time.
        let arrival = match &slot.record.callback {
            Some(cb) => cb
                .deadline
                .as_millis()
                .saturating_sub(queue.settings.callback_urgent_before_secs.saturating_mul(1000))
                .max(slot.record.enqueued_at.as_millis()),
            None => slot.record.enqueued_at.0,
        };
        slot.rank = (arrival as i64 - slot.record.priority_ms, slot.serial);
        slot.queue_entered_at = now;
        slot.record.relaxation_step = 0;
    }

    /// Relaxation and maximum-wait timers for the call's current queue.
    fn arm_queue_timers(&mut self, now: Timestamp, cidx: usize) {
        let (serial, hops, q) = {
            let c = &self.calls[cidx];
            (c.serial, c.overflow_hops, c.queue)
        };
        let steps: Vec<u64> = self.queues[q]
            .settings
            .relaxation
            .iter()
            .map(|s| s.after_secs)
            .collect();
        for after in steps {
            self.push_timer(
                now.plus(Duration::from_secs(after)),
                TimerKind::CallCheck { call: cidx, serial },
            );
        }
        if self.calls[cidx].record.callback.is_some() {
            self.arm_callback_timer(now, cidx, serial);
            return;
        }
        let max_wait = self.queues[q].settings.max_wait_secs;
        if max_wait > 0 {
            self.push_timer(
                now.plus(Duration::from_secs(max_wait)),
                TimerKind::MaxWait {
                    call: cidx,
                    serial,
                    hops,
                },
            );
        }
    }

    /// Arms the moment a waiting callback becomes urgent (at once if it is).
    fn arm_callback_timer(&mut self, now: Timestamp, cidx: usize, serial: u64) {
        let Some(cb) = &self.calls[cidx].record.callback else {
            return;
        };
        let before = self.queues[self.calls[cidx].queue]
            .settings
            .callback_urgent_before_secs;
        let at = Timestamp(
            cb.deadline
                .as_millis()
                .saturating_sub(before.saturating_mul(1000)),
        );
        self.push_timer(at.max(now), TimerKind::CallbackUrgent { call: cidx, serial });
    }

    /// Moves a waiting callback above every waiting live call of its tier
    /// in its queue (calls of higher tiers keep their head start).
    fn make_callback_urgent(&mut self, cidx: usize) {
        let q = self.calls[cidx].queue;
        let tier = self.calls[cidx].record.tier;
        let own = self.calls[cidx].rank;
        let first_live = self.queues[q]
            .waiting
            .iter()
            .find(|(_, c)| {
                let other = &self.calls[*c];
                other.record.callback.is_none() && other.record.tier == tier
            })
            .map(|((value, _), _)| *value);
        let Some(first) = first_live.filter(|first| *first <= own.0) else {
            return;
        };
        let rank = (first - 1, own.1);
        self.queues[q].waiting.remove(&(own, cidx));
        self.queues[q].waiting.insert((rank, cidx));
        self.calls[cidx].rank = rank;
    }

    /// Entry checks for queue `q`; queues the call and returns true, or ends or
    /// overflows it and returns false.
    fn admit(&mut self, now: Timestamp, cidx: usize, q: usize) -> bool {
        // A callback is owed whatever the queue's state: it waits for a
        // skilled agent (its deadline timers say when that is late).
        if self.calls[cidx].record.callback.is_some() {
            self.enter_queue(now, cidx, q);
            return true;
        }
        let queue = &self.queues[q];
        let full = queue.waiting.len() >= queue.settings.max_queue_len;
        let nobody = queue.eligible_logged_in == 0;
        let policy = queue.settings.when_no_agents;
        let reason = if full {
            Some((
                format!("queue {} full", queue.name),
                queue.settings.overflow_queue.is_some(),
            ))
        } else if nobody && policy != NoAgentsPolicy::Wait {
            Some((
                format!("no agent with the skills for {} is logged in", queue.name),
                policy == NoAgentsPolicy::Overflow,
            ))
        } else {
            None
        };
        self.queues[q].counters.offered += 1;
        if let Some((reason, overflow)) = reason {
            self.calls[cidx].queue = q;
            self.calls[cidx].record.queue = self.queues[q].name.clone();
            if overflow {
                self.overflow(now, cidx, reason);
            } else {
                self.end_unanswered(now, cidx, CallOutcome::Rejected, reason);
            }
            return false;
        }
        self.enter_queue(now, cidx, q);
        true
    }

    /// Puts the call into queue `q`'s waiting order (keeping its original
    /// enqueue time, hence its place) and arms the queue's timers.
    fn enter_queue(&mut self, now: Timestamp, cidx: usize, q: usize) {
        self.set_queue(now, cidx, q);
        let rank = self.calls[cidx].rank;
        let position = self.queues[q].waiting.range(..(rank, 0)).count() as u32 + 1;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Waiting;
        slot.record.agent = None;
        if slot.record.original_position == 0 {
            slot.record.original_position = position;
        }
        self.queues[q].waiting.insert((rank, cidx));
        self.arm_queue_timers(now, cidx);
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallQueued { call: snapshot });
    }

    /// Takes the call out of whichever waiting set holds it.
    fn unlink_waiting(&mut self, cidx: usize) {
        let slot = &self.calls[cidx];
        let key = (slot.rank, cidx);
        match slot.phase {
            Phase::Waiting => {
                self.queues[slot.queue].waiting.remove(&key);
            }
            Phase::PreferredWait { agent } => {
                if let Some(set) = self.preferred_waiting.get_mut(&agent) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.preferred_waiting.remove(&agent);
                    }
                }
            }
            Phase::Offering { .. } | Phase::Connected { .. } => {}
        }
    }

    /// Sends a call (already out of its waiting set) to the overflow queue, or
    /// ends it as overflowed.
    fn overflow(&mut self, now: Timestamp, cidx: usize, reason: String) {
        let q = self.calls[cidx].queue;
        let from = self.queues[q].name.clone();
        match self.queues[q].overflow_to {
            Some(to) if to != q && self.calls[cidx].overflow_hops < MAX_OVERFLOW_HOPS => {
                self.queues[q].counters.overflowed += 1;
                self.calls[cidx].overflow_hops += 1;
                self.events.push_back(Event::CallOverflowed {
                    call: self.calls[cidx].record.id.clone(),
                    from,
                    to: self.queues[to].name.clone(),
                    reason,
                });
                if self.admit(now, cidx, to) {
                    self.route_call(now, cidx, "overflow");
                }
            }
            _ => self.end_unanswered(now, cidx, CallOutcome::Overflowed, reason),
        }
    }

    /// With nobody left who could serve queue `q`, applies its policy to the
    /// calls waiting there.
    fn apply_no_agents_policy(&mut self, now: Timestamp, q: usize) {
        let policy = self.queues[q].settings.when_no_agents;
        if policy == NoAgentsPolicy::Wait {
            return;
        }
        let waiting: Vec<usize> = self.queues[q].waiting.iter().map(|&(_, c)| c).collect();
        let reason = format!(
            "no agent with the skills for {} is logged in",
            self.queues[q].name
        );
        for c in waiting {
            self.unlink_waiting(c);
            match policy {
                NoAgentsPolicy::Overflow => self.overflow(now, c, reason.clone()),
                _ => self.end_unanswered(now, c, CallOutcome::Rejected, reason.clone()),
            }
        }
    }

    // ----- internals: matching ---------------------------------------------

    fn relax(&self, cidx: usize, now: Timestamp) -> Relax {
        let c = &self.calls[cidx];
        let waited = now.since(c.queue_entered_at);
        let mut r = Relax {
            step: 0,
            lower: 0,
            drop_optional: false,
        };
        for s in &self.queues[c.queue].settings.relaxation {
            if waited < Duration::from_secs(s.after_secs) {
                break;
            }
            r.step += 1;
            r.lower = r.lower.saturating_add(s.lower_proficiency_by);
            r.drop_optional |= s.drop_optional_skills;
        }
        r
    }

    /// Checks an agent's skills against requirements under a relaxation;
    /// returns the proficiency sum over the requirements in force.
    fn qualify(skills: &[(u16, u8)], reqs: &[Req], relax: Relax) -> Result<i64, Unqualified> {
        let mut sum = 0i64;
        for r in reqs {
            if r.optional && relax.drop_optional {
                continue;
            }
            let needs = r.min.saturating_sub(relax.lower).max(MIN_PROFICIENCY);
            match skills.binary_search_by_key(&r.skill, |s| s.0) {
                Err(_) => return Err(Unqualified::Missing(r.skill)),
                Ok(i) if skills[i].1 < needs => {
                    return Err(Unqualified::Low {
                        skill: r.skill,
                        has: skills[i].1,
                        needs,
                    })
                }
                Ok(i) => sum += i64::from(skills[i].1),
            }
        }
        Ok(sum)
    }

    /// Whether an agent with `skills` can serve queue `q` at full relaxation.
    fn eligible_for_queue(&self, skills: &[(u16, u8)], q: usize) -> bool {
        let settings = &self.queues[q].settings;
        let full = Relax {
            step: settings.relaxation.len() as u32,
            lower: settings
                .relaxation
                .iter()
                .fold(0u8, |acc, s| acc.saturating_add(s.lower_proficiency_by)),
            drop_optional: settings.relaxation.iter().any(|s| s.drop_optional_skills),
        };
        Self::qualify(skills, &self.queues[q].reqs, full).is_ok()
    }

    fn unqualified_reason(&self, u: Unqualified) -> String {
        match u {
            Unqualified::Missing(s) => format!("missing skill {}", self.skill_names[usize::from(s)]),
            Unqualified::Low { skill, has, needs } => format!(
                "proficiency {has} < {needs} for {}",
                self.skill_names[usize::from(skill)]
            ),
        }
    }

    fn passed_recently(slot: &CallSlot, agent: usize, now: Timestamp) -> bool {
        slot.passed.iter().any(|&(a, until)| a == agent && until > now)
    }

    /// A waiting call looks for the best free agent by its queue's strategy.
    fn route_call(&mut self, now: Timestamp, cidx: usize, trigger: &str) {
        // Each retry hands one free agent a better call, so this ends.
        while self.route_call_once(now, cidx, trigger) {}
    }

    /// One attempt for `route_call`; true when the chosen agent took a
    /// better-ranked call instead and this call should look again.
    fn route_call_once(&mut self, now: Timestamp, cidx: usize, trigger: &str) -> bool {
        if !matches!(self.calls[cidx].phase, Phase::Waiting) {
            return false;
        }
        let relax = self.relax(cidx, now);
        let slot = &self.calls[cidx];
        let q = slot.queue;
        let strategy = self.queues[q].settings.strategy;
        let in_force: Vec<Req> = slot
            .reqs
            .iter()
            .copied()
            .filter(|r| !(r.optional && relax.drop_optional))
            .collect();
        // Walk the smallest candidate set: available agents having the rarest required skill.
        let pivot = in_force
            .iter()
            .map(|r| r.skill)
            .min_by_key(|&s| self.available_by_skill[usize::from(s)].len());
        // Most-proficient walks the pivot skill's free agents strongest first
        // and stops once no one left could beat the best found.
        let by_proficiency = strategy == Strategy::MostProficient && pivot.is_some();
        let candidates: Box<dyn Iterator<Item = (Timestamp, usize)> + '_> = match pivot {
            Some(s) if by_proficiency => Box::new(
                self.available_by_proficiency[usize::from(s)]
                    .iter()
                    .map(|&(_, idle, a)| (idle, a)),
            ),
            Some(s) => Box::new(self.available_by_skill[usize::from(s)].iter().copied()),
            None => Box::new(self.available_all.iter().copied()),
        };
        let other_reqs_max = i64::from(MAX_PROFICIENCY) * (in_force.len() as i64 - 1).max(0);
        let mut best: Option<(i64, Timestamp, usize)> = None;
        let mut considered = 0u32;
        let mut passed_over = Vec::new();
        let best_possible = match strategy {
            Strategy::LongestIdle => i64::MIN,
            Strategy::MostProficient => i64::from(MAX_PROFICIENCY) * in_force.len() as i64,
            Strategy::FewestCalls | Strategy::RoundRobin => 0,
        };
        let n_agents = self.agents.len().max(1);
        let rr_next = self.queues[q].rr_next % n_agents;
        for (idle_since, a) in candidates {
            let agent = &self.agents[a];
            if let (true, Some(p), Some((best_score, _, _))) = (by_proficiency, pivot, best) {
                let pivot_prof = agent
                    .skills
                    .binary_search_by_key(&p, |s| s.0)
                    .map(|i| i64::from(agent.skills[i].1))
                    .unwrap_or(0);
                if pivot_prof + other_reqs_max < best_score {
                    break;
                }
            }
            considered += 1;
            if Self::passed_recently(slot, a, now) {
                if passed_over.len() < MAX_PASSED_OVER {
                    passed_over.push(PassedOver {
                        agent: agent.record.id.clone(),
                        reason: "declined or missed this call recently".into(),
                    });
                }
                continue;
            }
            let sum = match Self::qualify(&agent.skills, &in_force, relax) {
                Ok(sum) => sum,
                Err(u) => {
                    if passed_over.len() < MAX_PASSED_OVER {
                        passed_over.push(PassedOver {
                            agent: agent.record.id.clone(),
                            reason: self.unqualified_reason(u),
                        });
                    }
                    continue;
                }
            };
            let score = match strategy {
                Strategy::LongestIdle => duration_ms(now.since(idle_since)) as i64,
                Strategy::MostProficient => sum,
                Strategy::FewestCalls => -i64::from(agent.record.calls_handled),
                Strategy::RoundRobin => -(((a + n_agents - rr_next) % n_agents) as i64),
            };
            if let Some((best_score, best_idle, best_a)) = best {
                // Equal scores go to the agent idle longer.
                if score < best_score || (score == best_score && idle_since >= best_idle) {
                    if passed_over.len() < MAX_PASSED_OVER {
                        let reason = if score == best_score {
                            format!("same {} score {score}, idle less long", strategy.as_str())
                        } else {
                            format!("lower {} score {score}", strategy.as_str())
                        };
                        passed_over.push(PassedOver {
                            agent: agent.record.id.clone(),
                            reason,
                        });
                    }
                    continue;
                }
                if passed_over.len() < MAX_PASSED_OVER {
                    passed_over.push(PassedOver {
                        agent: self.agents[best_a].record.id.clone(),
                        reason: format!("lower {} score {best_score}", strategy.as_str()),
                    });
                }
            }
            best = Some((score, idle_since, a));
            // Candidates come longest idle first, so the first one reaching
            // the best score possible wins: for longest-idle the first
            // qualified, for most-proficient one at full proficiency on every
            // requirement, for fewest-calls one with none yet.
            if score >= best_possible {
                break;
            }
        }
        let Some((score, _, a)) = best else {
            return false;
        };
        // The chosen agent may qualify for a better-ranked call that became
        // eligible at this same instant (an exclusion and a relaxation
        // expiring together): it takes that call, and this one looks again.
        if let Some(next) = self.next_call_for(now, a) {
            let better = match next {
                NextCall::Preferred(c) => c != cidx,
                NextCall::Queued { rank, cidx: c, .. } => c != cidx && rank < self.calls[cidx].rank,
            };
            if better {
                self.offer_next_call(now, a, next, "agent-available");
                return true;
            }
        }
        // Free agents outside the walked set lack the pivot skill: name a few,
        // so the explanation covers everyone a supervisor might ask about.
        if let Some(p) = pivot {
            for &(_, other) in self.available_all.iter().take(EXPLAIN_SCAN) {
                if passed_over.len() >= MAX_PASSED_OVER {
                    break;
                }
                let skills = &self.agents[other].skills;
                if skills.binary_search_by_key(&p, |s| s.0).is_err() {
                    passed_over.push(PassedOver {
                        agent: self.agents[other].record.id.clone(),
                        reason: self.unqualified_reason(Unqualified::Missing(p)),
                    });
                }
            }
        }
        if strategy == Strategy::RoundRobin {
            self.queues[q].rr_next = a + 1;
        }
        let decision = RoutingDecision {
            at: now,
            agent: self.agents[a].record.id.clone(),
            trigger: trigger.into(),
            strategy: strategy.as_str().into(),
            score,
            relaxation_step: relax.step,
            requirements: self.requirements_view(&in_force, relax),
            candidates_considered: considered,
            passed_over,
        };
        self.calls[cidx].record.relaxation_step = relax.step;
        self.unlink_waiting(cidx);
        self.offer(now, cidx, a, decision);
        false
    }

    /// A free agent looks for work: first calls held for it as preferred agent,
    /// then the best-ranked waiting call it qualifies for across its queues.
    fn route_agent(&mut self, now: Timestamp, aidx: usize) {
        if self.agents[aidx].record.state != AgentState::Available {
            return;
        }
        if let Some(next) = self.next_call_for(now, aidx) {
            self.offer_next_call(now, aidx, next, "agent-available");
        }
    }

    /// The call a free agent should take now: one held for it as preferred
    /// agent, else the best-ranked waiting call it qualifies for.
    fn next_call_for(&self, now: Timestamp, aidx: usize) -> Option<NextCall> {
        if let Some(&(_, cidx)) = self.preferred_waiting.get(&aidx).and_then(|s| s.first()) {
            return Some(NextCall::Preferred(cidx));
        }
        let agent = &self.agents[aidx];
        let mut best: Option<(Rank, usize, Relax)> = None;
        let mut considered = 0u32;
        for &q in &agent.eligible_queues {
            for &(rank, cidx) in &self.queues[q].waiting {
                if best.is_some_and(|(b, _, _)| b <= rank) {
                    break;
                }
                considered += 1;
                let slot = &self.calls[cidx];
                if Self::passed_recently(slot, aidx, now) {
                    continue;
                }
                let relax = self.relax(cidx, now);
                if Self::qualify(&agent.skills, &slot.reqs, relax).is_ok() {
                    best = Some((rank, cidx, relax));
                    break;
                }
            }
        }
        best.map(|(rank, cidx, relax)| NextCall::Queued {
            rank,
            cidx,
            relax,
            considered,
        })
    }

    fn offer_next_call(&mut self, now: Timestamp, aidx: usize, next: NextCall, trigger: &str) {
        let agent = &self.agents[aidx];
        let (cidx, decision) = match next {
            NextCall::Preferred(cidx) => (
                cidx,
                RoutingDecision {
                    at: now,
                    agent: agent.record.id.clone(),
                    trigger: "preferred-agent".into(),
                    strategy: "first-contact ownership".into(),
                    score: 0,
                    relaxation_step: 0,
                    requirements: Vec::new(),
                    candidates_considered: 1,
                    passed_over: Vec::new(),
                },
            ),
            NextCall::Queued {
                cidx,
                relax,
                considered,
                ..
            } => {
                let q = self.calls[cidx].queue;
                let strategy = self.queues[q].settings.strategy;
                let in_force: Vec<Req> = self.calls[cidx]
                    .reqs
                    .iter()
                    .copied()
                    .filter(|r| !(r.optional && relax.drop_optional))
                    .collect();
                let decision = RoutingDecision {
                    at: now,
                    agent: agent.record.id.clone(),
                    trigger: trigger.into(),
                    strategy: strategy.as_str().into(),
                    score: Self::qualify(&agent.skills, &in_force, relax).unwrap_or(0),
                    relaxation_step: relax.step,
                    requirements: self.requirements_view(&in_force, relax),
                    candidates_considered: considered,
                    passed_over: Vec::new(),
                };
                if strategy == Strategy::RoundRobin {
                    self.queues[q].rr_next = aidx + 1;
                }
                self.calls[cidx].record.relaxation_step = relax.step;
                (cidx, decision)
            }
        };
        self.unlink_waiting(cidx);
        self.offer(now, cidx, aidx, decision);
    }

    fn requirements_view(&self, reqs: &[Req], relax: Relax) -> Vec<Requirement> {
        reqs.iter()
            .map(|r| Requirement {
                skill: self.skill_names[usize::from(r.skill)].clone(),
                min_proficiency: r.min.saturating_sub(relax.lower).max(MIN_PROFICIENCY),
                optional: r.optional,
            })
            .collect()
    }

    // ----- internals: agent and call transitions -----------------------------

    /// Rings agent `aidx` with call `cidx` (already out of every waiting set).
    fn offer(&mut self, now: Timestamp, cidx: usize, aidx: usize, decision: RoutingDecision) {
        let q = self.calls[cidx].queue;
        let ring = Duration::from_secs(self.queues[q].settings.ring_timeout_secs);
        let expires_at = now.plus(ring);
        let slot = &mut self.calls[cidx];
        slot.offer_seq += 1;
        let seq = slot.offer_seq;
        slot.phase = Phase::Offering {
            agent: aidx,
            seq,
            expires_at,
        };
        slot.record.agent = Some(decision.agent.clone());
        if slot.record.decisions.len() >= MAX_DECISIONS_PER_CALL {
            slot.record.decisions.remove(0);
        }
        slot.record.decisions.push(decision);
        let serial = slot.serial;
        self.queues[q].offering += 1;
        self.agents[aidx].call = Some(cidx);
        self.change_state(now, aidx, AgentState::Reserved, None, "offered a call");
        self.push_timer(
            expires_at,
            TimerKind::RingTimeout {
                call: cidx,
                serial,
                seq,
            },
        );
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallOffered {
            agent: self.agents[aidx].record.clone(),
            call: snapshot,
            expires_at,
        });
    }

    /// Withdraws the offer ringing at `aidx` and puts the call back in its
    /// original place. Leaves the agent's next state, and routing the call
    /// again, to the caller; returns the call and its serial for that.
    fn rescind_offer(&mut self, now: Timestamp, aidx: usize, reason: RescindReason) -> Option<(usize, u64)> {
        let cidx = self.agents[aidx].call.take()?;
        let q = self.calls[cidx].queue;
        let delay = Duration::from_secs(self.queues[q].settings.reoffer_delay_secs);
        self.queues[q].offering -= 1;
        let slot = &mut self.calls[cidx];
        slot.phase = Phase::Waiting;
        slot.record.agent = None;
        let serial = slot.serial;
        let key = (slot.rank, cidx);
        if matches!(reason, RescindReason::Declined | RescindReason::NoAnswer) {
            slot.passed.retain(|&(_, until)| until > now);
            slot.passed.push((aidx, now.plus(delay)));
            self.push_timer(now.plus(delay), TimerKind::CallCheck { call: cidx, serial });
        }
        self.queues[q].waiting.insert(key);
        self.events.push_back(Event::OfferRescinded {
            agent: self.agents[aidx].record.id.clone(),
            call: self.calls[cidx].record.id.clone(),
            reason,
        });
        let snapshot = self.snapshot(cidx);
        self.events.push_back(Event::CallQueued { call: snapshot });
        Some((cidx, serial))
    }

    /// Frees the agent of a connected call for wrap-up, without ending the call
    /// (transfer).
    fn release_connected_agent(&mut self, now: Timestamp, cidx: usize, aidx: usize) {
        let slot = &mut self.calls[cidx];
        let Phase::Connected {
            leg_answered_at,
            hold_since,
            ..
        } = slot.phase
        else {
            return;
        };
        if let Some(since) = hold_since {
            slot.record.hold_ms += duration_ms(now.since(since));
            slot.record.on_hold = false;
        }
        let contact = self.contact_for(cidx, leg_answered_at, now);
        self.agents[aidx].call = None;
        self.start_wrap_up(now, aidx, contact);
        self.events.push_back(Event::CallTransferred {
            call: self.calls[cidx].record.id.clone(),
            from_agent: self.agents[aidx].record.id.clone(),
        });
    }

    /// Ends a connected call as answered; its agent enters wrap-up (or logs out
    /// when a supervisor forced that).
    fn end_connected(&mut self, now: Timestamp, cidx: usize, reason: &str) {
        let Phase::Connected {
            agent,
            leg_answered_at,
            hold_since,
        } = self.calls[cidx].phase
        else {
            return;
        };
        if let Some(since) = hold_since {
            self.calls[cidx].record.hold_ms += duration_ms(now.since(since));
        }
        let contact = self.contact_for(cidx, leg_answered_at, now);
        self.agents[agent].call = None;
        self.finish_call(now, cidx, CallOutcome::Answered, reason.into());
        self.start_wrap_up(now, agent, contact);
    }

    fn contact_for(&self, cidx: usize, answered_at: Timestamp, now: Timestamp) -> ContactRecord {
        let c = &self.calls[cidx];
        let agent = match c.phase {
            Phase::Connected { agent, .. } => self.agents[agent].record.id.clone(),
            _ => AgentId::new(""),
        };
        ContactRecord {
            call: c.record.id.clone(),
            customer_key: c
                .record
                .customer
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| c.record.ani.clone()),
            agent,
            queue: c.record.queue.clone(),
            tier: c.record.tier,
            disposition: None,
            category: None,
            notes: None,
            enqueued_at: c.record.enqueued_at,
            answered_at,
            ended_at: now,
            wrap_up_ended_at: now,
            hold_ms: c.record.hold_ms,
            callback: c.record.callback.as_ref().map(|cb| cb.id.clone()),
        }
    }

    fn start_wrap_up(&mut self, now: Timestamp, aidx: usize, contact: ContactRecord) {
        let q = self.queue_index.get(&contact.queue).copied().unwrap_or(0);
        let wrap = Duration::from_secs(self.queues[q].settings.wrap_up_secs);
        let deadline = now.plus(wrap);
        let agent = &mut self.agents[aidx];
        agent.wrap_seq += 1;
        let seq = agent.wrap_seq;
        let call = contact.call.clone();
        agent.wrap = Some(WrapUpState {
            contact,
            seq,
            deadline,
        });
        self.set_state(now, aidx, AgentState::WrapUp, None, "call ended");
        self.push_timer(deadline, TimerKind::WrapUpEnd { agent: aidx, seq });
        self.events.push_back(Event::WrapUpStarted {
            agent: self.agents[aidx].record.id.clone(),
            call,
            deadline,
        });
    }

    fn finish_wrap_up(
        &mut self,
        now: Timestamp,
        aidx: usize,
        disposition: Option<Disposition>,
        category: Option<String>,
        notes: Option<String>,
    ) {
        let Some(wrap) = self.agents[aidx].wrap.take() else {
            return;
        };
        let mut contact = wrap.contact;
        contact.disposition = disposition;
        contact.category = category;
        contact.notes = notes;
        contact.wrap_up_ended_at = now;
        if let Some(&q) = self.queue_index.get(&contact.queue) {
            let counters = &mut self.queues[q].counters;
            counters.handled += 1;
            counters.handle_ms += crate::time::duration_ms(now.since(contact.answered_at));
        }
        self.agents[aidx].record.current_call = None;
        self.events.push_back(Event::WrapUpEnded {
            agent: self.agents[aidx].record.id.clone(),
            contact,
        });
    }

    /// After wrap-up: a pending not-ready request, else available for work.
    fn after_wrap_up(&mut self, now: Timestamp, aidx: usize) {
        match self.agents[aidx].record.pending_not_ready.take() {
            Some(reason) => self.set_state(
                now,
                aidx,
                AgentState::NotReady,
                Some(reason),
                "requested during call",
            ),
            None => {
                self.make_available(now, aidx, "wrap-up ended");
                self.route_agent(now, aidx);
            }
        }
    }

    fn end_unanswered(&mut self, now: Timestamp, cidx: usize, outcome: CallOutcome, reason: String) {
        self.finish_call(now, cidx, outcome, reason);
    }

    /// Removes the call from the router and reports its final record. A call
    /// that reached an agent once (then was transferred) ends answered,
    /// whatever happens after: it is never also counted as abandoned.
    fn finish_call(&mut self, now: Timestamp, cidx: usize, outcome: CallOutcome, reason: String) {
        let outcome = if self.calls[cidx].record.answered_at.is_some() {
            CallOutcome::Answered
        } else {
            outcome
        };
        let q = self.calls[cidx].queue;
        match outcome {
            _ if self.calls[cidx].record.callback.is_some() => {}
            CallOutcome::Abandoned if now.since(self.calls[cidx].record.enqueued_at) < self.short_abandon => {
                self.queues[q].counters.short_abandons += 1
            }
            CallOutcome::Abandoned => self.queues[q].counters.abandoned += 1,
            CallOutcome::Rejected => self.queues[q].counters.rejected += 1,
            CallOutcome::Overflowed => self.queues[q].counters.overflowed += 1,
            CallOutcome::Answered => {}
        }
        let mut record = self.snapshot(cidx);
        record.status = CallStatus::Ended;
        record.outcome = Some(outcome);
        record.end_reason = Some(reason);
        record.ended_at = Some(now);
        record.on_hold = false;
        let slot = self.calls.remove(cidx);
        self.call_index.remove(&slot.record.id);
        self.events.push_back(Event::CallEnded { call: record });
    }

    fn make_available(&mut self, now: Timestamp, aidx: usize, why: &str) {
        self.agents[aidx].record.idle_since = now;
        self.set_state(now, aidx, AgentState::Available, None, why);
    }

    /// The one place agent state changes: keeps the availability indexes in step.
    fn set_state(
        &mut self,
        now: Timestamp,
        aidx: usize,
        state: AgentState,
        not_ready: Option<String>,
        why: &str,
    ) {
        self.change_state(now, aidx, state, not_ready, why);
        self.events.push_back(Event::AgentStateChanged {
            agent: self.agents[aidx].record.clone(),
        });
    }

    /// [`Self::set_state`] without its event, for a change that another
    /// event reports (a reservation is reported by its `CallOffered`).
    fn change_state(
        &mut self,
        now: Timestamp,
        aidx: usize,
        state: AgentState,
        not_ready: Option<String>,
        why: &str,
    ) {
        let agent = &mut self.agents[aidx];
        let was_available = agent.record.state == AgentState::Available;
        let old_idle = agent.record.idle_since;
        if was_available {
            self.available_all.remove(&(old_idle, aidx));
            for &(s, p) in &agent.skills {
                self.available_by_skill[usize::from(s)].remove(&(old_idle, aidx));
                self.available_by_proficiency[usize::from(s)].remove(&(Reverse(p), old_idle, aidx));
            }
        }
        let agent = &mut self.agents[aidx];
        agent.record.state = state;
        agent.record.not_ready_reason = not_ready;
        agent.record.state_reason = why.to_string();
        agent.record.state_since = now;
        agent.record.current_call = agent
            .call
            .map(|c| self.calls[c].record.id.clone())
            .or_else(|| agent.wrap.as_ref().map(|w| w.contact.call.clone()));
        if state == AgentState::Available {
            let key = (agent.record.idle_since, aidx);
            self.available_all.insert(key);
            for &(s, p) in &agent.skills {
                self.available_by_skill[usize::from(s)].insert(key);
                self.available_by_proficiency[usize::from(s)].insert((Reverse(p), key.0, aidx));
            }
        }
    }

    fn snapshot(&self, cidx: usize) -> CallRecord {
        let c = &self.calls[cidx];
        let mut r = c.record.clone();
        r.status = match c.phase {
            Phase::Waiting | Phase::PreferredWait { .. } => CallStatus::Queued,
            Phase::Offering { .. } => CallStatus::Offering,
            Phase::Connected { .. } => CallStatus::Connected,
        };
        r
    }

    /// A skill and proficiency from the outside, checked and interned.
    fn intern(&self, skill: &SkillName, proficiency: u8) -> Result<(u16, u8), RouteError> {
        let idx = *self
            .skill_index
            .get(skill)
            .ok_or_else(|| RouteError::UnknownSkill(skill.clone()))?;
        if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&proficiency) {
            return Err(RouteError::InvalidProficiency {
                skill: skill.clone(),
                value: u32::from(proficiency),
            });
        }
        Ok((idx, proficiency))
    }

    /// A new call slot, waiting (not yet in any waiting set).
    fn insert_call(
        &mut self,
        now: Timestamp,
        serial: u64,
        record: CallRecord,
        q: usize,
        extra: Vec<Req>,
    ) -> usize {
        self.calls.insert(CallSlot {
            serial,
            record,
            queue: q,
            reqs: Vec::new(),
            extra,
            rank: (0, serial),
            queue_entered_at: now,
            phase: Phase::Waiting,
            passed: Vec::new(),
            offer_seq: 0,
            overflow_hops: 0,
        })
    }

    fn agent_idx(&self, id: &AgentId) -> Result<usize, RouteError> {
        self.agent_index
            .get(id)
            .copied()
            .ok_or_else(|| RouteError::UnknownAgent(id.clone()))
    }

    fn wrong_state(&self, aidx: usize, action: &'static str) -> RouteError {
        let a = &self.agents[aidx].record;
        RouteError::WrongAgentState {
            agent: a.id.clone(),
            state: a.state,
            action,
        }
    }

    fn offered_pair(&self, id: &AgentId, call: &CallId) -> Result<(usize, usize), RouteError> {
        let aidx = self.agent_idx(id)?;
        let not_offered = || RouteError::NotOffered {
            call: call.clone(),
            agent: id.clone(),
        };
        let cidx = *self.call_index.get(call).ok_or_else(not_offered)?;
        match self.calls[cidx].phase {
            Phase::Offering { agent, .. } if agent == aidx => Ok((aidx, cidx)),
            _ => Err(not_offered()),
        }
    }

    fn connected_pair(&self, id: &AgentId, call: &CallId) -> Result<(usize, usize), RouteError> {
        let aidx = self.agent_idx(id)?;
        let not_connected = || RouteError::NotConnected {
            call: call.clone(),
            agent: id.clone(),
        };
        let cidx = *self.call_index.get(call).ok_or_else(not_connected)?;
        match self.calls[cidx].phase {
            Phase::Connected { agent, .. } if agent == aidx => Ok((aidx, cidx)),
            _ => Err(not_connected()),
        }
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
