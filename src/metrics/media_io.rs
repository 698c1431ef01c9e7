//! The media sockets' metrics: datagrams and the system calls that moved
//! them (their ratio is the batching), and datagrams dropped, by a reason
//! from a fixed list. Labels are bounded: a transport and a reason.

use metrics::{counter, describe_counter};

/// Which media a shard carries: the metrics' bounded `transport` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaTransport {
    WebRtc,
    Rtp,
}

impl MediaTransport {
    const ALL: [MediaTransport; 2] = [MediaTransport::WebRtc, MediaTransport::Rtp];

    fn label(self) -> &'static str {
        match self {
            MediaTransport::WebRtc => "webrtc",
            MediaTransport::Rtp => "rtp",
        }
    }
}

/// What a media shard did with datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// `calls` reads (`recvmmsg`, or one datagram each) took `datagrams`.
    Received { calls: usize, datagrams: usize },
    /// `calls` sends (`sendmmsg`, or one datagram each) took `datagrams`.
    Sent { calls: usize, datagrams: usize },
    /// From a source no connection knows, and not an ICE check naming one.
    UnknownDropped { datagrams: usize },
    /// The kernel would not take them (a full send buffer, an unreachable
    /// peer) or they named an address we do not have.
    SendFailed { datagrams: usize },
}

impl SocketEvent {
    pub fn emit(self, transport: MediaTransport) {
        let t = transport.label();
        match self {
            SocketEvent::Received { calls, datagrams } => {
                counter!("hotline_media_recv_calls_total", "transport" => t).increment(calls as u64);
                counter!("hotline_media_datagrams_received_total", "transport" => t)
                    .increment(datagrams as u64);
            }
            SocketEvent::Sent { calls, datagrams } => {
                counter!("hotline_media_send_calls_total", "transport" => t).increment(calls as u64);
                counter!("hotline_media_datagrams_sent_total", "transport" => t).increment(datagrams as u64);
            }
            SocketEvent::UnknownDropped { datagrams } => {
                counter!("hotline_media_datagrams_dropped_total", "transport" => t, "reason" => "unknown_source")
                    .increment(datagrams as u64);
            }
            SocketEvent::SendFailed { datagrams } => {
                counter!("hotline_media_datagrams_dropped_total", "transport" => t, "reason" => "send_failed")
                    .increment(datagrams as u64);
            }
        }
    }
}

pub fn describe() {
    describe_counter!(
        "hotline_media_recv_calls_total",
        "System calls that read media datagrams (recvmmsg: up to 32 each), by transport."
    );
    describe_counter!(
        "hotline_media_datagrams_received_total",
        "Media datagrams read, by transport; divided by hotline_media_recv_calls_total, the batching."
    );
    describe_counter!(
        "hotline_media_send_calls_total",
        "Batches of media datagrams sent (sendmmsg: up to 32 per system call; RTP: one, each call has its own port), by transport."
    );
    describe_counter!(
        "hotline_media_datagrams_sent_total",
        "Media datagrams sent, by transport."
    );
    describe_counter!(
        "hotline_media_datagrams_dropped_total",
        "Media datagrams dropped, by transport and reason: unknown_source (no connection knows the sender and it is not an ICE check naming one; for RTP, not the leg's peer), send_failed (the kernel would not take it now, or the peer is unreachable)."
    );
}

pub fn initialise() {
    for t in MediaTransport::ALL.map(MediaTransport::label) {
        for reason in ["unknown_source", "send_failed"] {
            counter!("hotline_media_datagrams_dropped_total", "transport" => t, "reason" => reason)
                .absolute(0);
        }
        for name in [
            "hotline_media_recv_calls_total",
            "hotline_media_datagrams_received_total",
            "hotline_media_send_calls_total",
            "hotline_media_datagrams_sent_total",
        ] {
            counter!(name, "transport" => t).absolute(0);
        }
    }
}
