//! The answering side of a browser's WebRTC connection, lean: ICE-lite
//! (RFC 8445 2.5), DTLS-SRTP (RFC 5763, 5764) and SRTP in place, with no
//! handler pipeline between a datagram and its audio. Sans-IO: datagrams
//! and the time go in, datagrams and decrypted media come out.
//!
//! Why not rtc's full peer connection: every packet through it passes
//! eight handlers and as many queues, half of hotline's CPU at 300 calls. A
//! media server answering browsers needs none of a full agent's
//! negotiation, only what those RFCs ask of a lite endpoint (as Janus and
//! mediasoup do). rtc's own parts do the protocol work here: its STUN
//! messages, DTLS endpoint and SRTP contexts.
//!
//! Invariants: see [`transport`]; an offer is refused with the missing
//! part named, never half answered ([`answer`]).

pub mod answer;
mod identity;
pub mod transport;

pub use answer::{host_candidate, Direction, Offer};
pub use identity::Identity;
pub use rtc::rtp::header::Header as RtpHeader;
pub use transport::{Datagram, Received, Rtp, State, Transport, SILENCE_FAILS};

/// What can go wrong answering or carrying a connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The offer is unusable (the message names what is missing).
    #[error("{0}")]
    Sdp(String),
    /// Certificates, DTLS, sockets.
    #[error("media transport: {0}")]
    Transport(String),
    /// An SRTP packet failed authentication or replayed an old one.
    #[error("SRTP: {0}")]
    Srtp(String),
    /// Media before the handshake finished.
    #[error("not connected yet")]
    NotConnected,
}
