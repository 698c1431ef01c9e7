//! SIP over TLS with SRTP (SDES) in the trunk's state machine: keys in SDP
//! are taken only over TLS, the answer carries our key and keeps the
//! dialog on TLS, a call that needs SRTP is never answered in the clear,
//! and `require_srtp` refuses plain calls.

use hotline::sip::guard::Guard;
use hotline::sip::sdes::{SrtpKey, SrtpSuite, KEY_LEN};
use hotline::sip::transport::Transport;
use hotline::sip::trunk::{SipCallKey, TrunkCore, TrunkEvent, TrunkSettings};

mod sip_core;
use sip_core::*;

/// A 30-byte key and salt, base64 (RFC 4568's example).
const THEIR_KEY: &str = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ";

fn savp(key: &str) -> String {
    SDP.replace("RTP/AVP", "RTP/SAVP") + &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n")
}

fn tls_invite(core: &mut TrunkCore, call_id: &str, body: &str) {
    let invite = invite(call_id, "z9hG4bK-s", body).replace("SIP/2.0/UDP", "SIP/2.0/TLS");
    core.handle_message(T0, trunk(), Transport::Tls, invite.as_bytes());
}

fn incoming_over_tls(core: &mut TrunkCore, call_id: &str) -> SipCallKey {
    tls_invite(core, call_id, &savp(THEIR_KEY));
    assert_eq!(status(&sent(core)[0]), "SIP/2.0 100 Trying");
    match events(core).as_slice() {
        [TrunkEvent::Incoming {
            key,
            transport,
            offer,
            ..
        }] => {
            assert_eq!(*transport, Transport::Tls);
            let theirs = offer.srtp.expect("an SRTP offer");
            assert_eq!(theirs.suite, SrtpSuite::AesCm128HmacSha1_80);
            key.clone()
        }
        other => panic!("one incoming call, got {other:?}"),
    }
}

const OURS: SrtpKey = SrtpKey([42; KEY_LEN]);

/// Our key as the answer's `inline:` carries it.
fn ours_base64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(OURS.0)
}

#[test]
fn an_srtp_offer_over_tls_is_answered_srtp_with_our_key_and_the_dialog_stays_on_tls() {
    let mut core = core();
    let key = incoming_over_tls(&mut core, "s1");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), Some(OURS));
    core.handle_answer(T0, &key);
    let out = sent(&mut core);
    assert_eq!(status(&out[0]), "SIP/2.0 180 Ringing");
    assert_eq!(status(&out[1]), "SIP/2.0 200 OK");
    for msg in &out {
        assert!(msg.contains("m=audio 30000 RTP/SAVP 0 101"), "{msg}");
        assert!(
            msg.contains(&format!(
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}",
                ours_base64()
            )),
            "{msg}"
        );
        assert!(!msg.contains(THEIR_KEY), "their key is never sent back: {msg}");
        assert!(
            msg.contains("Contact: <sip:hotline@192.0.2.1:5061;transport=tls>"),
            "in-dialog requests come back over TLS: {msg}"
        );
    }
    let tag = to_tag(&out[1]);
    core.handle_message(
        T0,
        trunk(),
        Transport::Tls,
        request("ACK", "s1", "z9hG4bK-x", 1, Some(&tag)).as_bytes(),
    );
    core.handle_hangup(T0, &key);
    let bye = sent(&mut core);
    assert!(bye[0].starts_with("BYE "), "{}", bye[0]);
    assert!(
        bye[0].contains("Via: SIP/2.0/TLS 192.0.2.1:5061;"),
        "our BYE names TLS: {}",
        bye[0]
    );
}

#[test]
fn an_srtp_offer_over_udp_or_tcp_is_refused_because_its_keys_were_readable() {
    let mut core = core();
    core.handle_datagram(
        T0,
        trunk(),
        invite("s2", "z9hG4bK-u", &savp(THEIR_KEY)).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    core.handle_message(
        T0,
        trunk(),
        Transport::Tcp,
        invite("s3", "z9hG4bK-t", &savp(THEIR_KEY)).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    assert!(events(&mut core).is_empty(), "no call was queued");
    assert_eq!(core.take_stats().sdes_not_over_tls, 2);
}

#[test]
fn an_srtp_call_accepted_without_our_key_is_refused_never_answered_in_the_clear() {
    let mut core = core();
    let key = incoming_over_tls(&mut core, "s4");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    let out = sent(&mut core);
    assert_eq!(status(&out[0]), "SIP/2.0 500 Server Internal Error");
    assert!(!out[0].contains("m=audio"), "{}", out[0]);
    assert_eq!(events(&mut core), [TrunkEvent::Ended { key: key.clone() }]);
    core.handle_answer(T0, &key);
    assert!(sent(&mut core).is_empty());
}

#[test]
fn with_srtp_required_a_plain_call_is_refused_even_over_tls() {
    let mut core = TrunkCore::new(
        TrunkSettings {
            local: "192.0.2.1:5060".parse().unwrap(),
            tls_local: Some("192.0.2.1:5061".parse().unwrap()),
            require_srtp: true,
            seed: 7,
        },
        Guard::new(Vec::new(), limits(10_000.0, 10_000.0)),
    );
    tls_invite(&mut core, "s5", SDP);
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    assert_eq!(core.take_stats().srtp_required, 1);
    incoming_over_tls(&mut core, "s6");
}

#[test]
fn a_reinvite_keeps_the_calls_keys_or_is_refused() {
    let mut core = core();
    let key = incoming_over_tls(&mut core, "s7");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), Some(OURS));
    core.handle_answer(T0, &key);
    let tag = to_tag(&sent(&mut core)[1]);
    let reinvite = |body: &str, branch: &str| {
        invite("s7", branch, body)
            .replace("SIP/2.0/UDP", "SIP/2.0/TLS")
            .replace(
                "To: <sip:800100@192.0.2.1>",
                &format!("To: <sip:800100@192.0.2.1>;tag={tag}"),
            )
            .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
    };
    let hold = savp(THEIR_KEY) + "a=sendonly\r\n";
    core.handle_message(
        T0,
        trunk(),
        Transport::Tls,
        reinvite(&hold, "z9hG4bK-h").as_bytes(),
    );
    let ok = sent(&mut core);
    assert_eq!(status(&ok[0]), "SIP/2.0 200 OK");
    assert!(ok[0].contains(&format!("inline:{}", ours_base64())), "{}", ok[0]);
    assert!(ok[0].contains("a=recvonly"), "{}", ok[0]);

    let rekeyed = savp("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    core.handle_message(
        T0,
        trunk(),
        Transport::Tls,
        reinvite(&rekeyed, "z9hG4bK-k").as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    core.handle_message(T0, trunk(), Transport::Tls, reinvite(SDP, "z9hG4bK-p").as_bytes());
    assert_eq!(
        status(&sent(&mut core)[0]),
        "SIP/2.0 488 Not Acceptable Here",
        "no falling back to plain RTP mid-call"
    );
}
