//! The records inside the cluster's commands and replies, both ways.

use std::time::Duration;

use crate::acd::{
    AgentRecord, AgentState, CallOutcome, CallRecord, CallStatus, CallbackWork, Disposition, IncomingCall,
    PassedOver, QueueCounters, QueueView, Requirement, RoutingDecision, SkillLevel, Tier,
};
use crate::callback::{
    Attempt, AttemptOutcome, CallbackCounters, CallbackDetails, CallbackOrigin, CallbackRecord,
    CallbackStatus,
};
use crate::engine::callbacks::{AlertKind, CallbackAlert, CallbackBoard};
use crate::ids::{AgentId, CallId, CallbackId, CustomerId, QueueName, SkillName};
use crate::proto::cluster as pb;
use crate::time::Timestamp;

use super::WireError;

pub(super) fn missing(field: &'static str) -> WireError {
    WireError {
        field,
        reason: "is missing",
    }
}

fn unknown(field: &'static str) -> WireError {
    WireError {
        field,
        reason: "has a value this node does not know",
    }
}

/// Maps a domain enum to its wire enum and back; 0 (unspecified) and any
/// value this node does not know are refused.
macro_rules! wire_enum {
    ($to:ident, $from:ident, $domain:ty, $wire:ty, $field:literal, { $($d:ident => $w:ident),+ $(,)? }) => {
        pub(super) fn $to(v: $domain) -> i32 {
            match v {
                $(<$domain>::$d => <$wire>::$w as i32),+
            }
        }

        pub(super) fn $from(v: i32) -> Result<$domain, WireError> {
            match <$wire>::try_from(v) {
                $(Ok(<$wire>::$w) => Ok(<$domain>::$d),)+
                _ => Err(unknown($field)),
            }
        }
    };
}

wire_enum!(tier_to, tier_from, Tier, pb::Tier, "tier", {
    KeyAccount => KeyAccount, Potential => Potential, Regular => Regular, OneOff => OneOff,
});
wire_enum!(state_to, state_from, AgentState, pb::AgentState, "state", {
    LoggedOut => LoggedOut, Available => Available, Reserved => Reserved, OnCall => OnCall,
    WrapUp => WrapUp, NotReady => NotReady,
});
wire_enum!(status_to, status_from, CallStatus, pb::CallStatus, "status", {
    Queued => Queued, Offering => Offering, Connected => Connected, Ended => Ended,
});
wire_enum!(outcome_to, outcome_from, CallOutcome, pb::CallOutcome, "outcome", {
    Answered => Answered, Abandoned => Abandoned, Overflowed => Overflowed, Rejected => Rejected,
    Closed => Closed,
});
wire_enum!(disposition_to, disposition_from, Disposition, pb::Disposition, "disposition", {
    Resolved => Resolved, Unresolved => Unresolved, CallbackNeeded => CallbackNeeded,
});
wire_enum!(attempt_to, attempt_from, AttemptOutcome, pb::AttemptOutcome, "outcome", {
    Reached => Reached, NoAnswer => NoAnswer, Busy => Busy, WrongNumber => WrongNumber,
});
wire_enum!(cb_status_to, cb_status_from, CallbackStatus, pb::CallbackStatus, "callback status", {
    Scheduled => Scheduled, Due => Due, Reached => Reached, Failed => Failed, Cancelled => Cancelled,
});
wire_enum!(origin_to, origin_from, CallbackOrigin, pb::CallbackOrigin, "origin", {
    Requested => Requested, Abandoned => Abandoned, WrapUp => WrapUp, Api => Api,
});
wire_enum!(alert_to, alert_from, AlertKind, pb::AlertKind, "alert kind", {
    Warned => Warned, Breached => Breached, CloseLate => CloseLate, CloseSoon => CloseSoon,
});

/// An optional enum: 0 is "none".
pub(super) fn opt_enum<T>(v: i32, from: fn(i32) -> Result<T, WireError>) -> Result<Option<T>, WireError> {
    if v == 0 {
        Ok(None)
    } else {
        from(v).map(Some)
    }
}

pub(super) fn ms(t: Timestamp) -> u64 {
    t.0
}

pub(super) fn at(v: u64) -> Timestamp {
    Timestamp(v)
}

pub(super) fn dur_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn s<T: std::fmt::Display>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|x| x.to_string())
}

pub(super) fn small(v: u32, field: &'static str) -> Result<u8, WireError> {
    u8::try_from(v).map_err(|_| WireError {
        field,
        reason: "is out of range",
    })
}

// ------------------------------------------------------------- records --

pub(super) fn skill_to(v: &SkillLevel) -> pb::SkillLevel {
    pb::SkillLevel {
        skill: v.skill.to_string(),
        proficiency: u32::from(v.proficiency),
    }
}

pub(super) fn skill_from(v: pb::SkillLevel) -> Result<SkillLevel, WireError> {
    Ok(SkillLevel {
        skill: SkillName::new(v.skill),
        proficiency: small(v.proficiency, "proficiency")?,
    })
}

pub(super) fn req_to(v: &Requirement) -> pb::Requirement {
    pb::Requirement {
        skill: v.skill.to_string(),
        min_proficiency: u32::from(v.min_proficiency),
        optional: v.optional,
    }
}

pub(super) fn req_from(v: pb::Requirement) -> Result<Requirement, WireError> {
    Ok(Requirement {
        skill: SkillName::new(v.skill),
        min_proficiency: small(v.min_proficiency, "min_proficiency")?,
        optional: v.optional,
    })
}

pub(super) fn work_to(v: &Option<CallbackWork>) -> Option<pb::CallbackWork> {
    v.as_ref().map(|w| pb::CallbackWork {
        id: w.id.to_string(),
        deadline: ms(w.deadline),
    })
}

pub(super) fn work_from(v: Option<pb::CallbackWork>) -> Option<CallbackWork> {
    v.map(|w| CallbackWork {
        id: CallbackId::new(w.id),
        deadline: at(w.deadline),
    })
}

pub(super) fn agent_to(v: &AgentRecord) -> pb::AgentRecord {
    pb::AgentRecord {
        id: v.id.to_string(),
        display_name: v.display_name.clone(),
        skills: v.skills.iter().map(skill_to).collect(),
        state: state_to(v.state),
        not_ready_reason: v.not_ready_reason.clone(),
        state_reason: v.state_reason.clone(),
        current_call: s(&v.current_call),
        state_since: ms(v.state_since),
        idle_since: ms(v.idle_since),
        calls_handled: v.calls_handled,
        consecutive_misses: v.consecutive_misses,
        pending_not_ready: v.pending_not_ready.clone(),
    }
}

pub(super) fn agent_from(v: pb::AgentRecord) -> Result<AgentRecord, WireError> {
    Ok(AgentRecord {
        id: AgentId::new(v.id),
        display_name: v.display_name,
        skills: v.skills.into_iter().map(skill_from).collect::<Result<_, _>>()?,
        state: state_from(v.state)?,
        not_ready_reason: v.not_ready_reason,
        state_reason: v.state_reason,
        current_call: v.current_call.map(CallId::new),
        state_since: at(v.state_since),
        idle_since: at(v.idle_since),
        calls_handled: v.calls_handled,
        consecutive_misses: v.consecutive_misses,
        pending_not_ready: v.pending_not_ready,
    })
}

pub(super) fn decision_to(v: &RoutingDecision) -> pb::RoutingDecision {
    pb::RoutingDecision {
        at: ms(v.at),
        agent: v.agent.to_string(),
        trigger: v.trigger.clone(),
        strategy: v.strategy.clone(),
        score: v.score,
        relaxation_step: v.relaxation_step,
        requirements: v.requirements.iter().map(req_to).collect(),
        candidates_considered: v.candidates_considered,
        passed_over: v
            .passed_over
            .iter()
            .map(|p| pb::PassedOver {
                agent: p.agent.to_string(),
                reason: p.reason.clone(),
            })
            .collect(),
    }
}

pub(super) fn decision_from(v: pb::RoutingDecision) -> Result<RoutingDecision, WireError> {
    Ok(RoutingDecision {
        at: at(v.at),
        agent: AgentId::new(v.agent),
        trigger: v.trigger,
        strategy: v.strategy,
        score: v.score,
        relaxation_step: v.relaxation_step,
        requirements: v
            .requirements
            .into_iter()
            .map(req_from)
            .collect::<Result<_, _>>()?,
        candidates_considered: v.candidates_considered,
        passed_over: v
            .passed_over
            .into_iter()
            .map(|p| PassedOver {
                agent: AgentId::new(p.agent),
                reason: p.reason,
            })
            .collect(),
    })
}

pub(super) fn call_to(v: &CallRecord) -> pb::CallRecord {
    pb::CallRecord {
        id: v.id.to_string(),
        ani: v.ani.clone(),
        dnis: v.dnis.clone(),
        customer: s(&v.customer),
        tier: tier_to(v.tier),
        queue: v.queue.to_string(),
        requirements: v.requirements.iter().map(req_to).collect(),
        priority_ms: v.priority_ms,
        status: status_to(v.status),
        agent: s(&v.agent),
        enqueued_at: ms(v.enqueued_at),
        answered_at: v.answered_at.map(ms),
        ended_at: v.ended_at.map(ms),
        outcome: v.outcome.map(outcome_to).unwrap_or(0),
        end_reason: v.end_reason.clone(),
        on_hold: v.on_hold,
        preferred_agent: s(&v.preferred_agent),
        relaxation_step: v.relaxation_step,
        original_position: v.original_position,
        hold_ms: v.hold_ms,
        decisions: v.decisions.iter().map(decision_to).collect(),
        node: v.node.clone(),
        callback: work_to(&v.callback),
    }
}

pub(super) fn call_from(v: pb::CallRecord) -> Result<CallRecord, WireError> {
    Ok(CallRecord {
        id: CallId::new(v.id),
        ani: v.ani,
        dnis: v.dnis,
        customer: v.customer.map(CustomerId::new),
        tier: tier_from(v.tier)?,
        queue: QueueName::new(v.queue),
        requirements: v
            .requirements
            .into_iter()
            .map(req_from)
            .collect::<Result<_, _>>()?,
        priority_ms: v.priority_ms,
        status: status_from(v.status)?,
        agent: v.agent.map(AgentId::new),
        enqueued_at: at(v.enqueued_at),
        answered_at: v.answered_at.map(at),
        ended_at: v.ended_at.map(at),
        outcome: opt_enum(v.outcome, outcome_from)?,
        end_reason: v.end_reason,
        on_hold: v.on_hold,
        preferred_agent: v.preferred_agent.map(AgentId::new),
        relaxation_step: v.relaxation_step,
        original_position: v.original_position,
        hold_ms: v.hold_ms,
        decisions: v
            .decisions
            .into_iter()
            .map(decision_from)
            .collect::<Result<_, _>>()?,
        node: v.node,
        callback: work_from(v.callback),
    })
}

pub(super) fn details_to(v: &CallbackDetails) -> pb::CallbackDetails {
    pb::CallbackDetails {
        number: v.number.clone(),
        customer: s(&v.customer),
        customer_key: v.customer_key.clone(),
        tier: v.tier.map(tier_to).unwrap_or(0),
        queue: s(&v.queue),
        category: v.category.clone(),
        notes: v.notes.clone(),
        owner: s(&v.owner),
        origin: origin_to(v.origin),
        source_call: s(&v.source_call),
    }
}

pub(super) fn details_from(v: pb::CallbackDetails) -> Result<CallbackDetails, WireError> {
    Ok(CallbackDetails {
        number: v.number,
        customer: v.customer.map(CustomerId::new),
        customer_key: v.customer_key,
        tier: opt_enum(v.tier, tier_from)?,
        queue: v.queue.map(QueueName::new),
        category: v.category,
        notes: v.notes,
        owner: v.owner.map(AgentId::new),
        origin: origin_from(v.origin)?,
        source_call: v.source_call.map(CallId::new),
    })
}

pub(super) fn callback_to(v: &CallbackRecord) -> pb::CallbackRecord {
    pb::CallbackRecord {
        id: v.id.to_string(),
        created_at: ms(v.created_at),
        not_before: ms(v.not_before),
        deadline: ms(v.deadline),
        status: cb_status_to(v.status),
        attempts: v
            .attempts
            .iter()
            .map(|a| pb::Attempt {
                at: ms(a.at),
                outcome: attempt_to(a.outcome),
                agent: s(&a.agent),
            })
            .collect(),
        max_attempts: v.max_attempts,
        next_attempt_at: ms(v.next_attempt_at),
        warned: v.warned,
        breached: v.breached,
        met: v.met,
        details: Some(details_to(&v.details)),
        work_done_at: v.work_done_at.map(ms),
        request_closed_at: v.request_closed_at.map(ms),
        close_breached: v.close_breached,
        close_warned: v.close_warned,
        updated_at: ms(v.updated_at),
    }
}

pub(super) fn callback_from(v: pb::CallbackRecord) -> Result<CallbackRecord, WireError> {
    Ok(CallbackRecord {
        id: CallbackId::new(v.id),
        created_at: at(v.created_at),
        not_before: at(v.not_before),
        deadline: at(v.deadline),
        status: cb_status_from(v.status)?,
        attempts: v
            .attempts
            .into_iter()
            .map(|a| {
                Ok(Attempt {
                    at: at(a.at),
                    outcome: attempt_from(a.outcome)?,
                    agent: a.agent.map(AgentId::new),
                })
            })
            .collect::<Result<_, WireError>>()?,
        max_attempts: v.max_attempts,
        next_attempt_at: at(v.next_attempt_at),
        warned: v.warned,
        breached: v.breached,
        met: v.met,
        details: details_from(v.details.ok_or_else(|| missing("details"))?)?,
        work_done_at: v.work_done_at.map(at),
        request_closed_at: v.request_closed_at.map(at),
        close_breached: v.close_breached,
        close_warned: v.close_warned,
        updated_at: at(v.updated_at),
    })
}

pub(super) fn counters_to(v: &QueueCounters) -> pb::QueueCounters {
    pb::QueueCounters {
        offered: v.offered,
        answered: v.answered,
        answered_within_threshold: v.answered_within_threshold,
        abandoned: v.abandoned,
        short_abandons: v.short_abandons,
        overflowed: v.overflowed,
        rejected: v.rejected,
        handled: v.handled,
        handle_ms: v.handle_ms,
        closed: v.closed,
    }
}

pub(super) fn counters_from(v: pb::QueueCounters) -> QueueCounters {
    QueueCounters {
        offered: v.offered,
        answered: v.answered,
        answered_within_threshold: v.answered_within_threshold,
        abandoned: v.abandoned,
        short_abandons: v.short_abandons,
        overflowed: v.overflowed,
        rejected: v.rejected,
        handled: v.handled,
        handle_ms: v.handle_ms,
        closed: v.closed,
    }
}

pub(super) fn view_to(v: &QueueView) -> pb::QueueView {
    pb::QueueView {
        name: v.name.to_string(),
        waiting: v.waiting,
        offering: v.offering,
        oldest_wait_ms: dur_ms(v.oldest_wait),
        agents_by_state: v
            .agents_by_state
            .iter()
            .map(|(state, count)| pb::AgentsInState {
                state: state_to(*state),
                count: *count,
            })
            .collect(),
        counters: Some(counters_to(&v.counters)),
        service_level_threshold_secs: v.service_level_threshold_secs,
    }
}

pub(super) fn view_from(v: pb::QueueView) -> Result<QueueView, WireError> {
    Ok(QueueView {
        name: QueueName::new(v.name),
        waiting: v.waiting,
        offering: v.offering,
        oldest_wait: Duration::from_millis(v.oldest_wait_ms),
        agents_by_state: v
            .agents_by_state
            .into_iter()
            .map(|a| Ok((state_from(a.state)?, a.count)))
            .collect::<Result<_, WireError>>()?,
        counters: counters_from(v.counters.ok_or_else(|| missing("counters"))?),
        service_level_threshold_secs: v.service_level_threshold_secs,
    })
}

pub(super) fn board_to(v: &CallbackBoard) -> pb::CallbackBoard {
    let c = &v.counters;
    pb::CallbackBoard {
        at: ms(v.at),
        pending: v.pending,
        due_now: v.due_now,
        due_soon: v.due_soon,
        overdue: v.overdue,
        counters: Some(pb::CallbackCounters {
            created: c.created,
            met: c.met,
            missed: c.missed,
            warned: c.warned,
            breached: c.breached,
            closed_on_time: c.closed_on_time,
            closed_late: c.closed_late,
        }),
        alerts: v
            .alerts
            .iter()
            .map(|a| pb::CallbackAlert {
                seq: a.seq,
                callback: a.callback.to_string(),
                kind: alert_to(a.kind),
                at: ms(a.at),
                deadline: ms(a.deadline),
                queue: s(&a.queue),
            })
            .collect(),
    }
}

pub(super) fn board_from(v: pb::CallbackBoard) -> Result<CallbackBoard, WireError> {
    let c = v.counters.ok_or_else(|| missing("counters"))?;
    Ok(CallbackBoard {
        at: at(v.at),
        pending: v.pending,
        due_now: v.due_now,
        due_soon: v.due_soon,
        overdue: v.overdue,
        counters: CallbackCounters {
            created: c.created,
            met: c.met,
            missed: c.missed,
            warned: c.warned,
            breached: c.breached,
            closed_on_time: c.closed_on_time,
            closed_late: c.closed_late,
        },
        alerts: v
            .alerts
            .into_iter()
            .map(|a| {
                Ok(CallbackAlert {
                    seq: a.seq,
                    callback: CallbackId::new(a.callback),
                    kind: alert_from(a.kind)?,
                    at: at(a.at),
                    deadline: at(a.deadline),
                    queue: a.queue.map(QueueName::new),
                })
            })
            .collect::<Result<_, WireError>>()?,
    })
}

pub(super) fn incoming_to(v: &IncomingCall) -> pb::IncomingCall {
    pb::IncomingCall {
        id: v.id.to_string(),
        ani: v.ani.clone(),
        dnis: v.dnis.clone(),
        customer: s(&v.customer),
        tier: tier_to(v.tier),
        queue: v.queue.to_string(),
        extra_requirements: v.extra_requirements.iter().map(req_to).collect(),
        preferred_agent: s(&v.preferred_agent),
        node: v.node.clone(),
        callback: work_to(&v.callback),
    }
}

pub(super) fn incoming_from(v: pb::IncomingCall) -> Result<IncomingCall, WireError> {
    Ok(IncomingCall {
        id: CallId::new(v.id),
        ani: v.ani,
        dnis: v.dnis,
        customer: v.customer.map(CustomerId::new),
        tier: tier_from(v.tier)?,
        queue: QueueName::new(v.queue),
        extra_requirements: v
            .extra_requirements
            .into_iter()
            .map(req_from)
            .collect::<Result<_, _>>()?,
        preferred_agent: v.preferred_agent.map(AgentId::new),
        node: v.node,
        callback: work_from(v.callback),
    })
}
