//! Opus, WebRTC's wideband voice codec, through libopus (the `unsafe-libopus`
//! crate: libopus 1.3 translated to Rust, so no C toolchain or system
//! library is needed). hotline runs Opus at 16 kHz mono: the RTP clock is
//! 48 kHz whatever the coded rate, and a mono stream is valid for the
//! "opus/48000/2" WebRTC format.
//!
//! The unsafe calls are confined to this file: each encoder or decoder is
//! owned by exactly one task (Send, not Sync), created once and destroyed
//! on drop.

use super::{MediaError, Rate};

/// Largest Opus packet produced (RFC 6716 allows 1275 bytes a frame).
const MAX_PACKET: usize = 1275;

/// libopus' OPUS_APPLICATION_VOIP.
const APPLICATION_VOIP: i32 = 2048;

/// Samples per channel of the longest frame a packet may carry (120 ms at 16 kHz).
const MAX_DECODED: usize = 1920;

pub struct OpusEncoder {
    st: *mut unsafe_libopus::OpusEncoder,
    frame_len: usize,
}

// SAFETY: the encoder state is plain memory owned by this value; libopus
// keeps no thread-local or global state for it. It is used from one task at
// a time (&mut self), never shared.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// A mono VoIP encoder at `rate`.
    pub fn new(rate: Rate) -> Result<Self, MediaError> {
        let mut error = 0i32;
        // SAFETY: valid arguments (rate 8/16 kHz, 1 channel, VOIP) and an
        // out-pointer to a live i32; a null result is handled below.
        let st =
            unsafe { unsafe_libopus::opus_encoder_create(rate.hz() as i32, 1, APPLICATION_VOIP, &mut error) };
        if st.is_null() || error != 0 {
            return Err(MediaError::Transport(format!("opus encoder: error {error}")));
        }
        Ok(OpusEncoder {
            st,
            frame_len: rate.frame_len(),
        })
    }

    /// Encodes one 20 ms frame (shorter frames are padded with silence).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        let mut frame = pcm.to_vec();
        frame.resize(self.frame_len, 0);
        let mut out = vec![0u8; MAX_PACKET];
        // SAFETY: `st` is a live encoder; `frame` holds exactly frame_len
        // samples (one channel); `out` has MAX_PACKET writable bytes.
        let n = unsafe {
            unsafe_libopus::opus_encode(
                self.st,
                frame.as_ptr(),
                self.frame_len as i32,
                out.as_mut_ptr(),
                MAX_PACKET as i32,
            )
        };
        if n < 0 {
            return Err(MediaError::Transport(format!("opus encode: error {n}")));
        }
        out.truncate(n as usize);
        Ok(out)
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, destroyed exactly once.
        unsafe { unsafe_libopus::opus_encoder_destroy(self.st) }
    }
}

pub struct OpusDecoder {
    st: *mut unsafe_libopus::OpusDecoder,
}

// SAFETY: as for the encoder: owned, used by one task at a time.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    /// A mono decoder at `rate` (a stereo stream is downmixed).
    pub fn new(rate: Rate) -> Result<Self, MediaError> {
        let mut error = 0i32;
        // SAFETY: valid rate and channel count, live out-pointer.
        let st = unsafe { unsafe_libopus::opus_decoder_create(rate.hz() as i32, 1, &mut error) };
        if st.is_null() || error != 0 {
            return Err(MediaError::Transport(format!("opus decoder: error {error}")));
        }
        Ok(OpusDecoder { st })
    }

    /// Decodes one packet; a corrupt packet is an error, never a panic.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        if packet.is_empty() || packet.len() > MAX_PACKET * 6 {
            return Err(MediaError::Transport("opus packet of impossible length".into()));
        }
        let mut out = vec![0i16; MAX_DECODED];
        // SAFETY: `st` is a live decoder; `packet` is valid for its length;
        // `out` has room for MAX_DECODED samples of one channel, the most
        // a packet can carry at 16 kHz.
        let n = unsafe {
            unsafe_libopus::opus_decode(
                self.st,
                packet.as_ptr(),
                packet.len() as i32,
                out.as_mut_ptr(),
                MAX_DECODED as i32,
                0,
            )
        };
        if n < 0 {
            return Err(MediaError::Transport(format!("opus decode: error {n}")));
        }
        out.truncate(n as usize);
        Ok(out)
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create, destroyed exactly once.
        unsafe { unsafe_libopus::opus_decoder_destroy(self.st) }
    }
}

#[cfg(test)]
mod tests {
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
        for junk in [&[0xffu8; 3][..], &[0x03, 0xff, 0xff, 0xff], &[7u8; 1500]] {
            // Whatever libopus makes of these, it is a result, not a crash.
            let _ = dec.decode(junk);
        }
        let mut enc = OpusEncoder::new(Rate::Wideband).unwrap();
        assert!(
            !dec.decode(&enc.encode(&[0; 320]).unwrap()).unwrap().is_empty(),
            "still decodes after junk"
        );
    }
}
