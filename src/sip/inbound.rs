//! A trunk caller's call, from the INVITE to the BYE: its RTP leg, the
//! keypad menu, queuing through the application layer as the trunk's
//! telephony principal, answering the line when an agent answers, the
//! keypad callback request, and the survey.
//!
//! Invariant: a caller an agent answered is answered on the line, even
//! when the agent answered and finished between two of the task's looks at
//! the call; a caller no agent answered is never surveyed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tracing::{debug, info, warn};

use super::caller_line::{survey, CallerLine};
use super::gateway::{trunk_principal, CallContext, CallerSide, Command, TrunkCall};
use super::trunk::{Refusal, SipCallKey};
use crate::acd::{CallOutcome, CallRecord, CallStatus, QueueSettings, WhenClosed};
use crate::app::calls::{RequestCallback, StartCall};
use crate::error::Error;
use crate::media::leg::Leg;
use crate::media::rtp::{draw_srtp_key, RtpSession, SrtpKeys};
use hotline_core::catalog::KeypadMenu;

/// The SIP final response for a call the application refused.
fn refusal(e: &Error) -> Refusal {
    // gRPC codes, for refusals that came back from the routing node.
    const INVALID_ARGUMENT: i32 = 3;
    const NOT_FOUND: i32 = 5;
    const RESOURCE_EXHAUSTED: i32 = 8;
    const FAILED_PRECONDITION: i32 = 9;
    match e {
        Error::NotFound { .. } | Error::InvalidArgument { .. } => Refusal::UnknownNumber,
        Error::FailedPrecondition(_) => Refusal::Busy,
        Error::Remote { code, .. } => match *code {
            INVALID_ARGUMENT | NOT_FOUND => Refusal::UnknownNumber,
            RESOURCE_EXHAUSTED | FAILED_PRECONDITION => Refusal::Busy,
            _ => Refusal::Unavailable,
        },
        _ => Refusal::Unavailable,
    }
}

pub(super) async fn trunk_call(call: TrunkCall, cx: CallContext, side: mpsc::Receiver<CallerSide>) {
    let TrunkCall {
        key,
        from_number,
        to_number,
        mut params,
        srtp,
    } = call;
    let cmds = cx.cmds.clone();
    let refuse = |why| Command::Reject {
        key: key.clone(),
        why,
    };
    // SRTP: our key for what we send, drawn per call.
    let mut our_key = None;
    if let Some(theirs) = srtp {
        match draw_srtp_key() {
            Ok(ours) => {
                our_key = Some(ours);
                params.srtp = Some(SrtpKeys {
                    suite: theirs.suite,
                    theirs: theirs.key,
                    ours,
                });
            }
            Err(e) => {
                warn!(sip_call = %key, error = %e, "no SRTP key for a trunk call");
                let _ = cmds.send(refuse(Refusal::Unavailable)).await;
                return;
            }
        }
    }
    // The RTP leg first: menus talk to the caller before the call is queued.
    let opened = RtpSession::open(
        &cx.rtp,
        format!("rtp-{key}"),
        cx.settings.media_ip,
        cx.settings.rtp_ports,
        params,
        cx.settings.jitter_frames,
    )
    .await;
    let (session, rtp_keys) = match opened {
        Ok(s) => s,
        Err(e) => {
            warn!(sip_call = %key, error = %e, "no RTP leg for a trunk call");
            let _ = cmds.send(refuse(Refusal::Unavailable)).await;
            return;
        }
    };
    let session = Arc::new(session);
    let leg = session.leg.clone();
    let mut line = CallerLine {
        side,
        rtp_keys,
        gone: false,
    };
    let local_rtp = SocketAddr::new(cx.settings.media_ip, session.local.port());
    let _ = cmds
        .send(Command::Accept {
            key: key.clone(),
            local_rtp,
            srtp: our_key,
        })
        .await;

    // A keypad menu picks the entry point.
    let mut dnis = to_number.clone();
    // (Read from the catalog per call: menus change while the node runs.)
    let menu = cx
        .app
        .catalog
        .read()
        .get::<KeypadMenu>(&to_number)
        .map(|m| m.value.clone());
    if let Some(menu) = menu {
        let prompt = cx.keypad.menu_prompt(&menu.prompt).await;
        let pressed = line
            .ask(&leg, &prompt, Duration::from_secs(menu.timeout_secs))
            .await;
        if line.gone {
            return;
        }
        let chosen = pressed.and_then(|k| menu.options.get(&k.to_string()));
        match chosen.or((!menu.default_entry_point.is_empty()).then_some(&menu.default_entry_point)) {
            Some(target) => dnis = target.clone(),
            None => {
                let _ = cmds.send(refuse(Refusal::Ended)).await;
                return;
            }
        }
        info!(sip_call = %key, key = ?pressed, entry_point = %dnis, "menu choice");
    }

    let ani = if from_number.is_empty() {
        "anonymous".to_string()
    } else {
        from_number
    };
    let trunk = trunk_principal();
    let start = StartCall {
        ani,
        dnis,
        request_id: format!("sip:{key}"),
        ..Default::default()
    };
    let queued = match cx.app.start_call(&trunk, start).await {
        Ok(c) => c,
        Err(e) => {
            info!(sip_call = %key, error = %e, "trunk call refused");
            let _ = cmds.send(refuse(refusal(&e))).await;
            return;
        }
    };
    if queued.status == CallStatus::Ended {
        if queued.outcome == Some(CallOutcome::Closed) {
            // Early media: the caller hears why (and whether they will be
            // called back), then the call is refused unanswered.
            let booked = cx
                .app
                .catalog
                .read()
                .get::<QueueSettings>(queued.queue.as_str())
                .is_some_and(|q| q.value.when_closed == WhenClosed::Callback);
            info!(sip_call = %key, queue = %queued.queue, booked, "the queue is closed");
            let prompt = if booked {
                &cx.keypad.closed_callback
            } else {
                &cx.keypad.closed
            };
            line.say(&leg, prompt).await;
            session.close();
            let _ = cmds.send(refuse(Refusal::Ended)).await;
            return;
        }
        let _ = cmds.send(refuse(Refusal::Busy)).await;
        return;
    }
    let call_id = queued.id.clone();
    let end_call = || async {
        if let Err(e) = cx.app.end_call(&trunk, call_id.as_str(), "").await {
            warn!(call = %call_id, error = %e, "the trunk caller hung up but the call did not end");
        }
    };
    // An agent may answer and finish before the gateway watches the call
    // or attaches the caller's audio (a one-word call): the caller was
    // answered, so they get the answer, the survey and a BYE, not a refusal.
    let finished_early = || async {
        cx.app
            .get_call(&trunk, call_id.as_str())
            .await
            .ok()
            .filter(|c| c.status == CallStatus::Ended)
    };
    let Ok(Some(mut watch)) = cx.app.engine.watch_call(call_id.clone()).await else {
        match finished_early().await {
            Some(c) => end_line(&cx, &mut line, &leg, &key, &c, false).await,
            None => {
                let _ = cmds.send(refuse(Refusal::Ended)).await;
            }
        }
        return;
    };
    if let Err(e) = cx.app.media.connect_rtp_caller(&call_id, session.clone()).await {
        if let Some(c) = finished_early().await {
            end_line(&cx, &mut line, &leg, &key, &c, false).await;
            return;
        }
        warn!(sip_call = %key, error = %e, "trunk call without audio");
        end_call().await;
        let _ = cmds.send(refuse(Refusal::Unavailable)).await;
        return;
    }
    let mut answered = false;
    loop {
        tokio::select! {
            side = line.next() => match side {
                CallerSide::Gone => {
                    // The caller cancelled or hung up (or the trunk stopped).
                    session.close();
                    end_call().await;
                    return;
                }
                CallerSide::Key(k) if !answered && cx.settings.callback_key.starts_with(k) => {
                    let asked = RequestCallback {
                        call_id: call_id.to_string(),
                        number: String::new(),
                        request_id: format!("sip-callback:{key}"),
                    };
                    let asked = cx.app.request_callback(&trunk, asked).await;
                    match asked {
                        Ok(_) => {
                            info!(sip_call = %key, call = %call_id, "callback requested from the keypad");
                            // The call left the queue as a callback: tell the
                            // caller, then let them go.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            line.say(&leg, &cx.keypad.callback).await;
                            let _ = cmds.send(Command::Hangup { key: key.clone() }).await;
                            return;
                        }
                        Err(e) => debug!(sip_call = %key, error = %e, "callback not requested"),
                    }
                }
                _ => {}
            },
            update = watch.next() => match update {
                Some(Ok(c)) => {
                    if c.status == CallStatus::Connected && !answered {
                        answered = true;
                        let _ = cmds.send(Command::Answer { key: key.clone() }).await;
                    }
                    if c.status == CallStatus::Ended {
                        end_line(&cx, &mut line, &leg, &key, &c, answered).await;
                        return;
                    }
                }
                _ => {
                    // The watch ended (routing moved): find the call again.
                    match cx.app.engine.watch_call(call_id.clone()).await {
                        Ok(Some(again)) => watch = again,
                        _ => {
                            match finished_early().await {
                                Some(c) => end_line(&cx, &mut line, &leg, &key, &c, answered).await,
                                None => {
                                    let _ = cmds.send(Command::Hangup { key: key.clone() }).await;
                                }
                            }
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The trunk side of a call the engine ended: see [`closing`].
async fn end_line(
    cx: &CallContext,
    line: &mut CallerLine,
    leg: &Leg,
    key: &SipCallKey,
    call: &CallRecord,
    answered_on_line: bool,
) {
    let steps = closing(
        call.answered_at.is_some(),
        answered_on_line,
        cx.settings.survey && !line.gone,
    );
    if steps.answer {
        info!(sip_call = %key, call = %call.id, "the call was answered and ended between two looks: answering the line before the survey");
        let _ = cx.cmds.send(Command::Answer { key: key.clone() }).await;
    }
    if steps.survey {
        survey(cx, line, leg, &call.id).await;
    }
    let _ = cx.cmds.send(Command::Hangup { key: key.clone() }).await;
}

/// What the line does before hanging up a call the engine ended (BYE after
/// an answer, 480 before one).
#[derive(Debug, PartialEq, Eq)]
struct Closing {
    /// Answer the line first: an agent answered the call and finished it
    /// between two of the gateway's looks (a one-word call), and a caller
    /// an agent spoke to is never told "temporarily unavailable".
    answer: bool,
    /// Ask the caller to rate it: only calls an agent answered.
    survey: bool,
}

/// `answered`: an agent answered the call (the engine's record says so).
fn closing(answered: bool, answered_on_line: bool, survey_wanted: bool) -> Closing {
    Closing {
        answer: answered && !answered_on_line,
        survey: answered && survey_wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_answered_and_ended_between_two_looks_is_answered_on_the_line_then_surveyed() {
        assert_eq!(
            closing(true, false, true),
            Closing {
                answer: true,
                survey: true
            }
        );
    }

    #[test]
    fn a_line_already_answered_is_not_answered_twice() {
        assert_eq!(
            closing(true, true, true),
            Closing {
                answer: false,
                survey: true
            }
        );
    }

    #[test]
    fn a_call_no_agent_answered_is_neither_answered_nor_surveyed() {
        assert_eq!(
            closing(false, false, true),
            Closing {
                answer: false,
                survey: false
            }
        );
        assert!(!closing(true, false, false).survey);
    }
}
