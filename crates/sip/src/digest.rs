//! HTTP digest authentication for SIP (RFC 3261 22, RFC 2617 with
//! `qop=auth`, MD5 as trunks and phones speak it). Pure: the time and the
//! secret come in; nothing is stored per challenge.
//!
//! Invariants: a nonce carries the time it was issued and a keyed hash of
//! that time, so any node holding the same secret can check it without
//! state; a nonce older than its lifetime is stale (the peer retries with a
//! fresh one); a response is accepted only for the right username, realm,
//! method and a hash made with the password; comparisons of secrets are
//! constant-time.

use std::time::Duration;

use md5::{Digest, Md5};

use hotline_time::Monotonic;

pub const REALM: &str = "hotline";

/// How long a nonce may be used.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("no Authorization header")]
    Missing,
    #[error("malformed Authorization: {0}")]
    Malformed(&'static str),
    #[error("stale or foreign nonce")]
    Stale,
    #[error("wrong username or password")]
    Wrong,
}

fn hex_md5(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Issues and checks challenges with one secret.
#[derive(Clone)]
pub struct Challenger {
    secret: String,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Challenger(..)")
    }
}

impl Challenger {
    pub fn new(secret: impl Into<String>) -> Self {
        Challenger {
            secret: secret.into(),
        }
    }

    fn nonce_at(&self, issued_ms: u64) -> String {
        let stamp = format!("{issued_ms:x}");
        format!("{stamp}.{}", hex_md5(&[&self.secret, &stamp]))
    }

    /// The `WWW-Authenticate` value for a 401 at `now`.
    pub fn challenge(&self, now: Monotonic) -> String {
        format!(
            "Digest realm=\"{REALM}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"",
            self.nonce_at(now.as_millis())
        )
    }

    /// Checks an `Authorization` value for `method` against `user` and
    /// `password`.
    pub fn verify(
        &self,
        now: Monotonic,
        method: &str,
        authorization: Option<&str>,
        user: &str,
        password: &str,
    ) -> Result<(), DigestError> {
        let value = authorization.ok_or(DigestError::Missing)?;
        let rest = value
            .trim_start()
            .strip_prefix("Digest")
            .ok_or(DigestError::Malformed("not Digest"))?;
        let params = params(rest);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let username = get("username").ok_or(DigestError::Malformed("username"))?;
        let realm = get("realm").ok_or(DigestError::Malformed("realm"))?;
        let nonce = get("nonce").ok_or(DigestError::Malformed("nonce"))?;
        let uri = get("uri").ok_or(DigestError::Malformed("uri"))?;
        let response = get("response").ok_or(DigestError::Malformed("response"))?;
        // The nonce: ours, and fresh.
        let (stamp, _) = nonce.split_once('.').ok_or(DigestError::Stale)?;
        let issued = u64::from_str_radix(stamp, 16).map_err(|_| DigestError::Stale)?;
        if !same(nonce, &self.nonce_at(issued)) {
            return Err(DigestError::Stale);
        }
        let age = now.as_millis().saturating_sub(issued);
        if age > NONCE_LIFETIME.as_millis() as u64 || issued > now.as_millis() + 5_000 {
            return Err(DigestError::Stale);
        }
        if !same(username, user) || realm != REALM {
            return Err(DigestError::Wrong);
        }
        let ha1 = hex_md5(&[user, REALM, password]);
        let ha2 = hex_md5(&[method, uri]);
        let expected = match get("qop") {
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = get("nc").ok_or(DigestError::Malformed("nc"))?;
                let cnonce = get("cnonce").ok_or(DigestError::Malformed("cnonce"))?;
                hex_md5(&[&ha1, nonce, nc, cnonce, "auth", &ha2])
            }
            Some(_) => return Err(DigestError::Malformed("qop")),
            None => hex_md5(&[&ha1, nonce, &ha2]),
        };
        if same(&response.to_ascii_lowercase(), &expected) {
            Ok(())
        } else {
            Err(DigestError::Wrong)
        }
    }
}

/// What a client answers to `challenge` (a `WWW-Authenticate` value) for
/// `method` on `uri`: the `Authorization` value (qop=auth when offered).
pub fn respond(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
    cnonce: &str,
) -> Option<String> {
    let params = params(challenge.trim_start().strip_prefix("Digest")?);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    let ha1 = hex_md5(&[user, realm, password]);
    let ha2 = hex_md5(&[method, uri]);
    Some(match get("qop") {
        Some(q) if q.split(',').any(|q| q.trim() == "auth") => {
            let response = hex_md5(&[&ha1, nonce, "00000001", cnonce, "auth", &ha2]);
            format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"")
        }
        _ => {
            let response = hex_md5(&[&ha1, nonce, &ha2]);
            format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5")
        }
    })
}

/// `name=value` pairs, values quoted or not, comma-separated.
fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => break,
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v.trim().to_string(), n),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((name, value));
        rest = next.trim_start().trim_start_matches(',').trim_start();
        if out.len() > 32 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(c: &Challenger, now: Monotonic, user: &str, password: &str) -> String {
        respond(
            &c.challenge(now),
            "INVITE",
            "sip:800100@192.0.2.1",
            user,
            password,
            "abc",
        )
        .unwrap()
    }

    #[test]
    fn the_right_password_passes_and_nothing_else_does() {
        let c = Challenger::new("node-secret");
        let t0 = Monotonic(10_000_000);
        let good = authorization(&c, t0, "carrier", "s3cret");
        assert_eq!(c.verify(t0, "INVITE", Some(&good), "carrier", "s3cret"), Ok(()));
        assert_eq!(
            c.verify(t0, "INVITE", Some(&good), "carrier", "other"),
            Err(DigestError::Wrong)
        );
        assert_eq!(
            c.verify(t0, "INVITE", Some(&good), "pbx", "s3cret"),
            Err(DigestError::Wrong)
        );
        assert_eq!(
            c.verify(t0, "BYE", Some(&good), "carrier", "s3cret"),
            Err(DigestError::Wrong)
        );
        assert_eq!(
            c.verify(t0, "INVITE", None, "carrier", "s3cret"),
            Err(DigestError::Missing)
        );
        let late = t0.plus(NONCE_LIFETIME + Duration::from_secs(1));
        assert_eq!(
            c.verify(late, "INVITE", Some(&good), "carrier", "s3cret"),
            Err(DigestError::Stale)
        );
        // A nonce from another secret is not ours.
        let foreign = authorization(&Challenger::new("elsewhere"), t0, "carrier", "s3cret");
        assert_eq!(
            c.verify(t0, "INVITE", Some(&foreign), "carrier", "s3cret"),
            Err(DigestError::Stale)
        );
        assert!(matches!(
            c.verify(t0, "INVITE", Some("Digest garbage"), "carrier", "s3cret"),
            Err(DigestError::Malformed(_))
        ));
    }
}
