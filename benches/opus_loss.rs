//! Opus under packet loss: how close the lost 20 ms come out to what was
//! sent, repaired three ways (repeating the last frame at falling volume, as
//! hotline did before; libopus' concealment; the next packet's in-band
//! FEC), and what the codec costs a frame.
//!
//! Figures printed: SNR (dB) of the lost frames against the same stream
//! decoded without loss, for a voice-like signal (`tone::voice_frame`) with
//! 1, 5 and 10% of packets lost at random (seeded); microseconds per 20 ms
//! frame to encode (with and without FEC), decode, conceal and rebuild;
//! the mean packet size with and without FEC.
//! Under `cargo test` (no `--bench`) it runs once, briefly, as a smoke test.

use std::time::Instant;

use hotline::media::opus::{OpusDecoder, OpusEncoder};
use hotline::media::tone::voice_frame;
use hotline::media::Rate;

#[path = "support/opus_playout.rs"]
mod playout;

use playout::{play, snr_over_lost, voice, Fill};

fn per_frame(runs: usize, mut f: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..runs {
        f(i);
    }
    started.elapsed().as_secs_f64() * 1e6 / runs as f64
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { 3000 } else { 100 };
    let plain = voice(frames, "");
    let with_fec = voice(frames, "useinbandfec=1");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for percent in [1u64, 5, 10] {
        // Never the first frames (before playout starts) or the last.
        let lost: Vec<bool> = (0..frames)
            .map(|f| f > 5 && f + 1 < frames && random() % 100 < percent)
            .collect();
        if !lost.contains(&true) {
            println!("{percent}% lost: no frame lost in so short a run");
            continue;
        }
        let (reference, _) = play(&with_fec, &vec![false; frames], Fill::Recover);
        let repeat = snr_over_lost(&reference, &play(&with_fec, &lost, Fill::Repeat).0, &lost);
        let conceal = snr_over_lost(&reference, &play(&with_fec, &lost, Fill::Conceal).0, &lost);
        let recover = snr_over_lost(&reference, &play(&with_fec, &lost, Fill::Recover).0, &lost);
        println!(
            "{percent}% lost ({} frames): repeated {repeat:.1} dB, concealed by libopus {conceal:.1} dB, with in-band FEC {recover:.1} dB",
            lost.iter().filter(|&&l| l).count()
        );
    }
    let runs = if full { 3000 } else { 20 };
    let voice: Vec<Vec<i16>> = (0..runs).map(voice_frame).collect();
    for fec in [false, true] {
        let mut enc = OpusEncoder::new(Rate::Wideband).expect("encoder");
        enc.follow_peer(if fec { "useinbandfec=1" } else { "" });
        let us = per_frame(runs, |i| {
            std::hint::black_box(enc.encode(&voice[i]).ok());
        });
        println!(
            "encode, FEC {}: {us:.1} µs per 20 ms frame",
            if fec { "on" } else { "off" }
        );
    }
    let mut dec = OpusDecoder::new(Rate::Wideband).expect("decoder");
    let packets = &with_fec[..runs.min(frames)];
    let us = per_frame(packets.len(), |i| {
        std::hint::black_box(dec.decode(&packets[i]).ok());
    });
    println!("decode: {us:.1} µs per frame");
    let us = per_frame(packets.len(), |_| {
        std::hint::black_box(dec.conceal().ok());
    });
    println!("conceal: {us:.1} µs per frame");
    let us = per_frame(packets.len(), |i| {
        std::hint::black_box(dec.recover(&packets[i]));
    });
    println!("rebuild from FEC: {us:.1} µs per frame");
    let mean = |p: &[Vec<u8>]| p.iter().map(Vec::len).sum::<usize>() as f64 / p.len() as f64;
    println!(
        "packet size: {:.1} bytes without FEC, {:.1} with",
        mean(&plain),
        mean(&with_fec)
    );
}
