//! Bearer tokens: HS256 JWTs with claims `sub`, `role`, `exp` (and `iat`).
//!
//! Every `hotline.v1` RPC requires one; health and reflection stay open for
//! probes and tools. Roles are checked per method in the API layer.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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

/// Mints and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `sub` with `role`, valid for `ttl` from `now`.
    pub fn mint(&self, role: Role, sub: &str, ttl: Duration, now: Timestamp) -> Result<String, Error> {
        let iat = now.as_millis() / 1000;
        let claims = Claims {
            sub: sub.to_string(),
            role,
            exp: iat.saturating_add(ttl.as_secs()),
            iat,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("cannot sign token: {e}")))
    }

    /// Checks signature, algorithm and expiry (no leeway).
    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| Error::Unauthenticated(format!("invalid bearer token: {e}")))?;
        if data.claims.sub.is_empty() {
            return Err(Error::Unauthenticated("bearer token has an empty sub".into()));
        }
        Ok(Principal {
            sub: data.claims.sub,
            role: data.claims.role,
        })
    }

    /// Reads `authorization: Bearer <token>` from request metadata.
    pub fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Principal, Error> {
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
        self.verify(token.trim())
    }
}

/// Tonic interceptor: authenticates every request and stores the
/// [`Principal`] in its extensions for the handlers' role checks.
#[derive(Clone)]
pub struct AuthInterceptor {
    keys: TokenKeys,
}

impl AuthInterceptor {
    pub fn new(keys: TokenKeys) -> Self {
        AuthInterceptor { keys }
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let principal = self.keys.authenticate(req.metadata()).map_err(status)?;
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
