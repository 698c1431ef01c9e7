//! Workforce: how many agents a queue needs.
//!
//! - `erlang` and `abandon`: Erlang B, C and A, the outlook for a number
//!   of agents and the fewest meeting a target;
//! - `intervals`: what each queue was offered per interval, from the call
//!   records;
//! - `forecast`: the coming intervals from the same interval on earlier
//!   days and weeks, and how well that did against the naive forecast;
//! - `plan`: an interval's requirement and the outlook for the agents on
//!   duty;
//! - `synthetic`: a history with a daily peak, to check the forecast on.
//!
//! All pure: records and time come in, figures go out.

pub mod abandon;
pub mod erlang;
pub mod forecast;
pub mod intervals;
pub mod plan;
pub mod synthetic;

#[cfg(test)]
mod tests;
