//! One call's audio: a task that owns the caller's leg, follows the call's
//! state through the routing core's call watch, and runs the call's 20 ms
//! clock: hold audio while waiting or held, the bridge while talking, the
//! recording, and every monitoring tap.
//!
//! Invariants: one task per call, the only writer of the call's recording;
//! the clock catches up after a late tick (tokio's burst), so the recording
//! runs at wall-clock speed; nothing the tick awaits waits on another node
//! (finding the agent's leg elsewhere and watching the call again run beside
//! the clock), so a lost peer never stalls the audio; the recording is
//! closed with a final header on every way out (call ended, shutdown, write
//! error); a caller whose leg closes has hung up and the routing core is told
//! so.
//!
//! Never silent: a talking call without its agent's audio looks for it
//! (here, else relayed from the node holding it) every 200 ms. If the node
//! holding it is lost, the call ends ("node lost"); if the agent has no leg
//! anywhere, or the relay cannot be set up, for `agent_audio_grace`, the
//! caller goes back to the queue in their place and the agent goes not
//! ready with the reason. A party that sends nothing for 2 s while talking
//! is counted as a silent leg (metric and warning) until heard again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use super::leg::{Leg, LegKind};
use super::mixer::{mix, Phase, TickInput};
use super::plane::{AgentAudioProblem, Shared};
use super::prompt::PromptPlayer;
use super::record::{MonitorMode, PauseAudit, RecordingRecord};
use super::recorder::StereoRecorder;
use super::recording_writer::QueuedRecorder;
use super::resample::Converter;
use super::Rate;
use crate::acd::{CallRecord, CallStatus};
use crate::cluster::CallStream;
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::time::Timestamp;

mod recording;
mod signals;

use recording::Recording;
use signals::SignalFeed;

/// The call's streams that may change rate, each with its converter.
#[derive(Default)]
struct Conversions {
    caller_in: Option<Converter>,
    caller_out: Option<Converter>,
    agent_in: Option<Converter>,
    agent_out: Option<Converter>,
    hold: Option<Converter>,
}

/// One 20 ms slice of a call as a listener receives it.
#[derive(Clone, Debug)]
pub struct StereoFrame {
    pub sequence: u64,
    pub rate: Rate,
    pub caller: Vec<i16>,
    pub agent: Vec<i16>,
}

/// How long a call whose watch ended looks for it again before its media
/// ends (longer than a takeover).
const REWATCH_FOR: Duration = Duration::from_secs(10);
/// The longest wait between two looks when the route does not change
/// (the routing node was briefly unreachable).
const REWATCH_BACKOFF: Duration = Duration::from_millis(500);
/// How often a talking call without its agent's audio looks for it again.
const REACH_EVERY: Duration = Duration::from_millis(200);
/// Seconds without a packet from a talking party before its leg counts as
/// silent.
const SILENT_AFTER_SECS: u32 = 2;
/// Media metrics are reported every this many 20 ms ticks (a second).
const REPORT_EVERY_TICKS: u32 = 50;

/// Frames buffered per listener (one second) before frames are dropped.
pub const TAP_BUFFER: usize = 50;

/// A supervisor listening in.
pub struct MonitorTap {
    pub id: String,
    pub mode: MonitorMode,
    /// The supervisor's own leg, to hear the call and (unless listening) speak.
    pub leg: Option<Arc<Leg>>,
    pub frames: mpsc::Sender<StereoFrame>,
    pub sequence: u64,
    /// The supervisor's audio to the call's rate, and back.
    pub inbound: Option<Converter>,
    pub outbound: Option<Converter>,
}

/// Requests to a call's task.
pub enum Control {
    Pause {
        by: String,
        reply: oneshot::Sender<Result<RecordingRecord, Error>>,
    },
    Resume {
        reply: oneshot::Sender<Result<RecordingRecord, Error>>,
    },
    AddMonitor(MonitorTap),
}

pub(super) struct CallMedia {
    call: CallId,
    caller: Arc<Leg>,
    shared: Arc<Shared>,
    phase: Phase,
    /// The rate the call is mixed (and recorded) at: wideband only when
    /// both caller and agent are.
    rate: Rate,
    /// The agent on the call (connected or held), and their bridged leg.
    agent: Option<AgentId>,
    agent_leg: Option<Arc<Leg>>,
    hold: PromptPlayer,
    /// The announcement being played in place of the music, if any.
    announcing: Option<Box<dyn Iterator<Item = Vec<i16>> + Send + Sync>>,
    /// When the waiting caller is next told their place.
    next_announcement: Option<tokio::time::Instant>,
    recording: Option<Recording>,
    monitors: Vec<MonitorTap>,
    /// Each stream's rate conversion, its filter state kept across ticks.
    conversions: Conversions,
    /// Who the call is, for the recording's metadata.
    last: Option<CallRecord>,
    /// The routing core was told the caller hung up.
    hangup_sent: bool,
    /// Ticks since the media metrics were last reported.
    ticks_since_report: u32,
    /// The search for the agent's leg on another node, while it runs.
    reaching: Option<Reaching>,
    /// Since when the connected call has had no agent audio, and the last
    /// reason found.
    agent_missing: Option<(tokio::time::Instant, Option<AgentAudioProblem>)>,
    /// When to look for the agent's leg again.
    next_reach: tokio::time::Instant,
    /// The routing core took this agent's audio failure.
    audio_failure_sent: bool,
    /// ... and it was counted and logged (once, however often it is sent).
    audio_failure_reported: bool,
    /// Whether each party (caller, agent) has gone silent while talking.
    silence: [SilenceWatch; 2],
    /// A relayed agent leg was just attached: move this call's clock onto
    /// the node-wide grid (see `trunk::aligned_tick`).
    realign: bool,
}

type Reaching = tokio::sync::oneshot::Receiver<(AgentId, Result<Arc<Leg>, AgentAudioProblem>)>;
type Rewatch = Pin<Box<dyn Future<Output = Option<CallStream>> + Send>>;

/// Seconds in a row a talking party sent nothing; flags the leg silent
/// past [`SILENT_AFTER_SECS`] and clears it when audio comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SilenceWatch {
    quiet_secs: u32,
    flagged: bool,
}

impl SilenceWatch {
    /// One second's packet count; `Some(true)` when the leg just went
    /// silent, `Some(false)` when it was heard again.
    pub fn observe(&mut self, received: u64, talking: bool) -> Option<bool> {
        if received > 0 || !talking {
            self.quiet_secs = 0;
            return self.flagged.then(|| {
                self.flagged = false;
                false
            });
        }
        self.quiet_secs += 1;
        (!self.flagged && self.quiet_secs >= SILENT_AFTER_SECS).then(|| {
            self.flagged = true;
            true
        })
    }

    pub fn flagged(&self) -> bool {
        self.flagged
    }
}

impl CallMedia {
    pub(super) fn new(call: CallId, caller: Arc<Leg>, shared: Arc<Shared>) -> Self {
        let hold = shared.hold.player();
        CallMedia {
            rate: caller.rate,
            call,
            caller,
            shared,
            phase: Phase::Waiting,
            agent: None,
            agent_leg: None,
            hold,
            announcing: None,
            next_announcement: None,
            recording: None,
            conversions: Conversions::default(),
            monitors: Vec::new(),
            last: None,
            hangup_sent: false,
            ticks_since_report: 0,
            reaching: None,
            agent_missing: None,
            next_reach: tokio::time::Instant::now(),
            audio_failure_sent: false,
            audio_failure_reported: false,
            silence: [SilenceWatch::default(); 2],
            realign: false,
        }
    }

    /// Runs until the call ends or the server stops.
    pub(super) async fn run(
        mut self,
        mut watch_stream: Option<CallStream>,
        mut control: mpsc::Receiver<Control>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let caller = self.caller.clone();
        // Every call on the node ticks on the wall clock's 20 ms grid: their
        // frames reach the media shards together and leave in full batches
        // (and a relayed agent's node knows when they come).
        let first = super::trunk::aligned_tick(tokio::time::Instant::now());
        let mut clock = tokio::time::interval_at(first, Duration::from_millis(20));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut rewatching: Option<Rewatch> = None;
        loop {
            tokio::select! {
                _ = clock.tick() => self.tick().await,
                update = next_update(&mut watch_stream) => match update {
                    Some(call) => {
                        if self.apply(call).await {
                            break;
                        }
                    }
                    None => rewatching = Some(Box::pin(rewatch(self.shared.clone(), self.call.clone()))),
                },
                found = poll_rewatch(&mut rewatching), if rewatching.is_some() => {
                    rewatching = None;
                    match found {
                        Some(stream) => watch_stream = Some(stream),
                        None => break,
                    }
                }
                reached = reached(&mut self.reaching) => self.agent_leg_reached(reached).await,
                Some(cmd) = control.recv() => self.control(cmd).await,
                _ = caller.closed(), if !self.hangup_sent => self.caller_hung_up().await,
                _ = stopping(&mut shutdown) => break,
            }
            if std::mem::take(&mut self.realign) {
                clock.reset_at(super::trunk::aligned_tick(tokio::time::Instant::now()));
            }
        }
        self.finish().await;
    }

    async fn caller_hung_up(&mut self) {
        self.hangup_sent = true;
        info!(call = %self.call, "caller's media connection closed; ending the call");
        if let Err(e) = self
            .shared
            .link
            .execute(
                None,
                Command::EndCall {
                    call: self.call.clone(),
                },
            )
            .await
        {
            warn!(call = %self.call, error = %e, "ending call after caller hang-up");
        }
    }

    /// Follows the call's state; true once it ended.
    async fn apply(&mut self, call: CallRecord) -> bool {
        match call.status {
            CallStatus::Ended => return true,
            CallStatus::Queued | CallStatus::Offering => {
                self.phase = Phase::Waiting;
            }
            CallStatus::Connected => {
                if self.agent != call.agent {
                    self.agent = call.agent.clone();
                    self.let_go_of_agent_leg();
                    self.agent_missing = None;
                    self.audio_failure_sent = false;
                    self.audio_failure_reported = false;
                    self.next_reach = tokio::time::Instant::now();
                }
                self.phase = if call.on_hold { Phase::Held } else { Phase::Talking };
                if let Some(rec) = self.recording.as_mut() {
                    rec.record.agent = self.agent.clone();
                }
            }
        }
        self.last = Some(call);
        // Recording starts once the agent's leg is found (its rate decides
        // the recording's) or given up on.
        if self.phase != Phase::Waiting && self.recording.is_none() {
            self.find_agent_leg();
            if self.agent_leg.is_some() {
                self.start_recording().await;
            }
        }
        false
    }

    /// Drops the agent's leg; a relayed one is closed, which ends its relay.
    fn let_go_of_agent_leg(&mut self) {
        if let Some(leg) = self.agent_leg.take() {
            if leg.kind == LegKind::Relay {
                leg.close();
            }
        }
    }

    /// While waiting: time for the next announcement? Asks the routing core
    /// where the call stands and queues the phrase.
    async fn maybe_announce(&mut self) {
        let Some(every) = self.shared.settings.announce_every else {
            return;
        };
        if self.phase != Phase::Waiting {
            self.next_announcement = None;
            self.announcing = None;
            return;
        }
        let now = tokio::time::Instant::now();
        if self.announcing.is_some() {
            // The interval is music between announcements: it counts from
            // the end of the last one, so a phrase longer than the interval
            // never leaves the caller without music.
            self.next_announcement = Some(now + every);
            return;
        }
        let due = *self.next_announcement.get_or_insert(now + every);
        if now < due {
            return;
        }
        self.next_announcement = Some(now + every);
        let asked = self
            .shared
            .link
            .execute(
                None,
                Command::QueuePosition {
                    call: self.call.clone(),
                },
            )
            .await
            .and_then(|r| r.position());
        match asked {
            Ok(Some(place)) => {
                if let Some(prompt) = self.shared.announcer.announcement(&place) {
                    self.announcing = Some(Box::new(prompt.once()));
                }
            }
            Ok(None) => {}
            Err(e) => warn!(call = %self.call, error = %e, "asking the call's queue position"),
        }
    }

    /// The next frame a waiting or held caller hears.
    fn hold_frame(&mut self) -> Vec<i16> {
        if let Some(frame) = self.announcing.as_mut().and_then(|a| a.next()) {
            return frame;
        }
        self.announcing = None;
        self.hold.next_frame()
    }

    /// Bridges the agent's softphone leg if it is connected here, dropping
    /// what it buffered between calls; else starts looking for it on the
    /// other nodes (at most one search at a time, every [`REACH_EVERY`]).
    fn find_agent_leg(&mut self) {
        let Some(agent) = self.agent.clone() else { return };
        if let Some(leg) = self.shared.agent_leg(&agent) {
            leg.flush_inbound();
            self.agent_leg = Some(leg);
            self.agent_found();
            return;
        }
        let now = tokio::time::Instant::now();
        self.agent_missing.get_or_insert((now, None));
        if self.reaching.is_some() || now < self.next_reach || self.shared.cluster.is_none() {
            return;
        }
        self.next_reach = now + REACH_EVERY;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        let call = self.call.clone();
        tokio::spawn(async move {
            let found = shared.reach_agent_leg(&agent, &call).await;
            if let Err((_, Ok(leg))) = tx.send((agent, found)) {
                // The call moved on meanwhile: end the relay just opened.
                if leg.kind == LegKind::Relay {
                    leg.close();
                }
            }
        });
        self.reaching = Some(rx);
    }

    /// The agent's audio is bridged (again).
    fn agent_found(&mut self) {
        if let Some((since, _)) = self.agent_missing.take() {
            let waited = since.elapsed();
            if waited > Duration::from_millis(500) {
                info!(call = %self.call, waited_ms = waited.as_millis() as u64, "agent audio bridged");
            }
        }
    }

    /// The search for the agent's leg on other nodes answered.
    async fn agent_leg_reached(&mut self, (agent, found): (AgentId, Result<Arc<Leg>, AgentAudioProblem>)) {
        let current = self.agent.as_ref() == Some(&agent) && self.phase != Phase::Waiting;
        match found {
            Ok(leg) if current && self.agent_leg.is_none() => {
                // A relayed leg's frames leave with every other relayed
                // call's when the clocks tick together (one message).
                self.realign |= leg.kind == LegKind::Relay;
                self.agent_leg = Some(leg);
                self.agent_found();
                if self.recording.is_none() {
                    self.start_recording().await;
                }
            }
            Ok(leg) => {
                if leg.kind == LegKind::Relay {
                    leg.close();
                }
            }
            Err(problem) if current => {
                if let Some((_, last)) = self.agent_missing.as_mut() {
                    *last = Some(problem);
                }
            }
            Err(_) => {}
        }
    }

    /// A talking call still without its agent's audio: past the grace (or
    /// at once when the node holding it is lost), says so to the routing
    /// core, once.
    async fn check_agent_audio(&mut self) {
        let Some((since, problem)) = self.agent_missing.clone() else {
            return;
        };
        if self.audio_failure_sent || self.reaching.is_some() {
            return;
        }
        let lost = matches!(problem, Some(AgentAudioProblem::NodeLost { .. }));
        // A relay to a node that just died fails before the node's silence
        // shows (two of three beats in a lease): wait that long before
        // taking a failed relay for a live node's blocked port.
        let grace = match (&problem, &self.shared.cluster) {
            (Some(AgentAudioProblem::RelayFailed(_)), Some(cluster)) => {
                self.shared.settings.agent_audio_grace.max(cluster.lease)
            }
            _ => self.shared.settings.agent_audio_grace,
        };
        if !lost && since.elapsed() < grace {
            return;
        }
        // No search answered within the grace (a single node, or searches
        // that hang): no leg.
        let problem = problem.unwrap_or(AgentAudioProblem::NoLeg);
        let Some(agent) = self.agent.clone() else { return };
        self.audio_failure_sent = true;
        if self.recording.is_none() {
            // What the caller said is kept even though nobody answered it.
            self.start_recording().await;
        }
        let why = problem.to_string();
        let first = !std::mem::replace(&mut self.audio_failure_reported, true);
        if first {
            warn!(call = %self.call, agent = %agent, reason = %why, "the agent's audio cannot reach the call");
        }
        let cmd = match &problem {
            AgentAudioProblem::NodeLost { .. } => {
                if first {
                    crate::metrics::events::calls_lost_with_node("agent", 1);
                }
                Command::MediaLost {
                    call: self.call.clone(),
                    why,
                }
            }
            AgentAudioProblem::NoLeg | AgentAudioProblem::RelayFailed(_) => {
                if first {
                    let cause = if problem == AgentAudioProblem::NoLeg {
                        crate::metrics::events::Unreachable::NoLeg
                    } else {
                        crate::metrics::events::Unreachable::RelayFailed
                    };
                    crate::metrics::events::media_unreachable("agent", cause);
                }
                Command::AgentAudioFailed {
                    agent,
                    call: self.call.clone(),
                    reason: why,
                }
            }
        };
        match self.shared.link.execute(None, cmd).await {
            Ok(_) => {}
            // No routing node right now (it may be the node that was lost):
            // told again after the next search, until it takes it.
            Err(e) if e.is_unavailable() => {
                warn!(call = %self.call, error = %e, "telling the routing core the agent's audio failed; retrying");
                self.audio_failure_sent = false;
            }
            Err(e) => {
                warn!(call = %self.call, error = %e, "the routing core refused the agent's audio failure")
            }
        }
    }

    /// Hands the legs' packet counts and the recording's growth to the
    /// metrics (once a second, and when the call ends).
    fn report_media(&mut self) {
        self.ticks_since_report = 0;
        let talking = self.phase == Phase::Talking;
        let caller = self.caller.take_report();
        crate::metrics::events::media(&caller);
        let agent = self.agent_leg.as_ref().map(|leg| leg.take_report());
        if let Some(report) = &agent {
            crate::metrics::events::media(report);
        }
        let heard = [caller.received, agent.map(|r| r.received).unwrap_or(0)];
        for (i, party) in ["caller", "agent"].into_iter().enumerate() {
            match self.silence[i].observe(heard[i], talking) {
                Some(true) => {
                    warn!(call = %self.call, party, "no audio from the {party} for {SILENT_AFTER_SECS} s while talking (one-way or silent call)");
                    crate::metrics::events::leg_silent(party, true);
                }
                Some(false) => {
                    info!(call = %self.call, party, "audio from the {party} again");
                    crate::metrics::events::leg_silent(party, false);
                }
                None => {}
            }
        }
        if let Some(rec) = self.recording.as_mut() {
            let bytes = rec.recorder.bytes_written();
            crate::metrics::events::recording_written(bytes.saturating_sub(rec.reported_bytes));
            rec.reported_bytes = bytes;
        }
    }

    async fn tick(&mut self) {
        self.ticks_since_report += 1;
        if self.ticks_since_report >= REPORT_EVERY_TICKS {
            self.report_media();
        }
        self.maybe_announce().await;
        if self.phase != Phase::Waiting {
            if self.agent_leg.as_ref().is_some_and(|l| l.is_closed()) {
                info!(call = %self.call, "the agent's leg closed; looking for it again");
                self.let_go_of_agent_leg();
            }
            if self.agent_leg.is_none() {
                self.find_agent_leg();
                if self.agent_leg.is_some() && self.recording.is_none() {
                    self.start_recording().await;
                }
                self.check_agent_audio().await;
            }
        }
        // Everything is mixed at the call's rate; legs and prompts of
        // another rate are converted on the way in and out.
        let rate = self.rate;
        let from = |slot: &mut Option<Converter>, leg: &Leg| {
            Converter::between(slot, leg.rate, rate).convert(&leg.pop_frame())
        };
        let conv = &mut self.conversions;
        let caller = from(&mut conv.caller_in, &self.caller);
        let agent = match (&self.agent_leg, self.phase) {
            (Some(leg), Phase::Talking | Phase::Held) => Some(from(&mut conv.agent_in, leg)),
            _ => None,
        };
        let silence = vec![0i16; rate.frame_len()];
        self.monitors.retain(|tap| !tap.frames.is_closed());
        let said: Vec<(MonitorMode, Vec<i16>)> = self
            .monitors
            .iter_mut()
            .map(|m| {
                let heard = match m.leg.as_deref() {
                    Some(leg) => from(&mut m.inbound, leg),
                    None => silence.clone(),
                };
                (m.mode, heard)
            })
            .collect();
        let said_refs: Vec<(MonitorMode, &[i16])> = said.iter().map(|(m, f)| (*m, f.as_slice())).collect();
        let hold = if self.phase == Phase::Talking {
            silence.clone()
        } else {
            let prompt_rate = self.shared.hold.rate();
            let frame = self.hold_frame();
            Converter::between(&mut self.conversions.hold, prompt_rate, rate).convert(&frame)
        };
        let out = mix(
            self.phase,
            rate.frame_len(),
            &TickInput {
                caller: &caller,
                agent: agent.as_deref(),
                supervisors: &said_refs,
                hold: &hold,
            },
        );
        let to = |slot: &mut Option<Converter>, leg: &Leg, frame: &[i16]| {
            leg.send_frame(Converter::between(slot, rate, leg.rate).convert(frame))
        };
        to(&mut self.conversions.caller_out, &self.caller, &out.to_caller);
        if let Some(leg) = &self.agent_leg {
            if self.phase != Phase::Waiting {
                to(&mut self.conversions.agent_out, leg, &out.to_agent);
            }
        }
        let (left, right) = out.recorded;
        for (tap, heard) in self.monitors.iter_mut().zip(out.to_supervisors) {
            if let Some(leg) = &tap.leg {
                to(&mut tap.outbound, leg, &heard);
            }
            let frame = StereoFrame {
                sequence: tap.sequence,
                rate,
                caller: left.clone(),
                agent: right.clone(),
            };
            tap.sequence += 1;
            // A listener that cannot keep up loses frames, never the call.
            let _ = tap.frames.try_send(frame);
        }
        if self.phase != Phase::Waiting {
            if let Some(rec) = self.recording.as_mut() {
                if let Err(e) = rec.write(&left, &right, self.phase == Phase::Held) {
                    warn!(call = %self.call, error = %e, "recording write failed; closing the recording");
                    crate::metrics::events::recording_failed();
                    self.close_recording().await;
                }
            }
        }
    }

    async fn control(&mut self, cmd: Control) {
        match cmd {
            Control::AddMonitor(tap) => {
                info!(call = %self.call, session = %tap.id, mode = tap.mode.as_str(), "monitoring started");
                self.monitors.push(tap);
            }
            Control::Pause { by, reply } => {
                let result = match self.recording.as_mut() {
                    Some(rec) => {
                        if rec.paused_at.is_none() {
                            rec.recorder.pause(&by);
                            rec.paused_at = Some(Timestamp::now_wall());
                            info!(call = %self.call, by = %by, "recording paused (PCI)");
                        }
                        Ok(rec.record.clone())
                    }
                    None => Err(self.not_recording()),
                };
                let _ = reply.send(result);
            }
            Control::Resume { reply } => {
                let result = match self.recording.as_mut() {
                    Some(rec) => {
                        if let (Some(pause), Some(at)) = (rec.recorder.resume(), rec.paused_at.take()) {
                            info!(call = %self.call, by = %pause.by, length_ms = pause.length.as_millis() as u64, "recording resumed");
                            rec.record.pauses.push(PauseAudit {
                                by: pause.by,
                                at,
                                length_ms: crate::time::duration_ms(pause.length),
                            });
                            rec.record.duration_ms = crate::time::duration_ms(rec.recorder.duration());
                        }
                        Ok(rec.record.clone())
                    }
                    None => Err(self.not_recording()),
                };
                if let Ok(record) = &result {
                    self.save(record).await;
                }
                let _ = reply.send(result);
            }
        }
    }

    async fn finish(mut self) {
        self.close_recording().await;
        for (i, party) in ["caller", "agent"].into_iter().enumerate() {
            if self.silence[i].flagged() {
                crate::metrics::events::leg_silent(party, false);
            }
        }
        // One line per call on how its audio fared, for whoever chases a
        // "bad line" complaint.
        let caller = self.caller.inbound_stats();
        let agent = self
            .agent_leg
            .as_ref()
            .map(|l| l.inbound_stats())
            .unwrap_or_default();
        info!(
            call = %self.call,
            caller_frames = caller.played,
            caller_lost = caller.lost,
            caller_late = caller.late,
            agent_frames = agent.played,
            agent_lost = agent.lost,
            agent_late = agent.late,
            frames_to_caller = self.caller.sent_outbound(),
            dropped_to_caller = self.caller.dropped_outbound(),
            frames_to_agent = self.agent_leg.as_ref().map(|l| l.sent_outbound()).unwrap_or(0),
            agent_transport = self.agent_leg.as_ref().map(|l| l.kind.label()).unwrap_or("none"),
            "call audio ended"
        );
        self.let_go_of_agent_leg();
        self.shared.call_finished(&self.call).await;
    }
}

/// The watch ended without the call ending: the routing role moved (or the
/// watcher fell behind). Watches again, beside the clock; none if the call
/// is no longer live or the routing core stays unreachable.
async fn rewatch(shared: Arc<Shared>, call: CallId) -> Option<CallStream> {
    let give_up = tokio::time::Instant::now() + REWATCH_FOR;
    loop {
        // A watch ends when the routing term does, after the route moved:
        // the first look usually finds the new routing node.
        match shared.link.watch_call(call.clone()).await {
            Ok(stream) => return stream,
            Err(e) => warn!(call = %call, error = %e, "re-watching call"),
        }
        let now = tokio::time::Instant::now();
        if now >= give_up {
            warn!(call = %call, "the call could not be found again; its media ends");
            return None;
        }
        // Look again when the route changes, or after a short wait.
        let wait = REWATCH_BACKOFF.min(give_up - now);
        let _ = tokio::time::timeout(wait, shared.link.route_changed()).await;
    }
}

async fn poll_rewatch(rewatching: &mut Option<Rewatch>) -> Option<CallStream> {
    match rewatching {
        Some(r) => r.await,
        None => std::future::pending().await,
    }
}

async fn reached(reaching: &mut Option<Reaching>) -> (AgentId, Result<Arc<Leg>, AgentAudioProblem>) {
    let result = match reaching {
        Some(r) => r.await,
        None => std::future::pending().await,
    };
    *reaching = None;
    // A search task that died without answering is a failed relay.
    result.unwrap_or_else(|_| {
        (
            AgentId::new(""),
            Err(AgentAudioProblem::RelayFailed("the search was cancelled".into())),
        )
    })
}

async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
}

async fn next_update(stream: &mut Option<CallStream>) -> Option<CallRecord> {
    match stream {
        Some(s) => match s.next().await {
            Some(Ok(call)) => Some(call),
            _ => {
                *stream = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}
