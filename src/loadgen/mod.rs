//! `hotline loadgen`: load generators whose figures go in the issue notes.
//! - `claims`: atomic agent claims per second a store takes.
//! - `calls`: concurrent bridged, recorded WebRTC calls a server carries,
//!   with its CPU per call-second, packet loss and recording bandwidth.
//! - `sip`: phone-network calls at a rate through the SIP trunk, answered by
//!   agents' registered SIP phones (sipp on both sides), with failed calls,
//!   CPU per call-second and recording bandwidth.

pub mod calls;
pub mod claims;
pub mod sip;

pub use claims::{claims, ClaimReport};
