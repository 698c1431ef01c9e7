//! The callback dialler port: when an agent accepts a callback's work item,
//! the customer is called for them. The engine hands the core's output
//! ([`CallbackDial`], the desk's `CallbackWorkAccepted`) to a [`Dialer`]
//! once the store holds the accept; the SIP gateway (`sip::dialer`) is the
//! adapter that places the call. In a cluster the routing node's gateway
//! dials, whichever node the agent accepted through.

use tokio::sync::mpsc;

use crate::error::Error;

/// Dial requests queued for the gateway before `dial` says unavailable.
const QUEUE: usize = 256;

/// A callback to dial for the agent who accepted it.
pub use hotline_core::desk::CallbackWorkAccepted as CallbackDial;

/// The engine's way to ask the gateway to dial (cheap to clone).
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
