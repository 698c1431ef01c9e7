//! The media sockets' metrics: datagrams and the system calls that moved
//! them (their ratio is the batching), and datagrams dropped, by a reason
//! from a fixed list. Labels are bounded: a transport and a reason.

use metrics::{counter, describe_counter};

/// What a WebRTC media shard did with datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebRtcShardEvent {
    /// One `recvmmsg` returned this many.
    BatchReceived { datagrams: usize },
    /// One batch of this many went out (`sendmmsg`).
    BatchSent { datagrams: usize },
    /// From a source no connection knows, and not an ICE check naming one.
    UnknownDropped { datagrams: usize },
    /// The kernel would not take them (a full send buffer, an unreachable
    /// peer) or they named an address we do not have.
    SendFailed { datagrams: usize },
}

const TRANSPORT: &str = "webrtc";

impl WebRtcShardEvent {
    pub fn emit(self) {
        match self {
            WebRtcShardEvent::BatchReceived { datagrams } => {
                counter!("hotline_media_recv_calls_total", "transport" => TRANSPORT).increment(1);
                counter!("hotline_media_datagrams_received_total", "transport" => TRANSPORT)
                    .increment(datagrams as u64);
            }
            WebRtcShardEvent::BatchSent { datagrams } => {
                counter!("hotline_media_send_calls_total", "transport" => TRANSPORT).increment(1);
                counter!("hotline_media_datagrams_sent_total", "transport" => TRANSPORT)
                    .increment(datagrams as u64);
            }
            WebRtcShardEvent::UnknownDropped { datagrams } => {
                counter!("hotline_media_datagrams_dropped_total", "transport" => TRANSPORT, "reason" => "unknown_source")
                    .increment(datagrams as u64);
            }
            WebRtcShardEvent::SendFailed { datagrams } => {
                counter!("hotline_media_datagrams_dropped_total", "transport" => TRANSPORT, "reason" => "send_failed")
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
        "Batches of media datagrams sent (sendmmsg: up to 32 per system call), by transport."
    );
    describe_counter!(
        "hotline_media_datagrams_sent_total",
        "Media datagrams sent, by transport."
    );
    describe_counter!(
        "hotline_media_datagrams_dropped_total",
        "Media datagrams dropped, by transport and reason: unknown_source (no connection knows the sender and it is not an ICE check naming one), send_failed (the kernel would not take it now, or the peer is unreachable)."
    );
}

pub fn initialise() {
    for reason in ["unknown_source", "send_failed"] {
        counter!("hotline_media_datagrams_dropped_total", "transport" => TRANSPORT, "reason" => reason)
            .absolute(0);
    }
    for name in [
        "hotline_media_recv_calls_total",
        "hotline_media_datagrams_received_total",
        "hotline_media_send_calls_total",
        "hotline_media_datagrams_sent_total",
    ] {
        counter!(name, "transport" => TRANSPORT).absolute(0);
    }
}
