//! Phone-network calls over a SIP trunk.
//!
//! The protocol itself lives in the `hotline-sip` crate (`crates/sip`), a
//! sans-IO core with no sockets, clock or media stack, so it builds and
//! fuzzes on its own; it is re-exported here under its usual names:
//!
//! - [`message`]: SIP messages parsed by `rsip`, reduced to what a
//!   user-agent acts on; responses and our requests written back;
//! - [`sdp`]: the audio of an offer (G.711, telephone-event) and our answer;
//! - [`trunk`]: the user-agent server and client and the registrar as one
//!   sans-IO state machine (transactions, retransmissions, dialogs);
//! - [`guard`]: allow-lists, per-source rate limits and call caps;
//! - [`digest`]: digest authentication of trunks and agents' phones;
//! - [`framing`]: SIP messages cut from a TCP or TLS stream;
//! - [`sdes`]: SRTP keys in the SDP (RFC 4568);
//! - [`transport`]: UDP, TCP or TLS as Via and Contact name them.
//!
//! The adapters are this module's own:
//!
//! - [`gateway`]: the UDP socket and the TCP and TLS listeners, the clock, and the one
//!   task that drives the trunk core;
//! - `inbound`: each trunk call's task, which queues the call through the
//!   same `CallService` the gRPC edge uses (as a telephony principal) and
//!   carries its audio on an RTP leg of the node's media plane, so a phone
//!   caller is bridged, recorded and monitored exactly like a web caller;
//! - [`dialer`]: callbacks dialled through the trunk when an agent accepts
//!   one, bridged to the agent;
//! - `phone`: agents' registered SIP phones, rung for their offers.

pub use hotline_sip::{digest, framing, guard, message, sdes, sdp, transport, trunk};

mod caller_line;
pub mod dialer;
pub mod gateway;
mod inbound;
mod phone;
pub mod prompts;
