//! The agent trunk: every agent leg one node relays from another, on one
//! batched gRPC stream per node pair (`MediaRelay.AgentTrunk`).
//!
//! One stream per relayed call cost about 5 ms of CPU per call-second: each
//! 20 ms frame was its own HTTP/2 message, write and wake-up on both nodes.
//! Here the cost per message and per wake-up is shared by every call
//! between the two nodes. The calls' node aligns the relayed calls' 20 ms
//! clocks to the wall clock's 20 ms grid ([`aligned_tick`]), so their
//! frames come together and leave within one [`FLUSH_WINDOW`]; the agents'
//! node sends the agents' packets, which arrive whenever each softphone
//! sends, once per tick, [`DRAIN_LEAD`] before the calls' clocks take them.
//! Opens and closes go within one window.
//!
//! Invariants:
//! - a channel number names one relayed leg for the stream's life; the
//!   client never reuses one;
//! - a leg is diverted by at most one channel, and closing a channel
//!   (either side, the leg closing, or the agent's leg being replaced on the
//!   holding node) undoes only its own diversion;
//! - nothing awaits a slow peer on a call's path: a full queue drops frames
//!   (concealed by the jitter buffer), it never stalls a call's clock;
//! - when the stream breaks every leg on it closes, so each call finds out
//!   (and decides: another relay, node lost, or the caller requeued).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use tracing::{debug, info, warn};

use super::leg::{InboundPacket, Leg};
use super::plane::Shared;
use super::relay::{frame_of, outbound_frame, play_relayed, push_relayed, refused, RelayError, OPEN_TIMEOUT};
use super::Rate;
use crate::cluster::directory::NodeAddr;
use crate::ids::{AgentId, CallId};
use crate::proto::cluster::{
    agent_trunk_down_item, agent_trunk_up_item, AgentLegOpened, AgentTrunkDown, AgentTrunkDownItem,
    AgentTrunkUp, AgentTrunkUpItem, ChannelClosed, OpenAgentLeg,
};

/// How long a sender gathers items before sending them as one message: the
/// delay a frame may gain on its way to the agent, against the messages
/// saved. The calls' clocks are aligned, so one window takes a whole tick.
pub const FLUSH_WINDOW: Duration = Duration::from_millis(1);
/// How long before the calls' tick the agents' node sends the agents'
/// packets: time for the message to cross and be unpacked into the relay
/// legs' jitter buffers before the calls' clocks take the next frame.
pub const DRAIN_LEAD: Duration = Duration::from_millis(3);
/// Items in one message at most (a second of frames of 50 calls).
const MAX_BATCH: usize = 512;
/// Messages queued towards the peer (about 40 ms) before batches are dropped.
const SEND_QUEUE: usize = 32;
/// Frames queued between the legs and a trunk's sender (a few frames per
/// call for a few thousand calls) before frames are dropped.
const TRUNK_FRAMES: usize = 8192;
/// How often the holding node checks that each relayed leg is still the
/// agent's.
const LEG_CHECK: Duration = Duration::from_millis(200);
/// The period of every call's audio clock.
const TICK: Duration = Duration::from_millis(20);

/// The first 20 ms boundary after `now` on the wall clock, which the nodes
/// of a cluster share (NTP keeps them within a millisecond or so): relayed
/// calls tick together, so their frames leave in one message, and the
/// agents' node knows when the calls' node will next take a frame.
pub fn aligned_tick(now: Instant) -> Instant {
    let period = TICK.as_micros();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let to_next = period - wall % period;
    now + Duration::from_micros(u64::try_from(to_next).unwrap_or(0))
}

/// Items waiting for the next message, and when it goes.
struct Batch<T> {
    items: Vec<T>,
    flush_at: Option<Instant>,
    /// Fires at `flush_at`; one timer reset per batch, not one per wake-up.
    timer: Pin<Box<Sleep>>,
}

impl<T> Batch<T> {
    fn new() -> Self {
        Batch {
            items: Vec::new(),
            flush_at: None,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    fn push(&mut self, item: T) {
        if self.flush_at.is_none() {
            let at = Instant::now() + FLUSH_WINDOW;
            self.flush_at = Some(at);
            self.timer.as_mut().reset(at);
        }
        self.items.push(item);
    }

    /// True when the batch should go now: its window passed, or it is full.
    fn ready(&self) -> bool {
        self.items.len() >= MAX_BATCH || self.flush_at.is_some_and(|at| at <= Instant::now())
    }

    /// Sends what there is at the next check (a drain just ended).
    fn due_now(&mut self) {
        if !self.items.is_empty() {
            self.flush_at = Some(Instant::now());
        }
    }

    fn take(&mut self) -> Vec<T> {
        self.flush_at = None;
        std::mem::take(&mut self.items)
    }
}

/// The agents' packets are taken from a trunk's queue once a tick, not as
/// each arrives: [`DRAIN_LEAD`] before the calls' clocks take the next
/// frame. A packet waits here instead of in the calls' jitter buffer, so
/// the relay adds no delay while the nodes' clocks agree, and costs one
/// message and one wake-up per tick for all the calls.
fn drain_clock() -> tokio::time::Interval {
    let now = Instant::now();
    let mut first = aligned_tick(now) - DRAIN_LEAD;
    if first <= now {
        first += TICK;
    }
    let mut clock = tokio::time::interval_at(first, TICK);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    clock
}

// ---------------------------------------------------------------- client --

/// What the call's node asks of its trunk's sender.
enum Ctl {
    Open {
        channel: u32,
        agent: AgentId,
        call: CallId,
    },
    /// The leg exists: its frames (tagged with `channel`) go up from now on.
    Attach { channel: u32, leg: Arc<Leg> },
    /// Opening gave up (timed out): tell the peer.
    Abandon { channel: u32 },
}

/// Channels between opening and closing, shared by the opener and the
/// reader.
#[derive(Default)]
struct Channels {
    /// Opens waiting for the peer's answer.
    opening: HashMap<u32, oneshot::Sender<Result<AgentLegOpened, ChannelClosed>>>,
    /// Open legs, for the agent's frames coming down.
    legs: HashMap<u32, Arc<Leg>>,
    /// Set once the stream broke: no channel opens on it any more.
    broken: Option<String>,
}

/// The call's node's end of one trunk to a peer.
pub struct TrunkClient {
    peer: NodeAddr,
    /// Numbers the next channel.
    next: AtomicU32,
    ctl: mpsc::UnboundedSender<Ctl>,
    /// Every relayed leg's outbound frames, tagged with its channel: one
    /// queue the sender waits on, however many calls.
    frames: mpsc::Sender<(u32, Vec<i16>)>,
    channels: Arc<Mutex<Channels>>,
}

impl TrunkClient {
    /// Opens the trunk's stream to `peer` (the caller drops the client, and
    /// opens another, once it is broken).
    pub fn start(peer: NodeAddr, mut client: super::relay::Client) -> Arc<TrunkClient> {
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let (frames, frames_rx) = mpsc::channel(TRUNK_FRAMES);
        let (up, up_rx) = mpsc::channel::<AgentTrunkUp>(SEND_QUEUE);
        let channels = Arc::new(Mutex::new(Channels::default()));
        let trunk = Arc::new(TrunkClient {
            peer: peer.clone(),
            next: AtomicU32::new(1),
            ctl,
            frames,
            channels: channels.clone(),
        });
        tokio::spawn(send_up(ctl_rx, frames_rx, up, channels.clone()));
        tokio::spawn(async move {
            let why = match client.agent_trunk(ReceiverStream::new(up_rx)).await {
                Ok(down) => read_down(down.into_inner(), &channels).await,
                Err(s) => refused(&peer, s, "an agent trunk".into()).to_string(),
            };
            warn!(node = %peer.node, why = %why, "agent trunk to a peer ended; its relayed legs close");
            crate::metrics::events::relay_broken("agent");
            break_all(&channels, why);
        });
        trunk
    }

    /// True once the stream broke (open a new trunk).
    pub fn is_broken(&self) -> bool {
        self.channels.lock().map(|c| c.broken.is_some()).unwrap_or(true)
    }

    /// Opens `agent`'s leg for `call` on the peer: a local leg carrying the
    /// agent's audio until either side closes it.
    pub async fn open_agent_leg(
        &self,
        agent: &AgentId,
        call: &CallId,
        jitter_frames: usize,
    ) -> Result<Arc<Leg>, RelayError> {
        let failed = |reason: String| RelayError::Failed {
            node: self.peer.node.clone(),
            addr: self.peer.addr.clone(),
            reason,
        };
        let channel = self.next.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        {
            let mut channels = self
                .channels
                .lock()
                .map_err(|_| failed("trunk lock poisoned".into()))?;
            if let Some(why) = &channels.broken {
                return Err(failed(why.clone()));
            }
            channels.opening.insert(channel, answer);
        }
        let open = Ctl::Open {
            channel,
            agent: agent.clone(),
            call: call.clone(),
        };
        self.ctl
            .send(open)
            .map_err(|_| failed("the trunk's sender stopped".into()))?;
        let opened = match tokio::time::timeout(OPEN_TIMEOUT, answered).await {
            Ok(Ok(Ok(opened))) => opened,
            Ok(Ok(Err(closed))) if closed.not_found => {
                return Err(RelayError::NotThere {
                    node: self.peer.node.clone(),
                    what: format!("agent {agent}'s leg"),
                })
            }
            Ok(Ok(Err(closed))) => return Err(failed(closed.reason)),
            Ok(Err(_)) => return Err(failed("the trunk broke while opening".into())),
            Err(_) => {
                if let Ok(mut channels) = self.channels.lock() {
                    channels.opening.remove(&channel);
                }
                let _ = self.ctl.send(Ctl::Abandon { channel });
                return Err(failed(format!("no answer within {OPEN_TIMEOUT:?}")));
            }
        };
        let AgentLegOpened {
            sample_rate,
            codec,
            transport,
        } = opened;
        let Some(rate) = Rate::from_hz(sample_rate) else {
            let _ = self.ctl.send(Ctl::Abandon { channel });
            return Err(failed(format!("leg rate {sample_rate} Hz")));
        };
        let leg = Leg::trunked(
            format!("relay:{agent}@{}", self.peer.node),
            rate,
            format!("{codec} via {}", self.peer.node),
            jitter_frames,
            channel,
            self.frames.clone(),
        );
        {
            let mut channels = self
                .channels
                .lock()
                .map_err(|_| failed("trunk lock poisoned".into()))?;
            if let Some(why) = &channels.broken {
                return Err(failed(why.clone()));
            }
            channels.legs.insert(channel, leg.clone());
        }
        let attach = Ctl::Attach {
            channel,
            leg: leg.clone(),
        };
        self.ctl
            .send(attach)
            .map_err(|_| failed("the trunk's sender stopped".into()))?;
        crate::metrics::events::relay_opened("agent");
        info!(call = %call, agent = %agent, node = %self.peer.node, transport = %transport, channel, "agent audio relayed from another node");
        Ok(leg)
    }
}

/// The trunk's sender: gathers the opens, the closes and every leg's
/// outbound frames into batches.
async fn send_up(
    mut ctl: mpsc::UnboundedReceiver<Ctl>,
    mut frames: mpsc::Receiver<(u32, Vec<i16>)>,
    up: mpsc::Sender<AgentTrunkUp>,
    channels: Arc<Mutex<Channels>>,
) {
    let mut legs: HashMap<u32, Arc<Leg>> = HashMap::new();
    let mut batch = Batch::new();
    let mut check = tokio::time::interval(LEG_CHECK);
    let item = |channel, msg| AgentTrunkUpItem {
        channel,
        msg: Some(msg),
    };
    loop {
        tokio::select! {
            c = ctl.recv() => match c {
                Some(Ctl::Open { channel, agent, call }) => batch.push(item(channel, agent_trunk_up_item::Msg::Open(OpenAgentLeg {
                    agent_id: agent.to_string(),
                    call_id: call.to_string(),
                }))),
                Some(Ctl::Attach { channel, leg }) => {
                    legs.insert(channel, leg);
                }
                Some(Ctl::Abandon { channel }) => batch.push(item(channel, close_msg("the call gave up opening"))),
                None => return,
            },
            // The relayed calls tick together (aligned clocks): the first
            // frame of a tick opens the window, the others join it.
            Some((channel, pcm)) = frames.recv() => {
                if legs.contains_key(&channel) {
                    batch.push(item(channel, agent_trunk_up_item::Msg::Frame(outbound_frame(&pcm))));
                    // Every relayed call's frame of this tick is in: no
                    // need to wait out the window.
                    if batch.items.len() >= legs.len() {
                        batch.due_now();
                    }
                }
            }
            _ = check.tick() => {
                // Legs the call let go of (or the peer closed): the peer
                // undoes its diversion, the reader forgets them.
                let closed: Vec<u32> = legs.iter().filter(|(_, l)| l.is_closed()).map(|(c, _)| *c).collect();
                for channel in closed {
                    legs.remove(&channel);
                    batch.push(item(channel, close_msg("the call let go of the leg")));
                    if let Ok(mut ch) = channels.lock() {
                        ch.legs.remove(&channel);
                    }
                }
            }
            _ = batch.timer.as_mut(), if batch.flush_at.is_some() => {}
        }
        if batch.ready() {
            let items = batch.take();
            match up.try_send(AgentTrunkUp { items }) {
                Ok(()) => {}
                // The peer reads too slowly: this batch's frames are lost
                // (concealed there); opens time out and are retried.
                Err(mpsc::error::TrySendError::Full(_)) => crate::metrics::events::relay_batch_dropped("up"),
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    }
}

fn close_msg(reason: &str) -> agent_trunk_up_item::Msg {
    agent_trunk_up_item::Msg::Close(ChannelClosed {
        not_found: false,
        reason: reason.into(),
    })
}

/// The trunk's reader: answers opens, plays the agents' frames into their
/// legs and closes the legs the peer closed. Returns why the stream ended.
async fn read_down(mut down: Streaming<AgentTrunkDown>, channels: &Mutex<Channels>) -> String {
    loop {
        let batch = match down.message().await {
            Ok(Some(b)) => b,
            Ok(None) => return "the peer ended the trunk".into(),
            Err(s) => return format!("the trunk broke: {}", s.message()),
        };
        let Ok(mut ch) = channels.lock() else {
            return "trunk lock poisoned".into();
        };
        for AgentTrunkDownItem { channel, msg } in batch.items {
            match msg {
                Some(agent_trunk_down_item::Msg::Frame(f)) => {
                    if let Some(leg) = ch.legs.get(&channel) {
                        push_relayed(leg, f);
                    }
                }
                Some(agent_trunk_down_item::Msg::Opened(o)) => {
                    if let Some(answer) = ch.opening.remove(&channel) {
                        let _ = answer.send(Ok(o));
                    }
                }
                Some(agent_trunk_down_item::Msg::Closed(c)) => {
                    if let Some(answer) = ch.opening.remove(&channel) {
                        let _ = answer.send(Err(c));
                    } else if let Some(leg) = ch.legs.remove(&channel) {
                        debug!(leg = %leg.id, why = %c.reason, "the agent's node closed the relayed leg");
                        leg.close();
                    }
                }
                None => {}
            }
        }
    }
}

/// The stream broke: every open and every leg on it ends.
fn break_all(channels: &Mutex<Channels>, why: String) {
    let Ok(mut ch) = channels.lock() else { return };
    for (_, answer) in ch.opening.drain() {
        let _ = answer.send(Err(ChannelClosed {
            not_found: false,
            reason: why.clone(),
        }));
    }
    for (_, leg) in ch.legs.drain() {
        leg.close();
    }
    ch.broken = Some(why);
}

// ---------------------------------------------------------------- server --

/// One leg this node relays on a trunk.
struct Served {
    agent: AgentId,
    leg: Arc<Leg>,
    generation: u64,
}

/// The holding node's end of a trunk: opens and diverts the agents' legs,
/// batches their packets down, plays what comes up, and checks every
/// [`LEG_CHECK`] that each leg is still the agent's and still diverted here.
pub(super) async fn serve_trunk(
    shared: Arc<Shared>,
    mut up: Streaming<AgentTrunkUp>,
    down: mpsc::Sender<Result<AgentTrunkDown, tonic::Status>>,
) {
    let mut served: HashMap<u32, Served> = HashMap::new();
    // Every diverted leg's packets, tagged with its channel.
    let (packets_tx, mut packets) = mpsc::channel(TRUNK_FRAMES);
    let mut batch = Batch::new();
    let mut drain = drain_clock();
    let mut check = tokio::time::interval(LEG_CHECK);
    let item = |channel, msg| AgentTrunkDownItem {
        channel,
        msg: Some(msg),
    };
    loop {
        tokio::select! {
            msg = up.message() => match msg {
                Ok(Some(AgentTrunkUp { items })) => {
                    for AgentTrunkUpItem { channel, msg } in items {
                        match msg {
                            Some(agent_trunk_up_item::Msg::Frame(f)) => {
                                if let Some(s) = served.get(&channel) {
                                    play_relayed(&s.leg, &f);
                                }
                            }
                            Some(agent_trunk_up_item::Msg::Open(open)) => {
                                match open_leg(&shared, &open, channel, &packets_tx) {
                                    Ok((s, opened)) => {
                                        info!(agent = %s.agent, call = %open.call_id, channel, "relaying the agent's audio to another node");
                                        served.insert(channel, s);
                                        batch.push(item(channel, agent_trunk_down_item::Msg::Opened(opened)));
                                    }
                                    Err(c) => batch.push(item(channel, agent_trunk_down_item::Msg::Closed(c))),
                                }
                            }
                            Some(agent_trunk_up_item::Msg::Close(c)) => {
                                if let Some(s) = served.remove(&channel) {
                                    debug!(agent = %s.agent, why = %c.reason, "agent relay ended");
                                    s.leg.undivert(s.generation);
                                }
                            }
                            None => {}
                        }
                    }
                }
                Ok(None) | Err(_) => break,
            },
            _ = drain.tick(), if !served.is_empty() => {
                while let Ok((channel, packet, pcm)) = packets.try_recv() {
                    if served.contains_key(&channel) {
                        batch.push(item(channel, agent_trunk_down_item::Msg::Frame(frame_of(&packet, &pcm))));
                    }
                }
                batch.due_now();
            }
            _ = check.tick() => {
                let gone: Vec<u32> = served
                    .iter()
                    .filter(|(_, s)| {
                        s.leg.is_closed()
                            || !s.leg.diverted_by(s.generation)
                            || !shared.agent_leg(&s.agent).is_some_and(|c| Arc::ptr_eq(&c, &s.leg))
                    })
                    .map(|(c, _)| *c)
                    .collect();
                for channel in gone {
                    if let Some(s) = served.remove(&channel) {
                        // The call's node opens the agent's new leg, if any.
                        warn!(agent = %s.agent, "the relayed leg closed, was replaced or diverted elsewhere; closing its channel");
                        s.leg.undivert(s.generation);
                        let closed = ChannelClosed {
                            not_found: false,
                            reason: "the agent's leg closed or was replaced".into(),
                        };
                        batch.push(item(channel, agent_trunk_down_item::Msg::Closed(closed)));
                    }
                }
            }
            _ = batch.timer.as_mut(), if batch.flush_at.is_some() => {}
            _ = down.closed() => break,
        }
        if batch.ready() {
            let items = batch.take();
            match down.try_send(Ok(AgentTrunkDown { items })) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    crate::metrics::events::relay_batch_dropped("down")
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
    }
    for s in served.into_values() {
        s.leg.undivert(s.generation);
    }
    debug!("agent trunk from a peer ended");
}

/// Opens one channel: the agent's leg here, diverted to the trunk.
fn open_leg(
    shared: &Shared,
    open: &OpenAgentLeg,
    channel: u32,
    packets: &mpsc::Sender<(u32, InboundPacket, Vec<i16>)>,
) -> Result<(Served, AgentLegOpened), ChannelClosed> {
    let refuse = |not_found, reason: String| ChannelClosed { not_found, reason };
    let agent =
        crate::validate::id("open.agent_id", &open.agent_id).map_err(|e| refuse(false, e.to_string()))?;
    crate::validate::id("open.call_id", &open.call_id).map_err(|e| refuse(false, e.to_string()))?;
    let agent = AgentId::new(agent);
    let leg = shared
        .agent_leg(&agent)
        .ok_or_else(|| refuse(true, format!("no audio leg of agent {agent} on this node")))?;
    let generation = leg
        .divert_to_trunk(channel, packets.clone())
        .ok_or_else(|| refuse(false, "leg lock poisoned".into()))?;
    let opened = AgentLegOpened {
        sample_rate: leg.rate.hz(),
        codec: leg.codec.clone(),
        transport: leg.kind.label().into(),
    };
    Ok((
        Served {
            agent,
            leg,
            generation,
        },
        opened,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_wall_clocks_20_ms_grid() {
        let now = Instant::now();
        let wall = std::time::SystemTime::now();
        let tick = aligned_tick(now);
        assert!(tick > now && tick <= now + TICK);
        let at = wall + tick.duration_since(now);
        let micros = at
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_micros();
        // Within the time between the two readings of the clocks.
        let off = (micros % 20_000).min(20_000 - micros % 20_000);
        assert!(off < 2_000, "{off} µs off the grid");
    }

    #[tokio::test]
    async fn the_agents_packets_leave_just_before_the_calls_tick() {
        let mut drain = drain_clock();
        let at = drain.tick().await;
        let now = Instant::now();
        // When it was due, against the grid (however late this test ran).
        let lead = (aligned_tick(now).duration_since(now) + now.duration_since(at)).as_micros() % 20_000;
        let off = lead.abs_diff(DRAIN_LEAD.as_micros());
        assert!(off < 1_500, "due {lead} µs before the tick");
    }

    #[tokio::test]
    async fn a_batch_is_due_one_window_after_its_first_item() {
        let mut batch = Batch::new();
        assert!(batch.flush_at.is_none());
        let t0 = Instant::now();
        batch.push(1);
        let first_due = batch.flush_at;
        batch.push(2);
        assert_eq!(batch.flush_at, first_due, "later items do not put it off");
        batch.timer.as_mut().await;
        assert!(batch.ready());
        assert!(Instant::now().duration_since(t0) >= FLUSH_WINDOW);
        assert_eq!(batch.take(), vec![1, 2]);
        assert!(batch.flush_at.is_none());
    }
}
