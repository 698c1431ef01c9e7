//! The 4-hour callback promise: callbacks with deadlines, warned before,
//! breached at, counted met or missed (DOMAIN.md). The core here is sans-IO
//! ([`tracker::CallbackTracker`], [`calendar::BusinessHours`]); routing,
//! storage and the API build on it.

pub mod calendar;
pub mod tracker;

pub use calendar::BusinessHours;
pub use tracker::{
    Attempt, AttemptOutcome, CallbackCounters, CallbackDetails, CallbackError, CallbackEvent, CallbackOrigin,
    CallbackRecord, CallbackStatus, CallbackTracker, TrackerSettings,
};
