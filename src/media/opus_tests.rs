use super::*;
use crate::media::tone::{goertzel, sine};

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
