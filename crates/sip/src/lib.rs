//! hotline's SIP core, sans-IO in the style of str0m and quinn-proto:
//! datagrams and decisions go in with the time, datagrams to send and
//! events come out, timers are polled. No sockets, no clock, no async
//! runtime, no unseeded randomness; the adapters (UDP/TCP, RTP, the ACD)
//! are in the `hotline` crate's `sip` module.
//!
//! Invariant for every module: input from the network (any bytes) yields a
//! typed error or a refusal on the wire, never a panic; the fuzz target in
//! `fuzz/fuzz_targets/sip.rs` holds this crate to it.
//!
//! - [`message`]: SIP messages parsed by `rsip`, reduced to what a user-agent
//!   acts on; responses and our requests written back;
//! - [`sdp`]: the audio of an offer (G.711, telephone-event) and our answer;
//! - [`sdes`]: SRTP keys exchanged in the SDP (RFC 4568), taken over TLS only;
//! - [`transport`]: UDP, TCP or TLS, as Via and Contact name them;
//! - [`codec`]: G.711 itself;
//! - [`trunk`]: the user-agent server and client and the registrar;
//! - [`guard`]: allow-lists, per-source rate limits, per-trunk call caps;
//! - [`digest`]: digest authentication (RFC 2617 / 8760 MD5, qop=auth);
//! - [`framing`]: SIP messages cut from a TCP stream.

pub mod codec;
pub mod digest;
pub mod framing;
pub mod guard;
pub mod message;
pub mod sdes;
pub mod sdp;
pub mod transport;
pub mod trunk;
