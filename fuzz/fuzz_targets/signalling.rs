//! Signalling input from clients: SDP offers and trickled ICE candidates.
//! Neither may panic, whatever the bytes; an offer the checker accepts must
//! name a codec hotline carries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(codec) = hotline::media::webrtc::check_offer(text) {
        assert!(!codec.name().is_empty());
    }
    // What AddIceCandidate hands to the ICE agent.
    let line = text.strip_prefix("candidate:").unwrap_or(text);
    let _ = rtc::ice::candidate::unmarshal_candidate(line);
});
