//! Phone-network calls over a SIP trunk.
//!
//! - [`message`]: SIP messages parsed by `rsip`, reduced to what a
//!   user-agent server acts on; responses and our requests written back;
//! - [`sdp`]: the audio of a trunk's offer (G.711, telephone-event) and our
//!   answer;
//! - [`trunk`]: the user-agent server as a sans-IO state machine
//!   (transactions, retransmissions, dialogs);
//! - [`framing`]: SIP messages cut from a TCP stream;
//! - [`gateway`]: the adapter: the UDP socket and TCP listener, the clock, and each trunk
//!   call's task, which queues the call through the same `CallService` the
//!   gRPC edge uses (as a telephony principal) and carries its audio on an
//!   RTP leg of the node's media plane, so a phone caller is bridged,
//!   recorded and monitored exactly like a web caller;
//! - [`dialer`]: callbacks dialled through the trunk when an agent accepts
//!   one, bridged to the agent;
//! - `phone`: agents' registered SIP phones, rung for their offers.

pub mod dialer;
pub mod digest;
pub mod framing;
pub mod gateway;
pub mod guard;
pub mod message;
mod phone;
pub mod prompts;
pub mod sdp;
pub mod trunk;
