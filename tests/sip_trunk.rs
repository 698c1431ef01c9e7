//! Phone-network calls over the SIP trunk, driven by a real SIP client:
//! sipp (Debian's `sip-tester`; the test command installs it) places calls
//! with RTP audio on loopback, a WebRTC test agent answers, and the call is
//! bridged and recorded like any other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::media::{stereo, AudioRig};
use common::SOON;
use hotline::media::codec::G711;
use hotline::media::softphone::tone;
use hotline::media::tone::{goertzel, sine};
use hotline::proto;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A rig whose server takes trunk calls on a free loopback port.
async fn rig() -> (AudioRig, std::net::SocketAddr) {
    let rig = AudioRig::start_with("\n[sip]\nlisten = \"127.0.0.1:0\"\n").await;
    let sip = rig
        .server
        .server
        .as_ref()
        .unwrap()
        .sip_addr
        .expect("the SIP trunk listens");
    (rig, sip)
}

/// A scenario from `tests/sipp/`, its placeholders filled, written to `dir`.
fn scenario(dir: &Path, name: &str, audio: &Path) -> PathBuf {
    let text = std::fs::read_to_string(Path::new("tests/sipp").join(name)).unwrap();
    let text = text
        .replace("AUDIO_FILE", &audio.display().to_string())
        .replace("CALLER_NUMBER", "+15550001");
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Raw mu-law (what sipp's rtp_stream sends as PCMU payload): a tone.
fn ulaw_tone(dir: &Path, freq: f64, seconds: usize) -> PathBuf {
    let samples = sine(freq, 8000, 0, 8000 * seconds, 8000);
    let path = dir.join("caller.ulaw");
    std::fs::write(&path, G711::Pcmu.encode(&samples)).unwrap();
    path
}

/// sipp placing one call to `service` at `sip`.
fn sipp(scenario: &Path, service: &str, sip: std::net::SocketAddr, dir: &Path) -> Child {
    Command::new("sipp")
        .current_dir(dir)
        .args([
            "-sf",
            &scenario.display().to_string(),
            "-s",
            service,
            &sip.to_string(),
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            &free_udp_port().to_string(),
            "-m",
            "1",
            "-timeout",
            "40s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp is missing: install Debian's sip-tester package (./scripts/test does)")
}

/// Waits for sipp to finish; its exit status and errors.
async fn finished(mut child: Child, within: Duration) -> (bool, String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status.success(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (false, "sipp did not finish".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

async fn finished_recording(rig: &AudioRig, call_id: &str) -> proto::Recording {
    let deadline = Instant::now() + SOON;
    loop {
        let page = rig
            .server
            .supervisor()
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .expect("list recordings")
            .into_inner();
        if let Some(r) = page
            .recordings
            .into_iter()
            .find(|r| r.call_id == call_id && !r.live)
        {
            return r;
        }
        assert!(Instant::now() < deadline, "the recording of {call_id} finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let (left, right, spec) = stereo(&rig.recording_file(&rec));
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert!(
        left.len() as f64 / 8000.0 > 1.5,
        "about two seconds recorded: {} samples",
        left.len()
    );
    let caller_power = goertzel(&left, CALLER_HZ, 8000);
    let agent_power = goertzel(&right, AGENT_HZ, 8000);
    assert!(
        caller_power > 0.5,
        "the phone caller's 440 Hz is on the left ({caller_power:.2})"
    );
    assert!(
        agent_power > 0.5,
        "the agent's 1 kHz is on the right ({agent_power:.2})"
    );
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
