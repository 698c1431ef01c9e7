//! SDES key exchange for SRTP (RFC 4568): the `a=crypto` attributes of an
//! offer, and ours in the answer.
//!
//! Invariants: only the suites the media plane can run are taken
//! ([`SrtpSuite`]): AES_CM_128 with an 80- or 32-bit HMAC-SHA1 tag, one
//! inline key of exactly 30 bytes (a 16-byte master key and a 14-byte
//! salt), no MKI, no session parameters (an attribute with any of these is
//! skipped, not misread); the first acceptable attribute in the offer's
//! order wins. Keys never appear in `Debug` output or logs. SDES keys
//! travel in the SDP, so the trunk core takes them only over TLS.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The length of an AES_CM_128 master key and salt, concatenated.
pub const KEY_LEN: usize = 30;

/// Longest `a=crypto` value read (a real one is about 70 bytes).
const MAX_ATTRIBUTE_LEN: usize = 256;

/// An SRTP crypto suite we run (RFC 4568 6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrtpSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// The suite's SDP name.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(name: &str) -> Option<SrtpSuite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(SrtpSuite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(SrtpSuite::AesCm128HmacSha1_32),
            _ => None,
        }
    }
}

/// A master key and salt. Its `Debug` shows no key material.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKey(pub [u8; KEY_LEN]);

impl std::fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpKey(..)")
    }
}

impl SrtpKey {
    /// The 16-byte master key.
    pub fn master_key(&self) -> &[u8] {
        &self.0[..16]
    }

    /// The 14-byte master salt.
    pub fn master_salt(&self) -> &[u8] {
        &self.0[16..]
    }
}

/// One `a=crypto` attribute we can run: the far end's key for what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesCrypto {
    /// The attribute's tag, which our answer repeats.
    pub tag: u32,
    pub suite: SrtpSuite,
    pub key: SrtpKey,
}

/// The first `a=crypto` value we can run, among `values` (each the text
/// after `a=crypto:`), or none.
pub fn choose<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<SdesCrypto> {
    values.into_iter().find_map(parse)
}

/// One `a=crypto` value: `<tag> <suite> inline:<base64 key||salt>[|lifetime]`.
fn parse(value: &str) -> Option<SdesCrypto> {
    if value.len() > MAX_ATTRIBUTE_LEN {
        return None;
    }
    let mut fields = value.split_whitespace();
    let tag: u32 = fields.next()?.parse().ok()?;
    let suite = SrtpSuite::from_name(fields.next()?)?;
    let key_params = fields.next()?;
    // Session parameters (UNENCRYPTED_SRTP, KDR, ...) change what the
    // suite means: not ours to guess.
    if fields.next().is_some() {
        return None;
    }
    // One key only (several are ';'-separated).
    if key_params.contains(';') {
        return None;
    }
    let inline = key_params.strip_prefix("inline:")?;
    let mut parts = inline.split('|');
    let material = parts.next()?;
    // A lifetime is allowed (we rekey never, and calls are short); an MKI
    // ("n:len") is not.
    for extra in parts {
        if extra.contains(':') {
            return None;
        }
    }
    let bytes = STANDARD.decode(material).ok()?;
    let key: [u8; KEY_LEN] = bytes.try_into().ok()?;
    Some(SdesCrypto {
        tag,
        suite,
        key: SrtpKey(key),
    })
}

/// Our `a=crypto` value answering `theirs` with `ours`.
pub fn attribute(theirs: &SdesCrypto, ours: &SrtpKey) -> String {
    format!(
        "{} {} inline:{}",
        theirs.tag,
        theirs.suite.name(),
        STANDARD.encode(ours.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ";

    #[test]
    fn the_first_suite_we_run_wins_and_its_key_splits_into_key_and_salt() {
        let offered = [
            "1 AEAD_AES_256_GCM inline:AAAA",
            &format!("2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}"),
            &format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        ];
        let chosen = choose(offered.iter().map(|s| s.as_ref())).unwrap();
        assert_eq!(chosen.tag, 2);
        assert_eq!(chosen.suite, SrtpSuite::AesCm128HmacSha1_32);
        assert_eq!(chosen.key.master_key().len(), 16);
        assert_eq!(chosen.key.master_salt().len(), 14);
        assert_eq!(format!("{:?}", chosen.key), "SrtpKey(..)", "no key in logs");
    }

    #[test]
    fn an_answer_repeats_the_tag_and_suite_and_parses_back() {
        let theirs = choose([format!("7 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20").as_str()]).unwrap();
        let ours = SrtpKey([9; KEY_LEN]);
        let answer = attribute(&theirs, &ours);
        assert!(
            answer.starts_with("7 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{answer}"
        );
        assert_eq!(choose([answer.as_str()]).unwrap().key, ours);
    }

    #[test]
    fn keys_we_cannot_run_exactly_are_skipped() {
        for value in [
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY};inline:{KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP"),
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=".into(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!".into(),
            format!("x AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {KEY}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", "A".repeat(400)),
            String::new(),
        ] {
            assert_eq!(choose([value.as_str()]), None, "{value}");
        }
    }
}
