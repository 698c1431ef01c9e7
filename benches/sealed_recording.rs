//! What sealing recordings costs: the CPU to write N seconds of a call's
//! stereo recording through `StereoRecorder` as the media task does (20 ms
//! frames from both legs, a flush every 500 ms, the default), plain WAV
//! and sealed (AES-256-GCM segments under a per-file key), and to read a
//! sealed one back as WAV (playback). Single-threaded, to a temp dir.
//!
//! Figures printed: CPU microseconds per recorded call-second, each way,
//! and what sealing adds. Under `cargo test` (no `--bench`) it records 10
//! call-seconds as a smoke test.

use std::time::Duration;

use futures::StreamExt;
use hotline::media::recorder::StereoRecorder;
use hotline::media::sealed::{new_key_line, unseal, RecordingKeys};
use hotline::media::Rate;

fn cpu_time() -> Duration {
    // user + system time of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / 100)
}

/// CPU per call-second to record `seconds` of audio (as many calls of 60 s).
fn record(dir: &std::path::Path, seconds: usize, keys: Option<&RecordingKeys>) -> f64 {
    let caller: Vec<i16> = (0..160).map(|i| ((i * 37) % 2000) as i16).collect();
    let agent: Vec<i16> = (0..160).map(|i| ((i * 53) % 3000) as i16).collect();
    let cpu0 = cpu_time();
    for call in 0..seconds.div_ceil(60) {
        let path = dir.join(format!("call-{call}-{}.rec", keys.is_some()));
        let mut r =
            StereoRecorder::create(&path, Rate::Narrowband, Duration::from_millis(500), keys).unwrap();
        for _ in 0..(60 * 50).min((seconds - call * 60) * 50) {
            r.write(&caller, &agent).unwrap();
        }
        r.finish().unwrap();
    }
    cpu_time().saturating_sub(cpu0).as_secs_f64() * 1e6 / seconds as f64
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let seconds = if full { 36_000 } else { 10 };
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys");
    std::fs::write(&keys_file, new_key_line("bench").unwrap()).unwrap();
    let keys = RecordingKeys::load(&keys_file).unwrap();
    let plain = record(dir.path(), seconds, None);
    let sealed = record(dir.path(), seconds, Some(&keys));
    // Playback: every sealed file back to WAV.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("true.rec"))
        .collect();
    let cpu0 = cpu_time();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut bytes = 0usize;
    runtime.block_on(async {
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let chunks: Vec<Result<Vec<u8>, hotline::Error>> =
                data.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
            let mut wav = unseal(Box::pin(futures::stream::iter(chunks)), Some(keys.clone()));
            while let Some(c) = wav.next().await {
                bytes += c.unwrap().len();
            }
        }
    });
    let open = cpu_time().saturating_sub(cpu0).as_secs_f64() * 1e6 / seconds as f64;
    assert!(
        bytes >= seconds * 32_000,
        "every second plays back ({bytes} bytes)"
    );
    println!("recorded {seconds} call-seconds (8 kHz stereo, flush every 500 ms)");
    println!("plain WAV  {plain:8.1} us CPU per call-second");
    println!(
        "sealed     {sealed:8.1} us CPU per call-second ({:+.1} against plain)",
        sealed - plain
    );
    println!("unsealing  {open:8.1} us CPU per call-second played back");
}
