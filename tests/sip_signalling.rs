//! The trunk's SIP user-agent server as a state machine, on a simulated
//! clock: what it answers, what it retransmits and when it gives up, and
//! that no input makes it panic.

use std::net::SocketAddr;
use std::time::Duration;

use hotline::sip::guard::{Guard, Network, Trunk};
use hotline::sip::trunk::{
    Dial, Refusal, Registrar, SipCallKey, TrunkCore, TrunkEvent, TrunkStats, MIN_EXPIRES, T1, T2,
};
use proptest::prelude::*;

mod sip_core;
use sip_core::*;

fn incoming(core: &mut TrunkCore, call_id: &str) -> SipCallKey {
    core.handle_datagram(T0, trunk(), invite(call_id, "z9hG4bK-a", SDP).as_bytes());
    let out = sent(core);
    assert_eq!(status(&out[0]), "SIP/2.0 100 Trying");
    match events(core).as_slice() {
        [TrunkEvent::Incoming {
            key,
            from_number,
            to_number,
            offer,
            ..
        }] => {
            assert_eq!(from_number, "+8613800000001");
            assert_eq!(to_number, "800100");
            assert_eq!(offer.remote, "192.0.2.9:40000".parse::<SocketAddr>().unwrap());
            assert_eq!(offer.telephone_event, Some(101));
            key.clone()
        }
        other => panic!("one incoming call, got {other:?}"),
    }
}

#[test]
fn a_queued_call_rings_with_early_media_and_is_answered_until_acknowledged() {
    let mut core = core();
    let key = incoming(&mut core, "c1");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    let ringing = sent(&mut core);
    assert_eq!(status(&ringing[0]), "SIP/2.0 180 Ringing");
    assert!(
        ringing[0].contains("m=audio 30000 RTP/AVP 0 101"),
        "{}",
        ringing[0]
    );
    let tag = to_tag(&ringing[0]);
    // A retransmitted INVITE gets the 180 again, and no second call.
    core.handle_datagram(T0, trunk(), invite("c1", "z9hG4bK-a", SDP).as_bytes());
    assert_eq!(sent(&mut core), ringing);
    assert!(events(&mut core).is_empty());

    core.handle_answer(T0, &key);
    let ok = sent(&mut core);
    assert_eq!(status(&ok[0]), "SIP/2.0 200 OK");
    assert_eq!(to_tag(&ok[0]), tag, "one dialog, one tag");
    // 200 OK resent at T1, 2T1, 4T1, then every T2 until the ACK.
    let resent = run(&mut core, T0, T0.plus(Duration::from_millis(7_600)));
    let at: Vec<u64> = resent.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [500, 1500, 3500, 7500], "{resent:?}");
    core.handle_datagram(
        T0.plus(Duration::from_secs(8)),
        trunk(),
        request("ACK", "c1", "z9hG4bK-ack", 1, Some(&tag)).as_bytes(),
    );
    assert!(run(
        &mut core,
        T0.plus(Duration::from_secs(8)),
        T0.plus(Duration::from_secs(40))
    )
    .is_empty());

    // The caller hangs up.
    let now = T0.plus(Duration::from_secs(60));
    core.handle_datagram(
        now,
        trunk(),
        request("BYE", "c1", "z9hG4bK-b", 2, Some(&tag)).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 200 OK");
    assert_eq!(events(&mut core), [TrunkEvent::Ended { key: key.clone() }]);
    // A retransmitted BYE is still answered, and ends nothing twice.
    core.handle_datagram(
        now,
        trunk(),
        request("BYE", "c1", "z9hG4bK-b", 2, Some(&tag)).as_bytes(),
    );
    assert!(events(&mut core).is_empty());
    // Forgotten after 64*T1.
    run(&mut core, now, now.plus(T1 * 64));
    assert_eq!(core.calls(), 0);
}

#[test]
fn an_answer_never_acknowledged_ends_the_call_with_a_bye() {
    let mut core = core();
    let key = incoming(&mut core, "c2");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    core.handle_answer(T0, &key);
    sent(&mut core);
    let out = run(&mut core, T0, T0.plus(T1 * 64 + Duration::from_millis(10)));
    let last = &out.last().unwrap().1;
    assert!(last.starts_with("BYE sip:gw@192.0.2.9:5060 SIP/2.0"), "{last}");
    assert_eq!(events(&mut core), [TrunkEvent::Ended { key }]);
    // The BYE is resent until answered, no longer than 64*T1.
    let byes = run(&mut core, T0.plus(T1 * 64), T0.plus(T1 * 200));
    assert!(!byes.is_empty() && byes.iter().all(|(_, m)| m.starts_with("BYE ")));
    assert!(byes.iter().all(|(t, _)| *t <= (T1 * 64).as_millis() as u64 + 10));
    assert!(byes.windows(2).all(|w| w[1].0 - w[0].0 <= T2.as_millis() as u64));
}

#[test]
fn a_cancel_before_the_answer_is_an_abandon_and_the_invite_ends_487() {
    let mut core = core();
    let key = incoming(&mut core, "c3");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    sent(&mut core);
    core.handle_datagram(
        T0,
        trunk(),
        request("CANCEL", "c3", "z9hG4bK-a", 1, None).as_bytes(),
    );
    let out = sent(&mut core);
    assert_eq!(
        out.iter().map(|m| status(m)).collect::<Vec<_>>(),
        ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    );
    assert_eq!(events(&mut core), [TrunkEvent::Cancelled { key: key.clone() }]);
    // Answering now is too late: nothing is sent.
    core.handle_answer(T0, &key);
    assert!(sent(&mut core).is_empty());
    // The 487 is resent until its ACK.
    let resent = run(&mut core, T0, T0.plus(Duration::from_millis(600)));
    assert_eq!(resent.len(), 1);
    core.handle_datagram(T0, trunk(), request("ACK", "c3", "z9hG4bK-a", 1, None).as_bytes());
    assert!(run(
        &mut core,
        T0.plus(Duration::from_secs(1)),
        T0.plus(Duration::from_secs(10))
    )
    .is_empty());
}

#[test]
fn we_hang_up_with_a_bye_after_the_answer_and_480_before_it() {
    let mut core = core();
    let key = incoming(&mut core, "c4");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    core.handle_answer(T0, &key);
    let tag = to_tag(&sent(&mut core)[1]);
    core.handle_datagram(
        T0,
        trunk(),
        request("ACK", "c4", "z9hG4bK-x", 1, Some(&tag)).as_bytes(),
    );
    core.handle_hangup(T0, &key);
    let bye = sent(&mut core);
    assert!(bye[0].starts_with("BYE "), "{}", bye[0]);
    assert!(bye[0].contains(&format!(";tag={tag}")), "{}", bye[0]);
    assert!(events(&mut core).is_empty(), "we decided it: no event back");
    // The far end answers the BYE: no more retransmissions.
    let branch = bye[0]
        .lines()
        .find(|l| l.starts_with("Via:"))
        .and_then(|l| l.split("branch=").nth(1))
        .map(|b| b.split(';').next().unwrap().trim().to_string())
        .unwrap();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\nFrom: <sip:800100@192.0.2.1>;tag={tag}\r\nTo: <sip:+8613800000001@192.0.2.9>;tag=t1\r\nCall-ID: c4\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    core.handle_datagram(T0, trunk(), ok.as_bytes());
    assert!(run(&mut core, T0, T0.plus(Duration::from_secs(5))).is_empty());

    let key = incoming(&mut core, "c5");
    core.handle_hangup(T0, &key);
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 480 Temporarily Unavailable");
}

#[test]
fn refusals_options_and_strangers_get_the_right_answers() {
    let mut core = core();
    let key = incoming(&mut core, "c6");
    core.handle_reject(T0, &key, Refusal::UnknownNumber);
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 404 Not Found");
    assert!(events(&mut core).is_empty());

    core.handle_datagram(
        T0,
        trunk(),
        request("OPTIONS", "o1", "z9hG4bK-o", 1, None).as_bytes(),
    );
    let options = sent(&mut core);
    assert_eq!(status(&options[0]), "SIP/2.0 200 OK");
    assert!(options[0].contains("Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"));

    core.handle_datagram(
        T0,
        trunk(),
        request("BYE", "nobody", "z9hG4bK-n", 2, Some("x")).as_bytes(),
    );
    assert_eq!(
        status(&sent(&mut core)[0]),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
    core.handle_datagram(
        T0,
        trunk(),
        request("SUBSCRIBE", "s1", "z9hG4bK-s", 1, None).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 405 Method Not Allowed");
    // An ACK for nothing is absorbed silently.
    core.handle_datagram(
        T0,
        trunk(),
        request("ACK", "nobody", "z9hG4bK-q", 1, None).as_bytes(),
    );
    assert!(sent(&mut core).is_empty());
}

#[test]
fn bad_offers_and_broken_requests_are_refused_not_queued() {
    let mut core = core();
    let g729 = SDP
        .replace("RTP/AVP 0 101", "RTP/AVP 18")
        .replace("a=rtpmap:0 PCMU/8000\r\n", "");
    core.handle_datagram(T0, trunk(), invite("b1", "z9hG4bK-1", &g729).as_bytes());
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    core.handle_datagram(
        T0,
        trunk(),
        invite("b2", "z9hG4bK-2", "v=0\r\ngarbage").as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 400 Bad Request");
    let huge_ptime = SDP.to_string() + "a=ptime:4294967296000\r\n";
    core.handle_datagram(T0, trunk(), invite("b3", "z9hG4bK-3", &huge_ptime).as_bytes());
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 488 Not Acceptable Here");
    let broken = invite("b4", "z9hG4bK-4", SDP).replace("CSeq: 1 INVITE", "CSeq: x INVITE");
    core.handle_datagram(T0, trunk(), broken.as_bytes());
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 400 Bad Request");
    assert!(events(&mut core).is_empty(), "nothing was queued");
}

fn info(call_id: &str, to_tag: &str, kind: &str, body: &str) -> String {
    format!(
        "INFO sip:hotline@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-i{}\r\nFrom: <sip:+8613800000001@192.0.2.9>;tag=t1\r\nTo: <sip:800100@192.0.2.1>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: 5 INFO\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len(),
        body.len()
    )
}

#[test]
fn keys_sent_by_sip_info_reach_the_call_and_strangers_get_481() {
    let mut core = core();
    let key = incoming(&mut core, "k1");
    core.handle_accept(T0, &key, "192.0.2.1:30000".parse().unwrap(), None);
    let tag = to_tag(&sent(&mut core)[0]);
    for (kind, body, pressed) in [
        ("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'),
        ("application/dtmf-relay", "Signal= *\r\n", '*'),
        ("application/dtmf", "#", '#'),
    ] {
        core.handle_datagram(T0, trunk(), info("k1", &tag, kind, body).as_bytes());
        assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 200 OK");
        assert_eq!(
            events(&mut core),
            [TrunkEvent::Key {
                key: key.clone(),
                pressed
            }]
        );
    }
    // Not a key: answered, nothing pressed.
    core.handle_datagram(
        T0,
        trunk(),
        info("k1", &tag, "application/dtmf-relay", "Signal=55").as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 200 OK");
    assert!(events(&mut core).is_empty());
    core.handle_datagram(
        T0,
        trunk(),
        info("nobody", "x", "application/dtmf", "1").as_bytes(),
    );
    assert_eq!(
        status(&sent(&mut core)[0]),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );
}

#[test]
fn only_trunks_are_answered_within_their_rate_and_call_cap() {
    let carrier = Trunk {
        name: "carrier".into(),
        sources: vec![Network::parse("192.0.2.0/24").unwrap()],
        max_calls: 2,
        credentials: None,
    };
    let mut core = core_with(Guard::new(vec![carrier], limits(5.0, 5.0)));
    // A stranger gets no answer at all, whatever it dials.
    let stranger: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    for n in 0..3 {
        core.handle_datagram(
            T0,
            stranger,
            invite(&format!("s{n}"), "z9hG4bK-s", SDP).as_bytes(),
        );
    }
    core.handle_datagram(
        T0,
        stranger,
        request("OPTIONS", "so", "z9hG4bK-o", 1, None).as_bytes(),
    );
    assert!(core.poll_transmit().is_none() && events(&mut core).is_empty());
    // The carrier: two calls, then 503 for the third (its cap).
    for n in 0..3 {
        core.handle_datagram(
            T0,
            trunk(),
            invite(&format!("c{n}"), &format!("z9hG4bK-{n}"), SDP).as_bytes(),
        );
    }
    let answers: Vec<String> = sent(&mut core).iter().map(|m| status(m).to_string()).collect();
    assert_eq!(
        answers,
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 100 Trying",
            "SIP/2.0 503 Service Unavailable"
        ]
    );
    assert_eq!(events(&mut core).len(), 2);
    // Beyond its INVITE rate (a burst of 5 was allowed), requests are dropped.
    for n in 3..10 {
        core.handle_datagram(
            T0,
            trunk(),
            invite(&format!("c{n}"), &format!("z9hG4bK-{n}"), SDP).as_bytes(),
        );
    }
    let stats = core.take_stats();
    assert_eq!(
        stats,
        TrunkStats {
            unknown_source: 4,
            rate_limited: 5,
            over_capacity: 3,
            malformed: 0,
            unauthenticated: 0,
            sdes_not_over_tls: 0,
            srtp_required: 0,
        }
    );
}

#[test]
fn a_trunk_with_credentials_is_challenged_and_its_digest_admits_the_call() {
    let carrier = Trunk {
        name: "carrier".into(),
        sources: vec![Network::parse("192.0.2.0/24").unwrap()],
        max_calls: 0,
        credentials: Some(("carrier".into(), "s3cret".into())),
    };
    let mut core = core_with(Guard::new(vec![carrier], limits(100.0, 100.0)));
    core.handle_datagram(T0, trunk(), invite("d1", "z9hG4bK-d1", SDP).as_bytes());
    let challenge = sent(&mut core).remove(0);
    assert_eq!(status(&challenge), "SIP/2.0 401 Unauthorized");
    assert!(events(&mut core).is_empty(), "nothing queued without credentials");
    let www = challenge
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .unwrap();
    let with = |password: &str| {
        let auth =
            hotline::sip::digest::respond(www, "INVITE", "sip:800100@192.0.2.1", "carrier", password, "c1")
                .unwrap();
        invite("d1", "z9hG4bK-d2", SDP).replacen(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\nAuthorization: {auth}\r\n"),
            1,
        )
    };
    core.handle_datagram(T0, trunk(), with("guess").as_bytes());
    assert_eq!(
        status(&sent(&mut core)[0]),
        "SIP/2.0 401 Unauthorized",
        "a wrong password is challenged again"
    );
    core.handle_datagram(T0, trunk(), with("s3cret").as_bytes());
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 100 Trying");
    assert!(matches!(
        events(&mut core).as_slice(),
        [TrunkEvent::Incoming { .. }]
    ));
    assert_eq!(core.take_stats().unauthenticated, 2);
}

/// A call placed to the trunk: the INVITE we sent.
fn dial(core: &mut TrunkCore) -> (SipCallKey, String) {
    let key = core.handle_dial(
        T0,
        Dial {
            target: format!("sip:+15550100@{TRUNK}"),
            next_hop: trunk(),
            from_user: "+15559999".into(),
            display: None,
            local_rtp: "192.0.2.1:30000".parse().unwrap(),
        },
    );
    let out = sent(core);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].starts_with(&format!("INVITE sip:+15550100@{TRUNK} SIP/2.0\r\n")),
        "{}",
        out[0]
    );
    assert!(out[0].contains("m=audio 30000 RTP/AVP 0 8 101"), "{}", out[0]);
    (key, out[0].clone())
}

/// The far end's response to our `invite`.
fn response_to(invite: &str, code: u16, reason: &str, to_tag: Option<&str>, body: &str) -> String {
    let header = |name: &str| invite.lines().find(|l| l.starts_with(name)).unwrap().to_string();
    let to = match to_tag {
        Some(t) => format!("{};tag={t}", header("To:")),
        None => header("To:"),
    };
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".into()
    };
    format!(
        "SIP/2.0 {code} {reason}\r\n{}\r\n{}\r\n{to}\r\n{}\r\n{}\r\nContact: <sip:callee@{TRUNK}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        header("Via:"),
        header("From:"),
        header("Call-ID:"),
        header("CSeq:"),
        body.len()
    )
}

#[test]
fn a_placed_call_is_acknowledged_when_answered_and_hung_up_with_a_bye() {
    let mut core = core();
    let (key, invite) = dial(&mut core);
    // Unanswered, the INVITE is resent from T1.
    let resent = run(&mut core, T0, T0.plus(T1));
    assert_eq!(resent.len(), 1);
    assert!(resent[0].1.starts_with("INVITE "));
    core.handle_datagram(
        T0,
        trunk(),
        response_to(&invite, 180, "Ringing", Some("c1"), "").as_bytes(),
    );
    assert!(
        run(&mut core, T0.plus(T1), T0.plus(T1 * 8)).is_empty(),
        "a provisional stops the resending"
    );
    let ok = response_to(&invite, 200, "OK", Some("c1"), SDP);
    core.handle_datagram(T0, trunk(), ok.as_bytes());
    let ack = sent(&mut core);
    assert!(
        ack[0].starts_with(&format!("ACK sip:callee@{TRUNK} SIP/2.0")),
        "{ack:?}"
    );
    assert!(ack[0].contains(";tag=c1"), "the ACK is in the dialog: {}", ack[0]);
    match events(&mut core).as_slice() {
        [TrunkEvent::DialAnswered { key: k, answer }] => {
            assert_eq!(k, &key);
            assert_eq!(answer.remote, "192.0.2.9:40000".parse::<SocketAddr>().unwrap());
        }
        other => panic!("answered once, got {other:?}"),
    }
    // A retransmitted 200 gets the same ACK again, and no second event.
    core.handle_datagram(T0, trunk(), ok.as_bytes());
    assert_eq!(sent(&mut core), ack);
    assert!(events(&mut core).is_empty());
    core.handle_hangup(T0, &key);
    let bye = sent(&mut core);
    assert!(
        bye[0].starts_with(&format!("BYE sip:callee@{TRUNK} SIP/2.0")),
        "{bye:?}"
    );
    assert!(events(&mut core).is_empty(), "we hung up: nothing to tell");
}

#[test]
fn a_placed_call_refused_or_unanswered_fails_once_and_the_refusal_is_acknowledged() {
    let mut core = core();
    let (key, invite) = dial(&mut core);
    core.handle_datagram(
        T0,
        trunk(),
        response_to(&invite, 486, "Busy Here", Some("c2"), "").as_bytes(),
    );
    let ack = sent(&mut core);
    assert!(ack[0].starts_with("ACK sip:+15550100@"), "{ack:?}");
    let branch = |m: &str| m.lines().find(|l| l.starts_with("Via:")).unwrap().to_string();
    assert_eq!(
        branch(&ack[0]),
        branch(&invite),
        "a final error's ACK is on the INVITE's branch"
    );
    assert_eq!(events(&mut core), vec![TrunkEvent::DialFailed { key, code: 486 }]);
    // Nobody answers at all: 408 after 64*T1.
    let (key, _) = dial(&mut core);
    run(&mut core, T0, T0.plus(T1 * 64));
    assert_eq!(events(&mut core), vec![TrunkEvent::DialFailed { key, code: 408 }]);
}

#[test]
fn hanging_up_a_ringing_placed_call_cancels_it_after_a_provisional_and_ends_a_crossing_answer() {
    let mut core = core();
    let (key, invite) = dial(&mut core);
    // Hung up before any response: the CANCEL waits for a provisional.
    core.handle_hangup(T0, &key);
    assert!(sent(&mut core).is_empty());
    core.handle_datagram(
        T0,
        trunk(),
        response_to(&invite, 180, "Ringing", Some("c3"), "").as_bytes(),
    );
    let cancel = sent(&mut core);
    assert!(cancel[0].starts_with("CANCEL sip:+15550100@"), "{cancel:?}");
    assert!(cancel[0].contains("CSeq: 1 CANCEL"));
    // The callee answered as our CANCEL crossed: ACK, then BYE.
    core.handle_datagram(
        T0,
        trunk(),
        response_to(&invite, 200, "OK", Some("c3"), SDP).as_bytes(),
    );
    let out = sent(&mut core);
    assert!(out[0].starts_with("ACK "), "{out:?}");
    assert!(out[1].starts_with("BYE "), "{out:?}");
    assert!(
        events(&mut core).is_empty(),
        "the adapter hung up: it hears nothing more"
    );
}

#[test]
fn the_far_end_of_a_placed_call_hangs_up_with_a_bye() {
    let mut core = core();
    let (key, invite) = dial(&mut core);
    core.handle_datagram(
        T0,
        trunk(),
        response_to(&invite, 200, "OK", Some("c4"), SDP).as_bytes(),
    );
    sent(&mut core);
    events(&mut core);
    let call_id = &key.0;
    let our_tag = invite
        .lines()
        .find(|l| l.starts_with("From:"))
        .unwrap()
        .split(";tag=")
        .nth(1)
        .unwrap()
        .to_string();
    core.handle_datagram(
        T0,
        trunk(),
        request("BYE", call_id, "z9hG4bK-b4", 2, Some(&our_tag)).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 200 OK");
    assert_eq!(events(&mut core), vec![TrunkEvent::Ended { key }]);
}

fn register(user: &str, expires: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bK-r{expires}\r\nFrom: <sip:{user}@192.0.2.1>;tag=r1\r\nTo: <sip:{user}@192.0.2.1>\r\nCall-ID: reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{TRUNK}>\r\nExpires: {expires}\r\n{auth}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn an_agent_phone_registers_with_its_password_and_its_registration_lapses() {
    let accounts = [("dave".to_string(), "pw".to_string())].into_iter().collect();
    // Trunks are listed and the phone is not one: REGISTER is still heard.
    let carrier = Trunk {
        name: "carrier".into(),
        sources: vec![Network::parse("198.51.100.0/24").unwrap()],
        max_calls: 0,
        credentials: None,
    };
    let mut core =
        core_with(Guard::new(vec![carrier], limits(100.0, 100.0))).with_registrar(Registrar::new(accounts));
    core.handle_datagram(T0, trunk(), register("dave", 60, None).as_bytes());
    let challenge = sent(&mut core).remove(0);
    assert_eq!(status(&challenge), "SIP/2.0 401 Unauthorized");
    let www = challenge
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .unwrap()
        .to_string();
    let auth = |user: &str, pw: &str| {
        hotline::sip::digest::respond(&www, "REGISTER", "sip:192.0.2.1", user, pw, "c").unwrap()
    };
    // A wrong password and an unknown agent get the same refusal.
    core.handle_datagram(
        T0,
        trunk(),
        register("dave", 60, Some(&auth("dave", "guess"))).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 403 Forbidden");
    core.handle_datagram(
        T0,
        trunk(),
        register("mallory", 60, Some(&auth("mallory", "pw"))).as_bytes(),
    );
    assert_eq!(status(&sent(&mut core)[0]), "SIP/2.0 403 Forbidden");
    assert!(core.phone_of("dave").is_none());

    core.handle_datagram(
        T0,
        trunk(),
        register("dave", 1, Some(&auth("dave", "pw"))).as_bytes(),
    );
    let ok = sent(&mut core).remove(0);
    assert_eq!(status(&ok), "SIP/2.0 200 OK");
    assert!(
        ok.contains(&format!("expires={MIN_EXPIRES}")),
        "too short is lengthened: {ok}"
    );
    assert!(matches!(
        events(&mut core).as_slice(),
        [TrunkEvent::PhoneRegistered { user, .. }] if user == "dave"
    ));
    assert_eq!(core.phone_of("dave").unwrap().source, trunk());
    // Not refreshed: gone when it lapses, announced once.
    let lapse = T0.plus(Duration::from_secs(u64::from(MIN_EXPIRES)));
    core.handle_timeout(lapse);
    assert_eq!(
        events(&mut core),
        vec![TrunkEvent::PhoneUnregistered { user: "dave".into() }]
    );
    assert!(core.phone_of("dave").is_none());
    core.handle_timeout(lapse.plus(Duration::from_secs(3600)));
    assert!(events(&mut core).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes never panic the core.
    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut core = core();
        core.handle_datagram(T0, trunk(), &bytes);
        while core.poll_transmit().is_some() {}
    }

    /// An INVITE damaged anywhere (a byte replaced, the message cut) is
    /// answered or dropped, never a panic, and never queues a malformed call.
    #[test]
    fn damaged_invites_never_panic(at in 0usize..1000, byte in any::<u8>(), cut in 0usize..1000) {
        let mut core = core();
        let mut msg = invite("p1", "z9hG4bK-p", SDP).into_bytes();
        let i = at % msg.len();
        msg[i] = byte;
        let cut = cut.min(msg.len());
        core.handle_datagram(T0, trunk(), &msg[..msg.len() - cut]);
        core.handle_timeout(T0.plus(Duration::from_secs(60)));
        for e in std::iter::from_fn(|| core.poll_event()) {
            if let TrunkEvent::Incoming { offer, .. } = e {
                prop_assert!(offer.remote.port() != 0);
            }
        }
    }
}
