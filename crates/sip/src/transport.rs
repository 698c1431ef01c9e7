//! The transport a SIP message came on, and how our messages name it: in
//! the Via of requests we send, and in our Contact, so a peer sends its
//! in-dialog requests (ACK, BYE, INFO) back over the same transport and to
//! the listener that serves it (RFC 3261 18, 19.1.1; TLS on its own port,
//! RFC 5630 would have `sips:`, which a trunk's `transport=tls` does
//! without).

use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The Via header's transport token.
    pub fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Keys in SDP (SDES) may travel on it: only TLS hides them (RFC 4568
    /// 8.3).
    pub fn is_secure(self) -> bool {
        self == Transport::Tls
    }

    /// Our Contact URI on this transport, at `local` (the listener serving
    /// it).
    pub fn contact(self, local: SocketAddr) -> String {
        match self {
            Transport::Udp => format!("sip:hotline@{local}"),
            Transport::Tcp => format!("sip:hotline@{local};transport=tcp"),
            Transport::Tls => format!("sip:hotline@{local};transport=tls"),
        }
    }
}
