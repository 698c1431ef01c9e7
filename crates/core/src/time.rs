//! Protocol time: [`Timestamp`], milliseconds since the Unix epoch, carried
//! into every sans-IO core by its driver. It lives in the `hotline-time`
//! crate (`crates/time`) so the SIP core, a crate of its own, shares it.

pub use hotline_time::{duration_ms, Deadlines, Monotonic, MonotonicClock, Now, TimerQueue, Timestamp};
