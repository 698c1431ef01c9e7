//! Domain records to and from the wire types of `hotline.v1`.

use crate::acd::*;
use crate::proto;
use crate::time::Timestamp;

pub fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn opt_ms(t: Option<Timestamp>) -> i64 {
    t.map(ms).unwrap_or(0)
}

pub fn tier(t: Tier) -> proto::Tier {
    match t {
        Tier::KeyAccount => proto::Tier::KeyAccount,
        Tier::Potential => proto::Tier::Potential,
        Tier::Regular => proto::Tier::Regular,
        Tier::OneOff => proto::Tier::OneOff,
    }
}

pub fn agent_state(s: AgentState) -> proto::AgentState {
    match s {
        AgentState::LoggedOut => proto::AgentState::LoggedOut,
        AgentState::Available => proto::AgentState::Available,
        AgentState::Reserved => proto::AgentState::Reserved,
        AgentState::OnCall => proto::AgentState::OnCall,
        AgentState::WrapUp => proto::AgentState::WrapUp,
        AgentState::NotReady => proto::AgentState::NotReady,
    }
}

pub fn agent_state_from(s: proto::AgentState) -> Option<AgentState> {
    Some(match s {
        proto::AgentState::Unspecified => return None,
        proto::AgentState::LoggedOut => AgentState::LoggedOut,
        proto::AgentState::Available => AgentState::Available,
        proto::AgentState::Reserved => AgentState::Reserved,
        proto::AgentState::OnCall => AgentState::OnCall,
        proto::AgentState::WrapUp => AgentState::WrapUp,
        proto::AgentState::NotReady => AgentState::NotReady,
    })
}

pub fn disposition(d: Option<Disposition>) -> proto::Disposition {
    match d {
        None => proto::Disposition::Unspecified,
        Some(Disposition::Resolved) => proto::Disposition::Resolved,
        Some(Disposition::Unresolved) => proto::Disposition::Unresolved,
        Some(Disposition::CallbackNeeded) => proto::Disposition::CallbackNeeded,
    }
}

pub fn rescind_reason(r: RescindReason) -> proto::RescindReason {
    match r {
        RescindReason::Declined => proto::RescindReason::Declined,
        RescindReason::NoAnswer => proto::RescindReason::NoAnswer,
        RescindReason::CallerHungUp => proto::RescindReason::CallerHungUp,
        RescindReason::AgentUnavailable => proto::RescindReason::AgentUnavailable,
        RescindReason::Overflowed => proto::RescindReason::Overflowed,
    }
}

fn requirement(r: &Requirement) -> proto::SkillRequirement {
    proto::SkillRequirement {
        skill: r.skill.to_string(),
        min_proficiency: u32::from(r.min_proficiency),
        optional: r.optional,
    }
}

pub fn skill_levels(levels: &[crate::acd::SkillLevel]) -> Vec<proto::SkillLevel> {
    levels
        .iter()
        .map(|s| proto::SkillLevel {
            skill: s.skill.to_string(),
            proficiency: u32::from(s.proficiency),
        })
        .collect()
}

pub fn agent(a: &AgentRecord) -> proto::Agent {
    proto::Agent {
        agent_id: a.id.to_string(),
        display_name: a.display_name.clone(),
        skills: skill_levels(&a.skills),
        state: agent_state(a.state) as i32,
        not_ready_reason: a.not_ready_reason.clone().unwrap_or_default(),
        state_reason: a.state_reason.clone(),
        current_call_id: a.current_call.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        state_since_unix_ms: ms(a.state_since),
        idle_since_unix_ms: ms(a.idle_since),
        calls_handled: a.calls_handled,
        consecutive_misses: a.consecutive_misses,
        pending_not_ready_reason: a.pending_not_ready.clone().unwrap_or_default(),
    }
}

pub fn call(c: &CallRecord) -> proto::Call {
    proto::Call {
        call_id: c.id.to_string(),
        ani: c.ani.clone(),
        dnis: c.dnis.clone(),
        customer_id: c.customer.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        tier: tier(c.tier) as i32,
        queue: c.queue.to_string(),
        requirements: c.requirements.iter().map(requirement).collect(),
        priority_ms: c.priority_ms,
        status: match c.status {
            CallStatus::Queued => proto::CallStatus::Queued,
            CallStatus::Offering => proto::CallStatus::Offering,
            CallStatus::Connected => proto::CallStatus::Connected,
            CallStatus::Ended => proto::CallStatus::Ended,
        } as i32,
        agent_id: c.agent.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        enqueued_at_unix_ms: ms(c.enqueued_at),
        answered_at_unix_ms: opt_ms(c.answered_at),
        ended_at_unix_ms: opt_ms(c.ended_at),
        outcome: match c.outcome {
            None => proto::CallOutcome::Unspecified,
            Some(CallOutcome::Answered) => proto::CallOutcome::Answered,
            Some(CallOutcome::Abandoned) => proto::CallOutcome::Abandoned,
            Some(CallOutcome::Overflowed) => proto::CallOutcome::Overflowed,
            Some(CallOutcome::Rejected) => proto::CallOutcome::Rejected,
            Some(CallOutcome::Closed) => proto::CallOutcome::Closed,
        } as i32,
        end_reason: c.end_reason.clone().unwrap_or_default(),
        on_hold: c.on_hold,
        preferred_agent_id: c
            .preferred_agent
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        relaxation_step: c.relaxation_step,
        original_position: c.original_position,
        hold_ms: i64::try_from(c.hold_ms).unwrap_or(i64::MAX),
        callback_id: c
            .callback
            .as_ref()
            .map(|cb| cb.id.to_string())
            .unwrap_or_default(),
        callback_deadline_unix_ms: c.callback.as_ref().map(|cb| ms(cb.deadline)).unwrap_or(0),
    }
}

pub fn callback(c: &crate::callback::CallbackRecord) -> proto::Callback {
    use crate::callback::{AttemptOutcome, CallbackStatus};
    let d = &c.details;
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    proto::Callback {
        callback_id: c.id.to_string(),
        number: d.number.clone(),
        customer_id: d.customer.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        tier: d.tier.map(tier).unwrap_or(proto::Tier::Unspecified) as i32,
        queue: d.queue.as_ref().map(|q| q.to_string()).unwrap_or_default(),
        category: text(&d.category),
        notes: text(&d.notes),
        owner_agent_id: d.owner.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        origin: d.origin.as_str().into(),
        source_call_id: d.source_call.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        status: match c.status {
            CallbackStatus::Scheduled => proto::CallbackStatus::Scheduled,
            CallbackStatus::Due => proto::CallbackStatus::Due,
            CallbackStatus::Reached => proto::CallbackStatus::Reached,
            CallbackStatus::Failed => proto::CallbackStatus::Failed,
            CallbackStatus::Cancelled => proto::CallbackStatus::Cancelled,
        } as i32,
        created_at_unix_ms: ms(c.created_at),
        not_before_unix_ms: ms(c.not_before),
        deadline_unix_ms: ms(c.deadline),
        next_attempt_at_unix_ms: ms(c.next_attempt_at),
        max_attempts: c.max_attempts,
        attempts: c
            .attempts
            .iter()
            .map(|a| proto::CallbackAttempt {
                at_unix_ms: ms(a.at),
                outcome: match a.outcome {
                    AttemptOutcome::Reached => proto::AttemptOutcome::Reached,
                    AttemptOutcome::NoAnswer => proto::AttemptOutcome::NoAnswer,
                    AttemptOutcome::Busy => proto::AttemptOutcome::Busy,
                    AttemptOutcome::WrongNumber => proto::AttemptOutcome::WrongNumber,
                } as i32,
                agent_id: a.agent.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            })
            .collect(),
        warned: c.warned,
        breached: c.breached,
        met: c.met,
        work_done_at_unix_ms: opt_ms(c.work_done_at),
        request_closed_at_unix_ms: opt_ms(c.request_closed_at),
        close_late: c.close_breached,
    }
}

pub fn contact_summary(c: &ContactRecord) -> proto::ContactSummary {
    proto::ContactSummary {
        call_id: c.call.to_string(),
        agent_id: c.agent.to_string(),
        queue: c.queue.to_string(),
        disposition: disposition(c.disposition) as i32,
        category: c.category.clone().unwrap_or_default(),
        ended_at_unix_ms: ms(c.ended_at),
    }
}

pub fn decision(d: &RoutingDecision) -> proto::RoutingDecision {
    proto::RoutingDecision {
        at_unix_ms: ms(d.at),
        agent_id: d.agent.to_string(),
        trigger: d.trigger.clone(),
        strategy: d.strategy.clone(),
        score: d.score,
        relaxation_step: d.relaxation_step,
        requirements: d.requirements.iter().map(requirement).collect(),
        candidates_considered: d.candidates_considered,
        passed_over: d
            .passed_over
            .iter()
            .map(|p| proto::PassedOver {
                agent_id: p.agent.to_string(),
                reason: p.reason.clone(),
            })
            .collect(),
    }
}

pub fn queue_stats(q: &QueueView) -> proto::QueueStats {
    let c = q.counters;
    let denominator = c.answered + c.abandoned;
    proto::QueueStats {
        queue: q.name.to_string(),
        waiting: q.waiting,
        offering: q.offering,
        oldest_wait_ms: i64::try_from(q.oldest_wait.as_millis()).unwrap_or(i64::MAX),
        agents: q
            .agents_by_state
            .iter()
            .map(|&(s, n)| proto::AgentStateCount {
                state: agent_state(s) as i32,
                count: n,
            })
            .collect(),
        offered_today: c.offered,
        answered_today: c.answered,
        abandoned_today: c.abandoned,
        short_abandons_today: c.short_abandons,
        answered_within_threshold_today: c.answered_within_threshold,
        service_level_today: if denominator == 0 {
            1.0
        } else {
            f64::from(c.answered_within_threshold) / f64::from(denominator)
        },
        service_level_threshold_secs: u32::try_from(q.service_level_threshold_secs).unwrap_or(u32::MAX),
        // From the staffing board, which the routing core does not hold.
        staffing: None,
    }
}

pub fn monitor_mode(m: crate::recording::MonitorMode) -> proto::MonitorMode {
    use crate::recording::MonitorMode as M;
    match m {
        M::Listen => proto::MonitorMode::Listen,
        M::Whisper => proto::MonitorMode::Whisper,
        M::Barge => proto::MonitorMode::Barge,
    }
}

/// A recording's metadata; `disposition` from its contact record, if any.
pub fn recording(
    r: &crate::recording::RecordingRecord,
    disposition: Option<Disposition>,
) -> proto::Recording {
    proto::Recording {
        recording_id: r.call.to_string(),
        call_id: r.call.to_string(),
        agent_id: r.agent.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        queue: r.queue.to_string(),
        ani: r.ani.clone(),
        customer_id: r.customer.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        started_at_unix_ms: ms(r.started_at),
        duration_ms: r.duration_ms,
        sample_rate: r.sample_rate,
        path: r.path.clone(),
        disposition: self::disposition(disposition) as i32,
        pauses: r
            .pauses
            .iter()
            .map(|p| proto::RecordingPause {
                paused_by: p.by.clone(),
                paused_at_unix_ms: ms(p.at),
                duration_ms: p.length_ms,
            })
            .collect(),
        node: r.node.clone(),
        live: r.live,
        archived: r.archived,
        signals: r.signals.as_ref().map(quality_signals),
    }
}

pub fn quality_signals(s: &crate::quality::signals::QualitySignals) -> proto::QualitySignals {
    proto::QualitySignals {
        duration_ms: s.duration_ms,
        caller_talk_ms: s.caller_talk_ms,
        agent_talk_ms: s.agent_talk_ms,
        overtalk_ms: s.overtalk_ms,
        longest_silence_ms: s.longest_silence_ms,
        longest_silence_at_ms: s.longest_silence_at_ms,
        agent_talk_share: s.agent_share().unwrap_or(0.0),
        holds: s
            .holds
            .iter()
            .map(|h| proto::HoldSignal {
                start_ms: h.start_ms,
                end_ms: h.end_ms,
                agent_spoke_after_ms: h.agent_spoke_after_ms,
                flag: h.flag.as_str().into(),
            })
            .collect(),
    }
}

pub fn monitor_audit(s: &crate::recording::MonitorSessionRecord) -> proto::MonitorAudit {
    proto::MonitorAudit {
        session_id: s.id.clone(),
        supervisor: s.supervisor.clone(),
        call_id: s.call.to_string(),
        mode: monitor_mode(s.mode) as i32,
        started_at_unix_ms: ms(s.started_at),
        ended_at_unix_ms: opt_ms(s.ended_at),
    }
}

pub fn scorecard(card: &crate::quality::Scorecard) -> proto::Scorecard {
    proto::Scorecard {
        name: card.name.clone(),
        total: card.total,
        criteria: card
            .criteria
            .iter()
            .map(|c| proto::ScorecardCriterion {
                name: c.name.clone(),
                weight: c.weight,
            })
            .collect(),
    }
}

pub fn grade(g: &crate::quality::GradeRecord) -> proto::CallGrade {
    proto::CallGrade {
        grade_id: g.id.clone(),
        call_id: g.call.to_string(),
        agent_id: g.agent.to_string(),
        queue: g.queue.to_string(),
        supervisor: g.supervisor.clone(),
        graded_at_unix_ms: ms(g.graded_at),
        scorecard: Some(scorecard(&g.scorecard)),
        grades: g
            .grades
            .iter()
            .map(|(c, l)| proto::CriterionGrade {
                criterion: c.clone(),
                grade: l.as_str().into(),
            })
            .collect(),
        score: g.score,
        comments: g.comments.clone(),
    }
}

/// An agent's event as the API streams it.
pub fn agent_event(e: &hotline_core::agent_event::AgentEvent) -> proto::AgentEvent {
    use hotline_core::agent_event::AgentEventKind as K;
    use proto::agent_event::Event as Ev;
    let event = match &e.kind {
        K::StateChanged(a) => Ev::StateChanged(proto::AgentStateChanged {
            agent: Some(agent(a)),
        }),
        K::CallOffered {
            call: c,
            expires_at,
            previous_contacts,
        } => Ev::CallOffered(proto::CallOffered {
            call: Some(call(c)),
            expires_at_unix_ms: ms(*expires_at),
            previous_contacts: previous_contacts.iter().map(contact_summary).collect(),
            // Added by the agent's edge from the cases it follows.
            open_cases: Vec::new(),
        }),
        K::OfferRescinded { call, reason } => Ev::OfferRescinded(proto::OfferRescinded {
            call_id: call.to_string(),
            reason: rescind_reason(*reason) as i32,
        }),
        K::CallConnected(c) => Ev::CallConnected(proto::CallConnected { call: Some(call(c)) }),
        K::CallEnded(c) => Ev::CallEnded(proto::CallEnded { call: Some(call(c)) }),
        K::WrapUpStarted { call, deadline } => Ev::WrapUpStarted(proto::WrapUpStarted {
            call_id: call.to_string(),
            deadline_unix_ms: ms(*deadline),
        }),
        K::WrapUpEnded { call, disposition: d } => Ev::WrapUpEnded(proto::WrapUpEnded {
            call_id: call.to_string(),
            disposition: disposition(*d) as i32,
        }),
    };
    proto::AgentEvent {
        sequence: e.sequence,
        at_unix_ms: ms(e.at),
        event: Some(event),
    }
}
