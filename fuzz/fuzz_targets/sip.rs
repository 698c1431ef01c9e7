//! What a SIP trunk sends: any datagram into the user-agent server (guard,
//! parser, SDP, dialogs), then its timers run. Nothing may panic, and a
//! call is only announced with a usable RTP address.
#![no_main]

use hotline::sip::guard::{Guard, Limits, Rate};
use hotline::sip::trunk::{TrunkCore, TrunkEvent, TrunkSettings};
use hotline::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let any = Rate {
        per_second: 1e9,
        burst: 1e9,
    };
    let guard = Guard::new(
        Vec::new(),
        Limits {
            invite: any,
            register: any,
            options: any,
            other: any,
        },
    );
    let mut core = TrunkCore::new(
        TrunkSettings {
            local: "192.0.2.1:5060".parse().unwrap(),
            seed: 1,
        },
        guard,
    );
    let from = "192.0.2.9:5060".parse().unwrap();
    let t0 = Timestamp(1_000_000);
    // The same bytes twice: the second time they are a retransmission (or
    // an in-dialog request).
    core.handle_datagram(t0, from, data);
    core.handle_datagram(t0, from, data);
    core.handle_timeout(Timestamp(1_000_000 + 64_000));
    while core.poll_transmit().is_some() {}
    while let Some(event) = core.poll_event() {
        if let TrunkEvent::Incoming { offer, .. } = event {
            assert_ne!(offer.remote.port(), 0);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hotline::sip::sdp::parse_offer(text);
    }
});
