//! Carries out what the router and the callback desk decided, in two
//! phases:
//!
//! 1. [`decide`] (no awaiting): every event becomes records queued for the
//!    store and notes held for subscribers. Nothing here reads the store;
//!    what an event needs is already in the engine (the desk keeps the
//!    records of calls in wrap-up; a softphone's stream fetches the
//!    customer's history itself).
//! 2. `commit`: the queued records go to the store in one round trip,
//!    while the engine goes on deciding. A claim the store refuses (the
//!    agent is held elsewhere) goes back to the router, which decides
//!    again; held notes go out once the store holds every write before
//!    them, except those of refused claims.
//!
//! Nobody hears of a change the store does not hold ([`Core::tell`]), and a
//! slow store delays acknowledgements, never the decisions of other
//! requests.

use tracing::{debug, info, warn};

use super::Core;
use crate::acd::{AgentState, Event};
use crate::callback::CallbackEvent;
use crate::engine::callbacks::CallbackDesk;
use crate::time::Now;

/// Turns everything the router and the desk have to say into queued
/// records and held notes, until both rest.
pub(super) fn decide(core: &mut Core, clock: Now) {
    // The router and the callback desk feed each other (a due callback is
    // queued; an abandoned call becomes a callback).
    loop {
        while let Some(event) = core.router.poll_event() {
            router_event(core, clock, event);
        }
        let mut any = false;
        while let Some(event) = core.desk.tracker.poll_event() {
            any = true;
            callback_event(core, clock, event);
        }
        if !any && core.router.peek_event().is_none() {
            return;
        }
    }
}

fn callback_event(core: &mut Core, clock: Now, event: CallbackEvent) {
    let now = clock.wall;
    CallbackDesk::log(&event);
    crate::metrics::events::callback_event(&event);
    core.desk.on_alert(now, &event);
    match event {
        CallbackEvent::CallbackDue { id, .. } => core.desk.on_due(clock, &mut core.router, &id),
        CallbackEvent::CallbackChanged { record } => core.dirty.put_callback(&record),
        _ => {}
    }
}

fn router_event(core: &mut Core, clock: Now, event: Event) {
    let now = clock.wall;
    crate::metrics::events::router_event(now, &event);
    match event {
        Event::AgentStateChanged { agent } => {
            // Leaving service (not ready, logged out) is what operators need
            // to see with its reason; the busy/available churn stays at debug.
            if matches!(agent.state, AgentState::NotReady | AgentState::LoggedOut) {
                info!(agent = %agent.id, state = agent.state.as_str(), reason = %agent.state_reason, not_ready = agent.not_ready_reason.as_deref().unwrap_or(""), "agent left service");
            } else {
                debug!(agent = %agent.id, state = agent.state.as_str(), reason = %agent.state_reason, "agent state changed");
            }
            core.staffing.on_state(now, &agent);
            core.dirty.put_agent(&agent);
            core.tell(move |s| s.agent_state_changed(now, &agent));
        }
        // Counted by the metrics; nothing is stored until it is queued or ended.
        Event::CallArrived { .. } => {}
        Event::CallQueued { call } => {
            debug!(call = %call.id, queue = %call.queue, "call queued");
            core.dirty.put_call(&call);
            core.tell(move |s| s.call_changed(&call));
        }
        Event::CallOffered {
            agent,
            call,
            expires_at,
        } => {
            debug!(call = %call.id, agent = %agent.id, "call offered");
            core.staffing.on_state(now, &agent);
            // The claim: the agent reserved (only if the store still has it
            // available) and the call offered, in one atomic write.
            core.dirty.reserve(&agent, &call);
            let claim = (agent.id.clone(), call.id.clone());
            let key = super::notify::history_key(&call);
            core.tell_if_claimed(claim, move |s| {
                s.agent_state_changed(now, &agent);
                s.call_offered(now, &agent.id, &call, expires_at, Some(key));
                s.call_changed(&call);
            });
        }
        Event::OfferRescinded { agent, call, reason } => {
            debug!(call = %call, agent = %agent, ?reason, "offer rescinded");
            core.tell(move |s| s.offer_rescinded(now, &agent, &call, reason));
        }
        Event::CallConnected { agent, call } => {
            debug!(call = %call.id, agent = %agent, "call connected");
            let dial = core.desk.on_answered(&call);
            core.dirty.put_call(&call);
            core.tell(move |s| {
                s.call_connected(now, &agent, &call);
                s.call_changed(&call);
                if let Some(work) = dial {
                    s.callback_work_accepted(work);
                }
            });
        }
        Event::CallUpdated { call } => {
            core.dirty.put_call(&call);
            core.tell(move |s| s.call_changed(&call));
        }
        Event::CallTransferred { call, from_agent } => {
            info!(call = %call, from = %from_agent, "call transferred");
        }
        Event::AgentAudioFailed { agent, call, reason } => {
            warn!(call = %call, agent = %agent, reason = %reason, "agent audio unreachable; caller returned to the queue");
        }
        Event::CallOverflowed {
            call,
            from,
            to,
            reason,
        } => {
            info!(call = %call, from = %from, to = %to, reason = %reason, "call overflowed");
        }
        Event::CallEnded { call } => {
            info!(call = %call.id, queue = %call.queue, outcome = ?call.outcome, reason = call.end_reason.as_deref().unwrap_or(""), "call ended");
            core.dirty.put_call(&call);
            core.desk.on_call_ended(clock, &mut core.router, &call);
            core.tell(move |s| {
                if let (Some(agent), Some(_)) = (&call.agent, call.answered_at) {
                    s.call_ended(now, agent, &call);
                }
                s.call_changed(&call);
            });
        }
        Event::WrapUpStarted {
            agent,
            call,
            deadline,
        } => {
            core.tell(move |s| s.wrap_up_started(now, &agent, &call, deadline));
        }
        Event::WrapUpEnded { agent, contact } => {
            core.dirty.append_contact(&contact);
            let call_over = core.router.call(&contact.call).is_none();
            core.desk.on_wrap_up_ended(now, &contact, call_over);
            core.tell(move |s| s.wrap_up_ended(now, &agent, &contact));
        }
    }
}
