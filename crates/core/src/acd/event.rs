//! What the routing core asks its driver to carry out, in past tense. Each
//! event carries a snapshot of the record it is about, so the driver can store
//! it and tell clients without reading the core again.

use super::model::{AgentRecord, CallRecord, ContactRecord, RescindReason};
use crate::ids::{AgentId, CallId, QueueName};
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Any change of an agent's state (including reasons and counters).
    AgentStateChanged { agent: AgentRecord },
    /// A call (or callback work item) arrived, before any entry check: the
    /// moment it counts as offered to its first queue.
    CallArrived { call: CallRecord },
    /// The call entered (or went back to) a queue's waiting order.
    CallQueued { call: CallRecord },
    /// The claim: the agent, now reserved, and the call offered to it; the
    /// softphone rings until `expires_at`. The one event of a reservation
    /// (no `AgentStateChanged` for it), so the driver records both records
    /// as one atomic write and tells them together.
    CallOffered {
        agent: AgentRecord,
        call: CallRecord,
        expires_at: Timestamp,
    },
    /// The offer ringing at `agent` is withdrawn.
    OfferRescinded {
        agent: AgentId,
        call: CallId,
        reason: RescindReason,
    },
    /// Caller and agent are connected.
    CallConnected { agent: AgentId, call: CallRecord },
    /// A connected call changed (hold, resume).
    CallUpdated { call: CallRecord },
    /// The connected agent handed the call on.
    CallTransferred { call: CallId, from_agent: AgentId },
    /// The agent's audio could not reach the call: the caller went back to
    /// the queue and the agent is not ready.
    AgentAudioFailed {
        agent: AgentId,
        call: CallId,
        reason: String,
    },
    /// The call left `from` for `to`.
    CallOverflowed {
        call: CallId,
        from: QueueName,
        to: QueueName,
        reason: String,
    },
    /// The call is over; its final record.
    CallEnded { call: CallRecord },
    /// The agent's after-call work started; it ends by itself at `deadline`.
    WrapUpStarted {
        agent: AgentId,
        call: CallId,
        deadline: Timestamp,
    },
    /// The agent finished after-call work; the handled contact.
    WrapUpEnded { agent: AgentId, contact: ContactRecord },
}
