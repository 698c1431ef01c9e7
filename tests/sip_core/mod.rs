//! The trunk core on a simulated clock, shared by the sans-IO SIP tests:
//! a core with generous limits, requests from one trunk, and what the core
//! sends back as text.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use hotline::sip::guard::{Guard, Limits, Rate};
use hotline::sip::trunk::{TrunkCore, TrunkEvent, TrunkSettings};
use hotline::time::Monotonic;

pub const TRUNK: &str = "192.0.2.9:5060";

pub fn limits(invites_per_sec: f64, burst: f64) -> Limits {
    let generous = Rate {
        per_second: 10_000.0,
        burst: 10_000.0,
    };
    Limits {
        invite: Rate {
            per_second: invites_per_sec,
            burst,
        },
        register: generous,
        options: generous,
        other: generous,
    }
}

pub fn core_with(guard: Guard) -> TrunkCore {
    TrunkCore::new(
        TrunkSettings {
            local: "192.0.2.1:5060".parse().unwrap(),
            tls_local: Some("192.0.2.1:5061".parse().unwrap()),
            require_srtp: false,
            seed: 7,
        },
        guard,
    )
}

/// Any source, generous limits.
pub fn core() -> TrunkCore {
    core_with(Guard::new(Vec::new(), limits(10_000.0, 10_000.0)))
}

pub fn trunk() -> SocketAddr {
    TRUNK.parse().unwrap()
}

pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

pub fn invite(call_id: &str, branch: &str, body: &str) -> String {
    format!(
        "INVITE sip:800100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\nFrom: <sip:+8613800000001@192.0.2.9>;tag=t1\r\nTo: <sip:800100@192.0.2.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:gw@{TRUNK}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

pub fn request(method: &str, call_id: &str, branch: &str, cseq: u32, to_tag: Option<&str>) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:hotline@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch={branch}\r\nFrom: <sip:+8613800000001@192.0.2.9>;tag=t1\r\nTo: <sip:800100@192.0.2.1>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Every datagram the core wants sent, as text.
pub fn sent(core: &mut TrunkCore) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(t) = core.poll_transmit() {
        assert_eq!(t.to, trunk(), "answers go back where requests came from");
        out.push(String::from_utf8(t.bytes).unwrap());
    }
    out
}

pub fn status(msg: &str) -> &str {
    msg.split("\r\n").next().unwrap()
}

pub fn events(core: &mut TrunkCore) -> Vec<TrunkEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

pub fn to_tag(msg: &str) -> String {
    let to = msg.lines().find(|l| l.starts_with("To:")).unwrap();
    to.split(";tag=").nth(1).unwrap().trim().to_string()
}

/// Runs the core's timers from `from` to `to` in 10 ms steps.
pub fn run(core: &mut TrunkCore, from: Monotonic, to: Monotonic) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut now = from;
    while now <= to {
        if core.poll_timeout().is_some_and(|at| at <= now) {
            core.handle_timeout(now);
            for m in sent(core) {
                out.push((now.since(from).as_millis() as u64, m));
            }
        }
        now = now.plus(Duration::from_millis(10));
    }
    out
}

pub const T0: Monotonic = Monotonic(1_000_000);
