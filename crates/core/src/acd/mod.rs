//! The skill-based ACD: a deterministic, sans-IO state machine.
//!
//! No tokio, no clock reads, no randomness: every `handle_*` input carries the
//! current [`Timestamp`](crate::time::Timestamp); outputs are plain
//! [`Event`]s returned by `poll_event`, and `poll_timeout` says when the driver
//! must call `handle_timeout`. The same inputs always give the same outputs,
//! which is what makes routing explainable and testable faster than real time.
//!
//! Ordering rule: a waiting call's rank is its enqueue time minus its tier's
//! head start (see [`TierPriority`]). Free agents take the best-ranked call they
//! qualify for; arriving calls take the best free agent by the queue's
//! [`Strategy`]. Requirements relax with the wait in the current queue.

pub mod event;
pub mod model;
pub mod router;
pub mod settings;

pub use event::Event;
pub use model::*;
pub use router::{
    AgentLogin, AgentWork, IncomingCall, QueueCounters, QueuePosition, QueueView, RouteError, Router,
    TransferTarget,
};
pub use settings::{
    NoAgentsPolicy, QueueSettings, RelaxationStep, RouterConfig, Strategy, TierPriority, WhenClosed,
};
