//! Opus losses are libopus' to repair: a lost frame concealed by libopus
//! comes out closer to what was sent than the last frame repeated, and one
//! rebuilt from the next packet's in-band FEC closer still. A voice-like
//! signal (`tone::voice_frame`), one packet in ten lost.

use hotline::media::opus::carries_fec;

#[path = "../benches/support/opus_playout.rs"]
mod playout;

use playout::{play, snr_over_lost, voice, Fill};

/// One packet in ten lost, from the 20th to the 140th of 150.
fn every_tenth() -> Vec<bool> {
    (0..150).map(|f| (20..140).contains(&f) && f % 10 == 0).collect()
}

#[test]
fn a_lost_frame_is_concealed_by_libopus_closer_than_by_repeating_the_last() {
    let packets = voice(150, "minptime=10");
    assert!(
        !packets.iter().any(|p| carries_fec(p)),
        "no FEC for a peer that did not ask"
    );
    let lost = every_tenth();
    let (reference, _) = play(&packets, &[false; 150], Fill::Recover);
    let (concealed, recovered) = play(&packets, &lost, Fill::Recover);
    let (repeated, _) = play(&packets, &lost, Fill::Repeat);
    assert_eq!(recovered, 0, "nothing to rebuild from");
    let libopus = snr_over_lost(&reference, &concealed, &lost);
    let repetition = snr_over_lost(&reference, &repeated, &lost);
    eprintln!("a lost 20 ms in ten: libopus concealment {libopus:.1} dB, repetition {repetition:.1} dB");
    assert!(
        libopus > repetition + 3.0,
        "libopus {libopus:.1} dB against repetition {repetition:.1} dB"
    );
}

#[test]
fn a_lost_frame_is_rebuilt_from_the_next_packets_fec_closer_than_concealed() {
    let packets = voice(150, "minptime=10;useinbandfec=1");
    // libopus codes the copy while it hears speech (not in the syllables'
    // quiet ends).
    let with_fec = packets.iter().filter(|p| carries_fec(p)).count();
    assert!(
        with_fec > packets.len() / 2,
        "a peer that uses FEC gets it ({with_fec} of {} packets)",
        packets.len()
    );
    let lost = every_tenth();
    let (reference, _) = play(&packets, &[false; 150], Fill::Recover);
    let (rebuilt, recovered) = play(&packets, &lost, Fill::Recover);
    let rebuildable = (0..150)
        .filter(|&f| lost[f] && carries_fec(&packets[f + 1]))
        .count();
    assert!(rebuildable > 0);
    assert_eq!(
        recovered, rebuildable as u64,
        "every lost frame whose next packet has its copy is rebuilt"
    );
    let (concealed, _) = play(&packets, &lost, Fill::Conceal);
    let (repeated, _) = play(&packets, &lost, Fill::Repeat);
    let fec = snr_over_lost(&reference, &rebuilt, &lost);
    let plc = snr_over_lost(&reference, &concealed, &lost);
    let repetition = snr_over_lost(&reference, &repeated, &lost);
    eprintln!("a lost 20 ms in ten: in-band FEC {fec:.1} dB, concealment {plc:.1} dB, repetition {repetition:.1} dB");
    assert!(fec > plc + 3.0, "FEC {fec:.1} dB against concealment {plc:.1} dB");
    assert!(
        fec > repetition + 6.0,
        "FEC {fec:.1} dB against repetition {repetition:.1} dB"
    );
}
