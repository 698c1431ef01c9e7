//! What every signed-in page needs besides its role's service, and signing
//! a subject out everywhere. The ICE servers its WebRTC connection goes
//! through come with TURN credentials made for the caller (the TURN REST convention coturn implements: the
//! username carries its expiry and the subject, the password is the
//! username's HMAC-SHA1 under the secret shared with the TURN service, so
//! the service checks it without asking hotline).

use base64::Engine;
use hmac::{Hmac, Mac};

use super::App;
use crate::auth::{Principal, Role};
use crate::engine::Command;
use crate::error::Error;
use crate::ids::AgentId;
use crate::store::sessions::Revocation;
use crate::time::Timestamp;

/// One ICE server as RTCPeerConnection takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServers {
    pub servers: Vec<IceServer>,
    /// Offer relayed candidates only.
    pub relay_only: bool,
    /// When the TURN credentials stop working; none without TURN.
    pub expires_at: Option<Timestamp>,
}

/// The TURN REST password of `username` under `secret`.
pub fn turn_password(secret: &str, username: &str) -> Result<String, Error> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::Internal(format!("TURN secret: {e}")))?;
    mac.update(username.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

impl App {
    /// The ICE servers for `p`, with TURN credentials valid from `now` for
    /// the configured lifetime.
    pub fn ice_servers(&self, p: &Principal, now: Timestamp) -> Result<IceServers, Error> {
        p.require(&[Role::Agent, Role::Supervisor, Role::Telephony])?;
        let turn = &self.turn;
        let mut servers = Vec::new();
        if !turn.stun_urls.is_empty() {
            servers.push(IceServer {
                urls: turn.stun_urls.clone(),
                username: String::new(),
                credential: String::new(),
            });
        }
        let mut expires_at = None;
        if !turn.urls.is_empty() {
            let expiry = (now.as_millis() / 1000).saturating_add(turn.ttl_secs);
            // The subject names who holds the allocation in the TURN
            // service's logs; a colon in it would end the expiry field.
            let username = format!("{expiry}:{}", p.sub.replace(':', "_"));
            servers.push(IceServer {
                urls: turn.urls.clone(),
                credential: turn_password(&turn.secret, &username)?,
                username,
            });
            expires_at = Some(Timestamp::from_millis(expiry.saturating_mul(1000)));
        }
        Ok(IceServers {
            servers,
            relay_only: turn.relay_only,
            expires_at,
        })
    }
}

/// What a revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    pub at: Timestamp,
    /// The subject is an agent, now logged out.
    pub agent_logged_out: bool,
}

impl App {
    /// Signs `subject` out everywhere as of `now` (see
    /// `crate::auth::revocation`), and logs out the agent of that id.
    pub async fn revoke_sessions(
        &self,
        p: &Principal,
        subject: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Revoked, Error> {
        p.require(&[Role::Admin])?;
        let subject = crate::validate::id("subject", subject)?;
        let reason = crate::validate::label("reason", reason, crate::validate::MAX_LABEL_LEN)?;
        self.revocations
            .revoke(&Revocation {
                subject: subject.to_string(),
                at: now,
                actor: p.sub.clone(),
                reason: reason.to_string(),
            })
            .await?;
        let logout = Command::Logout {
            agent: AgentId::new(subject),
            forced_by: Some(format!("admin {} (sessions revoked)", p.sub)),
        };
        self.audit_after(
            p,
            crate::store::audit::AuditAction::SessionsRevoked,
            format!("subject:{subject}"),
            reason.to_string(),
        )
        .await;
        let agent_logged_out = match self.engine.execute(None, logout).await {
            Ok(_) => true,
            Err(Error::NotFound { .. }) => false,
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "the sessions of {subject} are revoked, but the agent could not be logged out: {e}"
                )))
            }
        };
        Ok(Revoked {
            at: now,
            agent_logged_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_password_is_the_base64_hmac_sha1_of_the_username() {
        // Frozen from Python: base64(hmac.new(b"north-star-secret-1",
        // b"1800000000:alice", hashlib.sha1).digest()).
        assert_eq!(
            turn_password("north-star-secret-1", "1800000000:alice").expect("password"),
            "DOIdDZayS5MsUe7Yo1wtQnI7yFg="
        );
    }
}
