//! Contact-center reports over a time range (DOMAIN.md "KPIs ops teams
//! read"), computed from stored records by pure functions: the same records
//! give the same report on any node, and tests feed records directly.
//!
//! Rules, written next to the figures they shape:
//! - a call belongs to the range when it was queued in it, and to the queue
//!   it ended in; callback work items are not calls (they are counted as
//!   callbacks);
//! - abandons shorter than `short_abandon` are not counted as abandoned
//!   (the caller misdialled or gave up at once), and are reported apart;
//! - service level = answered within the queue's threshold / (answered +
//!   abandoned), short abandons excluded;
//! - handle time = talk + hold + wrap-up (answer to end of wrap-up);
//! - occupancy = (reserved + on call + wrap-up) / (that + available), from
//!   agents' time in state per UTC day (days overlapping the range count whole);
//! - a callback counts in the range it was created in, met or missed once
//!   closed (cancelled ones neither);
//! - quality signals count the finished recordings started in the range
//!   whose signals were read: talk share = agent talk / (agent + caller
//!   talk) over them all; overtalk and the longest silence as means per
//!   recording; holds over 6 s counted by their flag.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::acd::{AgentState, CallOutcome, CallRecord, ContactRecord};
use crate::callback::CallbackRecord;
use crate::fcr::{Contact, FcrRow, FcrScorer, GroupBy};
use crate::ids::{AgentId, QueueName};
use crate::quality::signals::HoldFlag;
use crate::quality::{GradeRecord, SurveyRecord};
use crate::recording::RecordingRecord;
use crate::time::Timestamp;

/// An agent's time in each state over one UTC day, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDayRecord {
    /// Start of the UTC day.
    pub day: Timestamp,
    pub agent: AgentId,
    /// Keyed by `AgentState::as_str`.
    pub ms_by_state: BTreeMap<String, u64>,
}

impl AgentDayRecord {
    pub fn ms(&self, state: AgentState) -> u64 {
        self.ms_by_state.get(state.as_str()).copied().unwrap_or(0)
    }

    fn busy_and_staffed(&self) -> (u64, u64) {
        let busy = self.ms(AgentState::Reserved) + self.ms(AgentState::OnCall) + self.ms(AgentState::WrapUp);
        (busy, busy + self.ms(AgentState::Available))
    }
}

/// The rules a report applies.
#[derive(Clone, Debug)]
pub struct ReportRules {
    pub short_abandon: Duration,
    /// Each queue's service-level threshold; queues not listed use 20 s.
    pub service_level: HashMap<QueueName, Duration>,
    pub fcr_window: Duration,
}

impl ReportRules {
    fn threshold(&self, q: &QueueName) -> Duration {
        self.service_level
            .get(q)
            .copied()
            .unwrap_or(Duration::from_secs(20))
    }

    /// The rules in words, shown next to the figures.
    pub fn describe(&self) -> String {
        format!(
            "abandons under {} s are excluded from abandoned and service level; service level = answered within the queue's threshold / (answered + abandoned); handle time = talk + hold + wrap-up; observed FCR window {} days",
            self.short_abandon.as_secs(),
            self.fcr_window.as_secs() / 86_400
        )
    }
}

/// Everything a report reads, already narrowed to the range (contacts also
/// up to one FCR window after it, for observed FCR).
#[derive(Clone, Debug, Default)]
pub struct ReportInput {
    pub calls: Vec<CallRecord>,
    pub contacts: Vec<ContactRecord>,
    pub callbacks: Vec<CallbackRecord>,
    pub grades: Vec<GradeRecord>,
    pub surveys: Vec<SurveyRecord>,
    pub agent_days: Vec<AgentDayRecord>,
    /// Recordings started in the range.
    pub recordings: Vec<RecordingRecord>,
}

/// Quality signals over a row's analysed recordings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalFigures {
    pub analysed: u32,
    /// Agent talk over all talk, 0..=1; none with no talk.
    pub agent_talk_share: Option<f64>,
    pub mean_overtalk: Option<Duration>,
    pub mean_longest_silence: Option<Duration>,
    /// Holds over the limit: the agent spoke soon after (an apology to
    /// check), and did not.
    pub long_holds_to_check: u32,
    pub long_holds_without_apology: u32,
}

impl SignalFigures {
    fn of<'a>(recordings: impl Iterator<Item = &'a RecordingRecord>) -> SignalFigures {
        let mut f = SignalFigures::default();
        let (mut agent, mut caller, mut overtalk, mut silence) = (0u64, 0u64, 0u64, 0u64);
        for s in recordings.filter_map(|r| r.signals.as_ref()) {
            f.analysed += 1;
            agent += s.agent_talk_ms;
            caller += s.caller_talk_ms;
            overtalk += s.overtalk_ms;
            silence += s.longest_silence_ms;
            for h in &s.holds {
                match h.flag {
                    HoldFlag::Fine => {}
                    HoldFlag::ApologyToCheck => f.long_holds_to_check += 1,
                    HoldFlag::NoApology => f.long_holds_without_apology += 1,
                }
            }
        }
        if f.analysed > 0 {
            let n = u64::from(f.analysed);
            f.agent_talk_share = (agent + caller > 0).then(|| agent as f64 / (agent + caller) as f64);
            f.mean_overtalk = Some(Duration::from_millis(overtalk / n));
            f.mean_longest_silence = Some(Duration::from_millis(silence / n));
        }
        f
    }
}

/// Figures shared by queue and agent rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Common {
    /// Contacts whose wrap-up ended in the range.
    pub handled: u32,
    pub average_handle_time: Option<Duration>,
    pub callbacks_met: u32,
    pub callbacks_missed: u32,
    pub callbacks_open: u32,
    pub fcr: FcrRow,
    pub quality_average: Option<f64>,
    pub graded: u32,
    pub satisfaction_average: Option<f64>,
    pub surveys: u32,
    pub signals: SignalFigures,
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueStats {
    pub queue: QueueName,
    pub offered: u32,
    pub answered: u32,
    /// Abandoned after at least the short-abandon time.
    pub abandoned: u32,
    pub short_abandons: u32,
    pub overflowed: u32,
    pub rejected: u32,
    pub answered_within_threshold: u32,
    /// Share 0..1; none when nothing was answered or abandoned.
    pub service_level: Option<f64>,
    pub average_speed_of_answer: Option<Duration>,
    pub common: Common,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgentStats {
    pub agent: AgentId,
    pub occupancy: Option<f64>,
    pub staffed: Duration,
    pub common: Common,
}

impl QueueStats {
    fn empty(queue: QueueName) -> Self {
        QueueStats {
            queue,
            offered: 0,
            answered: 0,
            abandoned: 0,
            short_abandons: 0,
            overflowed: 0,
            rejected: 0,
            answered_within_threshold: 0,
            service_level: None,
            average_speed_of_answer: None,
            common: Common::default(),
        }
    }
}

fn in_range(t: Timestamp, from: Timestamp, to: Timestamp) -> bool {
    t >= from && t < to
}

fn mean(values: impl Iterator<Item = f64>) -> (Option<f64>, u32) {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    ((n > 0).then(|| sum / f64::from(n)), n)
}

fn fcr_rows(
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    rules: &ReportRules,
    input: &ReportInput,
    by: GroupBy,
) -> Vec<FcrRow> {
    let mut scorer = FcrScorer::new(rules.fcr_window);
    let mut contacts: Vec<&ContactRecord> = input.contacts.iter().collect();
    contacts.sort_by_key(|c| (c.answered_at, c.call.clone()));
    for c in contacts {
        scorer.handle_contact(Contact {
            call: c.call.clone(),
            customer_key: c.customer_key.clone(),
            category: c.category.clone(),
            disposition: c.disposition,
            agent: c.agent.clone(),
            queue: c.queue.clone(),
            at: c.answered_at,
        });
    }
    scorer.report(now, from, to, by)
}

/// First-call resolution grouped by `by`.
pub fn first_call_resolution(
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    rules: &ReportRules,
    input: &ReportInput,
    by: GroupBy,
) -> Vec<FcrRow> {
    fcr_rows(now, from, to, rules, input, by)
}

/// Which records belong to one row.
struct Select<'a> {
    contact: &'a dyn Fn(&ContactRecord) -> bool,
    callback: &'a dyn Fn(&CallbackRecord) -> bool,
    grade: &'a dyn Fn(&GradeRecord) -> bool,
    survey: &'a dyn Fn(&SurveyRecord) -> bool,
    recording: &'a dyn Fn(&RecordingRecord) -> bool,
}

/// Fills the figures shared by queue and agent rows for the records `select` picks.
fn common(from: Timestamp, to: Timestamp, input: &ReportInput, fcr: FcrRow, select: Select<'_>) -> Common {
    let Select {
        contact,
        callback,
        grade,
        survey,
        recording,
    } = select;
    let handled: Vec<&ContactRecord> = input
        .contacts
        .iter()
        .filter(|c| in_range(c.wrap_up_ended_at, from, to) && contact(c))
        .collect();
    let handle_ms: u64 = handled
        .iter()
        .map(|c| c.wrap_up_ended_at.since(c.answered_at).as_millis() as u64)
        .sum();
    let n = handled.len() as u32;
    let callbacks: Vec<&CallbackRecord> = input
        .callbacks
        .iter()
        .filter(|c| in_range(c.created_at, from, to) && callback(c))
        .collect();
    let (quality_average, graded) = mean(input.grades.iter().filter(|g| grade(g)).map(|g| g.score));
    let (satisfaction_average, surveys) = mean(
        input
            .surveys
            .iter()
            .filter(|s| survey(s))
            .map(|s| f64::from(s.satisfaction)),
    );
    Common {
        handled: n,
        average_handle_time: (n > 0).then(|| Duration::from_millis(handle_ms / u64::from(n))),
        callbacks_met: callbacks.iter().filter(|c| c.met == Some(true)).count() as u32,
        callbacks_missed: callbacks.iter().filter(|c| c.met == Some(false)).count() as u32,
        callbacks_open: callbacks.iter().filter(|c| c.status.is_open()).count() as u32,
        fcr,
        quality_average,
        graded,
        satisfaction_average,
        surveys,
        signals: SignalFigures::of(
            input
                .recordings
                .iter()
                .filter(|r| in_range(r.started_at, from, to) && recording(r)),
        ),
    }
}

/// Per-queue figures, one row per queue seen in the records, by name.
pub fn queue_stats(
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    rules: &ReportRules,
    input: &ReportInput,
) -> Vec<QueueStats> {
    let mut rows: BTreeMap<QueueName, QueueStats> = BTreeMap::new();
    let row = |rows: &mut BTreeMap<QueueName, QueueStats>, q: &QueueName| {
        rows.entry(q.clone())
            .or_insert_with(|| QueueStats::empty(q.clone()))
            .queue
            .clone()
    };
    let mut asa_ms: HashMap<QueueName, u64> = HashMap::new();
    for c in input
        .calls
        .iter()
        .filter(|c| c.callback.is_none() && in_range(c.enqueued_at, from, to))
    {
        let q = row(&mut rows, &c.queue);
        let Some(r) = rows.get_mut(&q) else { continue };
        r.offered += 1;
        match c.outcome {
            Some(CallOutcome::Answered) => {
                r.answered += 1;
                let wait = c.answered_at.unwrap_or(c.enqueued_at).since(c.enqueued_at);
                *asa_ms.entry(q.clone()).or_default() += wait.as_millis() as u64;
                if wait <= rules.threshold(&q) {
                    r.answered_within_threshold += 1;
                }
            }
            Some(CallOutcome::Abandoned) => {
                let waited = c.ended_at.unwrap_or(c.enqueued_at).since(c.enqueued_at);
                if waited < rules.short_abandon {
                    r.short_abandons += 1;
                } else {
                    r.abandoned += 1;
                }
            }
            Some(CallOutcome::Overflowed) => r.overflowed += 1,
            // A call to a closed queue was refused at entry, as reports
            // count it (live figures and metrics count it apart).
            Some(CallOutcome::Rejected) | Some(CallOutcome::Closed) => r.rejected += 1,
            None => {}
        }
    }
    for c in &input.contacts {
        row(&mut rows, &c.queue);
    }
    for c in &input.callbacks {
        if let Some(q) = &c.details.queue {
            row(&mut rows, q);
        }
    }
    let fcr: HashMap<String, FcrRow> = fcr_rows(now, from, to, rules, input, GroupBy::Queue)
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    for (q, r) in rows.iter_mut() {
        let counted = r.answered + r.abandoned;
        r.service_level = (counted > 0).then(|| f64::from(r.answered_within_threshold) / f64::from(counted));
        r.average_speed_of_answer = (r.answered > 0)
            .then(|| Duration::from_millis(asa_ms.get(q).copied().unwrap_or(0) / u64::from(r.answered)));
        r.common = common(
            from,
            to,
            input,
            fcr.get(q.as_str()).cloned().unwrap_or_default(),
            Select {
                contact: &|c| &c.queue == q,
                callback: &|c| c.details.queue.as_ref() == Some(q),
                grade: &|g| &g.queue == q && in_range(g.graded_at, from, to),
                survey: &|s| &s.queue == q && in_range(s.at, from, to),
                recording: &|r| &r.queue == q,
            },
        );
        r.common.fcr.key = q.to_string();
    }
    rows.into_values().collect()
}

/// Per-agent figures, one row per agent seen in the records, by id.
pub fn agent_stats(
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    rules: &ReportRules,
    input: &ReportInput,
) -> Vec<AgentStats> {
    let mut agents: BTreeMap<AgentId, (u64, u64)> = BTreeMap::new();
    for c in &input.contacts {
        agents.entry(c.agent.clone()).or_default();
    }
    for g in &input.grades {
        agents.entry(g.agent.clone()).or_default();
    }
    for a in input.surveys.iter().filter_map(|s| s.agent.as_ref()) {
        agents.entry(a.clone()).or_default();
    }
    for a in input
        .recordings
        .iter()
        .filter(|r| r.signals.is_some())
        .filter_map(|r| r.agent.as_ref())
    {
        agents.entry(a.clone()).or_default();
    }
    // Whole days overlapping the range.
    let first_day = from.utc_day_start();
    for d in input
        .agent_days
        .iter()
        .filter(|d| d.day >= first_day && d.day < to)
    {
        let (busy, staffed) = d.busy_and_staffed();
        let e = agents.entry(d.agent.clone()).or_default();
        e.0 += busy;
        e.1 += staffed;
    }
    let fcr: HashMap<String, FcrRow> = fcr_rows(now, from, to, rules, input, GroupBy::Agent)
        .into_iter()
        .map(|r| (r.key.clone(), r))
        .collect();
    let last_agent = |c: &CallbackRecord| c.attempts.last().and_then(|a| a.agent.clone());
    agents
        .into_iter()
        .map(|(a, (busy, staffed))| {
            let mut common = common(
                from,
                to,
                input,
                fcr.get(a.as_str()).cloned().unwrap_or_default(),
                Select {
                    contact: &|c| c.agent == a,
                    callback: &|c| last_agent(c).as_ref() == Some(&a),
                    grade: &|g| g.agent == a && in_range(g.graded_at, from, to),
                    survey: &|s| s.agent.as_ref() == Some(&a) && in_range(s.at, from, to),
                    recording: &|r| r.agent.as_ref() == Some(&a),
                },
            );
            common.fcr.key = a.to_string();
            AgentStats {
                occupancy: (staffed > 0).then(|| busy as f64 / staffed as f64),
                staffed: Duration::from_millis(staffed),
                agent: a,
                common,
            }
        })
        .collect()
}
