//! Who is calling: every `hotline.v1` RPC carries a bearer token; health
//! and reflection stay open for probes and tools. Roles are checked per
//! method in the application layer.
//!
//! Two kinds of token are taken ([`Authenticator`]):
//! - hotline's own HS256 tokens ([`hs256`]): `hotline token`, node to
//!   node, the demo and load generator;
//! - access tokens of an OpenID Connect identity provider ([`oidc`]),
//!   RS256 or ES256 under a key of its JWKS, for the right issuer and
//!   audience, with roles and the agent id mapped from claims.
//!
//! Either is refused once its subject's sessions are revoked
//! ([`revocation`]) if it comes from a sign-in before the revocation.
//! Revocations reach every node within its poll interval (1 s by
//! default), well inside the minute the security rules promise.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub mod hs256;
pub mod oidc;
pub mod revocation;

pub use hs256::TokenKeys;
pub use oidc::{Oidc, OidcSettings};
pub use revocation::Revocations;

use crate::error::Error;
use crate::status::status;
use crate::time::Timestamp;

/// What a token holder may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Acts only as the agent named by `sub`.
    Agent,
    /// Reads everything, forces agent states, explains routing.
    Supervisor,
    /// Everything.
    Admin,
    /// The telephony edge: starts and ends calls.
    Telephony,
    /// Another hotline node of the cluster (internal service only).
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Telephony => "telephony",
            Role::Node => "node",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            "telephony" => Ok(Role::Telephony),
            "node" => Ok(Role::Node),
            other => Err(format!(
                "unknown role {other:?}; expected agent, supervisor, admin, telephony or node"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    pub iat: u64,
}

/// The authenticated caller of an RPC, placed in the request extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub role: Role,
}

impl Principal {
    /// Passes if the caller has one of `roles` (admin always passes).
    pub fn require(&self, roles: &[Role]) -> Result<(), Error> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            return Ok(());
        }
        let wanted: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::PermissionDenied(format!(
            "role {} may not do this (needs {})",
            self.role,
            wanted.join(" or ")
        )))
    }

    /// Passes if the caller may act as agent `agent_id`: itself, or an admin.
    pub fn require_agent(&self, agent_id: &str) -> Result<(), Error> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Agent if self.sub == agent_id => Ok(()),
            Role::Agent => Err(Error::PermissionDenied(format!(
                "agent {} may not act as agent {agent_id}",
                self.sub
            ))),
            other => Err(Error::PermissionDenied(format!(
                "role {other} may not act as an agent"
            ))),
        }
    }
}

/// A verified token: who, and when they signed in (the token's
/// `auth_time`, else its `iat`), which revocation compares against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    pub signed_in_at: Timestamp,
}

/// The token in `authorization: Bearer <token>`.
pub fn bearer(metadata: &tonic::metadata::MetadataMap) -> Result<&str, Error> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| Error::Unauthenticated("missing authorization: Bearer <token>".into()))?;
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| Error::Unauthenticated("authorization must be \"Bearer <token>\"".into()))?;
    Ok(token.trim())
}

/// Told of each sign-in once per node (the first request with a
/// subject's token from a sign-in later than any seen here for it), to put
/// it in the audit trail.
pub type SignInHook = Arc<dyn Fn(&Verified) + Send + Sync>;

/// Subjects whose latest sign-in this node remembers, at most this many
/// (then it starts afresh, and may tell of some sign-ins again).
const MAX_SEEN_SIGN_INS: usize = 100_000;

struct SignIns {
    hook: SignInHook,
    /// Subject -> the latest sign-in told of. Looked up by `&str` on every
    /// request, so a known sign-in costs no allocation.
    latest: Mutex<HashMap<String, Timestamp>>,
}

impl SignIns {
    fn saw(&self, v: &Verified) {
        let new = {
            let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
            match latest.get_mut(v.principal.sub.as_str()) {
                Some(at) if *at >= v.signed_in_at => false,
                Some(at) => {
                    *at = v.signed_in_at;
                    true
                }
                None => {
                    if latest.len() >= MAX_SEEN_SIGN_INS {
                        latest.clear();
                    }
                    latest.insert(v.principal.sub.clone(), v.signed_in_at);
                    true
                }
            }
        };
        if new {
            (self.hook)(v);
        }
    }
}

/// Every way this node accepts a caller: its own HS256 tokens, the
/// identity provider's tokens when one is configured, and the revocations
/// both answer to.
#[derive(Clone)]
pub struct Authenticator {
    hs256: TokenKeys,
    /// None: single sign-on is not configured.
    oidc: Option<Oidc>,
    /// None: nothing to consult (tools that build an authenticator without
    /// a store).
    revocations: Option<Revocations>,
    /// None: sign-ins are not recorded.
    sign_ins: Option<Arc<SignIns>>,
}

impl Authenticator {
    pub fn new(hs256: TokenKeys, oidc: Option<Oidc>, revocations: Option<Revocations>) -> Self {
        Authenticator {
            hs256,
            oidc,
            revocations,
            sign_ins: None,
        }
    }

    /// Tells `hook` of each sign-in, once per node.
    pub fn with_sign_ins(mut self, hook: SignInHook) -> Self {
        self.sign_ins = Some(Arc::new(SignIns {
            hook,
            latest: Mutex::default(),
        }));
        self
    }

    /// Verifies `token` by its algorithm (HS256 is hotline's own; RS256
    /// and ES256 are the identity provider's), then checks it against the
    /// revocations.
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::Unauthenticated(format!("invalid bearer token: {e}")))?;
        let verified = match (header.alg, &self.oidc) {
            (jsonwebtoken::Algorithm::HS256, _) => self.hs256.verify_signed_in(token)?,
            (_, Some(oidc)) => oidc.verify(&header, token)?,
            (alg, None) => {
                return Err(Error::Unauthenticated(format!(
                    "invalid bearer token: {alg:?} tokens need single sign-on ([oidc]), which this node does not have"
                )))
            }
        };
        if let Some(revocations) = &self.revocations {
            revocations.check(&verified)?;
        }
        if let Some(sign_ins) = &self.sign_ins {
            sign_ins.saw(&verified);
        }
        Ok(verified.principal)
    }
}

/// Tonic interceptor: authenticates every request and stores the
/// [`Principal`] in its extensions for the handlers' role checks.
#[derive(Clone)]
pub struct AuthInterceptor {
    auth: Authenticator,
}

impl AuthInterceptor {
    pub fn new(auth: Authenticator) -> Self {
        AuthInterceptor { auth }
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let principal = bearer(req.metadata())
            .and_then(|token| self.auth.verify(token))
            .map_err(status)?;
        req.extensions_mut().insert(principal);
        Ok(req)
    }
}

/// The authenticated caller, put there by the auth interceptor.
pub fn principal<T>(req: &tonic::Request<T>) -> Result<Principal, Error> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Error::Unauthenticated("request was not authenticated".into()))
}
