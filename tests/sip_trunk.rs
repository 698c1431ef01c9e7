//! Phone-network calls over the SIP trunk, driven by a real SIP client:
//! sipp (Debian's `sip-tester`; the test command installs it) places calls
//! with RTP audio on loopback, a WebRTC test agent answers, and the call is
//! bridged and recorded like any other.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::media::{assert_sides, channel_share, finished_recording, stereo, AudioRig};
use common::metrics::{counter, scrape};
use common::sip::{
    agent_phone, baresip, finished, free_udp_port, register_phone, registered, scenario, sipp, sipp_uas,
    sipp_with, tone_wav, ulaw_tone,
};
use common::SOON;
use hotline::client::softphone::tone;
use hotline::proto;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

/// A rig whose server takes trunk calls on a free loopback port.
async fn rig() -> (AudioRig, std::net::SocketAddr) {
    // A keypad menu on 800: 2 for repairs (200), else billing (100).
    let rig = AudioRig::start_with(
        "\n[sip]\nlisten = \"127.0.0.1:0\"\nsurvey_timeout_secs = 3\n\n[sip.menus.\"800\"]\noptions = { \"2\" = \"200\" }\ndefault = \"100\"\ntimeout_secs = 3\n",
    )
    .await;
    let sip = rig
        .server
        .server
        .as_ref()
        .unwrap()
        .sip_addr
        .expect("the SIP trunk listens");
    (rig, sip)
}

async fn the_only_call(rig: &AudioRig) -> proto::Call {
    let deadline = Instant::now() + SOON;
    loop {
        let calls = rig
            .server
            .supervisor()
            .supervisor
            .list_calls(proto::ListCallsRequest {
                include_ended: true,
                ..Default::default()
            })
            .await
            .expect("list calls")
            .into_inner()
            .calls;
        if let Some(c) = calls.into_iter().next() {
            return c;
        }
        assert!(Instant::now() < deadline, "the trunk call was queued");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_caller_is_answered_by_a_webrtc_agent_and_recorded_on_the_left() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip,
        dir.path(),
    );

    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    assert_eq!(offered.ani, "+15550001");
    assert_eq!(offered.queue, "repairs");
    carol.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ended = carol.hangup(&offered.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);

    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "sipp's call succeeded (BYE answered): {errors}");
    let rec = finished_recording(&rig, &offered.call_id).await;
    let (left, _, spec) = stereo(&rig.recording_file(&rec));
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert!(
        left.len() as f64 / 8000.0 > 1.5,
        "about two seconds recorded: {} samples",
        left.len()
    );
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the phone caller", "the agent"),
    );
    // The RTP leg's shard counted what it moved (a read and a send a
    // datagram: the call has a port of its own).
    let metrics = rig.server.server.as_ref().unwrap().metrics_addr.expect("metrics");
    let text = scrape(metrics).await;
    for series in [
        "hotline_media_datagrams_received_total{transport=\"rtp\"}",
        "hotline_media_datagrams_sent_total{transport=\"rtp\"}",
        "hotline_media_recv_calls_total{transport=\"rtp\"}",
    ] {
        assert!(
            counter(&text, series) >= 50.0,
            "{series} moved with two seconds of audio: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_caller_who_cancels_before_the_answer_has_abandoned() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 1);
    // Nobody is logged in for repairs: the caller waits, then gives up.
    let caller = sipp(
        &scenario(dir.path(), "cancel.xml", &audio),
        "200",
        sip,
        dir.path(),
    );
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "sipp got 200 for its CANCEL and 487 for its INVITE: {errors}");
    let deadline = Instant::now() + SOON;
    loop {
        let call = the_only_call(&rig).await;
        if call.status == proto::CallStatus::Ended as i32 {
            assert_eq!(call.outcome, proto::CallOutcome::Abandoned as i32);
            assert_eq!(call.ani, "+15550001");
            break;
        }
        assert!(Instant::now() < deadline, "the cancelled call ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_an_unknown_number_is_refused_with_404() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 1);
    // The caller scenario expects 180: an unknown number fails it.
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "999",
        sip,
        dir.path(),
    );
    let (ok, _) = finished(caller, Duration::from_secs(30)).await;
    assert!(!ok, "the call to 999 was not taken");
    let calls = rig
        .server
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest {
            include_ended: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert!(calls.is_empty(), "nothing was queued: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keypad_menu_picks_the_queue_and_the_caller_rates_the_call_after_the_agent_hangs_up() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 1);
    let started = std::time::SystemTime::now();
    // Key 2 arrives as RFC 4733 events (sipp replays its own capture).
    let caller = sipp(
        &scenario(dir.path(), "menu_survey.xml", &audio),
        "800",
        sip,
        dir.path(),
    );
    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    assert_eq!(
        offered.queue, "repairs",
        "key 2 chose repairs over the default (billing)"
    );
    carol.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    carol.hangup(&offered.call_id).await;
    // The caller stays on the line for the survey and presses 4 (SIP INFO).
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(
        ok,
        "sipp's INFO was taken and the BYE came after the survey: {errors}"
    );
    let ms = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let report = rig
        .server
        .supervisor()
        .report
        .get_queue_stats(proto::ReportRequest {
            from_unix_ms: ms(started) - 60_000,
            to_unix_ms: ms(std::time::SystemTime::now()) + 60_000,
        })
        .await
        .unwrap()
        .into_inner();
    let repairs = report.queues.iter().find(|q| q.queue == "repairs").unwrap();
    let common = repairs.common.as_ref().unwrap();
    assert_eq!(common.surveys, 1, "{repairs:?}");
    assert_eq!(common.satisfaction_average, Some(4.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_phone_caller_presses_star_to_be_called_back() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 1);
    // Nobody serves repairs: the caller waits, then asks for a callback.
    let caller = sipp(
        &scenario(dir.path(), "callback_key.xml", &audio),
        "200",
        sip,
        dir.path(),
    );
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(
        ok,
        "the INFO was taken and the call ended 480 after the confirmation: {errors}"
    );
    let callbacks = rig
        .server
        .supervisor()
        .callback
        .list_callbacks(proto::ListCallbacksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .callbacks;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0].number, "+15550001");
    assert_eq!(callbacks[0].queue, "repairs");
}

/// GET /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invites_from_one_source_is_limited_and_a_trunks_call_goes_through() {
    // Two trunks: the carrier on 127.0.0.1, a PBX on 127.0.0.2 that floods.
    let rig = AudioRig::start_with(
        "\n[sip]\nlisten = \"127.0.0.1:0\"\nsurvey = false\n\n[sip.limits]\ninvite_per_sec = 10\ninvite_burst = 20\n\n[[sip.trunks]]\nname = \"carrier\"\nsources = [\"127.0.0.1\"]\n\n[[sip.trunks]]\nname = \"pbx\"\nsources = [\"127.0.0.2\"]\nmax_calls = 5\n",
    )
    .await;
    let server = rig.server.server.as_ref().unwrap();
    let (sip, metrics) = (server.sip_addr.unwrap(), server.metrics_addr.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut alice = rig.server.agent("alice").await;
    let _phone = rig.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    // 1,000 INVITEs a second from the PBX (sipp's built-in caller).
    let flood = Command::new("sipp")
        .current_dir(dir.path())
        .args([
            "-sn",
            "uac",
            "-s",
            "200",
            &sip.to_string(),
            "-i",
            "127.0.0.2",
            "-p",
            &free_udp_port().to_string(),
            "-r",
            "1000",
            "-rp",
            "1000",
            "-m",
            "4000",
            "-l",
            "4000",
            "-timeout",
            "8s",
            "-nostdin",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Meanwhile the carrier's caller gets through, is answered and recorded.
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "100",
        sip,
        dir.path(),
    );
    let offered = alice.expect_offer(Duration::from_secs(10)).await;
    assert_eq!(offered.ani, "+15550001");
    alice.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    alice.hangup(&offered.call_id).await;
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "the carrier's call went through the flood: {errors}");
    let rec = finished_recording(&rig, &offered.call_id).await;
    assert!(
        channel_share(&rig.recording_file(&rec), 0, CALLER_HZ) > 0.4,
        "the caller's audio was recorded"
    );
    let text = scrape(metrics).await;
    let mut flood = flood;
    let _ = flood.kill();
    let _ = flood.wait();
    let limited = counter(
        &text,
        "hotline_sip_requests_refused_total{reason=\"rate_limited\"}",
    );
    assert!(limited >= 500.0, "the flood was limited: {limited} dropped");
    assert!(
        counter(
            &text,
            "hotline_sip_requests_refused_total{reason=\"over_capacity\"}"
        ) >= 1.0,
        "the PBX was held to its 5 calls"
    );
    // At most the burst and the rate's worth of flood calls were queued.
    let queued = rig
        .server
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest {
            include_ended: true,
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .calls
        .into_iter()
        .filter(|c| c.queue == "repairs")
        .count();
    assert!(queued <= 5, "the PBX's cap held: {queued} calls queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_caller_over_tcp_is_answered_and_recorded() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp_with(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip,
        dir.path(),
        &["-t", "t1"],
    );
    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    carol.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    carol.hangup(&offered.call_id).await;
    // The survey waits for a key (3 s here), then the BYE goes down the
    // same connection.
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "sipp's TCP call succeeded: {errors}");
    let rec = finished_recording(&rig, &offered.call_id).await;
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the TCP caller", "the agent"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_with_credentials_is_challenged_and_its_call_goes_through() {
    let rig = AudioRig::start_with(
        "\n[sip]\nlisten = \"127.0.0.1:0\"\nsurvey = false\n\n[[sip.trunks]]\nname = \"carrier\"\nsources = [\"127.0.0.1\"]\nusername = \"carrier\"\npassword = \"s3cret\"\n",
    )
    .await;
    let sip = rig.server.server.as_ref().unwrap().sip_addr.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    // Without credentials nothing is queued: the unauthenticated INVITE of
    // the plain scenario fails it.
    let plain = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip,
        dir.path(),
    );
    let (ok, _) = finished(plain, Duration::from_secs(30)).await;
    assert!(!ok, "an INVITE without credentials is not taken");
    assert!(!carol.gets_offer_within(Duration::from_millis(300)).await);
    // With them (sipp answers the 401's digest challenge), the call is taken.
    let caller = sipp(
        &scenario(dir.path(), "caller_auth.xml", &audio),
        "200",
        sip,
        dir.path(),
    );
    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    assert_eq!(offered.ani, "+15550001");
    carol.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    carol.hangup(&offered.call_id).await;
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "the authenticated call succeeded: {errors}");
}

/// A rig whose server dials callbacks through a trunk proxy at `proxy`.
async fn rig_dialling(proxy: u16) -> AudioRig {
    AudioRig::start_with(&format!(
        "\n[sip]\nlisten = \"127.0.0.1:0\"\n\n[sip.outbound]\nproxy = \"127.0.0.1:{proxy}\"\ncaller_id = \"+15559999\"\nring_timeout_secs = 10\n"
    ))
    .await
}

async fn create_callback(rig: &AudioRig, number: &str) -> proto::Callback {
    rig.server
        .supervisor()
        .callback
        .create_callback(proto::CreateCallbackRequest {
            number: number.into(),
            queue: "repairs".into(),
            ..Default::default()
        })
        .await
        .expect("callback created")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_callback_is_dialled_through_the_trunk_and_bridged_to_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = free_udp_port();
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let customer = sipp_uas(&scenario(dir.path(), "callee.xml", &audio), proxy, dir.path());
    let rig = rig_dialling(proxy).await;
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let callback = create_callback(&rig, "+15550002").await;

    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    assert_eq!(offered.callback_id, callback.callback_id);
    assert_eq!(offered.ani, "+15550002");
    carol.accept(&offered.call_id).await;
    // The customer's phone rings, answers and talks; then the agent hangs up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    carol.hangup(&offered.call_id).await;
    let (ok, errors) = finished(customer, Duration::from_secs(20)).await;
    assert!(
        ok,
        "the customer's phone was called, answered and hung up on: {errors}"
    );

    let rec = finished_recording(&rig, &offered.call_id).await;
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the customer", "the agent"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_customer_counts_as_a_busy_attempt_without_the_agent_typing_it() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = free_udp_port();
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 1);
    let customer = sipp_uas(
        &scenario(dir.path(), "callee_busy.xml", &audio),
        proxy,
        dir.path(),
    );
    let rig = rig_dialling(proxy).await;
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let callback = create_callback(&rig, "+15550003").await;
    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    carol.accept(&offered.call_id).await;
    let (ok, errors) = finished(customer, Duration::from_secs(20)).await;
    assert!(ok, "the customer's phone refused busy: {errors}");

    let deadline = Instant::now() + SOON;
    loop {
        let got = rig
            .server
            .supervisor()
            .callback
            .get_callback(proto::CallbackRef {
                callback_id: callback.callback_id.clone(),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        if let Some(attempt) = got.attempts.first() {
            assert_eq!(attempt.outcome, proto::AttemptOutcome::Busy as i32);
            assert_eq!(attempt.agent_id, "carol");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the busy attempt was recorded: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_registered_sip_phone_answers_an_offer_and_is_recorded_on_the_right() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    assert!(
        !register_phone(dir.path(), sip, port, "dave", "wrong-password", 3600).await,
        "a wrong password is refused"
    );
    assert!(register_phone(dir.path(), sip, port, "dave", "dave-phone-pw", 3600).await);
    let phone_xml = agent_phone(dir.path(), "dave", AGENT_HZ, 2500);
    let phone = sipp_uas(&phone_xml, port, dir.path());
    // Dave signs in with his client (no softphone there): offers ring the phone.
    let mut dave = rig.server.agent("dave").await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip,
        dir.path(),
    );

    let offered = dave.expect_offer(Duration::from_secs(10)).await;
    let (ok, errors) = finished(phone, Duration::from_secs(30)).await;
    assert!(ok, "the phone rang, answered and hung up: {errors}");
    let (ok, errors) = finished(caller, Duration::from_secs(20)).await;
    assert!(ok, "the caller was answered and hung up on: {errors}");
    let call = rig.server.get_call(&offered.call_id).await;
    assert_eq!(call.agent_id, "dave");
    assert_eq!(call.outcome, proto::CallOutcome::Answered as i32);

    let rec = finished_recording(&rig, &offered.call_id).await;
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the caller", "the agent phone"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_phone_unregisters_stops_getting_offers() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    assert!(register_phone(dir.path(), sip, port, "dave", "dave-phone-pw", 3600).await);
    // Dave's client stays signed in: still, without his phone he gets no offers.
    let _dave = rig.server.agent("dave").await;
    assert!(register_phone(dir.path(), sip, port, "dave", "dave-phone-pw", 0).await);
    let deadline = Instant::now() + SOON;
    loop {
        let record = rig.server.agent_record("dave").await;
        if record.state == proto::AgentState::NotReady as i32 {
            assert_eq!(record.not_ready_reason, "phone unregistered");
            break;
        }
        assert!(Instant::now() < deadline, "dave was set not ready: {record:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_places_a_call_that_a_webrtc_agent_answers_and_is_recorded() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let wav = tone_wav(dir.path(), "caller.wav", CALLER_HZ, 40);
    let mut caller = baresip(
        dir.path(),
        "<sip:+15550005@127.0.0.1>;regint=0;audio_codecs=PCMU",
        &wav,
        &[&format!("/dial sip:200@{sip}")],
    );
    let offered = carol.expect_offer(Duration::from_secs(15)).await;
    assert_eq!(offered.ani, "+15550005");
    carol.accept(&offered.call_id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ended = carol.hangup(&offered.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
    let rec = finished_recording(&rig, &offered.call_id).await;
    let _ = caller.kill();
    let _ = caller.wait();
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("baresip", "the agent"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registered_as_an_agents_phone_answers_an_offer_recorded_on_the_right() {
    let (rig, sip) = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(dir.path(), "agent.wav", AGENT_HZ, 40);
    let mut phone = baresip(
        dir.path(),
        &format!("<sip:dave@{sip}>;auth_pass=dave-phone-pw;answermode=auto;regint=60;audio_codecs=PCMU"),
        &wav,
        &[],
    );
    registered(dir.path()).await;
    // Dave signs in with his client (no softphone there): the offer rings
    // baresip, which answers by itself.
    let mut dave = rig.server.agent("dave").await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        sip,
        dir.path(),
    );
    let offered = dave.expect_offer(Duration::from_secs(10)).await;
    let connected = dave
        .wait_for(Duration::from_secs(10), |e| match e {
            proto::agent_event::Event::CallConnected(c) => c.call.clone(),
            _ => None,
        })
        .await
        .expect("baresip answered the offer");
    assert_eq!(connected.call_id, offered.call_id);
    tokio::time::sleep(Duration::from_secs(3)).await;
    dave.hangup(&offered.call_id).await;
    let (ok, errors) = finished(caller, Duration::from_secs(20)).await;
    assert!(ok, "the sipp caller was answered and hung up on: {errors}");
    let rec = finished_recording(&rig, &offered.call_id).await;
    let _ = phone.kill();
    let _ = phone.wait();
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("the caller", "baresip"),
    );
}
