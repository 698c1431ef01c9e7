use super::*;
use crate::media::jitter::{Decode, JitterBuffer};
use crate::media::tone::{goertzel, sine, voice_frame};

#[test]
fn a_tone_survives_opus_at_16_khz() {
    let mut enc = OpusEncoder::new(Rate::Wideband).unwrap();
    let mut dec = OpusDecoder::new(Rate::Wideband).unwrap();
    let mut heard = Vec::new();
    for f in 0..50 {
        let packet = enc.encode(&sine(1000.0, 16_000, f * 320, 320, 8000)).unwrap();
        assert!(
            packet.len() < 200,
            "voice frames are small ({} bytes)",
            packet.len()
        );
        heard.extend(dec.decode(&packet).unwrap());
    }
    assert_eq!(heard.len(), 50 * 320);
    assert!(goertzel(&heard[8000..], 1000.0, 16_000) > 0.8);
}

#[test]
fn garbage_packets_are_errors_not_panics() {
    let mut dec = OpusDecoder::new(Rate::Wideband).unwrap();
    assert!(dec.decode(&[]).is_err(), "an empty packet is refused");
    assert!(
        dec.decode(&[7u8; 9000]).is_err(),
        "an oversized packet is refused"
    );
    for junk in [
        &[0xffu8; 3][..],
        &[0x03, 0xff, 0xff, 0xff],
        &[7u8; 1500],
        &[0x03, 0xc1, 0xff],
    ] {
        // Whatever the decoder makes of these, it is a result, not a crash.
        let _ = dec.decode(junk);
        let _ = dec.recover(junk);
        let _ = carries_fec(junk);
    }
    let mut enc = OpusEncoder::new(Rate::Wideband).unwrap();
    assert!(
        !dec.decode(&enc.encode(&[0; 320]).unwrap()).unwrap().is_empty(),
        "still decodes after junk"
    );
}

/// 150 packets of [`voice_frame`], encoded for a peer with `fmtp`.
fn voice(fmtp: &str) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(Rate::Wideband).unwrap();
    enc.follow_peer(fmtp);
    (0..150).map(|f| enc.encode(&voice_frame(f)).unwrap()).collect()
}

/// How lost frames are filled in.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// Decoded on arrival, a loss repeated from the last frame (as before).
    Repeat,
    /// Decoded at playout, a loss concealed by libopus.
    Conceal,
    /// Decoded at playout, a loss rebuilt from the next packet's FEC.
    Recover,
}

/// Without the FEC: the decoder's concealment only.
struct NoFec<'a>(&'a mut OpusDecoder);

impl Decode for NoFec<'_> {
    fn decode(&mut self, packet: &[u8]) -> Option<Vec<i16>> {
        Decode::decode(self.0, packet)
    }
    fn recover(&mut self, _: &[u8]) -> Option<Vec<i16>> {
        None
    }
    fn conceal(&mut self) -> Option<Vec<i16>> {
        Decode::conceal(self.0)
    }
}

/// Plays `packets` through a 3-frame jitter buffer with `lost` missing,
/// filled in as `fill` says. Also returns the buffer's count of frames
/// rebuilt from FEC.
fn play(packets: &[Vec<u8>], lost: &[usize], fill: Fill) -> (Vec<i16>, u64) {
    let mut buffer = JitterBuffer::new(3, 320);
    let mut dec = OpusDecoder::new(Rate::Wideband).unwrap();
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if !lost.contains(&i) {
            if fill == Fill::Repeat {
                buffer.push(i as u16, dec.decode(p).unwrap());
            } else {
                buffer.push_coded(i as u16, bytes::Bytes::copy_from_slice(p));
            }
        }
        if i >= 3 {
            out.extend(match fill {
                Fill::Repeat => buffer.pop(),
                Fill::Conceal => buffer.pop_with(Some(&mut NoFec(&mut dec))),
                Fill::Recover => buffer.pop_with(Some(&mut dec)),
            });
        }
    }
    (out, buffer.stats().recovered)
}

/// Signal to error, in dB, of `heard` against `reference` over `frames`.
fn snr_over(reference: &[i16], heard: &[i16], frames: &[usize]) -> f64 {
    let (mut signal, mut error) = (0f64, 0f64);
    for &f in frames {
        // The f-th packet is the f-th frame played (playout starts at the first).
        for i in f * 320..(f + 1) * 320 {
            let r = f64::from(reference[i]);
            signal += r * r;
            error += (r - f64::from(heard[i])).powi(2);
        }
    }
    10.0 * (signal / error.max(1.0)).log10()
}

/// One lost frame in ten, from the 20th on.
fn every_tenth() -> Vec<usize> {
    (20..140).step_by(10).collect()
}

#[test]
fn a_lost_frame_is_concealed_by_libopus_closer_than_by_repeating_the_last() {
    let packets = voice("minptime=10");
    assert!(
        !packets.iter().any(|p| carries_fec(p)),
        "no FEC for a peer that did not ask"
    );
    let lost = every_tenth();
    let (reference, _) = play(&packets, &[], Fill::Recover);
    let (concealed, recovered) = play(&packets, &lost, Fill::Recover);
    let (repeated, _) = play(&packets, &lost, Fill::Repeat);
    assert_eq!(recovered, 0, "nothing to recover from");
    let libopus = snr_over(&reference, &concealed, &lost);
    let repetition = snr_over(&reference, &repeated, &lost);
    eprintln!("a lost 20 ms in ten: libopus concealment {libopus:.1} dB, repetition {repetition:.1} dB");
    assert!(
        libopus > repetition + 3.0,
        "libopus {libopus:.1} dB against repetition {repetition:.1} dB"
    );
}

#[test]
fn a_lost_frame_is_rebuilt_from_the_next_packets_fec_closer_than_concealed() {
    let packets = voice("minptime=10;useinbandfec=1");
    // libopus codes the copy while it hears speech (not in the syllables'
    // quiet ends).
    let with_fec = packets.iter().filter(|p| carries_fec(p)).count();
    assert!(
        with_fec > packets.len() / 2,
        "a peer that uses FEC gets it ({with_fec} of {} packets)",
        packets.len()
    );
    let lost = every_tenth();
    let (reference, _) = play(&packets, &[], Fill::Recover);
    let (rebuilt, recovered) = play(&packets, &lost, Fill::Recover);
    let rebuildable = lost.iter().filter(|&&f| carries_fec(&packets[f + 1])).count();
    assert!(rebuildable > 0);
    assert_eq!(
        recovered, rebuildable as u64,
        "every lost frame whose next packet has its copy is rebuilt"
    );
    let (concealed, _) = play(&packets, &lost, Fill::Conceal);
    let (repeated, _) = play(&packets, &lost, Fill::Repeat);
    let fec = snr_over(&reference, &rebuilt, &lost);
    let plc = snr_over(&reference, &concealed, &lost);
    let repetition = snr_over(&reference, &repeated, &lost);
    eprintln!("a lost 20 ms in ten: in-band FEC {fec:.1} dB, concealment {plc:.1} dB, repetition {repetition:.1} dB");
    assert!(fec > plc + 3.0, "FEC {fec:.1} dB against concealment {plc:.1} dB");
    assert!(
        fec > repetition + 6.0,
        "FEC {fec:.1} dB against repetition {repetition:.1} dB"
    );
}

#[test]
fn malformed_or_celt_packets_carry_no_fec() {
    assert!(!carries_fec(&[]));
    // CELT-only (config 16 and up) never carries LBRR.
    assert!(!carries_fec(&[0x80, 0xff, 0xff, 0xff]));
    // Frames that are empty or cut short: no flag to read.
    assert!(!carries_fec(&[0x08]));
    assert!(!carries_fec(&[0x09, 0x00]));
    assert!(!carries_fec(&[0x0a, 0xfd, 0x01]));
    assert!(!carries_fec(&[0x0b, 0x41, 0xff]));
    assert!(!carries_fec(&[0x0b, 0x82, 0xff]));
    assert!(!carries_fec(&[0x0b, 0x00, 0xff]));
}

#[test]
fn fec_follows_the_peers_useinbandfec() {
    assert!(fmtp_uses_fec("minptime=10;useinbandfec=1"));
    assert!(fmtp_uses_fec(" useinbandfec = 1 ; stereo=0"));
    assert!(!fmtp_uses_fec("minptime=10;useinbandfec=0"));
    assert!(!fmtp_uses_fec("minptime=10"));
    assert!(!fmtp_uses_fec(""));
}
