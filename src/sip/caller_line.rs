//! The caller's side of a trunk call: what they press and whether they
//! are still there, the prompts played to them, and the survey after the
//! agent hangs up.

use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::gateway::{trunk_principal, CallContext, CallerSide};
use crate::ids::CallId;
use crate::media::leg::Leg;
use crate::media::prompt::Prompt;
use crate::media::rtp::KeyPressed;

/// How long the survey waits for the call's media task to let go of the
/// caller's leg.
const RELEASE_WAIT: Duration = Duration::from_secs(2);

/// The caller's side of a trunk call: keys (from RTP or SIP INFO) and
/// whether they are still there.
pub(super) struct CallerLine {
    pub(super) side: mpsc::Receiver<CallerSide>,
    pub(super) rtp_keys: mpsc::Receiver<KeyPressed>,
    pub(super) gone: bool,
}

impl CallerLine {
    /// The next thing the caller does; `Gone` once, then forever.
    pub(super) async fn next(&mut self) -> CallerSide {
        if self.gone {
            return CallerSide::Gone;
        }
        let got = tokio::select! {
            side = self.side.recv() => side.unwrap_or(CallerSide::Gone),
            Some(KeyPressed(k)) = self.rtp_keys.recv() => CallerSide::Key(k),
        };
        if matches!(got, CallerSide::Gone) {
            self.gone = true;
        }
        got
    }

    /// Plays `prompt` to the caller at the 20 ms frame pace. With
    /// `barge_in`, a key pressed stops it and is returned; without, keys are
    /// ignored. Stops early when the caller hangs up.
    pub(super) async fn play(&mut self, leg: &Leg, prompt: &Prompt, barge_in: bool) -> Option<char> {
        let mut frames = prompt.once();
        let mut clock = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                _ = clock.tick() => match frames.next() {
                    Some(frame) => leg.send_frame(frame),
                    None => return None,
                },
                side = self.next() => match side {
                    CallerSide::Key(k) if barge_in => return Some(k),
                    CallerSide::Gone => return None,
                    // Other keys, and what only placed calls hear.
                    _ => {}
                },
            }
        }
    }

    /// Plays `prompt`, then waits up to `wait` for a key; a key pressed
    /// during the prompt counts. None: no key in time, or the caller hung
    /// up (`self.gone` says which).
    pub(super) async fn ask(&mut self, leg: &Leg, prompt: &Prompt, wait: Duration) -> Option<char> {
        if let Some(k) = self.play(leg, prompt, true).await {
            return Some(k);
        }
        if self.gone {
            return None;
        }
        match tokio::time::timeout(wait, self.next()).await {
            Ok(CallerSide::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Plays `prompt` to the end (or until the caller hangs up).
    pub(super) async fn say(&mut self, leg: &Leg, prompt: &Prompt) {
        self.play(leg, prompt, false).await;
    }
}

/// After the agent hung up: a 1-5 rating from the keypad, stored against
/// the call's contact.
pub(super) async fn survey(cx: &CallContext, line: &mut CallerLine, leg: &Leg, call: &CallId) {
    // The call's media task lets go of the leg first (it may still be
    // sending the call's last frames); it takes milliseconds, so a stuck
    // task costs the survey, not the caller's line.
    if tokio::time::timeout(RELEASE_WAIT, cx.app.media.call_released(call))
        .await
        .is_err()
    {
        warn!(call = %call, "the call's media did not let go of the caller; no survey");
        return;
    }
    let wait = Duration::from_secs(cx.settings.survey_timeout_secs);
    let pressed = line.ask(leg, &cx.keypad.survey, wait).await;
    let Some(rating) = pressed
        .and_then(|k| k.to_digit(10))
        .filter(|d| (1..=5).contains(d))
    else {
        return;
    };
    let stored = cx
        .app
        .submit_survey(&trunk_principal(), call.as_str(), i64::from(rating))
        .await;
    match stored {
        Ok(_) => info!(call = %call, rating, "survey answered from the keypad"),
        Err(e) => warn!(call = %call, error = %e, "survey not stored"),
    }
    line.say(leg, &cx.keypad.thanks).await;
}
