//! `hotline loadgen sip`: phone-network calls at a rate, end to end through
//! a real `hotline serve` process: sipp callers on the trunk (PCMU with a
//! 440 Hz tone), answered by agents' SIP phones (a sipp user-agent server
//! registered as every agent, 1 kHz), every call bridged and recorded in
//! stereo.
//!
//! The server's CPU is read from /proc over a window when the calls are up
//! (so it is the steady cost of carrying calls: RTP in and out of two legs,
//! the bridge, the recorder), divided by the call-seconds in the window.
//! Failed calls are sipp's failed calls plus calls hotline did not answer;
//! the recordings are counted, and a sample is checked for the caller's
//! tone on the left and the phone's on the right.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::calls::{cpu_of, folder_bytes, server_config, start_server, SECRET};
use crate::auth::{Role, TokenKeys};
use crate::error::Error;
use crate::media::codec::G711;
use crate::media::tone::{sine, tone_share};
use crate::proto;
use crate::time::Timestamp;

const PHONE: &str = include_str!("sipp/phone.xml");
const CALLER: &str = include_str!("sipp/caller.xml");

const CALLER_HZ: f64 = 440.0;
const PHONE_HZ: f64 = 1000.0;
const PHONE_PASSWORD: &str = "loadgen-phone";
/// Recordings checked for both tones.
const SAMPLED: usize = 10;

#[derive(Clone, Debug)]
pub struct SipLoadOptions {
    /// Calls placed in all (and agents with phones: this many).
    pub calls: usize,
    /// New calls per second.
    pub rate: f64,
    /// Time between all calls up and the measurement.
    pub warmup: Duration,
    pub measure: Duration,
    pub server_exe: PathBuf,
    pub workdir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct SipLoadReport {
    pub calls: usize,
    /// Most calls up at once (seen by the supervisor API).
    pub peak_concurrent: usize,
    /// Calls up during the measurement window.
    pub measured_calls: usize,
    pub measured: Duration,
    pub server_cpu: Duration,
    /// The server's resident memory at the end of the window.
    pub server_rss_bytes: u64,
    /// Calls sipp counted successful and failed.
    pub sipp_succeeded: u64,
    pub sipp_failed: u64,
    /// Calls hotline recorded as answered (distinct ids), calls listed by
    /// the supervisor API (pages followed), and recordings written.
    pub answered: usize,
    pub listed: usize,
    pub recordings: usize,
    /// Sampled recordings with the caller left and the phone right.
    pub sampled: usize,
    pub sampled_stereo_ok: usize,
    pub recording_bytes_per_sec: f64,
}

impl SipLoadReport {
    pub fn cpu_ms_per_call_second(&self) -> f64 {
        let call_seconds = self.measured_calls as f64 * self.measured.as_secs_f64();
        if call_seconds == 0.0 {
            return 0.0;
        }
        self.server_cpu.as_secs_f64() * 1000.0 / call_seconds
    }

    /// Calls that did not go through: sipp's failures, or not answered.
    pub fn failed(&self) -> usize {
        (self.sipp_failed as usize).max(self.calls.saturating_sub(self.answered))
    }

    pub fn failed_percent(&self) -> f64 {
        100.0 * self.failed() as f64 / self.calls.max(1) as f64
    }
}

impl std::fmt::Display for SipLoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "calls {} | peak concurrent {} | failed {} ({:.2}%) | sipp ok {} failed {} | answered {} (listed {}) | recordings {} (sampled {}: {} with caller left, phone right)",
            self.calls,
            self.peak_concurrent,
            self.failed(),
            self.failed_percent(),
            self.sipp_succeeded,
            self.sipp_failed,
            self.answered,
            self.listed,
            self.recordings,
            self.sampled,
            self.sampled_stereo_ok,
        )?;
        write!(
            f,
            "window {:.1} s with {} calls up | server CPU {:.2?} = {:.3} ms per call-second ({:.0}% of one core) | RSS {:.0} MiB | recording {:.0} kB/s ({:.1} kB/s a call)",
            self.measured.as_secs_f64(),
            self.measured_calls,
            self.server_cpu,
            self.cpu_ms_per_call_second(),
            100.0 * self.server_cpu.as_secs_f64() / self.measured.as_secs_f64().max(1e-9),
            self.server_rss_bytes as f64 / (1024.0 * 1024.0),
            self.recording_bytes_per_sec / 1000.0,
            self.recording_bytes_per_sec / 1000.0 / self.measured_calls.max(1) as f64,
        )
    }
}

fn config(agents: usize, sip: u16, recordings: &Path) -> String {
    server_config(
        recordings,
        agents,
        "",
        r#"udp_ports = "20000-29999""#,
        &format!(
            r#"[sip]
listen = "127.0.0.1:{sip}"
survey = false
[sip.limits]
invite_per_sec = 1000
invite_burst = 2000
register_per_sec = 1000
register_burst = 2000
other_per_sec = 100000
other_burst = 100000"#
        ),
        // Only the trunk calls are measured: no callbacks for issues left
        // open by the wrap-ups nobody fills in.
        "callback_on_open_wrap_up = false",
        &format!(r#"sip_password = "{PHONE_PASSWORD}""#),
    )
}

/// The server process's resident memory, from /proc (Linux).
fn rss_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn free_udp_port() -> Result<u16, Error> {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::Internal(format!("loadgen: no free port: {e}")))
}

/// A sipp process, killed on drop.
struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipp(dir: &Path, args: &[String]) -> Result<Sipp, Error> {
    Command::new("sipp")
        .current_dir(dir)
        .args(args)
        .args(["-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Sipp)
        .map_err(|e| Error::Unavailable(format!("sipp is missing (Debian's sip-tester): {e}")))
}

/// Waits for a sipp to finish, up to `within`.
async fn finished(s: &mut Sipp, within: Duration) -> Option<bool> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = s.0.try_wait() {
            return Some(status.success());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Successful and failed calls from sipp's last statistics line.
fn sipp_counts(stats: &Path) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(stats) else {
        return (0, 0);
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return (0, 0) };
    let Some(last) = lines.next_back() else {
        return (0, 0);
    };
    let names: Vec<&str> = header.split(';').collect();
    let values: Vec<&str> = last.split(';').collect();
    let get = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get("SuccessfulCall(C)"), get("FailedCall(C)"))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::Internal(format!("loadgen: {}: {e}", path.display())))
}

/// Whether a recording has the caller's tone left and the phone's right.
fn stereo_ok(path: &Path) -> bool {
    let Ok(reader) = hound::WavReader::open(path) else {
        return false;
    };
    let samples: Vec<i16> = reader.into_samples::<i16>().filter_map(Result::ok).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    // By 100 ms stretches: under load a leg's jitter buffer may drop or
    // repeat a frame, which breaks a tone's phase but not what was heard.
    tone_share(&left, CALLER_HZ, 8000, 800) >= 0.5 && tone_share(&right, PHONE_HZ, 8000, 800) >= 0.5
}

pub async fn run(opts: &SipLoadOptions) -> Result<SipLoadReport, Error> {
    let io = |e: std::io::Error| Error::Internal(format!("loadgen: {e}"));
    let dir = &opts.workdir;
    std::fs::create_dir_all(dir).map_err(io)?;
    let recordings = dir.join("recordings");
    let sip_port = free_udp_port()?;
    let config_path = dir.join("loadgen.toml");
    write(&config_path, &config(opts.calls, sip_port, &recordings))?;
    let (server, channel) = start_server(&opts.server_exe, &config_path).await?;
    let server_pid = server.0.id().to_string();
    let sip = format!("127.0.0.1:{sip_port}");

    // Tones as raw mu-law, what sipp's rtp_stream sends.
    let ulaw = |freq: f64| G711::Pcmu.encode(&sine(freq, 8000, 0, 8000 * 10, 8000));
    let caller_audio = dir.join("caller.ulaw");
    let phone_audio = dir.join("phone.ulaw");
    std::fs::write(&caller_audio, ulaw(CALLER_HZ)).map_err(io)?;
    std::fs::write(&phone_audio, ulaw(PHONE_HZ)).map_err(io)?;

    // Every agent's phone registers from the port the phones will answer on.
    let phones_port = free_udp_port()?;
    register_phones(opts.calls, sip_port, phones_port).await?;
    write(
        &dir.join("phone.xml"),
        &PHONE.replace("AUDIO_FILE", &phone_audio.display().to_string()),
    )?;
    let _phones = sipp(
        dir,
        &[
            "-sf".into(),
            "phone.xml".into(),
            "-p".into(),
            phones_port.to_string(),
            // [auto_media_port] counts up from here, a few ports a call.
            "-mp".into(),
            "30000".into(),
        ],
    )?;

    // Agents sign in (their phones hold their presence).
    let keys = TokenKeys::new(SECRET.as_bytes());
    let clients = |role: Role, sub: &str| -> Result<crate::client::Clients, Error> {
        let token = keys.mint(role, sub, Duration::from_secs(24 * 3600), Timestamp::now_wall())?;
        crate::client::Clients::new(channel.clone(), &token)
    };
    for i in 0..opts.calls {
        let id = format!("lg-{i:05}");
        clients(Role::Agent, &id)?
            .agent
            .login(proto::LoginRequest {
                agent_id: id.clone(),
                start_available: true,
                ..Default::default()
            })
            .await
            .map_err(|s| crate::status::from_remote(&s))?;
    }

    // Callers: all placed over calls/rate seconds; each holds long enough
    // for every call to be up through the window.
    let ramp = Duration::from_secs_f64(opts.calls as f64 / opts.rate);
    let hold = ramp + opts.warmup + opts.measure + Duration::from_secs(5);
    write(
        &dir.join("caller.xml"),
        &CALLER
            .replace("AUDIO_FILE", &caller_audio.display().to_string())
            .replace("HOLD_MS", &hold.as_millis().to_string()),
    )?;
    let mut callers = sipp(
        dir,
        &[
            "-sf".into(),
            "caller.xml".into(),
            "-s".into(),
            "100".into(),
            sip.clone(),
            "-p".into(),
            free_udp_port()?.to_string(),
            "-r".into(),
            format!("{}", opts.rate),
            "-rp".into(),
            "1000".into(),
            "-m".into(),
            opts.calls.to_string(),
            "-mp".into(),
            "40000".into(),
            "-trace_stat".into(),
            "-stf".into(),
            "callers.csv".into(),
            "-fd".into(),
            "1".into(),
        ],
    )?;

    let mut sup = clients(Role::Supervisor, "loadgen")?;
    let connected = |calls: &[proto::Call]| {
        calls
            .iter()
            .filter(|c| c.status == proto::CallStatus::Connected as i32)
            .count()
    };
    let started = Instant::now();
    let mut peak = 0;
    while started.elapsed() < ramp + Duration::from_secs(30) {
        let up = connected(&sup.all_calls().await?);
        peak = peak.max(up);
        if up >= opts.calls {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(opts.warmup).await;
    let snapshot = || (Instant::now(), cpu_of(&server_pid), folder_bytes(&recordings));
    let (t0, c0, b0) = snapshot();
    tokio::time::sleep(opts.measure).await;
    let (t1, c1, b1) = snapshot();
    let rss = rss_of(&server_pid);
    let measured_calls = connected(&sup.all_calls().await?);
    peak = peak.max(measured_calls);

    let _ = finished(&mut callers, hold + Duration::from_secs(60)).await;
    drop(callers);
    let (sipp_succeeded, sipp_failed) = sipp_counts(&dir.join("callers.csv"));
    // Let the last calls' recordings close.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = sup.all_calls().await?;
    // Counted by id: a call is answered once however the pages fell.
    let answered = calls
        .iter()
        .filter(|c| c.outcome == proto::CallOutcome::Answered as i32)
        .map(|c| c.call_id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let listed = calls.len();
    let files = wav_files(&recordings);
    let sample: Vec<&PathBuf> = files.iter().take(SAMPLED).collect();
    let sampled_stereo_ok = sample.iter().filter(|p| stereo_ok(p)).count();
    drop(server);
    Ok(SipLoadReport {
        calls: opts.calls,
        peak_concurrent: peak,
        measured_calls,
        measured: t1 - t0,
        server_cpu: c1.saturating_sub(c0),
        server_rss_bytes: rss,
        sipp_succeeded,
        sipp_failed,
        answered,
        listed,
        recordings: files.len(),
        sampled: sample.len(),
        sampled_stereo_ok,
        recording_bytes_per_sec: b1.saturating_sub(b0) as f64 / (t1 - t0).as_secs_f64(),
    })
}

/// Registers `agents` phones (digest, answering the challenge with
/// `sip::digest::respond`) from `127.0.0.1:phones`, all with that Contact.
async fn register_phones(agents: usize, sip: u16, phones: u16) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Internal(format!("loadgen: registering phones: {e}"));
    let socket = tokio::net::UdpSocket::bind(("127.0.0.1", phones))
        .await
        .map_err(io)?;
    let server = std::net::SocketAddr::from(([127, 0, 0, 1], sip));
    let mut buf = vec![0u8; 4096];
    for i in 0..agents {
        let user = format!("lg-{i:05}");
        let request = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{phones};branch=z9hG4bK-lg{i}-{cseq}\r\nFrom: <sip:{user}@127.0.0.1>;tag=lg{i}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@127.0.0.1:{phones}>\r\n{auth}Expires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let challenge = exchange(&socket, server, &request(1, ""), &mut buf, &user).await?;
        let www = challenge
            .lines()
            .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
            .ok_or_else(|| Error::Unavailable(format!("{user}'s REGISTER was not challenged")))?
            .to_string();
        let auth = crate::sip::digest::respond(
            &www,
            "REGISTER",
            &format!("sip:{server}"),
            &user,
            PHONE_PASSWORD,
            "lg",
        )
        .ok_or_else(|| Error::Unavailable("a challenge loadgen cannot answer".into()))?;
        let ok = exchange(
            &socket,
            server,
            &request(2, &format!("Authorization: {auth}\r\n")),
            &mut buf,
            &user,
        )
        .await?;
        if !ok.starts_with("SIP/2.0 200") {
            return Err(Error::Unavailable(format!(
                "{user}'s phone was not registered: {}",
                ok.lines().next().unwrap_or("")
            )));
        }
    }
    Ok(())
}

/// Sends one request and reads the answer.
async fn exchange(
    socket: &tokio::net::UdpSocket,
    server: std::net::SocketAddr,
    request: &str,
    buf: &mut [u8],
    user: &str,
) -> Result<String, Error> {
    let io = |e: std::io::Error| Error::Internal(format!("loadgen: registering phones: {e}"));
    socket.send_to(request.as_bytes(), server).await.map_err(io)?;
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(buf))
        .await
        .map_err(|_| Error::Unavailable(format!("no answer to {user}'s REGISTER")))?
        .map_err(io)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(wav_files(&p));
        } else if p.extension().is_some_and(|x| x == "wav") {
            out.push(p);
        }
    }
    out.sort();
    out
}
