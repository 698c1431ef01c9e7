//! Call audio end to end, through real WebRTC (ICE, DTLS-SRTP) on loopback:
//! hold music while queued, the bridge, the stereo recording, live
//! monitoring (listen, whisper) and its audit, PCI pause.

mod common;

use std::time::{Duration, Instant};

use common::media::{endpoint, finished_recording, hears, holds, pcm, stereo, tail_power, AudioRig, HOLD_HZ};
use common::SOON;
use hotline::client::softphone::{silence, tone, SoftPhone};
use hotline::media::tone::goertzel;
use hotline::media::webrtc::AudioCodec;
use hotline::proto;
use hotline::proto::monitor_event::Event as MonEv;
use tokio_stream::StreamExt;

const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;
const SUPERVISOR_HZ: f64 = 2000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_and_agent_hear_each_other_and_the_call_is_recorded_in_stereo() {
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("getting ready").await;
    let alice_phone = rig.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;

    // Queued: the caller hears the hold music.
    let call = s.start_call("+555", "100").await;
    let caller = rig.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    let queued = hears(&caller, 0, HOLD_HZ, 0.5, 0.5).await;
    assert!(
        tail_power(&queued, HOLD_HZ, 0.5) > 0.5,
        "a queued caller hears the hold music (600 Hz power {:.2})",
        tail_power(&queued, HOLD_HZ, 0.5)
    );

    alice.available().await;
    let offered = alice.expect_offer(SOON).await;
    assert_eq!(offered.call_id, call.call_id);
    alice.accept(&call.call_id).await;
    let caller_from = caller.heard_len();
    let agent_from = alice_phone.heard_len();
    let agent_heard = hears(&alice_phone, agent_from, CALLER_HZ, 1.0, 0.5).await;
    let caller_heard = hears(&caller, caller_from, AGENT_HZ, 1.0, 0.5).await;
    assert!(
        tail_power(&agent_heard, CALLER_HZ, 1.0) > 0.5,
        "the agent hears the caller (440 Hz power {:.2})",
        tail_power(&agent_heard, CALLER_HZ, 1.0)
    );
    assert!(
        tail_power(&caller_heard, AGENT_HZ, 1.0) > 0.5,
        "the caller hears the agent (1 kHz power {:.2})",
        tail_power(&caller_heard, AGENT_HZ, 1.0)
    );
    assert!(
        tail_power(&caller_heard, HOLD_HZ, 1.0) < 0.05,
        "hold music stops once answered"
    );

    // A supervisor listens in: both channels, promptly.
    let sup = s.supervisor();
    let asked = Instant::now();
    let mut listen = sup
        .supervisor
        .clone()
        .monitor(proto::MonitorRequest {
            call_id: call.call_id.clone(),
            mode: proto::MonitorMode::Listen as i32,
            offer: None,
        })
        .await
        .expect("monitor")
        .into_inner();
    let started = listen.next().await.expect("started").expect("ok");
    assert!(matches!(started.event, Some(MonEv::Started(_))));
    let first = match listen.next().await.expect("a frame").expect("ok").event {
        Some(MonEv::Frame(f)) => f,
        other => panic!("expected an audio frame, got {other:?}"),
    };
    let first_after = asked.elapsed();
    assert!(
        first_after < Duration::from_millis(500),
        "first monitored frame arrives within 500 ms of connecting (took {first_after:?})"
    );
    assert_eq!(first.sequence, 0);
    assert_eq!(first.sample_rate, 8000);
    let (mut left, mut right) = (pcm(&first.caller_pcm), pcm(&first.agent_pcm));
    while left.len() < 8000 {
        match listen.next().await.expect("frames go on").expect("ok").event {
            Some(MonEv::Frame(f)) => {
                left.extend(pcm(&f.caller_pcm));
                right.extend(pcm(&f.agent_pcm));
            }
            other => panic!("expected an audio frame, got {other:?}"),
        }
    }
    assert!(
        holds(&left, CALLER_HZ, 8000) > 0.8,
        "the listener hears the caller"
    );
    assert!(
        holds(&right, AGENT_HZ, 8000) > 0.8,
        "the listener hears the agent"
    );
    drop(listen);

    // A supervisor whispers: the agent hears it, the caller does not.
    let (sup_phone, offer) = SoftPhone::start(&rig.endpoint, "sup", tone(SUPERVISOR_HZ, 8000), true)
        .await
        .expect("supervisor phone");
    let mut whisper = sup
        .supervisor
        .clone()
        .monitor(proto::MonitorRequest {
            call_id: call.call_id.clone(),
            mode: proto::MonitorMode::Whisper as i32,
            offer: Some(proto::SessionOffer { sdp: offer }),
        })
        .await
        .expect("whisper")
        .into_inner();
    let answer = match whisper.next().await.expect("started").expect("ok").event {
        Some(MonEv::Started(st)) => st.answer.expect("whisper has an answer"),
        other => panic!("expected started, got {other:?}"),
    };
    sup_phone.answered(&answer.sdp).await.expect("answer");
    assert!(sup_phone.connected(Duration::from_secs(10)).await);
    let (caller_from, agent_from, sup_from) =
        (caller.heard_len(), alice_phone.heard_len(), sup_phone.heard_len());
    // The agent hears the whisper; the caller, over the same time, must not.
    let agent_heard = hears(&alice_phone, agent_from, SUPERVISOR_HZ, 1.0, 0.2).await;
    let caller_heard = caller.heard_since(caller_from);
    assert!(
        tail_power(&agent_heard, SUPERVISOR_HZ, 1.0) > 0.2,
        "the agent hears the whisper (2 kHz power {:.2})",
        tail_power(&agent_heard, SUPERVISOR_HZ, 1.0)
    );
    assert!(
        tail_power(&caller_heard, SUPERVISOR_HZ, 1.0) < 0.02,
        "the caller does not hear the whisper (2 kHz power {:.3})",
        tail_power(&caller_heard, SUPERVISOR_HZ, 1.0)
    );
    let sup_heard = sup_phone.heard_since(sup_from);
    assert!(
        tail_power(&sup_heard, CALLER_HZ, 1.0) > 0.2,
        "the whisperer hears the caller"
    );
    assert!(
        tail_power(&sup_heard, AGENT_HZ, 1.0) > 0.2,
        "the whisperer hears the agent"
    );
    drop(whisper);
    sup_phone.hang_up().await;

    let ended = alice.hangup(&call.call_id).await;
    assert_eq!(ended.status, proto::CallStatus::Ended as i32);
    let rec = finished_recording(&rig, &call.call_id).await;
    assert_eq!(rec.agent_id, "alice");
    assert_eq!(rec.queue, "billing");
    assert_eq!(rec.ani, "+555");
    assert_eq!(rec.sample_rate, 8000);
    let (left, right, spec) = stereo(&rig.recording_file(&rec));
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let talk_ms = (ended.ended_at_unix_ms - ended.answered_at_unix_ms) as f64;
    let recorded_ms = left.len() as f64 / 8.0;
    assert!(
        (recorded_ms - talk_ms).abs() / talk_ms < 0.05,
        "recording lasts the talk time within 5% ({recorded_ms:.0} ms recorded, {talk_ms:.0} ms talked)"
    );
    let mid = left.len() / 2;
    let window = 8000.min(mid);
    assert!(
        holds(&left[mid - window / 2..mid + window / 2], CALLER_HZ, 8000) > 0.8,
        "caller on the left"
    );
    assert!(
        holds(&right[mid - window / 2..mid + window / 2], AGENT_HZ, 8000) > 0.8,
        "agent on the right"
    );
    assert!(
        holds(&left[mid - window / 2..mid + window / 2], AGENT_HZ, 8000) < 0.05,
        "left is only the caller"
    );

    // GetRecording streams exactly the file.
    let mut chunks = sup
        .supervisor
        .clone()
        .get_recording(proto::GetRecordingRequest {
            recording_id: rec.recording_id.clone(),
            download: false,
        })
        .await
        .expect("get recording")
        .into_inner();
    let mut bytes = Vec::new();
    let mut meta = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.expect("chunk");
        if chunk.recording.is_some() {
            meta = chunk.recording;
        }
        bytes.extend(chunk.data);
    }
    assert_eq!(meta.map(|m| m.call_id), Some(call.call_id.clone()));
    assert_eq!(bytes, std::fs::read(rig.recording_file(&rec)).expect("file"));

    // Every monitoring session is audited, and closed when it ended.
    let deadline = Instant::now() + SOON;
    loop {
        let audit = sup
            .supervisor
            .clone()
            .list_monitor_audit(proto::ListMonitorAuditRequest {
                call_id: call.call_id.clone(),
                ..Default::default()
            })
            .await
            .expect("audit")
            .into_inner()
            .entries;
        let modes: Vec<i32> = audit.iter().map(|e| e.mode).collect();
        assert_eq!(
            modes,
            [
                proto::MonitorMode::Whisper as i32,
                proto::MonitorMode::Listen as i32
            ],
            "both sessions, newest first"
        );
        assert!(audit.iter().all(|e| e.supervisor == "sup"));
        if audit
            .iter()
            .all(|e| e.ended_at_unix_ms >= e.started_at_unix_ms && e.ended_at_unix_ms > 0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "audit entries are closed when sessions end: {audit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The audit pages like the other lists: one entry per page here.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = sup
            .supervisor
            .clone()
            .list_monitor_audit(proto::ListMonitorAuditRequest {
                call_id: call.call_id.clone(),
                page_size: 1,
                page_token: token,
            })
            .await
            .expect("audit page")
            .into_inner();
        assert!(page.entries.len() <= 1);
        paged.extend(page.entries.iter().map(|e| e.mode));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        paged,
        [
            proto::MonitorMode::Whisper as i32,
            proto::MonitorMode::Listen as i32
        ],
        "page by page, the same entries in the same order"
    );
    caller.hang_up().await;
    alice_phone.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pci_pause_records_silence_for_its_span_and_is_audited() {
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("getting ready").await;
    let alice_phone = rig.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    let call = s.start_call("+556", "100").await;
    let caller = rig.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.available().await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let paused = alice
        .c
        .agent
        .pause_recording(alice.action(&call.call_id))
        .await
        .expect("pause")
        .into_inner();
    assert!(paused.live);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let resumed = alice
        .c
        .agent
        .resume_recording(alice.action(&call.call_id))
        .await
        .expect("resume")
        .into_inner();
    assert_eq!(resumed.pauses.len(), 1, "the pause is audited");
    let pause = &resumed.pauses[0];
    assert_eq!(pause.paused_by, "alice");
    assert!(
        (800..=1400).contains(&pause.duration_ms),
        "pause length is recorded ({} ms)",
        pause.duration_ms
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    alice.hangup(&call.call_id).await;
    let rec = finished_recording(&rig, &call.call_id).await;
    assert_eq!(rec.pauses.len(), 1);
    let (left, right, _) = stereo(&rig.recording_file(&rec));
    // The pause began about 1 s in and lasted about 1 s: its middle is silent,
    // the audio either side is not.
    let at = ((rec.pauses[0].paused_at_unix_ms - rec.started_at_unix_ms) as usize) * 8;
    let len = rec.pauses[0].duration_ms as usize * 8;
    let quiet = &left[at + len / 4..at + 3 * len / 4];
    assert!(quiet.iter().all(|&s| s == 0), "silence while paused (left)");
    assert!(
        right[at + len / 4..at + 3 * len / 4].iter().all(|&s| s == 0),
        "silence while paused (right)"
    );
    assert!(
        holds(&left[at + len + 2000..at + len + 6000], CALLER_HZ, 8000) > 0.8,
        "audio after resume"
    );
    caller.hang_up().await;
    alice_phone.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_media_connection_closes_has_hung_up() {
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let call = s.start_call("+557", "100").await;
    let caller = rig.caller(&call.call_id, silence()).await;
    caller.hang_up().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = s.get_call(&call.call_id).await;
        if now.status == proto::CallStatus::Ended as i32 {
            assert_eq!(now.outcome, proto::CallOutcome::Abandoned as i32);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call ends once the caller's media closes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_saves_a_live_call_and_a_recording_as_wav() {
    use hotline::console::{monitor, play, Output};
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("getting ready").await;
    let alice_phone = rig.softphone(&mut alice, tone(AGENT_HZ, 8000)).await;
    let call = s.start_call("+558", "100").await;
    let caller = rig.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    alice.available().await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.wav");
    let mut sup = s.supervisor();
    let frames = monitor(&mut sup, &call.call_id, Output::File(&live), Some(50))
        .await
        .expect("monitor to a file");
    assert_eq!(frames, 50);
    let (left, right, spec) = stereo(&live);
    assert_eq!((spec.channels, spec.sample_rate, left.len()), (2, 8000, 8000));
    assert!(holds(&left, CALLER_HZ, 8000) > 0.8, "caller on the left");
    assert!(holds(&right, AGENT_HZ, 8000) > 0.8, "agent on the right");

    alice.hangup(&call.call_id).await;
    let rec = finished_recording(&rig, &call.call_id).await;
    assert_eq!(
        rec.disposition,
        proto::Disposition::Unspecified as i32,
        "no wrap-up yet"
    );
    alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/question")
        .await;
    let saved = dir.path().join("saved.wav");
    let meta = play(&mut sup, &rec.recording_id, Output::File(&saved))
        .await
        .expect("play to a file");
    assert_eq!(meta.call_id, call.call_id);
    assert_eq!(
        meta.disposition,
        proto::Disposition::Resolved as i32,
        "the recording carries the wrap-up's disposition"
    );
    assert_eq!(
        std::fs::read(&saved).expect("saved"),
        std::fs::read(rig.recording_file(&rec)).expect("recorded")
    );
    #[cfg(not(feature = "playback"))]
    {
        let err = play(&mut sup, &rec.recording_id, Output::Speakers)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("--out"),
            "says how to do without speakers: {err}"
        );
    }
    caller.hang_up().await;
    alice_phone.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_hears_their_place_between_the_music() {
    let rig = AudioRig::start_with("announce_every_secs = 1").await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("lunch").await;
    let call = s.start_call("+559", "100").await;
    let caller = rig.caller(&call.call_id, silence()).await;
    // 100 ms windows: music is the 600 Hz test tone, the announcement is
    // speech (loud, and not that tone). Counted as the audio comes in,
    // until both were heard (a loaded machine may be slow to connect).
    // Only music after an announcement (three windows of speech in a row)
    // counts: the interval is music between announcements, even when the
    // phrase (about two seconds here) is longer than the interval.
    let count = |heard: &[i16]| {
        let (mut music, mut speech, mut run) = (0, 0, 0);
        for w in heard.chunks_exact(800) {
            let rms = (w.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 800.0).sqrt();
            let tone = goertzel(w, HOLD_HZ, 8000);
            if tone > 0.8 {
                run = 0;
                if speech > 0 {
                    music += 1;
                }
            } else if rms > 300.0 && tone < 0.3 {
                run += 1;
                if run == 3 {
                    speech += 3;
                } else if run > 3 {
                    speech += 1;
                }
            }
        }
        (music, speech)
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut music, mut speech) = count(&caller.heard_since(0));
    while (music < 5 || speech < 5) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        (music, speech) = count(&caller.heard_since(0));
    }
    assert!(
        music >= 5,
        "the caller hears music after an announcement ({music} windows)"
    );
    assert!(
        speech >= 5,
        "and an announcement between it ({speech} windows of speech)"
    );
    caller.hang_up().await;
}

/// Connects a call between a caller and alice on the given codecs, talks
/// for two seconds, hangs up; returns what each heard and the recording.
async fn talk_over(
    caller_codec: AudioCodec,
    agent_codec: AudioCodec,
) -> (AudioRig, Vec<i16>, Vec<i16>, proto::Recording, String, String) {
    let rig = AudioRig::start().await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    alice.not_ready("getting ready").await;
    let alice_phone = rig
        .softphone_on(&endpoint(agent_codec), &mut alice, tone(AGENT_HZ, 8000))
        .await;
    let call = s.start_call("+560", "100").await;
    let caller = rig
        .caller_on(&endpoint(caller_codec), &call.call_id, tone(CALLER_HZ, 8000))
        .await;
    alice.available().await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    let (c0, a0) = (caller.heard_len(), alice_phone.heard_len());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (caller_heard, agent_heard) = (caller.heard_since(c0), alice_phone.heard_since(a0));
    alice.hangup(&call.call_id).await;
    let rec = finished_recording(&rig, &call.call_id).await;
    let codecs = (caller.codec().to_string(), alice_phone.codec().to_string());
    caller.hang_up().await;
    alice_phone.hang_up().await;
    (rig, caller_heard, agent_heard, rec, codecs.0, codecs.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_on_both_legs_is_recorded_wideband() {
    let (rig, caller_heard, agent_heard, rec, caller_codec, agent_codec) =
        talk_over(AudioCodec::Opus, AudioCodec::Opus).await;
    assert_eq!(
        (caller_codec.as_str(), agent_codec.as_str()),
        ("opus/48000/2", "opus/48000/2")
    );
    assert!(
        tail_power(&agent_heard, CALLER_HZ, 1.0) > 0.5,
        "the agent hears the caller over Opus"
    );
    assert!(
        tail_power(&caller_heard, AGENT_HZ, 1.0) > 0.5,
        "the caller hears the agent over Opus"
    );
    assert_eq!(rec.sample_rate, 16_000, "both legs wideband: a 16 kHz recording");
    let (left, right, spec) = stereo(&rig.recording_file(&rec));
    assert_eq!((spec.channels, spec.sample_rate), (2, 16_000));
    let mid = left.len() / 2;
    let zeros = left[mid - 8000..mid + 8000].iter().filter(|&&s| s == 0).count();
    assert!(
        holds(&left[mid - 8000..mid + 8000], CALLER_HZ, 16_000) > 0.8,
        "caller on the left ({:.2} of the middle second; {} samples, {zeros} zero in it)",
        holds(&left[mid - 8000..mid + 8000], CALLER_HZ, 16_000),
        left.len(),
    );
    assert!(
        holds(&right[mid - 8000..mid + 8000], AGENT_HZ, 16_000) > 0.8,
        "agent on the right"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opus_softphone_and_a_g711_caller_are_transcoded() {
    let (rig, caller_heard, agent_heard, rec, caller_codec, agent_codec) =
        talk_over(AudioCodec::Pcmu, AudioCodec::Opus).await;
    assert_eq!(
        (caller_codec.as_str(), agent_codec.as_str()),
        ("PCMU/8000", "opus/48000/2")
    );
    assert!(
        tail_power(&agent_heard, CALLER_HZ, 1.0) > 0.5,
        "G.711 caller reaches the Opus agent"
    );
    assert!(
        tail_power(&caller_heard, AGENT_HZ, 1.0) > 0.5,
        "Opus agent reaches the G.711 caller"
    );
    assert_eq!(rec.sample_rate, 8000, "one narrowband leg: an 8 kHz recording");
    let (left, right, _) = stereo(&rig.recording_file(&rec));
    let mid = left.len() / 2;
    assert!(holds(&left[mid - 4000..mid + 4000], CALLER_HZ, 8000) > 0.8);
    assert!(holds(&right[mid - 4000..mid + 4000], AGENT_HZ, 8000) > 0.8);
}
