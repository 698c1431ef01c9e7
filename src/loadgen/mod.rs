//! `hotline loadgen`: load generators whose figures go in the issue notes.
//! - `claims`: atomic agent claims per second a store takes.
//! - `calls`: concurrent bridged, recorded WebRTC calls a server carries,
//!   with its CPU per call-second, packet loss and recording bandwidth.

pub mod calls;
pub mod claims;

pub use claims::{claims, ClaimReport};
