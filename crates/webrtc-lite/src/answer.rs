//! What a browser's offer asks of the answerer, and the answer it gets:
//! ICE-lite, DTLS in the role the offer leaves us, one audio section
//! accepted, every other section refused.
//!
//! Invariants: the caller bounds the offer's length before it gets here;
//! an offer without the ICE credentials or the certificate fingerprint
//! WebRTC requires is refused with the missing attribute named, never
//! answered; the answer keeps the offer's sections in order (RFC 3264 6),
//! refused ones with port 0.

use std::fmt::Write;
use std::io::Cursor;
use std::net::SocketAddr;

use rtc::sdp::description::common::Attribute;
use rtc::sdp::description::media::MediaDescription;
use rtc::sdp::SessionDescription;

use crate::Error;

/// How a section's media flows, from the offerer's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The answer's side of it (RFC 3264 6.1).
    fn answered(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "recvonly",
            Direction::RecvOnly => "sendonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether we send on a section the offerer described so.
    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The parts of an offer the answerer uses.
pub struct Offer {
    /// The offerer's ICE username fragment: checks name "ours:theirs".
    pub ice_ufrag: String,
    /// The SHA-256 fingerprint of the offerer's DTLS certificate, lower
    /// case, colon separated.
    pub fingerprint: String,
    /// The offerer asked to be the DTLS server (a=setup:passive), so we
    /// connect as the client.
    pub we_connect: bool,
    /// The accepted audio section: its index, mid and direction.
    pub audio: usize,
    pub mid: Option<String>,
    pub direction: Direction,
    /// The accepted section's payload types, each with its rtpmap value
    /// ("opus/48000/2") where the offer gave one.
    pub payload_types: Vec<(u8, Option<String>)>,
    /// The accepted section's format parameters (a=fmtp), by payload type.
    fmtp: Vec<(u8, String)>,
    /// The offer bundles its sections (a=group:BUNDLE).
    pub bundled: bool,
    sections: Vec<Section>,
}

/// One offered section, as the answer must echo it.
struct Section {
    media: String,
    protos: String,
    formats: String,
    mid: Option<String>,
}

fn attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_deref())
}

fn has(attributes: &[Attribute], key: &str) -> bool {
    attributes.iter().any(|a| a.key == key)
}

/// A section's attribute, else the session's.
fn either<'a>(m: &'a MediaDescription, session: &'a SessionDescription, key: &str) -> Option<&'a str> {
    attribute(&m.attributes, key).or_else(|| attribute(&session.attributes, key))
}

impl Offer {
    /// Reads what the answer needs from `sdp`, accepting the first audio
    /// section with a payload type `carries` (given its number and rtpmap
    /// value) says we can carry.
    pub fn parse(sdp: &str, carries: impl Fn(u8, Option<&str>) -> bool) -> Result<Offer, Error> {
        let session =
            SessionDescription::unmarshal(&mut Cursor::new(sdp)).map_err(|e| Error::Sdp(e.to_string()))?;
        let mut sections = Vec::new();
        let mut audio = None;
        for (i, m) in session.media_descriptions.iter().enumerate() {
            sections.push(Section {
                media: m.media_name.media.clone(),
                protos: m.media_name.protos.join("/"),
                formats: m.media_name.formats.join(" "),
                mid: attribute(&m.attributes, "mid").map(str::to_string),
            });
            if audio.is_some() || m.media_name.media != "audio" || m.media_name.port.value == 0 {
                continue;
            }
            let types = payload_types(m);
            if types.iter().any(|(pt, map)| carries(*pt, map.as_deref())) {
                audio = Some((i, types));
            }
        }
        let Some((index, payload_types)) = audio else {
            return Err(Error::Sdp("no audio section offers a codec we carry".into()));
        };
        let m = &session.media_descriptions[index];
        let fmtp = payload_types
            .iter()
            .filter_map(|(pt, _)| Some((*pt, format_value(m, "fmtp", &pt.to_string())?.to_string())))
            .collect();
        let missing = |what: &str| Error::Sdp(format!("the audio section has no a={what}"));
        let ice_ufrag = either(m, &session, "ice-ufrag").ok_or_else(|| missing("ice-ufrag"))?;
        let fingerprint = either(m, &session, "fingerprint").ok_or_else(|| missing("fingerprint"))?;
        let fingerprint = match fingerprint.split_once(' ') {
            Some((algorithm, value)) if algorithm.eq_ignore_ascii_case("sha-256") => {
                value.trim().to_ascii_lowercase()
            }
            _ => {
                return Err(Error::Sdp(
                    "the offer's a=fingerprint is not sha-256, the one checked".into(),
                ))
            }
        };
        let setup = either(m, &session, "setup").unwrap_or("actpass");
        let direction = if has(&m.attributes, "sendonly") {
            Direction::SendOnly
        } else if has(&m.attributes, "recvonly") {
            Direction::RecvOnly
        } else if has(&m.attributes, "inactive") {
            Direction::Inactive
        } else {
            Direction::SendRecv
        };
        Ok(Offer {
            ice_ufrag: ice_ufrag.to_string(),
            fingerprint,
            we_connect: setup.eq_ignore_ascii_case("passive"),
            audio: index,
            mid: sections[index].mid.clone(),
            direction,
            payload_types,
            fmtp,
            bundled: attribute(&session.attributes, "group").is_some_and(|g| g.starts_with("BUNDLE")),
            sections,
        })
    }
}

impl Offer {
    /// The format parameters the offer gave payload type `pt`
    /// ("minptime=10;useinbandfec=1"), if any.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtp.iter().find(|(p, _)| *p == pt).map(|(_, v)| v.as_str())
    }
}

/// Every payload type of a section, with its rtpmap value if it has one.
fn payload_types(m: &MediaDescription) -> Vec<(u8, Option<String>)> {
    m.media_name
        .formats
        .iter()
        .filter_map(|pt| Some((pt.parse().ok()?, rtpmap(m, pt).map(str::to_string))))
        .collect()
}

/// The rtpmap value ("opus/48000/2") a section gives payload type `pt`.
pub fn rtpmap<'a>(m: &'a MediaDescription, pt: &str) -> Option<&'a str> {
    format_value(m, "rtpmap", pt)
}

/// The value of a section's per-format attribute `key` (rtpmap, fmtp) for
/// payload type `pt`: what follows "pt ".
fn format_value<'a>(m: &'a MediaDescription, key: &str, pt: &str) -> Option<&'a str> {
    m.attributes
        .iter()
        .filter(|a| a.key == key)
        .filter_map(|a| a.value.as_deref())
        .find_map(|v| v.strip_prefix(pt).and_then(|r| r.strip_prefix(' ')))
}

/// Our side of the connection, as the answer describes it.
pub(crate) struct Local<'a> {
    pub ufrag: &'a str,
    pub pwd: &'a str,
    pub fingerprint: &'a str,
    /// The codec we send and take: payload type, rtpmap and fmtp values.
    pub payload_type: u8,
    pub rtpmap: &'a str,
    pub fmtp: &'a str,
    pub ssrc: u32,
    pub candidates: &'a [SocketAddr],
}

/// A host candidate's attribute value for one of our addresses.
pub fn host_candidate(index: usize, addr: SocketAddr) -> String {
    // Priority per RFC 8445 5.1.2.1: host type preference 126, local
    // preference falling with the index, component 1.
    let local_preference = 65535u32.saturating_sub(index as u32);
    let priority = (126u32 << 24) | (local_preference << 8) | 255;
    format!(
        "candidate:{} 1 udp {priority} {} {} typ host",
        index + 1,
        addr.ip(),
        addr.port()
    )
}

/// The answer to `offer`.
pub(crate) fn answer(offer: &Offer, local: &Local<'_>) -> String {
    let mut sdp = String::with_capacity(1024);
    let session_id: u64 = rand::random::<u64>() >> 2;
    // Writing to a String cannot fail.
    let _ = write!(
        sdp,
        "v=0\r\no=- {session_id} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"
    );
    if let (true, Some(mid)) = (offer.bundled, &offer.mid) {
        let _ = write!(sdp, "a=group:BUNDLE {mid}\r\n");
    }
    let _ = write!(sdp, "a=msid-semantic: WMS hotline\r\n");
    for (i, section) in offer.sections.iter().enumerate() {
        if i != offer.audio {
            // Refused (RFC 3264 6): same media, port 0.
            let _ = write!(
                sdp,
                "m={} 0 {} {}\r\nc=IN IP4 0.0.0.0\r\n",
                section.media, section.protos, section.formats
            );
            if let Some(mid) = &section.mid {
                let _ = write!(sdp, "a=mid:{mid}\r\n");
            }
            let _ = write!(sdp, "a=inactive\r\n");
            continue;
        }
        let pt = local.payload_type;
        let _ = write!(
            sdp,
            "m=audio 9 {} {pt}\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
            section.protos
        );
        let _ = write!(
            sdp,
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:sha-256 {}\r\na=setup:{}\r\n",
            local.ufrag,
            local.pwd,
            local.fingerprint,
            if offer.we_connect { "active" } else { "passive" }
        );
        if let Some(mid) = &section.mid {
            let _ = write!(sdp, "a=mid:{mid}\r\n");
        }
        let _ = write!(sdp, "a={}\r\na=rtcp-mux\r\n", offer.direction.answered());
        let _ = write!(sdp, "a=rtpmap:{pt} {}\r\n", local.rtpmap);
        if !local.fmtp.is_empty() {
            let _ = write!(sdp, "a=fmtp:{pt} {}\r\n", local.fmtp);
        }
        let _ = write!(
            sdp,
            "a=msid:hotline audio\r\na=ssrc:{0} cname:hotline\r\na=ssrc:{0} msid:hotline audio\r\n",
            local.ssrc
        );
        for (n, addr) in local.candidates.iter().enumerate() {
            let _ = write!(sdp, "a={}\r\n", host_candidate(n, *addr));
        }
        let _ = write!(sdp, "a=end-of-candidates\r\n");
    }
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
        a=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:126 telephone-event/8000\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n";

    fn opus(_: u8, rtpmap: Option<&str>) -> bool {
        rtpmap == Some("opus/48000/2")
    }

    #[test]
    fn an_offer_without_a_codec_we_carry_is_refused() {
        assert!(Offer::parse(BROWSER, |_, map| map == Some("G722/8000")).is_err());
    }

    #[test]
    fn the_audio_section_is_accepted_and_the_data_channel_refused() {
        let offer = Offer::parse(BROWSER, opus).expect("parses");
        assert_eq!(offer.ice_ufrag, "abcd");
        assert_eq!(offer.fingerprint, "ab:cd:ef");
        assert!(!offer.we_connect);
        assert_eq!(offer.payload_types[0], (111, Some("opus/48000/2".to_string())));
        assert_eq!(offer.payload_types[1], (0, None));
        assert_eq!(offer.fmtp(111), Some("minptime=10;useinbandfec=1"));
        assert_eq!(offer.fmtp(0), None);
        let candidates = ["127.0.0.1:4000".parse().expect("address")];
        let sdp = answer(
            &offer,
            &Local {
                ufrag: "uf",
                pwd: "pw",
                fingerprint: "01:02",
                payload_type: 111,
                rtpmap: "opus/48000/2",
                fmtp: "minptime=10;useinbandfec=1",
                ssrc: 7,
                candidates: &candidates,
            },
        );
        assert!(sdp.contains("a=ice-lite\r\n"), "{sdp}");
        assert!(sdp.contains("a=group:BUNDLE 0\r\n"), "{sdp}");
        assert!(sdp.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"), "{sdp}");
        assert!(sdp.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"), "{sdp}");
        assert!(sdp.contains("a=setup:passive\r\n"), "{sdp}");
        assert!(
            sdp.contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("127.0.0.1 4000 typ host"), "{sdp}");
        // What we wrote parses back.
        SessionDescription::unmarshal(&mut Cursor::new(sdp.as_str())).expect("the answer parses");
    }

    #[test]
    fn a_recvonly_offer_is_answered_sendonly_and_passive_makes_us_connect() {
        let sdp = BROWSER
            .replace("a=sendrecv", "a=recvonly")
            .replace("a=setup:actpass", "a=setup:passive");
        let offer = Offer::parse(&sdp, opus).expect("parses");
        assert_eq!(offer.direction, Direction::RecvOnly);
        assert!(offer.direction.we_send());
        assert!(offer.we_connect);
    }

    #[test]
    fn an_offer_without_ice_credentials_or_fingerprint_is_refused_by_name() {
        let no_ufrag = BROWSER.replace("a=ice-ufrag:abcd\r\n", "");
        let e = Offer::parse(&no_ufrag, opus).err().expect("refused");
        assert!(e.to_string().contains("ice-ufrag"), "{e}");
        let no_fp = BROWSER.replace("a=fingerprint:sha-256 AB:CD:EF\r\n", "");
        let e = Offer::parse(&no_fp, opus).err().expect("refused");
        assert!(e.to_string().contains("fingerprint"), "{e}");
        let sha1 = BROWSER.replace("sha-256 AB", "sha-1 AB");
        assert!(Offer::parse(&sha1, opus).is_err());
    }
}
