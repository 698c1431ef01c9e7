//! A phone call over SIP TLS with SRTP (SDES), end to end with a real SIP
//! client: baresip (Debian's, its TLS from OpenSSL through libre, its
//! `srtp` module with SRTP mandatory) calls the trunk's TLS listener,
//! trusting the certificate `hotline dev-cert` makes; a WebRTC agent
//! answers. Both directions are checked: the recording has the caller's
//! tone on the left (hotline decrypted baresip's SRTP) and baresip's own
//! dump of what it decoded has the agent's tone (baresip decrypted ours).
//!
//! Debian's sipp (`sip-tester` 3.6.1) is built without TLS and SRTP, so
//! sipp cannot place that call itself; baresip does. sipp's own scenario
//! does go over TLS through stunnel (Debian's `stunnel4`, verifying the
//! certificate), with plain RTP, as a trunk that offers TLS but not SRTP.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::media::{assert_sides, finished_recording, holds, pcm, AudioRig};
use common::sip::{baresip_with, finished, scenario, sipp_with, tone_wav, ulaw_tone};
use common::{CONFIG, SOON};
use hotline::client::softphone::tone;
use hotline::proto;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

/// A rig serving TLS with a dev certificate in `dir`, its trunk on UDP/TCP
/// and on TLS (loopback, free ports).
async fn tls_rig(dir: &Path, extra_sip: &str) -> (AudioRig, std::net::SocketAddr) {
    hotline::tls::dev_cert::write(dir, &[]).expect("dev cert");
    let base = format!(
        "{CONFIG}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
        dir.join("cert.pem").display().to_string(),
        dir.join("key.pem").display().to_string(),
        dir.join("ca.pem").display().to_string(),
    );
    let rig = AudioRig::on_config(
        &base,
        &format!(
            "\n[sip]\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\nsurvey = false\n{extra_sip}"
        ),
    )
    .await;
    let tls = rig
        .server
        .server
        .as_ref()
        .and_then(|s| s.sip_tls_addr)
        .expect("the trunk listens for TLS");
    (rig, tls)
}

/// baresip's dumps of what it decoded from the network (`sndfile`).
fn decoded_dumps(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_calls_over_tls_with_srtp_and_both_sides_hear_each_other_and_it_is_recorded() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hotline=info")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let (rig, tls) = tls_rig(dir.path(), "").await;
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;

    let caller_dir = dir.path().join("caller");
    std::fs::create_dir_all(&caller_dir).unwrap();
    let wav = tone_wav(&caller_dir, "caller.wav", CALLER_HZ, 40);
    let extra = format!(
        "sip_cafile\t{}\nmodule\tsrtp.so\nmodule\tsndfile.so\nsnd_path\t{}\n",
        dir.path().join("ca.pem").display(),
        caller_dir.display()
    );
    let mut caller = baresip_with(
        &caller_dir,
        "<sip:+15550007@127.0.0.1>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand",
        &wav,
        &[&format!("/dial sip:200@{tls};transport=tls")],
        &extra,
    );
    let offered = carol.expect_offer(Duration::from_secs(15)).await;
    assert_eq!(offered.ani, "+15550007");
    carol.accept(&offered.call_id).await;

    // baresip hears the agent: its decoded audio holds the agent's tone.
    let deadline = Instant::now() + SOON;
    loop {
        let heard = decoded_dumps(&caller_dir)
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|bytes| holds(&pcm(bytes.get(44..).unwrap_or_default()), AGENT_HZ, 8000))
            .fold(0.0, f64::max);
        if heard > 0.5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "baresip decrypted and decoded the agent's tone (share {heard:.2}); its log: {}",
            std::fs::read_to_string(caller_dir.join("baresip.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ended = carol.hangup(&offered.call_id).await;
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
    let rec = finished_recording(&rig, &offered.call_id).await;
    let _ = caller.kill();
    let _ = caller.wait();
    let log = std::fs::read_to_string(caller_dir.join("baresip.log")).unwrap_or_default();
    assert!(
        log.contains("SRTP is Enabled"),
        "baresip ran SRTP (mandatory): {log}"
    );
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("baresip over TLS and SRTP", "the agent"),
    );
}

/// stunnel in client mode: plain TCP on a loopback port to TLS at `to`,
/// verifying hotline's certificate against `dir`'s `ca.pem`; killed when
/// dropped.
struct TlsTunnel {
    child: Child,
    port: u16,
}

impl Drop for TlsTunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsTunnel {
    async fn start(dir: &Path, to: std::net::SocketAddr) -> TlsTunnel {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let conf = dir.join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[sip]\nclient = yes\naccept = 127.0.0.1:{port}\nconnect = {to}\nCAfile = {}\nverifyChain = yes\ncheckHost = localhost\n",
                dir.join("ca.pem").display()
            ),
        )
        .unwrap();
        let child = Command::new("stunnel4")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 is missing: install Debian's stunnel4 package (./scripts/test does)");
        // Ready once it listens.
        let deadline = Instant::now() + SOON;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "stunnel listens on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        TlsTunnel { child, port }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_call_over_tls_is_answered_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (rig, tls) = tls_rig(dir.path(), "").await;
    let mut carol = rig.server.agent("carol").await;
    let _phone = rig.softphone(&mut carol, tone(AGENT_HZ, 8000)).await;
    let tunnel = TlsTunnel::start(dir.path(), tls).await;
    let audio = ulaw_tone(dir.path(), CALLER_HZ, 10);
    let caller = sipp_with(
        &scenario(dir.path(), "caller.xml", &audio),
        "200",
        std::net::SocketAddr::from(([127, 0, 0, 1], tunnel.port)),
        dir.path(),
        &["-t", "t1"],
    );
    let offered = carol.expect_offer(Duration::from_secs(10)).await;
    carol.accept(&offered.call_id).await;
    // The caller is heard before the agent hangs up.
    let deadline = Instant::now() + SOON;
    loop {
        let live = rig
            .server
            .supervisor()
            .supervisor
            .list_recordings(proto::ListRecordingsRequest::default())
            .await
            .expect("recordings")
            .into_inner()
            .recordings
            .into_iter()
            .find(|r| r.call_id == offered.call_id);
        // A second of 8 kHz 16-bit stereo on disk.
        let written = live
            .and_then(|r| std::fs::metadata(rig.recording_file(&r)).ok())
            .map_or(0, |m| m.len());
        if written >= 44 + 32_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a second of the call is recorded ({written} bytes)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    carol.hangup(&offered.call_id).await;
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(ok, "sipp's call over TLS ran to its end: {errors}");
    let rec = finished_recording(&rig, &offered.call_id).await;
    assert_sides(
        &rig.recording_file(&rec),
        CALLER_HZ,
        AGENT_HZ,
        ("sipp over TLS", "the agent"),
    );
}
