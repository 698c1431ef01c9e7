//! What an agent's devices are told, in the order it happened: the
//! engine's output to an agent's event streams, in domain terms. Each edge
//! turns it into its own form (the gRPC API's `AgentEvent`, a SIP phone
//! ringing, the cluster's wire between nodes).
//!
//! Invariants: `sequence` counts the events of one stream from 1 with no
//! gap (a client that sees a gap lost its stream and reconnects); `at` is
//! the routing node's wall clock when the change was recorded.

use crate::acd::{AgentRecord, CallRecord, ContactRecord, Disposition, RescindReason};
use crate::ids::CallId;
use crate::time::Timestamp;

/// One event on an agent's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentEvent {
    pub sequence: u64,
    pub at: Timestamp,
    pub kind: AgentEventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEventKind {
    /// The agent's state changed (the first event of every stream is the
    /// agent's state then).
    StateChanged(AgentRecord),
    /// A call rings at the agent until `expires_at`, with the customer's
    /// latest contacts (newest first; empty when they could not be read).
    CallOffered {
        call: CallRecord,
        expires_at: Timestamp,
        previous_contacts: Vec<ContactRecord>,
    },
    /// The offer of `call` was withdrawn.
    OfferRescinded { call: CallId, reason: RescindReason },
    /// The agent is talking with the caller.
    CallConnected(CallRecord),
    /// The agent's call ended.
    CallEnded(CallRecord),
    /// After-call work began; it ends by itself at `deadline`.
    WrapUpStarted { call: CallId, deadline: Timestamp },
    /// After-call work ended, with the call's outcome if the agent gave one.
    WrapUpEnded {
        call: CallId,
        disposition: Option<Disposition>,
    },
}
