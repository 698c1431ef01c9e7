//! SDP for trunk calls (RFC 4566, offer/answer RFC 3264): the audio section
//! of a trunk's offer, and our answer. Parsing is the `sdp` crate's; here
//! is only what we accept.
//!
//! Invariants: an offer is accepted only with one usable audio stream: a
//! unicast IPv4/IPv6 address and a port in 1..=65535, PCMU or PCMA among its
//! formats (the first of them in the offer's order wins), a packet time of
//! 20 ms (absent means 20), and at most [`MAX_SDP_LEN`] bytes; anything else
//! is a typed error (a 488 or 400 on the wire), never a panic. The answer
//! names exactly one codec, plus telephone-event when offered.
//!
//! Profiles: RTP/AVP (plain RTP) and RTP/SAVP with an SDES key we can run
//! ([`crate::sdes`]); a SAVP offer with none is refused, and any other
//! profile (DTLS, AVPF) is refused rather than answered as plain RTP. The
//! answer to a SAVP offer is SAVP with our own key for what we send.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

use crate::codec::G711;
use crate::sdes::{self, SdesCrypto, SrtpKey};

/// Larger offers are refused before parsing (a trunk's offer is a few
/// hundred bytes).
pub const MAX_SDP_LEN: usize = 8 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Malformed(String),
    #[error("SDP larger than {MAX_SDP_LEN} bytes")]
    TooLarge,
    #[error("no audio stream in the offer")]
    NoAudio,
    #[error("no common codec (we take PCMU or PCMA)")]
    NoCommonCodec,
    #[error("bad connection address: {0}")]
    BadAddress(String),
    #[error("unsupported packet time {0} ms (we send and take 20 ms)")]
    BadPtime(String),
    #[error("unsupported media profile {0} (we take RTP/AVP and RTP/SAVP)")]
    UnsupportedProfile(String),
    #[error("no SRTP crypto suite we run (we take AES_CM_128_HMAC_SHA1_80 and _32 with one inline key)")]
    NoCommonCrypto,
}

/// What a trunk offered for audio, as far as we use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioOffer {
    /// Where to send RTP.
    pub remote: SocketAddr,
    pub codec: G711,
    /// The payload type of RFC 4733 telephone-event (keypad), if offered.
    pub telephone_event: Option<u8>,
    /// The far end sends nothing (`a=sendonly` or `a=inactive`): on hold.
    pub on_hold: bool,
    /// RTP/SAVP: the far end's SDES key for what it sends (none: plain RTP).
    pub srtp: Option<SdesCrypto>,
}

/// The audio stream of an offer.
pub fn parse_offer(text: &str) -> Result<AudioOffer, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge);
    }
    let desc = ::sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .map_err(|e| SdpError::Malformed(e.to_string()))?;
    let audio = desc
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio" && m.media_name.port.value != 0)
        .ok_or(SdpError::NoAudio)?;
    let profile = audio.media_name.protos.join("/");
    let srtp = match profile.as_str() {
        "RTP/AVP" => None,
        "RTP/SAVP" => Some(
            sdes::choose(
                audio
                    .attributes
                    .iter()
                    .filter(|a| a.key == "crypto")
                    .filter_map(|a| a.value.as_deref()),
            )
            .ok_or(SdpError::NoCommonCrypto)?,
        ),
        other => return Err(SdpError::UnsupportedProfile(other.chars().take(24).collect())),
    };
    let connection = audio
        .connection_information
        .as_ref()
        .or(desc.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .ok_or_else(|| SdpError::BadAddress("no c= line".into()))?;
    let ip: IpAddr = connection
        .address
        .parse()
        .map_err(|_| SdpError::BadAddress(connection.address.clone()))?;
    if ip.is_multicast() {
        return Err(SdpError::BadAddress(format!("{ip} is multicast")));
    }
    let port = u16::try_from(audio.media_name.port.value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| SdpError::BadAddress(format!("port {}", audio.media_name.port.value)))?;
    if let Some(Some(ptime)) = audio.attribute("ptime") {
        if ptime.trim() != "20" {
            return Err(SdpError::BadPtime(ptime.chars().take(16).collect()));
        }
    }
    let rtpmap: Vec<(u8, String)> = audio
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| {
            let value = a.value.as_deref()?;
            let (pt, name) = value.split_once(' ')?;
            Some((pt.trim().parse().ok()?, name.trim().to_ascii_lowercase()))
        })
        .collect();
    let name_of = |pt: u8| rtpmap.iter().find(|(p, _)| *p == pt).map(|(_, n)| n.as_str());
    let mut codec = None;
    let mut telephone_event = None;
    for format in &audio.media_name.formats {
        let Ok(pt) = format.parse::<u8>() else { continue };
        match (pt, name_of(pt)) {
            (0, None) | (_, Some("pcmu/8000")) if codec.is_none() => codec = Some(G711::Pcmu),
            (8, None) | (_, Some("pcma/8000")) if codec.is_none() => codec = Some(G711::Pcma),
            (_, Some("telephone-event/8000")) if telephone_event.is_none() => telephone_event = Some(pt),
            _ => {}
        }
    }
    let codec = codec.ok_or(SdpError::NoCommonCodec)?;
    let direction = |key: &str| audio.has_attribute(key) || desc.attributes.iter().any(|a| a.key == key);
    let on_hold = direction("sendonly") || direction("inactive") || ip.is_unspecified();
    Ok(AudioOffer {
        remote: SocketAddr::new(ip, port),
        codec,
        telephone_event,
        on_hold,
        srtp,
    })
}

/// Our answer: one codec, telephone-event when offered, 20 ms packets,
/// audio both ways (`sendonly` back to a far end that holds); to an SRTP
/// offer, SAVP with `ours`, our key for what we send (the caller checks
/// that an SRTP offer has one: without it the answer would be plain RTP).
pub fn answer(
    local: SocketAddr,
    offer: &AudioOffer,
    session_id: u64,
    version: u64,
    ours: Option<&SrtpKey>,
) -> String {
    let ip_kind = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let pt = offer.codec.payload_type();
    let name = match offer.codec {
        G711::Pcmu => "PCMU",
        G711::Pcma => "PCMA",
    };
    let mut formats = pt.to_string();
    let mut attributes = format!("a=rtpmap:{pt} {name}/8000\r\n");
    if let Some(te) = offer.telephone_event {
        formats.push_str(&format!(" {te}"));
        attributes.push_str(&format!(
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
        ));
    }
    let mut profile = "RTP/AVP";
    if let (Some(theirs), Some(ours)) = (&offer.srtp, ours) {
        profile = "RTP/SAVP";
        attributes.push_str(&format!("a=crypto:{}\r\n", sdes::attribute(theirs, ours)));
    }
    let direction = if offer.on_hold { "recvonly" } else { "sendrecv" };
    format!(
        "v=0\r\no=hotline {session_id} {version} IN {ip_kind} {ip}\r\ns=hotline\r\nc=IN {ip_kind} {ip}\r\nt=0 0\r\nm=audio {port} {profile} {formats}\r\n{attributes}a=ptime:20\r\na={direction}\r\n",
        port = local.port()
    )
}

/// The payload type we offer for RFC 4733 keypad events.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// Our offer, for calls we place (a callback, an agent's phone): PCMU and
/// PCMA at 20 ms, and keypad events.
pub fn offer(local: SocketAddr, session_id: u64, version: u64) -> String {
    let ip_kind = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let te = TELEPHONE_EVENT_PT;
    format!(
        "v=0\r\no=hotline {session_id} {version} IN {ip_kind} {ip}\r\ns=hotline\r\nc=IN {ip_kind} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 {te}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        port = local.port()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";

    #[test]
    fn the_first_g711_in_the_offer_wins_and_keypad_events_are_kept() {
        let offer = parse_offer(OFFER).unwrap();
        assert_eq!(offer.remote, "192.0.2.10:40000".parse::<SocketAddr>().unwrap());
        assert_eq!(offer.codec, G711::Pcma);
        assert_eq!(offer.telephone_event, Some(101));
        assert!(!offer.on_hold);
        let answer = answer(
            "198.51.100.1:30000".parse::<SocketAddr>().unwrap(),
            &offer,
            7,
            1,
            None,
        );
        assert!(answer.contains("m=audio 30000 RTP/AVP 8 101\r\n"), "{answer}");
        assert_eq!(parse_offer(&answer).unwrap().codec, G711::Pcma);
    }

    #[test]
    fn offers_we_cannot_serve_are_typed_errors() {
        let video = OFFER.replace("m=audio", "m=video");
        assert_eq!(parse_offer(&video), Err(SdpError::NoAudio));
        let g729 = OFFER
            .replace("RTP/AVP 8 0 101", "RTP/AVP 18")
            .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "");
        assert_eq!(parse_offer(&g729), Err(SdpError::NoCommonCodec));
        let ptime = OFFER.replace("a=ptime:20", "a=ptime:99999999999999999999");
        assert!(matches!(parse_offer(&ptime), Err(SdpError::BadPtime(_))));
        let multicast = OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 224.0.0.1");
        assert!(matches!(parse_offer(&multicast), Err(SdpError::BadAddress(_))));
        assert!(matches!(parse_offer("garbage"), Err(SdpError::Malformed(_))));
        assert_eq!(parse_offer(&"a".repeat(MAX_SDP_LEN + 1)), Err(SdpError::TooLarge));
    }

    #[test]
    fn our_offer_parses_as_pcmu_with_keypad_events() {
        let ours = offer("198.51.100.1:30002".parse::<SocketAddr>().unwrap(), 9, 1);
        let parsed = parse_offer(&ours).unwrap();
        assert_eq!(parsed.remote, "198.51.100.1:30002".parse::<SocketAddr>().unwrap());
        assert_eq!(parsed.codec, G711::Pcmu);
        assert_eq!(parsed.telephone_event, Some(TELEPHONE_EVENT_PT));
    }

    const KEY: &str = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ";

    #[test]
    fn a_savp_offer_is_answered_savp_with_our_key_and_its_tag() {
        let savp = OFFER.replace("RTP/AVP", "RTP/SAVP").replace(
            "a=ptime:20\r\n",
            &format!("a=ptime:20\r\na=crypto:1 AEAD_AES_128_GCM inline:AAAA\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"),
        );
        let offer = parse_offer(&savp).unwrap();
        let theirs = offer.srtp.expect("an SRTP offer");
        assert_eq!(theirs.tag, 2);
        let ours = SrtpKey([7; sdes::KEY_LEN]);
        let answer = answer(
            "198.51.100.1:30000".parse::<SocketAddr>().unwrap(),
            &offer,
            7,
            1,
            Some(&ours),
        );
        assert!(answer.contains("m=audio 30000 RTP/SAVP 8 101\r\n"), "{answer}");
        assert!(
            answer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{answer}"
        );
        assert_eq!(parse_offer(&answer).unwrap().srtp.unwrap().key, ours);
    }

    #[test]
    fn a_plain_offer_has_no_srtp_and_its_crypto_lines_are_ignored() {
        let avp_with_crypto = OFFER.replace(
            "a=ptime:20\r\n",
            &format!("a=ptime:20\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"),
        );
        assert_eq!(parse_offer(&avp_with_crypto).unwrap().srtp, None);
    }

    #[test]
    fn srtp_we_cannot_run_and_other_profiles_are_refused() {
        let no_key = OFFER.replace("RTP/AVP", "RTP/SAVP");
        assert_eq!(parse_offer(&no_key), Err(SdpError::NoCommonCrypto));
        let gcm_only = no_key.replace(
            "a=ptime:20\r\n",
            "a=ptime:20\r\na=crypto:1 AEAD_AES_256_GCM inline:AAAA\r\n",
        );
        assert_eq!(parse_offer(&gcm_only), Err(SdpError::NoCommonCrypto));
        let dtls = OFFER.replace("RTP/AVP", "UDP/TLS/RTP/SAVP");
        assert!(matches!(parse_offer(&dtls), Err(SdpError::UnsupportedProfile(_))));
    }

    #[test]
    fn a_sendonly_offer_is_a_hold() {
        let hold = OFFER.replace("a=ptime:20\r\n", "a=ptime:20\r\na=sendonly\r\n");
        assert!(parse_offer(&hold).unwrap().on_hold);
    }
}
