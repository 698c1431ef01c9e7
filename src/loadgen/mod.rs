//! `hotline loadgen`: load generators whose figures go in the issue notes.
//! - `claims`: atomic agent claims per second a store takes.
//! - `routing`: calls per second the routing engine carries through a
//!   store, every change recorded before it is acknowledged.
//! - `calls`: concurrent bridged, recorded WebRTC calls a server carries,
//!   with its CPU per call-second, packet loss and recording bandwidth.
//! - `sip`: phone-network calls at a rate through the SIP trunk, answered by
//!   agents' registered SIP phones (sipp on both sides), with failed calls,
//!   CPU per call-second and recording bandwidth.
//! - `catalog`: the admin catalog at a directory's size (import time and
//!   memory, look-up p99, a change's spread to another node).
//! - `revocation`: the time "sign out everywhere" takes to reach another
//!   node.

pub mod calls;
pub mod catalog;
pub mod claims;
pub mod revocation;
pub mod routing;
pub mod sip;

pub use claims::{claims, ClaimReport};
