//! Stereo WAV recording (caller left, agent right), crash safety, PCI pause,
//! and prompts decoded from audio files.

mod common;

use std::time::Duration;

use common::media::stereo as channels;

use hotline::ids::CallId;
use hotline::media::prompt::Prompt;
use hotline::media::recorder::StereoRecorder;
use hotline::media::tone::{goertzel, sine};
use hotline::media::Rate;
use hotline::time::Timestamp;

/// Writes `seconds` of 440 Hz (caller) and 1,000 Hz (agent) in 20 ms frames.
fn talk(rec: &mut StereoRecorder, rate: Rate, from_frame: usize, frames: usize) {
    let n = rate.frame_len();
    for f in from_frame..from_frame + frames {
        let caller = sine(440.0, rate.hz(), f * n, n, 8000);
        let agent = sine(1000.0, rate.hz(), f * n, n, 8000);
        rec.write(&caller, &agent).unwrap();
    }
}

#[test]
fn recordings_go_to_dated_folders_by_call_id() {
    // 2026-11-23T10:00:00Z
    let p = StereoRecorder::path_for(
        std::path::Path::new("rec"),
        &CallId::new("c-1"),
        Timestamp(1_795_428_000_000),
        false,
    );
    assert_eq!(p, std::path::Path::new("rec/2026/11/23/c-1.wav"));
    let sealed = StereoRecorder::path_for(
        std::path::Path::new("rec"),
        &CallId::new("c-1"),
        Timestamp(1_795_428_000_000),
        true,
    );
    assert_eq!(sealed, std::path::Path::new("rec/2026/11/23/c-1.sealed"));
}

#[test]
fn caller_is_on_the_left_and_agent_on_the_right() {
    let dir = tempfile::tempdir().unwrap();
    let path = StereoRecorder::path_for(dir.path(), &CallId::new("c-2"), Timestamp::now_wall(), false);
    let mut rec = StereoRecorder::create(&path, Rate::Narrowband, Duration::from_secs(1), None).unwrap();
    talk(&mut rec, Rate::Narrowband, 0, 100); // 2 s
    let summary = rec.finish().unwrap();
    assert_eq!(summary.duration, Duration::from_secs(2));
    let (left, right, spec) = channels(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!(left.len(), 16_000);
    assert!(goertzel(&left, 440.0, 8000) > 0.9, "caller tone on the left");
    assert!(goertzel(&left, 1000.0, 8000) < 0.01);
    assert!(goertzel(&right, 1000.0, 8000) > 0.9, "agent tone on the right");
    assert!(goertzel(&right, 440.0, 8000) < 0.01);
}

#[test]
fn a_recording_cut_off_by_a_crash_still_opens_with_the_audio_up_to_the_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.wav");
    let mut rec = StereoRecorder::create(&path, Rate::Wideband, Duration::from_millis(500), None).unwrap();
    talk(&mut rec, Rate::Wideband, 0, 110); // 2.2 s
                                            // The process dies: no finish, no destructor.
    std::mem::forget(rec);
    let (left, right, spec) = channels(&path);
    assert_eq!(spec.sample_rate, 16_000);
    let seconds = left.len() as f64 / 16_000.0;
    assert!((1.7..=2.2).contains(&seconds), "kept {seconds} s of 2.2 s");
    assert!(goertzel(&left, 440.0, 16_000) > 0.9);
    assert!(goertzel(&right, 1000.0, 16_000) > 0.9);
}

#[test]
fn a_pci_pause_records_silence_for_its_span_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pci.wav");
    let mut rec = StereoRecorder::create(&path, Rate::Narrowband, Duration::from_secs(1), None).unwrap();
    talk(&mut rec, Rate::Narrowband, 0, 50); // 1 s
    rec.pause("agent alice");
    talk(&mut rec, Rate::Narrowband, 50, 25); // 0.5 s of card number
    let audit = rec.resume().unwrap();
    talk(&mut rec, Rate::Narrowband, 75, 50);
    let summary = rec.finish().unwrap();
    assert_eq!(summary.duration, Duration::from_millis(2500), "timing stays true");
    assert_eq!(audit.by, "agent alice");
    assert_eq!(audit.at, Duration::from_secs(1));
    assert_eq!(audit.length, Duration::from_millis(500));
    assert_eq!(summary.pauses, vec![audit]);
    let (left, right, _) = channels(&path);
    assert!(left[8000..12_000]
        .iter()
        .chain(&right[8000..12_000])
        .all(|&s| s == 0));
    assert!(
        goertzel(&left[12_000..], 440.0, 8000) > 0.9,
        "audio again after resume"
    );
}

#[test]
fn prompts_are_decoded_from_files_and_resampled_to_the_call_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hold.wav");
    // A 44.1 kHz stereo 440 Hz file, as a music file would be.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for s in sine(440.0, 44_100, 0, 44_100, 10_000) {
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let prompt = Prompt::load(&path, Rate::Narrowband).unwrap();
    assert!(
        (7_900..=8_100).contains(&prompt.len()),
        "{} samples",
        prompt.len()
    );
    let mut player = prompt.player();
    let mut heard = Vec::new();
    for _ in 0..75 {
        // 1.5 s: loops past the end of the 1 s prompt.
        heard.extend(player.next_frame());
    }
    assert_eq!(heard.len(), 12_000);
    assert!(goertzel(&heard[..8000], 440.0, 8000) > 0.8);

    let bad = dir.path().join("not-audio.wav");
    std::fs::write(&bad, b"this is not a wav file").unwrap();
    let err = Prompt::load(&bad, Rate::Narrowband).unwrap_err();
    assert!(err.to_string().contains("not-audio.wav"), "{err}");
}

#[test]
fn retention_removes_day_folders_older_than_the_period_and_nothing_else() {
    use hotline::media::retention::sweep;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // 2026-11-23T10:00:00Z
    let now = Timestamp(1_795_428_000_000);
    for day in [
        "2026/10/01",
        "2026/11/15",
        "2026/11/16",
        "2026/11/23",
        "2025/12/31",
    ] {
        let d = root.join(day);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("c.wav"), [0u8; 100]).unwrap();
    }
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(root.join("notes/readme.txt"), "keep me").unwrap();
    // Keep 7 days: the cutoff date is 2026-11-16.
    let report = sweep(root, now, Duration::from_secs(7 * 86_400)).unwrap();
    assert_eq!(report.files_removed, 3);
    assert_eq!(report.bytes_removed, 300);
    assert!(!root.join("2026/10").exists(), "emptied month folder removed");
    assert!(!root.join("2025").exists(), "emptied year folder removed");
    assert!(!root.join("2026/11/15").exists());
    assert!(root.join("2026/11/16/c.wav").exists(), "the cutoff day is kept");
    assert!(root.join("2026/11/23/c.wav").exists());
    assert!(
        root.join("notes/readme.txt").exists(),
        "foreign folders untouched"
    );
}
