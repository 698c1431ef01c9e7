//! Open client streams: one event stream per agent, any number of watchers
//! per call. Sends never block the engine: a stream whose buffer is full is
//! closed (the client reconnects and starts from the current state) rather
//! than stalling routing for everyone.
//!
//! An offer shows the customer's recent contacts. The engine never waits
//! for that read: the offer leaves it naming whose history it wants, and
//! the agent's stream reads it from the store on its own task before it
//! hands the offer on (in order: later events wait behind it).

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;

use tokio::sync::mpsc;
use tracing::warn;

use crate::acd::{AgentRecord, AgentWork, CallRecord, CallStatus, ContactRecord, RescindReason};
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::store::Store;
use crate::time::Timestamp;
use hotline_core::agent_event::{AgentEvent, AgentEventKind as Ev};

/// Events buffered per stream before it counts as stalled.
const STREAM_BUFFER: usize = 256;

/// Contacts an offer shows, newest first.
const HISTORY: usize = 5;

/// How long an offer waits for the customer's history before it rings
/// without it (the history is a courtesy; the ring is not).
const HISTORY_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// An event on its way to an agent's stream: for an offer, whose contacts
/// to show with it.
struct Outgoing {
    event: AgentEvent,
    history_of: Option<String>,
}

/// An agent's event stream as served to the client. Dropping it (the client
/// went away, or the stream ended) tells the engine, without keeping the
/// channel open the way a second sender would.
pub struct AgentEventStream {
    inner: std::pin::Pin<Box<dyn futures::Stream<Item = Result<AgentEvent, Error>> + Send>>,
    _closed: tokio::sync::oneshot::Sender<()>,
}

impl futures::Stream for AgentEventStream {
    type Item = Result<AgentEvent, Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Adds the customer's recent contacts to an offer that asks for them.
async fn with_history(store: Option<Arc<dyn Store>>, out: Outgoing) -> Result<AgentEvent, Error> {
    let mut event = out.event;
    let (Some(store), Some(key)) = (store, out.history_of) else {
        return Ok(event);
    };
    if let Ev::CallOffered {
        call,
        previous_contacts,
        ..
    } = &mut event.kind
    {
        let why = match tokio::time::timeout(HISTORY_WAIT, store.contacts_of(&key, HISTORY)).await {
            Ok(Ok(contacts)) => {
                *previous_contacts = contacts;
                return Ok(event);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("the store took over {HISTORY_WAIT:?}"),
        };
        warn!(call = %call.id, %why, "an offer rings without the customer's history");
        crate::metrics::events::offer_history_missing();
    }
    Ok(event)
}

/// A call watch: the record now, then each change until it ends.
pub type CallRx = mpsc::Receiver<CallRecord>;

struct AgentStream {
    tx: mpsc::Sender<Outgoing>,
    /// Sequence number of the last event sent on this stream.
    seq: u64,
}

/// Which of an agent's devices a stream feeds: the agent's client (desktop
/// or web app) and a registered SIP phone each hold one, and a new stream
/// replaces only the old one of the same device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Device {
    Client,
    Phone,
}

#[derive(Default)]
pub struct Subscribers {
    agents: HashMap<(AgentId, Device), AgentStream>,
    calls: HashMap<CallId, Vec<mpsc::Sender<CallRecord>>>,
    /// Where agents' streams read customers' histories (none: offers
    /// show none).
    store: Option<Arc<dyn Store>>,
    /// The callback dialler port: accepted callbacks' customers are dialled
    /// through it (none: agents dial them by hand).
    dialer: Option<crate::dialer::Dialer>,
}

impl Subscribers {
    pub fn new(store: Arc<dyn Store>, dialer: Option<crate::dialer::Dialer>) -> Self {
        Subscribers {
            store: Some(store),
            dialer,
            ..Subscribers::default()
        }
    }

    /// An agent accepted a callback's work item (and the store holds it):
    /// the dialler calls the customer. A dial that cannot be queued leaves
    /// the agent to dial by hand, which is logged and counted.
    pub fn callback_work_accepted(&mut self, work: crate::dialer::CallbackDial) {
        let Some(dialer) = &self.dialer else { return };
        let (call, agent) = (work.call.clone(), work.agent.clone());
        if let Err(e) = dialer.dial(work) {
            warn!(call = %call, agent = %agent, error = %e, "callback not dialled; the agent dials by hand");
            crate::metrics::events::callback_dial_refused();
        }
    }

    /// Opens the agent's event stream, replacing (and so ending) any previous
    /// one, and sends the agent's current state first. The future resolves
    /// when the client side of this stream is gone.
    pub fn subscribe_agent(
        &mut self,
        now: Timestamp,
        agent: &AgentRecord,
        device: Device,
    ) -> (
        AgentEventStream,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        self.agents
            .insert((agent.id.clone(), device), AgentStream { tx, seq: 0 });
        self.send_to(now, &agent.id, device, state_changed(agent), None);
        let store = self.store.clone();
        let inner =
            tokio_stream::wrappers::ReceiverStream::new(rx).then(move |out| with_history(store.clone(), out));
        let stream = AgentEventStream {
            inner: Box::pin(inner),
            _closed: closed_tx,
        };
        (stream, async move {
            let _ = closed_rx.await;
        })
    }

    /// Whether the agent has an open event stream.
    pub fn agent_connected(&self, agent: &AgentId) -> bool {
        [Device::Client, Device::Phone].iter().any(|d| {
            self.agents
                .get(&(agent.clone(), *d))
                .is_some_and(|s| !s.tx.is_closed())
        })
    }

    /// Watches a call: its current record now, then every change until it ends.
    pub fn watch_call(&mut self, call: &CallRecord) -> CallRx {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let _ = tx.try_send(call.clone());
        if call.status != CallStatus::Ended {
            self.calls.entry(call.id.clone()).or_default().push(tx);
        }
        rx
    }

    pub fn call_changed(&mut self, call: &CallRecord) {
        let ended = call.status == CallStatus::Ended;
        let Some(sinks) = self.calls.get_mut(&call.id) else {
            return;
        };
        sinks.retain(|tx| tx.try_send(call.clone()).is_ok());
        if ended || sinks.is_empty() {
            self.calls.remove(&call.id);
        }
    }

    pub fn agent_state_changed(&mut self, now: Timestamp, agent: &AgentRecord) {
        self.send(now, &agent.id, state_changed(agent));
    }

    pub fn call_offered(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        call: &CallRecord,
        expires_at: Timestamp,
        history_of: Option<String>,
    ) {
        let event = Ev::CallOffered {
            call: call.clone(),
            expires_at,
            previous_contacts: Vec::new(),
        };
        self.send_to(now, agent, Device::Client, event.clone(), history_of.clone());
        self.send_to(now, agent, Device::Phone, event, history_of);
    }

    pub fn offer_rescinded(&mut self, now: Timestamp, agent: &AgentId, call: &CallId, reason: RescindReason) {
        self.send(
            now,
            agent,
            Ev::OfferRescinded {
                call: call.clone(),
                reason,
            },
        );
    }

    /// Shows a softphone that just connected what its agent holds: the offer
    /// ringing (with what is left of its ring), the call, or the wrap-up.
    /// Only to that device: the others were shown it when it happened.
    pub fn resend_work(&mut self, now: Timestamp, agent: &AgentId, device: Device, work: &AgentWork) {
        let event = match work {
            AgentWork::Offered { call, expires_at } => {
                let event = Ev::CallOffered {
                    call: call.clone(),
                    expires_at: *expires_at,
                    previous_contacts: Vec::new(),
                };
                // With the customer's history, as on the first showing.
                self.send_to(now, agent, device, event, Some(history_key(call)));
                return;
            }
            AgentWork::Connected { call } => Ev::CallConnected(call.clone()),
            AgentWork::WrappingUp { call, deadline } => Ev::WrapUpStarted {
                call: call.clone(),
                deadline: *deadline,
            },
        };
        self.send_to(now, agent, device, event, None);
    }

    pub fn call_connected(&mut self, now: Timestamp, agent: &AgentId, call: &CallRecord) {
        self.send(now, agent, Ev::CallConnected(call.clone()));
    }

    pub fn call_ended(&mut self, now: Timestamp, agent: &AgentId, call: &CallRecord) {
        self.send(now, agent, Ev::CallEnded(call.clone()));
    }

    pub fn wrap_up_started(&mut self, now: Timestamp, agent: &AgentId, call: &CallId, deadline: Timestamp) {
        self.send(
            now,
            agent,
            Ev::WrapUpStarted {
                call: call.clone(),
                deadline,
            },
        );
    }

    pub fn wrap_up_ended(&mut self, now: Timestamp, agent: &AgentId, contact: &ContactRecord) {
        self.send(
            now,
            agent,
            Ev::WrapUpEnded {
                call: contact.call.clone(),
                disposition: contact.disposition,
            },
        );
    }

    /// Sends to every device of the agent.
    fn send(&mut self, now: Timestamp, agent: &AgentId, event: Ev) {
        self.send_to(now, agent, Device::Client, event.clone(), None);
        self.send_to(now, agent, Device::Phone, event, None);
    }

    fn send_to(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        device: Device,
        event: Ev,
        history_of: Option<String>,
    ) {
        let key = (agent.clone(), device);
        let Some(stream) = self.agents.get_mut(&key) else {
            return;
        };
        stream.seq += 1;
        let event = AgentEvent {
            sequence: stream.seq,
            at: now,
            kind: event,
        };
        if let Err(e) = stream.tx.try_send(Outgoing { event, history_of }) {
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                warn!(agent = %agent, ?device, "agent event stream stalled; closing it");
            }
            self.agents.remove(&key);
        }
    }
}

/// Whose contacts an offer of `call` shows: the customer's, else the
/// caller number's (as contacts are keyed).
pub(super) fn history_key(call: &CallRecord) -> String {
    call.customer
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_else(|| call.ani.clone())
}

fn state_changed(agent: &AgentRecord) -> Ev {
    Ev::StateChanged(agent.clone())
}
