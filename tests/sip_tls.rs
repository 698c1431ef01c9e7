//! A phone call over SIP TLS with SRTP (SDES), end to end with a real SIP
//! client: baresip (Debian's, its TLS from OpenSSL through libre, its
//! `srtp` module with SRTP mandatory) calls the trunk's TLS listener,
//! trusting the certificate `hotline dev-cert` makes; a WebRTC agent
//! answers. Both directions are checked: the recording has the caller's
//! tone on the left (hotline decrypted baresip's SRTP) and baresip's own
//! dump of what it decoded has the agent's tone (baresip decrypted ours).
//!
//! Debian's sipp (`sip-tester` 3.6.1) is built without TLS and SRTP, so
//! sipp cannot place this call; baresip does.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::media::{assert_sides, finished_recording, holds, pcm, AudioRig};
use common::sip::{baresip_with, tone_wav};
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
