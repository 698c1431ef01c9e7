//! Bad media signalling gets a clear status and never a panic: malformed
//! SDP, offers with no common codec, candidates for unknown sessions,
//! monitoring what does not exist or without the role. The server keeps
//! serving (and keeps carrying audio) throughout.

mod common;

use common::media::AudioRig;
use hotline::auth::Role;
use hotline::client::softphone::silence;
use hotline::media::webrtc::{check_offer, AudioCodec};
use hotline::proto;
use tonic::Code;

/// A browser-like audio offer carrying only `codec` (rtpmap line).
fn offer_with(pt: u8, rtpmap: &str) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
         a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
         a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
         a=setup:actpass\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:{pt} {rtpmap}\r\n"
    )
}

fn candidate(c: &str) -> Option<proto::IceCandidate> {
    Some(proto::IceCandidate {
        candidate: c.into(),
        sdp_mid: "0".into(),
        sdp_mline_index: 0,
        username_fragment: String::new(),
    })
}

fn expect(err: tonic::Status, code: Code, needle: &str) {
    assert_eq!(err.code(), code, "{}", err.message());
    assert!(
        err.message().contains(needle),
        "{:?} should mention {needle:?}",
        err.message()
    );
}

#[test]
fn offers_are_checked_before_any_connection_is_made() {
    assert_eq!(
        check_offer(&offer_with(0, "PCMU/8000")).unwrap(),
        AudioCodec::Pcmu
    );
    assert_eq!(
        check_offer(&offer_with(96, "pcmu/8000")).unwrap(),
        AudioCodec::Pcmu,
        "codec names are case-insensitive"
    );
    assert_eq!(
        check_offer(&offer_with(111, "opus/48000/2")).unwrap(),
        AudioCodec::Opus
    );
    let both = offer_with(0, "PCMU/8000")
        .replace("SAVPF 0", "SAVPF 0 111")
        .replace(
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:111 opus/48000/2",
        );
    assert_eq!(
        check_offer(&both).unwrap(),
        AudioCodec::Opus,
        "wideband preferred"
    );
    let e = check_offer(&offer_with(9, "G722/8000")).unwrap_err();
    assert!(e.to_string().contains("no common audio codec"), "{e}");
    assert!(e.to_string().contains("G722/8000"), "names what was offered: {e}");
    for bad in [
        "",
        "hello",
        "v=0\r\nm=audio",
        "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n",
    ] {
        assert!(check_offer(bad).is_err(), "{bad:?} is refused");
    }
    let video_only = offer_with(0, "PCMU/8000").replace("m=audio", "m=video");
    assert!(check_offer(&video_only)
        .unwrap_err()
        .to_string()
        .contains("audio"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signalling_gets_clear_status_codes() {
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let mut edge = s.edge();
    let call = s.start_call("+600", "100").await;

    let offer = |sdp: &str| Some(proto::SessionOffer { sdp: sdp.to_string() });
    let caller_offer = |call_id: &str, sdp: &str| proto::CallerOffer {
        call_id: call_id.into(),
        offer: offer(sdp),
    };
    for (sdp, needle) in [
        ("", "offer.sdp"),
        ("this is not sdp", "offer.sdp"),
        (&offer_with(9, "G722/8000") as &str, "no common audio codec"),
        (&"v".repeat(70_000) as &str, "offer.sdp"),
    ] {
        let err = edge
            .call
            .connect_caller_media(caller_offer(&call.call_id, sdp))
            .await
            .unwrap_err();
        expect(err, Code::InvalidArgument, needle);
    }
    let err = edge
        .call
        .connect_caller_media(caller_offer("no-such-call", &offer_with(0, "PCMU/8000")))
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "no-such-call");

    let err = edge
        .call
        .add_caller_ice_candidate(proto::CallerIceCandidate {
            call_id: "no-such-call".into(),
            candidate: candidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"),
        })
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "no-such-call");
    let err = edge
        .call
        .add_caller_ice_candidate(proto::CallerIceCandidate {
            call_id: call.call_id.clone(),
            candidate: None,
        })
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "candidate");

    // A caller that did connect: garbage candidates are refused, the call goes on.
    let caller = rig.caller(&call.call_id, silence()).await;
    let err = edge
        .call
        .add_caller_ice_candidate(proto::CallerIceCandidate {
            call_id: call.call_id.clone(),
            candidate: candidate("candidate:garbage"),
        })
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "candidate");
    let err = edge
        .call
        .connect_caller_media(caller_offer(&call.call_id, &offer_with(0, "PCMU/8000")))
        .await
        .unwrap_err();
    expect(err, Code::FailedPrecondition, "already has caller media");

    // Softphones: only the agent itself, a real offer.
    let mut bob = s.clients(Role::Agent, "bob");
    let err = bob
        .agent
        .connect_softphone(proto::SoftphoneOffer {
            agent_id: "alice".into(),
            offer: offer(&offer_with(0, "PCMU/8000")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = bob
        .agent
        .connect_softphone(proto::SoftphoneOffer {
            agent_id: "bob".into(),
            offer: None,
        })
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "offer.sdp");
    let err = bob
        .agent
        .add_softphone_ice_candidate(proto::SoftphoneIceCandidate {
            agent_id: "bob".into(),
            candidate: candidate("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"),
        })
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "softphone");

    // Monitoring: a supervisor's job, on a call that exists and is connected.
    let monitor = |call_id: &str, mode: proto::MonitorMode| proto::MonitorRequest {
        call_id: call_id.into(),
        mode: mode as i32,
        offer: None,
    };
    let mut sup = s.supervisor();
    let err = sup
        .supervisor
        .monitor(monitor("no-such-call", proto::MonitorMode::Listen))
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "no-such-call");
    let err = sup
        .supervisor
        .monitor(monitor(&call.call_id, proto::MonitorMode::Listen))
        .await
        .unwrap_err();
    expect(err, Code::FailedPrecondition, "not connected");
    let err = sup
        .supervisor
        .monitor(monitor(&call.call_id, proto::MonitorMode::Unspecified))
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "mode");
    let err = sup
        .supervisor
        .monitor(monitor(&call.call_id, proto::MonitorMode::Whisper))
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "offer");
    let err = sup
        .supervisor
        .add_monitor_ice_candidate(proto::MonitorIceCandidate {
            session_id: "nope".into(),
            candidate: candidate("candidate:1 1 udp 1 127.0.0.1 5000 typ host"),
        })
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "nope");
    for role in [Role::Agent, Role::Telephony] {
        let mut c = s.clients(role, "alice");
        let err = c
            .supervisor
            .monitor(monitor(&call.call_id, proto::MonitorMode::Listen))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{role:?} may not monitor");
        let err = c
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::PermissionDenied,
            "{role:?} may not list recordings"
        );
    }
    let err = sup
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: "no-such-call".into(),
            download: false,
        })
        .await
        .unwrap_err();
    expect(err, Code::NotFound, "no-such-call");
    let err = sup
        .supervisor
        .list_recordings(proto::ListRecordingsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    expect(err, Code::InvalidArgument, "page_token");

    // Still serving, still carrying the caller's audio.
    assert_eq!(
        s.get_call(&call.call_id).await.status,
        proto::CallStatus::Queued as i32
    );
    assert!(caller.frames_heard() > 0);
    caller.hang_up().await;
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(256))]

    /// Whatever text arrives as an offer, the checker answers without panicking.
    #[test]
    fn any_offer_text_is_checked_without_panicking(text in "(?s).{0,1500}") {
        let _ = check_offer(&text);
    }

    /// A real offer with bytes cut out or spliced in is still only checked.
    #[test]
    fn damaged_offers_are_checked_without_panicking(
        cut in 0usize..700,
        len in 0usize..40,
        splice in "(?s).{0,30}",
    ) {
        let mut sdp = offer_with(0, "PCMU/8000");
        let start = (0..=cut.min(sdp.len())).rev().find(|&i| sdp.is_char_boundary(i)).unwrap_or(0);
        let end = (start..=(start + len).min(sdp.len())).rev().find(|&i| sdp.is_char_boundary(i)).unwrap_or(start);
        sdp.replace_range(start..end, &splice);
        let _ = check_offer(&sdp);
    }
}
