//! The tokens hotline mints itself (`hotline token`, node-to-node calls,
//! the demo and load generator): HS256 JWTs under the configured secret,
//! with claims `sub`, `role`, `exp` and `iat`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use super::{Claims, Principal, Role, Verified};
use crate::error::Error;
use crate::time::Timestamp;

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
        self.verify_signed_in(token).map(|v| v.principal)
    }

    /// [`Self::verify`], with when the token was issued (its sign-in, for
    /// revocation).
    pub fn verify_signed_in(&self, token: &str) -> Result<Verified, Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| Error::Unauthenticated(format!("invalid bearer token: {e}")))?;
        if data.claims.sub.is_empty() {
            return Err(Error::Unauthenticated("bearer token has an empty sub".into()));
        }
        Ok(Verified {
            signed_in_at: Timestamp::from_millis(data.claims.iat.saturating_mul(1000)),
            principal: Principal {
                sub: data.claims.sub,
                role: data.claims.role,
            },
        })
    }

    /// Reads and verifies `authorization: Bearer <token>` (node-to-node
    /// calls, which take only these tokens).
    pub fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Principal, Error> {
        self.verify(super::bearer(metadata)?)
    }
}
