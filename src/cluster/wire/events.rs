//! Agents' events between nodes, both ways: the routing node streams an
//! agent's events to the node holding the agent's connection.

use crate::acd::{ContactRecord, RescindReason};
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::proto::cluster as pb;
use hotline_core::agent_event::{AgentEvent, AgentEventKind as K};

use super::records::*;
use super::WireError;

fn rescind_to(r: RescindReason) -> i32 {
    (match r {
        RescindReason::Declined => pb::RescindReason::Declined,
        RescindReason::NoAnswer => pb::RescindReason::NoAnswer,
        RescindReason::CallerHungUp => pb::RescindReason::CallerHungUp,
        RescindReason::AgentUnavailable => pb::RescindReason::AgentUnavailable,
        RescindReason::Overflowed => pb::RescindReason::Overflowed,
    }) as i32
}

fn rescind_from(v: i32) -> Result<RescindReason, WireError> {
    match pb::RescindReason::try_from(v) {
        Ok(pb::RescindReason::Declined) => Ok(RescindReason::Declined),
        Ok(pb::RescindReason::NoAnswer) => Ok(RescindReason::NoAnswer),
        Ok(pb::RescindReason::CallerHungUp) => Ok(RescindReason::CallerHungUp),
        Ok(pb::RescindReason::AgentUnavailable) => Ok(RescindReason::AgentUnavailable),
        Ok(pb::RescindReason::Overflowed) => Ok(RescindReason::Overflowed),
        _ => Err(WireError {
            field: "offer_rescinded.reason",
            reason: "has a value this node does not know",
        }),
    }
}

fn contact_to(c: &ContactRecord) -> pb::ContactRecord {
    pb::ContactRecord {
        call: c.call.to_string(),
        customer_key: c.customer_key.clone(),
        agent: c.agent.to_string(),
        queue: c.queue.to_string(),
        tier: tier_to(c.tier),
        disposition: c.disposition.map(disposition_to).unwrap_or(0),
        category: c.category.clone(),
        notes: c.notes.clone(),
        enqueued_at: ms(c.enqueued_at),
        answered_at: ms(c.answered_at),
        ended_at: ms(c.ended_at),
        wrap_up_ended_at: ms(c.wrap_up_ended_at),
        hold_ms: c.hold_ms,
        callback: s(&c.callback),
    }
}

fn contact_from(c: pb::ContactRecord) -> Result<ContactRecord, WireError> {
    Ok(ContactRecord {
        call: CallId::new(c.call),
        customer_key: c.customer_key,
        agent: AgentId::new(c.agent),
        queue: QueueName::new(c.queue),
        tier: tier_from(c.tier)?,
        disposition: opt_enum(c.disposition, disposition_from)?,
        category: c.category,
        notes: c.notes,
        enqueued_at: at(c.enqueued_at),
        answered_at: at(c.answered_at),
        ended_at: at(c.ended_at),
        wrap_up_ended_at: at(c.wrap_up_ended_at),
        hold_ms: c.hold_ms,
        callback: c.callback.map(CallbackId::new),
    })
}

pub fn agent_event_to_wire(e: &AgentEvent) -> pb::AgentEvent {
    use pb::agent_event::Kind;
    let kind = match &e.kind {
        K::StateChanged(a) => Kind::StateChanged(agent_to(a)),
        K::CallOffered {
            call,
            expires_at,
            previous_contacts,
        } => Kind::CallOffered(pb::CallOffer {
            call: Some(call_to(call)),
            expires_at: ms(*expires_at),
            previous_contacts: previous_contacts.iter().map(contact_to).collect(),
        }),
        K::OfferRescinded { call, reason } => Kind::OfferRescinded(pb::OfferWithdrawn {
            call: call.to_string(),
            reason: rescind_to(*reason),
        }),
        K::CallConnected(c) => Kind::CallConnected(call_to(c)),
        K::CallEnded(c) => Kind::CallEnded(call_to(c)),
        K::WrapUpStarted { call, deadline } => Kind::WrapUpStarted(pb::WrapUpDue {
            call: call.to_string(),
            deadline: ms(*deadline),
        }),
        K::WrapUpEnded { call, disposition } => Kind::WrapUpEnded(pb::WrapUpDone {
            call: call.to_string(),
            disposition: disposition.map(disposition_to).unwrap_or(0),
        }),
    };
    pb::AgentEvent {
        sequence: e.sequence,
        at: ms(e.at),
        kind: Some(kind),
    }
}

pub fn agent_event_from_wire(e: pb::AgentEvent) -> Result<AgentEvent, WireError> {
    use pb::agent_event::Kind;
    let kind = match e.kind.ok_or_else(|| missing("agent_event.kind"))? {
        Kind::StateChanged(a) => K::StateChanged(agent_from(a)?),
        Kind::CallOffered(o) => K::CallOffered {
            call: call_from(o.call.ok_or_else(|| missing("call_offered.call"))?)?,
            expires_at: at(o.expires_at),
            previous_contacts: o
                .previous_contacts
                .into_iter()
                .map(contact_from)
                .collect::<Result<_, _>>()?,
        },
        Kind::OfferRescinded(r) => K::OfferRescinded {
            call: CallId::new(r.call),
            reason: rescind_from(r.reason)?,
        },
        Kind::CallConnected(c) => K::CallConnected(call_from(c)?),
        Kind::CallEnded(c) => K::CallEnded(call_from(c)?),
        Kind::WrapUpStarted(w) => K::WrapUpStarted {
            call: CallId::new(w.call),
            deadline: at(w.deadline),
        },
        Kind::WrapUpEnded(w) => K::WrapUpEnded {
            call: CallId::new(w.call),
            disposition: opt_enum(w.disposition, disposition_from)?,
        },
    };
    Ok(AgentEvent {
        sequence: e.sequence,
        at: at(e.at),
        kind,
    })
}
