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

use super::gateway::{as_agent, place, CallContext, CallerSide, Command};
use super::trunk::{Binding, Dial};
use crate::api::agent::AgentApi;
use crate::engine::Device;
use crate::ids::{AgentId, CallId};
use crate::media::rtp::{self, RtpParams, RtpSession};
use crate::proto;
use crate::proto::agent_event::Event as Ev;
use crate::proto::agent_service_server::AgentService;

/// Why the phone's agent is set not ready when the phone goes away.
pub const UNREGISTERED_REASON: &str = "phone unregistered";

/// The agent's event stream as this task reads it.
type Events = crate::cluster::EventStream;

/// Follows one agent's phone until its registration ends.
pub(super) async fn phone(agent: AgentId, mut binding: watch::Receiver<Option<Binding>>, cx: CallContext) {
    let name = cx
        .api
        .directory
        .agent(&agent)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    'stream: loop {
        let mut events = match cx
            .api
            .engine
            .agent_events(agent.clone(), name.clone(), Device::Phone)
            .await
        {
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
                    Some(Ok(proto::AgentEvent { event: Some(Ev::CallOffered(offer)), .. })) => {
                        let Some(call) = offer.call else { continue };
                        let Some(b) = binding.borrow().clone() else { break 'stream };
                        ring(&agent, &call, &b, &mut events, &cx).await;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'stream;
                    }
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
    let api = AgentApi { ctx: cx.api.clone() };
    let Ok(Some(record)) = cx.api.store.get_agent(agent).await else {
        return;
    };
    if record.state != crate::acd::AgentState::Available {
        return;
    }
    let set = api
        .set_state(as_agent(
            agent,
            proto::SetStateRequest {
                agent_id: agent.to_string(),
                state: proto::RequestedState::NotReady as i32,
                reason: UNREGISTERED_REASON.into(),
                request_id: String::new(),
            },
        ))
        .await;
    match set {
        Ok(_) => info!(agent = %agent, "agent set not ready: their phone unregistered"),
        Err(e) => warn!(agent = %agent, error = %e, "agent not set not ready after their phone unregistered"),
    }
}

fn action(agent: &AgentId, call: &CallId) -> tonic::Request<proto::CallActionRequest> {
    as_agent(
        agent,
        proto::CallActionRequest {
            agent_id: agent.to_string(),
            call_id: call.to_string(),
            request_id: String::new(),
        },
    )
}

/// Rings the phone for one offer and carries the call if it answers.
async fn ring(
    agent: &AgentId,
    offered: &proto::Call,
    binding: &Binding,
    events: &mut Events,
    cx: &CallContext,
) {
    let call = CallId::new(&offered.call_id);
    let settings = &cx.settings;
    let api = AgentApi { ctx: cx.api.clone() };
    let socket = match rtp::bind(settings.media_ip, settings.rtp_ports).await {
        Ok(s) => s,
        Err(e) => {
            warn!(agent = %agent, call = %call, error = %e, "no RTP port to ring a phone");
            let _ = api.decline(action(agent, &call)).await;
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
        display: Some(offered.queue.clone()),
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
                    let _ = api.decline(action(agent, &call)).await;
                    return;
                }
                Some(_) => {}
                None => return,
            },
            event = events.next() => match event {
                Some(Ok(proto::AgentEvent { event: Some(Ev::OfferRescinded(r)), .. })) if r.call_id == call.as_str() => {
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
        format!("phone-{key}"),
        socket,
        RtpParams::from(&answer),
        settings.jitter_frames,
    ) {
        Ok((s, _keys)) => Arc::new(s),
        Err(e) => {
            warn!(agent = %agent, error = %e, "phone answered without audio");
            let _ = cx.cmds.send(hangup()).await;
            let _ = api.decline(action(agent, &call)).await;
            return;
        }
    };
    let media = &cx.api.media;
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
    if let Err(e) = api.accept(action(agent, &call)).await {
        // The offer went away while the phone was answering.
        info!(agent = %agent, call = %call, error = %e, "phone answered an offer no longer there");
        finish(&session);
        let _ = cx.cmds.send(hangup()).await;
        return;
    }
    info!(agent = %agent, call = %call, "the agent answered on their phone");
    let Ok(Some(mut watch)) = cx.api.engine.watch_call(call.clone()).await else {
        finish(&session);
        let _ = cx.cmds.send(hangup()).await;
        return;
    };
    loop {
        tokio::select! {
            got = side.recv() => match got {
                Some(CallerSide::Gone) | None => {
                    // The agent hung up on the phone.
                    let _ = api.hangup(action(agent, &call)).await;
                    finish(&session);
                    return;
                }
                Some(_) => {}
            },
            update = watch.next() => {
                let live = matches!(update, Some(Ok(ref c)) if c.status != proto::CallStatus::Ended as i32 && c.agent_id == agent.as_str());
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
