//! The 4-hour callback promise: callbacks with deadlines, warned before,
//! breached at, counted met or missed (DOMAIN.md). The core here is sans-IO
//! ([`tracker::CallbackTracker`]; deadlines in open hours come from
//! [`crate::hours`]); routing,
//! storage and the API build on it.

pub mod tracker;

pub use tracker::{
    Attempt, AttemptOutcome, CallbackCounters, CallbackDetails, CallbackError, CallbackEvent, CallbackOrigin,
    CallbackRecord, CallbackStatus, CallbackTracker, TrackerSettings,
};
