//! Agents' registered SIP phones: while a phone's registration lives, a
//! task holds the agent's phone event stream (which counts as presence)
//! and rings the phone for each offer: the phone answering accepts the
//! offer, its audio is the agent's side of the bridge and recording, and
//! either side's hang-up ends the other.
//!
//! Invariants: one task per registered agent, ended when the registration
//! lapses or is withdrawn (the agent is then set not ready, so a lapsed
//! phone gets no more offers); one placed call per offer; a phone that
//! refuses (busy, decline) declines the offer, a rescinded offer cancels
//! the ringing; the RTP leg is closed and released from the media plane
//! when the call ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_stream::StreamExt;
use tracing::{debug, info, warn};

use super::gateway::{agent_principal, place, CallContext, CallerSide, Command};
use super::trunk::{Binding, Dial};
use crate::acd::{CallRecord, CallStatus};
use crate::app::agents::{CallAction, CallRef, RequestedState};
use crate::engine::Device;
use crate::ids::{AgentId, CallId};
use crate::media::rtp::{self, RtpParams, RtpSession};
use hotline_core::agent_event::{AgentEvent, AgentEventKind};

/// Why the phone's agent is set not ready when the phone goes away.
pub const UNREGISTERED_REASON: &str = "phone unregistered";

/// The agent's event stream as this task reads it.
type Events = crate::cluster::EventStream;

/// Follows one agent's phone until its registration ends.
pub(super) async fn phone(agent: AgentId, mut binding: watch::Receiver<Option<Binding>>, cx: CallContext) {
    let me = agent_principal(&agent);
    'stream: loop {
        let mut events = match cx.app.agent_events(&me, agent.as_str(), Device::Phone).await {
            Ok(e) => e,
            Err(e) => {
                debug!(agent = %agent, error = %e, "phone event stream not open yet");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'stream,
                    lapsed = registration_ended(&mut binding) => if lapsed { break 'stream } else { continue 'stream },
                }
            }
        };
        loop {
            tokio::select! {
                lapsed = registration_ended(&mut binding) => if lapsed { break 'stream },
                event = events.next() => match event {
                    Some(Ok(AgentEvent { kind: AgentEventKind::CallOffered { call, .. }, .. })) => {
                        let Some(b) = binding.borrow().clone() else { break 'stream };
                        ring(&agent, &call, &b, &mut events, &cx).await;
                    }
                    Some(Ok(_)) => {}
                    // The stream ended (the routing node changed, or it fell
                    // behind): open it again at once; where it cannot be
                    // opened yet, the retry above paces the attempts.
                    Some(Err(_)) | None => continue 'stream,
                },
            }
        }
    }
    unregistered(&agent, &cx).await;
}

/// Waits for a change of the binding; true when the phone is gone.
async fn registration_ended(binding: &mut watch::Receiver<Option<Binding>>) -> bool {
    match binding.changed().await {
        Ok(()) => binding.borrow().is_none(),
        Err(_) => true,
    }
}

/// The phone is gone: an available agent stops getting offers.
async fn unregistered(agent: &AgentId, cx: &CallContext) {
    let Ok(Some(record)) = cx.app.store.get_agent(agent).await else {
        return;
    };
    if record.state != crate::acd::AgentState::Available {
        return;
    }
    let set = cx
        .app
        .set_state(
            &agent_principal(agent),
            agent.as_str(),
            RequestedState::NotReady,
            UNREGISTERED_REASON,
            "",
        )
        .await;
    match set {
        Ok(_) => info!(agent = %agent, "agent set not ready: their phone unregistered"),
        Err(e) => warn!(agent = %agent, error = %e, "agent not set not ready after their phone unregistered"),
    }
}

/// What the phone did to an offer or call, as its agent; failures are
/// logged (the phone has no screen to show them on).
async fn act(cx: &CallContext, agent: &AgentId, call: &CallId, action: CallAction) -> bool {
    let r = CallRef {
        agent_id: agent.to_string(),
        call_id: call.to_string(),
        request_id: String::new(),
    };
    let name = format!("{action:?}");
    match cx.app.call_action(&agent_principal(agent), &r, action).await {
        Ok(_) => true,
        Err(e) => {
            info!(agent = %agent, call = %call, action = %name, error = %e, "the phone's action was refused");
            false
        }
    }
}

/// Rings the phone for one offer and carries the call if it answers.
async fn ring(
    agent: &AgentId,
    offered: &CallRecord,
    binding: &Binding,
    events: &mut Events,
    cx: &CallContext,
) {
    let call = offered.id.clone();
    let settings = &cx.settings;
    let socket = match rtp::bind(settings.media_ip, settings.rtp_ports).await {
        Ok(s) => s,
        Err(e) => {
            warn!(agent = %agent, call = %call, error = %e, "no RTP port to ring a phone");
            act(cx, agent, &call, CallAction::Decline).await;
            return;
        }
    };
    let Ok(local) = socket.local_addr() else { return };
    let caller = if offered.ani.is_empty() {
        "anonymous".to_string()
    } else {
        offered
            .ani
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
            .collect()
    };
    let dial = Dial {
        target: binding.contact.clone(),
        next_hop: binding.source,
        from_user: caller,
        display: Some(offered.queue.to_string()),
        local_rtp: SocketAddr::new(settings.media_ip, local.port()),
    };
    let Some((key, mut side)) = place(cx, dial).await else {
        return;
    };
    debug!(agent = %agent, call = %call, sip_call = %key, "ringing the agent's phone");
    let hangup = || Command::Hangup { key: key.clone() };
    let answer = loop {
        tokio::select! {
            got = side.recv() => match got {
                Some(CallerSide::Answered(answer)) => break answer,
                Some(CallerSide::Failed(code)) => {
                    info!(agent = %agent, call = %call, code, "the phone refused the offer");
                    act(cx, agent, &call, CallAction::Decline).await;
                    return;
                }
                Some(_) => {}
                None => return,
            },
            event = events.next() => match event {
                Some(Ok(AgentEvent { kind: AgentEventKind::OfferRescinded { call: withdrawn, .. }, .. })) if withdrawn == call => {
                    let _ = cx.cmds.send(hangup()).await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    let _ = cx.cmds.send(hangup()).await;
                    return;
                }
            },
        }
    };
    let session = match RtpSession::start(
        &cx.rtp,
        format!("phone-{key}"),
        socket,
        RtpParams::from(&answer),
        settings.jitter_frames,
    ) {
        Ok((s, _keys)) => Arc::new(s),
        Err(e) => {
            warn!(agent = %agent, error = %e, "phone answered without audio");
            let _ = cx.cmds.send(hangup()).await;
            act(cx, agent, &call, CallAction::Decline).await;
            return;
        }
    };
    let media = &cx.app.media;
    let finish = |session: &Arc<RtpSession>| {
        session.close();
        media.disconnect_agent_rtp(agent, session);
    };
    if let Err(e) = media.connect_agent_rtp(agent, session.clone()).await {
        warn!(agent = %agent, error = %e, "phone audio not connected");
        finish(&session);
        let _ = cx.cmds.send(hangup()).await;
        return;
    }
    if !act(cx, agent, &call, CallAction::Accept).await {
        // The offer went away while the phone was answering.
        finish(&session);
        let _ = cx.cmds.send(hangup()).await;
        return;
    }
    info!(agent = %agent, call = %call, "the agent answered on their phone");
    let Ok(Some(mut watch)) = cx.app.engine.watch_call(call.clone()).await else {
        finish(&session);
        let _ = cx.cmds.send(hangup()).await;
        return;
    };
    loop {
        tokio::select! {
            got = side.recv() => match got {
                Some(CallerSide::Gone) | None => {
                    // The agent hung up on the phone.
                    act(cx, agent, &call, CallAction::Hangup).await;
                    finish(&session);
                    return;
                }
                Some(_) => {}
            },
            update = watch.next() => {
                let live = matches!(update, Some(Ok(ref c)) if c.status != CallStatus::Ended && c.agent.as_ref() == Some(agent));
                if !live {
                    // The caller hung up, or the call was transferred away.
                    let _ = cx.cmds.send(hangup()).await;
                    finish(&session);
                    return;
                }
            }
        }
    }
}
