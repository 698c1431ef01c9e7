//! Callbacks dialled through the trunk: when an agent accepts a callback's
//! work item, hotline calls the customer and bridges the answered call to
//! the agent, recorded like any other (the customer on the left).
//!
//! Invariants: at most one placed call per accepted work item (the engine
//! asks once, when the store holds the accept: the core's
//! `CallbackWorkAccepted`); a refused or unanswered call is
//! recorded as the agent's attempt (busy, wrong number, no answer), so the
//! callback retries or fails by the tracker's rules without the agent
//! typing it; an answered call is left for the agent to judge (reached, or
//! a voicemail) with `RecordAttempt`; whichever side hangs up, the other
//! is hung up and the RTP leg is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::StreamExt;
use tracing::{info, warn};

use super::gateway::{agent_principal, place, trunk_principal, CallContext, CallerSide, Command};
use super::trunk::Dial;
use crate::callback::AttemptOutcome;
use crate::dialer::CallbackDial;

use crate::acd::CallStatus;
use crate::media::rtp::{self, RtpParams, RtpSession};

/// The attempt a refused placed call counts as.
pub fn outcome_of(code: u16) -> AttemptOutcome {
    match code {
        404 | 410 | 484 | 604 => AttemptOutcome::WrongNumber,
        486 | 600 => AttemptOutcome::Busy,
        _ => AttemptOutcome::NoAnswer,
    }
}

/// Places one callback and carries it until either side hangs up.
pub(super) async fn callback_call(d: CallbackDial, proxy: SocketAddr, cx: CallContext) {
    let settings = &cx.settings;
    let socket = match rtp::bind(settings.media_ip, settings.rtp_ports).await {
        Ok(s) => s,
        Err(e) => {
            warn!(call = %d.call, error = %e, "no RTP port for a callback; the agent dials by hand");
            return;
        }
    };
    let local_rtp = match socket.local_addr() {
        Ok(a) => SocketAddr::new(settings.media_ip, a.port()),
        Err(e) => {
            warn!(call = %d.call, error = %e, "RTP socket address");
            return;
        }
    };
    let Ok(Some(mut watch)) = cx.app.engine.watch_call(d.call.clone()).await else {
        return;
    };
    let dial = Dial {
        target: format!("sip:{}@{proxy}", d.number),
        next_hop: proxy,
        from_user: settings.caller_id.clone(),
        display: None,
        local_rtp,
    };
    let Some((key, mut side)) = place(&cx, dial).await else {
        return;
    };
    info!(call = %d.call, callback = %d.callback, sip_call = %key, "dialling a callback");
    let hangup = || Command::Hangup { key: key.clone() };
    let ring = tokio::time::sleep(Duration::from_secs(settings.ring_timeout_secs));
    tokio::pin!(ring);
    let answer = loop {
        tokio::select! {
            got = side.recv() => match got {
                Some(CallerSide::Answered(answer)) => break answer,
                Some(CallerSide::Failed(code)) => {
                    info!(call = %d.call, code, "callback not answered");
                    record_attempt(&cx, &d, outcome_of(code)).await;
                    return;
                }
                Some(_) => {}
                None => return,
            },
            update = watch.next() => {
                let ended = !matches!(update, Some(Ok(ref c)) if c.status != CallStatus::Ended);
                if ended {
                    // The agent gave up (or the work item ended) before the answer.
                    let _ = cx.cmds.send(hangup()).await;
                    return;
                }
            }
            _ = &mut ring => {
                let _ = cx.cmds.send(hangup()).await;
                record_attempt(&cx, &d, AttemptOutcome::NoAnswer).await;
                return;
            }
        }
    };
    let session = match RtpSession::start(
        &cx.rtp,
        format!("rtp-{key}"),
        socket,
        RtpParams::from(&answer),
        settings.jitter_frames,
    ) {
        Ok((s, _keys)) => Arc::new(s),
        Err(e) => {
            warn!(call = %d.call, error = %e, "callback answered without audio");
            let _ = cx.cmds.send(hangup()).await;
            return;
        }
    };
    if let Err(e) = cx.app.media.connect_rtp_caller(&d.call, session.clone()).await {
        warn!(call = %d.call, error = %e, "callback answered but not bridged");
        session.close();
        let _ = cx.cmds.send(hangup()).await;
        return;
    }
    info!(call = %d.call, callback = %d.callback, "callback answered and bridged to the agent");
    loop {
        tokio::select! {
            got = side.recv() => match got {
                Some(CallerSide::Gone) | None => {
                    // The customer hung up: so does the call.
                    session.close();
                    if let Err(e) = cx.app.end_call(&trunk_principal(), d.call.as_str(), "").await {
                        warn!(call = %d.call, error = %e, "the customer hung up but the callback's call did not end");
                    }
                    return;
                }
                Some(_) => {}
            },
            update = watch.next() => {
                let live = matches!(update, Some(Ok(ref c)) if c.status != CallStatus::Ended);
                if !live {
                    let _ = cx.cmds.send(hangup()).await;
                    session.close();
                    return;
                }
            }
        }
    }
}

/// Records a failed attempt as the agent who accepted the callback.
async fn record_attempt(cx: &CallContext, d: &CallbackDial, outcome: AttemptOutcome) {
    let recorded = cx
        .app
        .record_attempt(
            &agent_principal(&d.agent),
            d.agent.as_str(),
            d.callback.as_str(),
            outcome,
            &format!("sip-attempt:{}", d.call),
        )
        .await;
    match recorded {
        Ok(_) => info!(callback = %d.callback, ?outcome, "callback attempt recorded"),
        Err(e) => warn!(callback = %d.callback, error = %e, "callback attempt not recorded"),
    }
}
