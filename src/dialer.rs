//! The callback dialler port: when an agent accepts a callback's work item,
//! the customer is called for them. The API asks through a [`Dialer`]; the
//! SIP gateway (`sip::dialer`) is the adapter that places the call. The
//! port lives apart from both so neither edge depends on the other.

use tokio::sync::mpsc;

use crate::error::Error;
use crate::ids::{AgentId, CallId};

/// Dial requests queued for the gateway before `dial` says unavailable.
const QUEUE: usize = 256;

/// A callback to dial for the agent who accepted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackDial {
    /// The callback's work item (the call the agent accepted).
    pub call: CallId,
    pub callback: String,
    pub agent: AgentId,
    /// The customer's number.
    pub number: String,
}

/// The API's way to ask the gateway to dial (cheap to clone).
#[derive(Clone, Debug)]
pub struct Dialer {
    tx: mpsc::Sender<CallbackDial>,
}

impl Dialer {
    pub fn channel() -> (Dialer, mpsc::Receiver<CallbackDial>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Dialer { tx }, rx)
    }

    /// Queues a dial; UNAVAILABLE when the gateway is gone or saturated
    /// (the agent dials by hand).
    pub fn dial(&self, d: CallbackDial) -> Result<(), Error> {
        self.tx
            .try_send(d)
            .map_err(|e| Error::Unavailable(format!("the SIP gateway cannot dial now: {e}")))
    }
}
