//! Real SIP peers for tests: sipp scenarios from `tests/sipp/` as callers,
//! called customers and agents' phones; baresip as a caller or a phone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hotline::media::codec::G711;
use hotline::media::tone::sine;

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scenario from `tests/sipp/`, its placeholders filled, written to `dir`.
pub fn scenario(dir: &Path, name: &str, audio: &Path) -> PathBuf {
    let text = std::fs::read_to_string(Path::new("tests/sipp").join(name)).unwrap();
    let text = text
        .replace("AUDIO_FILE", &audio.display().to_string())
        .replace("CALLER_NUMBER", "+15550001")
        .replace("SURVEY_AFTER_MS", "2500");
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Raw mu-law (what sipp's rtp_stream sends as PCMU payload): a tone.
pub fn ulaw_tone(dir: &Path, freq: f64, seconds: usize) -> PathBuf {
    let samples = sine(freq, 8000, 0, 8000 * seconds, 8000);
    let path = dir.join("caller.ulaw");
    std::fs::write(&path, G711::Pcmu.encode(&samples)).unwrap();
    path
}

/// sipp placing one call to `service` at `sip`.
pub fn sipp(scenario: &Path, service: &str, sip: std::net::SocketAddr, dir: &Path) -> Child {
    sipp_with(scenario, service, sip, dir, &[])
}

/// The same, with more sipp arguments (e.g. `-t t1` for TCP).
pub fn sipp_with(
    scenario: &Path,
    service: &str,
    sip: std::net::SocketAddr,
    dir: &Path,
    extra: &[&str],
) -> Child {
    Command::new("sipp")
        .current_dir(dir)
        .args(extra)
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
pub async fn finished(mut child: Child, within: Duration) -> (bool, String) {
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

/// A free loopback UDP port for a sipp that waits for our requests.
pub fn sipp_uas(scenario: &Path, port: u16, dir: &Path) -> Child {
    Command::new("sipp")
        .current_dir(dir)
        .args([
            "-sf",
            &scenario.display().to_string(),
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            &port.to_string(),
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

/// Registers `agent`'s phone from `port` (sipp, digest) for `expires` s.
pub async fn register_phone(
    dir: &Path,
    sip: std::net::SocketAddr,
    port: u16,
    agent: &str,
    password: &str,
    expires: u32,
) -> bool {
    let text = std::fs::read_to_string("tests/sipp/agent_register.xml")
        .unwrap()
        .replace("AGENT_ID", agent)
        .replace("PASSWORD", password)
        .replace("EXPIRES", &expires.to_string());
    let path = dir.join(format!("register-{expires}.xml"));
    std::fs::write(&path, text).unwrap();
    let child = Command::new("sipp")
        .current_dir(dir)
        .args([
            "-sf",
            &path.display().to_string(),
            &sip.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-timeout",
            "10s",
            "-timeout_error",
            "-nostdin",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp");
    finished(child, Duration::from_secs(15)).await.0
}

/// The scenario of `agent`'s registered phone (sipp as a user-agent
/// server): it answers an offer saying `freq` and hangs up after `talk_ms`.
pub fn agent_phone(dir: &Path, agent: &str, freq: f64, talk_ms: u64) -> PathBuf {
    let agent_audio = dir.join("agent.ulaw");
    std::fs::write(
        &agent_audio,
        G711::Pcmu.encode(&sine(freq, 8000, 0, 8000 * 10, 8000)),
    )
    .expect("agent audio");
    let text = std::fs::read_to_string("tests/sipp/agent_phone.xml")
        .expect("scenario")
        .replace("AGENT_ID", agent)
        .replace("AUDIO_FILE", &agent_audio.display().to_string())
        .replace("TALK_MS", &talk_ms.to_string());
    let path = dir.join("agent_phone.xml");
    std::fs::write(&path, text).expect("scenario");
    path
}

/// An 8 kHz mono WAV of a tone (what baresip's aufile source plays).
pub fn tone_wav(dir: &Path, name: &str, freq: f64, seconds: usize) -> PathBuf {
    let path = dir.join(name);
    super::media::write_tone_wav(&path, freq, seconds);
    path
}

/// baresip (Debian's `baresip`; the test command installs it) with its own
/// configuration in `dir`: one account, audio from `wav`, no sound device
/// (the player is a bridge to nowhere), the given commands run at start;
/// its output is kept in `dir/baresip.log`.
pub fn baresip(dir: &Path, account: &str, wav: &Path, commands: &[&str]) -> Child {
    baresip_with(dir, account, wav, commands, "")
}

/// [`baresip`] with `extra` configuration lines (modules, TLS trust).
pub fn baresip_with(dir: &Path, account: &str, wav: &Path, commands: &[&str], extra: &str) -> Child {
    let conf = dir.join("baresip");
    std::fs::create_dir_all(&conf).unwrap();
    let config = format!(
        "sip_listen\t127.0.0.1:{port}\naudio_player\taubridge,nowhere\naudio_alert\taubridge,nowhere\naudio_source\taufile,{wav}\nrtp_ports\t30000-39999\nmodule_path\t/usr/lib/baresip/modules\nmodule\tg711.so\nmodule\taufile.so\nmodule\taubridge.so\nmodule_app\taccount.so\nmodule_app\tmenu.so\n{extra}",
        port = free_udp_port(),
        wav = wav.display()
    );
    std::fs::write(conf.join("config"), config).unwrap();
    std::fs::write(conf.join("accounts"), format!("{account}\n")).unwrap();
    std::fs::write(conf.join("contacts"), "").unwrap();
    let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
    let mut cmd = Command::new("baresip");
    cmd.current_dir(dir)
        .args(["-f", &conf.display().to_string(), "-t", "40"]);
    for c in commands {
        cmd.args(["-e", c]);
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("baresip is missing: install Debian's baresip package (./scripts/test does)")
}

/// Waits until baresip's log says its registration was accepted.
pub async fn registered(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = std::fs::read_to_string(dir.join("baresip.log")).unwrap_or_default();
        if log.contains("200 OK") {
            return;
        }
        assert!(Instant::now() < deadline, "baresip registered: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
