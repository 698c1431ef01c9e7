//! Audio through a narrowband leg: G.711 keeps a tone recognisable, and the
//! jitter buffer turns reordered, duplicated, late and lost packets into a
//! steady stream of frames in order.

use bytes::Bytes;
use hotline::media::codec::G711;
use hotline::media::jitter::{Decode, JitterBuffer};
use hotline::media::tone::{goertzel, sine};

#[test]
fn g711_round_trips_a_tone_in_both_laws() {
    let tone = sine(440.0, 8000, 0, 8000, 12_000);
    for codec in [G711::Pcmu, G711::Pcma] {
        let bytes = codec.encode(&tone);
        assert_eq!(bytes.len(), tone.len(), "one byte per sample");
        let back = codec.decode(&bytes);
        assert!(goertzel(&back, 440.0, 8000) > 0.95, "{codec:?}");
        let worst = tone.iter().zip(&back).map(|(a, b)| (a - b).abs()).max().unwrap();
        assert!(worst < 600, "{codec:?} error {worst}");
        assert_eq!(G711::from_payload_type(codec.payload_type()), Some(codec));
    }
    assert_eq!(G711::from_payload_type(96), None);
}

fn frame(n: i16) -> Vec<i16> {
    vec![n; 160]
}

#[test]
fn frames_come_out_in_order_after_the_buffer_fills() {
    let mut jb = JitterBuffer::new(3, 160);
    jb.push(11, frame(11));
    jb.push(10, frame(10));
    assert_eq!(jb.pop(), frame(0), "silence until three frames are buffered");
    jb.push(12, frame(12));
    for n in 10..=12 {
        assert_eq!(jb.pop(), frame(n));
    }
    let s = jb.stats();
    assert_eq!((s.received, s.played, s.lost), (3, 3, 0));
}

#[test]
fn a_lost_frame_is_concealed_then_silence_follows_a_long_gap() {
    let mut jb = JitterBuffer::new(1, 160);
    jb.push(1, frame(1000));
    assert_eq!(jb.pop(), frame(1000));
    // 2..=6 never arrive.
    assert_eq!(jb.pop(), frame(500), "first loss: last frame at half volume");
    assert_eq!(jb.pop(), frame(250));
    assert_eq!(jb.pop(), frame(125));
    assert_eq!(jb.pop(), frame(0), "then silence");
    assert_eq!(jb.pop(), frame(0));
    jb.push(6, frame(6));
    jb.push(7, frame(7));
    // Slot 6 was already played (as silence): its packet is late.
    assert_eq!(jb.pop(), frame(7));
    let s = jb.stats();
    assert_eq!(s.lost, 5);
    assert_eq!(s.late, 1, "6 arrived after its slot");
}

/// A decoder whose packets are one byte, the sample value, and which says
/// what it was asked: 7000 for a frame rebuilt from FEC, 3000 concealed.
#[derive(Default)]
struct Asked {
    concealed: usize,
    recovered: usize,
}

impl Decode for Asked {
    fn decode(&mut self, packet: &[u8]) -> Option<Vec<i16>> {
        Some(vec![i16::from(packet[0]); 160])
    }
    fn recover(&mut self, next: &[u8]) -> Option<Vec<i16>> {
        // Odd packets carry a copy of the one before.
        (next[0] % 2 == 1).then(|| {
            self.recovered += 1;
            vec![7000; 160]
        })
    }
    fn conceal(&mut self) -> Option<Vec<i16>> {
        self.concealed += 1;
        Some(vec![3000; 160])
    }
}

#[test]
fn coded_frames_are_decoded_at_playout_and_losses_left_to_the_decoder() {
    let mut jb = JitterBuffer::new(1, 160);
    let mut d = Asked::default();
    let packet = |n: u8| Bytes::copy_from_slice(&[n]);
    jb.push_coded(0, packet(10));
    assert_eq!(jb.pop_with(Some(&mut d)), frame(10));
    // 1 is lost and 2 (even) carries no copy: concealed by the decoder.
    jb.push_coded(2, packet(12));
    assert_eq!(jb.pop_with(Some(&mut d)), frame(3000));
    assert_eq!(jb.pop_with(Some(&mut d)), frame(12));
    // 3 is lost and 4... is odd-valued: rebuilt from its copy.
    jb.push_coded(4, packet(13));
    assert_eq!(jb.pop_with(Some(&mut d)), frame(7000));
    assert_eq!(jb.pop_with(Some(&mut d)), frame(13));
    let s = jb.stats();
    assert_eq!((s.lost, s.recovered), (2, 1), "{s:?}");
    assert_eq!((d.concealed, d.recovered), (1, 1));
    // A long gap: the decoder conceals half a second, then silence
    // without asking it (its own concealment has faded by then).
    for _ in 0..40 {
        jb.pop_with(Some(&mut d));
    }
    assert_eq!(d.concealed, 1 + 25);
    assert_eq!(jb.pop_with(Some(&mut d)), frame(0));
}

#[test]
fn duplicates_are_dropped_and_sequence_numbers_wrap() {
    let mut jb = JitterBuffer::new(2, 160);
    for seq in [65534u16, 65535, 65535, 0, 1] {
        jb.push(seq, frame(seq as i16));
    }
    let out: Vec<i16> = (0..4).map(|_| jb.pop()[0]).collect();
    assert_eq!(out, [65534u16 as i16, 65535u16 as i16, 0, 1]);
    assert_eq!(jb.stats().duplicates, 1);
}

#[test]
fn an_overfilled_buffer_skips_ahead_instead_of_growing_the_delay() {
    let mut jb = JitterBuffer::new(2, 160);
    for seq in 0..20u16 {
        jb.push(seq, frame(seq as i16));
    }
    // At most 4 x depth frames are kept: the oldest were skipped.
    assert_eq!(jb.stats().skipped, 12);
    assert_eq!(jb.pop(), frame(12));
}

#[test]
fn steady_packets_have_no_jitter_and_uneven_ones_converge_on_their_deviation() {
    use hotline::media::jitter::InterarrivalJitter;
    use std::time::Duration;
    let mut steady = InterarrivalJitter::default();
    assert_eq!(steady.seconds(), None);
    for n in 0..100u32 {
        steady.on_packet(Duration::from_millis(u64::from(n) * 20), n * 160, 8000);
    }
    assert!(steady.seconds().unwrap() < 1e-9, "{:?}", steady.seconds());
    // Every other packet 10 ms late: each spacing is off by 10 ms, so the
    // smoothed estimate tends to 10 ms. The RTP timestamp wraps on the way.
    let mut uneven = InterarrivalJitter::default();
    let start = u32::MAX - 8000;
    for n in 0..400u32 {
        let late = if n % 2 == 1 { 10 } else { 0 };
        uneven.on_packet(
            Duration::from_millis(u64::from(n) * 20 + late),
            start.wrapping_add(n * 160),
            8000,
        );
    }
    let j = uneven.seconds().unwrap();
    assert!((j - 0.010).abs() < 1e-6, "{j}");
}
