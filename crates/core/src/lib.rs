//! hotline's domain core: every decision the call center makes, and none of
//! the I/O. The crate depends on no async runtime, gRPC, Redis, WAV or
//! WebRTC crate, so the compiler keeps it deterministic: it never reads a
//! clock, opens a socket or draws unseeded randomness. The server's engine
//! task (`hotline::engine`) is its one driver.
//!
//! # The contract
//!
//! Each state machine here ([`acd::Router`], [`callback::CallbackTracker`],
//! and the [`desk::CallbackDesk`] over both) is driven the way quinn-proto
//! drives a connection:
//!
//! - **Inputs** are method calls (`handle_*`), each given the time `now`
//!   that the driver read from its clock. An input that cannot apply returns
//!   an error and changes nothing.
//! - **Outputs** are plain data the driver takes with `poll_event` until it
//!   returns `None`: records to store and events to tell, oldest first.
//!   Nothing is carried out by the core itself.
//! - **Timers**: `poll_timeout` says when `handle_timeout` must next be
//!   called; calling it late is harmless (everything due fires, in order),
//!   calling it early does nothing.
//!
//! The driver's polling order, after every input and every timeout: drain
//! the router's events, then the tracker's (a router event may create
//! tracker work and back), until both are empty; store what they produced;
//! then sleep until the earliest `poll_timeout`.
//!
//! # Time
//!
//! [`time::Timestamp`] is wall-clock milliseconds since the Unix epoch.
//! Everything recorded, shown or compared across nodes uses it: enqueue and
//! answer times, callback deadlines, wrap-up and presence expiries (they
//! survive a failover to another node, whose monotonic clock is unrelated).
//!
//! [`time::Monotonic`] is the driver's clock that is never stepped. An
//! offer's ring timeout runs on it (so does the SIP core's T1, in
//! `hotline-sip`): stepping the wall clock neither cuts a ringing offer
//! short nor leaves it ringing. Inputs take `impl Into<Now>`, both readings
//! at once; a bare `Timestamp` converts with equal readings, which is what
//! a simulated clock in a test wants. Every core keeps its timers in one
//! [`time::TimerQueue`] type.
//!
//! # Modules
//!
//! - [`ids`], [`time`], [`error`]: newtype ids, protocol time, the domain error.
//! - [`acd`]: the skill-based router (queues, tiers, relaxation, offers).
//! - [`callback`]: the 4-hour callback promise (calendar, deadline tracker).
//! - [`case`]: complaints, repair requests and inquiries, judged, owned and
//!   followed up until the customer is satisfied.
//! - [`desk`]: callbacks as routed work, between the router and the tracker.
//! - [`fcr`], [`quality`], [`report`], [`staffing`]: first-call resolution,
//!   grading and surveys, report figures, agents' time in state.
//! - [`recording`]: recording and monitoring records.
//! - [`command`], [`idempotency`]: what handlers ask of the engine, and the
//!   replies kept so a retried request has no second effect.
//! - [`agent_event`]: what the engine tells agents' devices.
//! - [`catalog`]: what operators change live (agents, skills, queues,
//!   entry points, reason codes, categories, customers), with revisions.

pub mod acd;
pub mod agent_event;
pub mod callback;
pub mod case;
pub mod catalog;
pub mod command;
pub mod desk;
pub mod error;
pub mod fcr;
pub mod hours;
pub mod idempotency;
pub mod ids;
pub mod quality;
pub mod recording;
pub mod report;
pub mod staffing;
pub mod time;
pub mod workforce;

pub use error::Error;
