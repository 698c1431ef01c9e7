//! What the network sends the SIP core: any datagram into the trunk's
//! state machine (guard, parser, SDP, dialogs, the registrar, and the
//! responses to a call we placed), over UDP and then over TLS (where SRTP
//! offers are taken), then its timers run. Nothing may panic, a call is
//! only announced with a usable RTP address, and SRTP only over TLS.
#![no_main]

use hotline_sip::guard::{Guard, Limits, Rate};
use hotline_sip::transport::Transport;
use hotline_sip::trunk::{Dial, Registrar, TrunkCore, TrunkEvent, TrunkSettings};
use hotline_time::Monotonic;
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
            tls_local: Some("192.0.2.1:5061".parse().unwrap()),
            require_srtp: false,
            seed: 1,
        },
        guard,
    )
    .with_registrar(Registrar::new(
        [("dave".to_string(), "dave-phone-pw".to_string())].into(),
    ));
    let from = "192.0.2.9:5060".parse().unwrap();
    let t0 = Monotonic(1_000_000);
    // A call of ours in progress to the same peer, so the bytes may be a
    // response to it (its Call-ID follows from the seed).
    core.handle_dial(
        t0,
        Dial {
            target: "sip:+15550100@192.0.2.9".to_string(),
            next_hop: from,
            from_user: "hotline".to_string(),
            display: None,
            local_rtp: "192.0.2.1:40000".parse().unwrap(),
        },
    );
    while core.poll_transmit().is_some() {}
    // The same bytes twice: the second time they are a retransmission (or
    // an in-dialog request).
    core.handle_datagram(t0, from, data);
    core.handle_datagram(t0, from, data);
    let over_tls = "192.0.2.9:40001".parse().unwrap();
    core.handle_message(t0, over_tls, Transport::Tls, data);
    core.handle_timeout(Monotonic(1_000_000 + 64_000));
    while core.poll_transmit().is_some() {}
    while let Some(event) = core.poll_event() {
        if let TrunkEvent::Incoming { offer, transport, .. } = event {
            assert_ne!(offer.remote.port(), 0);
            assert!(offer.srtp.is_none() || transport == Transport::Tls);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hotline_sip::sdp::parse_offer(text);
    }
});
