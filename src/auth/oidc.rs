//! Single sign-on: access tokens of an OpenID Connect identity provider.
//!
//! A token is accepted when it is a JWT signed RS256 or ES256 by a key the
//! provider publishes (its JWKS, found through its discovery document),
//! names the configured issuer and audience, has not expired (with a small
//! leeway for clocks), and grants a hotline role through the role claim.
//! The principal's subject is the subject claim (`sub` by default; an
//! agent's token must name the agent's id there).
//!
//! Invariants:
//! - verifying never awaits: keys are held in memory and read under a
//!   lock, so the gRPC interceptor checks a token without I/O;
//! - the keys are fetched at start, again every `refresh`, and early
//!   (at most once per [`MIN_FETCH_GAP`]) when a token names a key id not
//!   held, so a provider's key rotation is picked up on first use;
//! - a fetch that fails keeps the keys read before, warns and counts
//!   (`hotline_oidc_key_fetches_total{result="failed"}`); until the first
//!   fetch succeeds every single sign-on token is refused, saying why;
//! - a provider reached over plain HTTP must be on loopback (tests and
//!   labs): keys fetched in the clear could be forged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use super::{Principal, Role, Verified};
use crate::error::Error;
use crate::time::Timestamp;

/// Key fetches triggered by unknown key ids are at least this far apart,
/// so tokens with made-up key ids cannot make the node hammer the
/// provider.
pub const MIN_FETCH_GAP: Duration = Duration::from_secs(10);
/// Largest discovery document or key set read.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Longest subject taken from a token (agent ids are shorter).
pub const MAX_SUBJECT_LEN: usize = 128;

/// What the configuration says about the identity provider.
#[derive(Clone, Debug, PartialEq)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its tokens name it.
    pub issuer: String,
    /// The audience hotline's tokens are for.
    pub audience: String,
    /// The claim naming the subject (an agent's id for agents).
    pub subject_claim: String,
    /// The claim holding the roles: a string or a list; a dotted path
    /// reaches into objects (`realm_access.roles`).
    pub role_claim: String,
    /// Which claim value grants which role.
    pub role_values: Vec<(String, Role)>,
    /// How often the keys are read again.
    pub refresh: Duration,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Certificates trusted besides the public roots, for a provider with
    /// a private authority ("" = none).
    pub ca_file: PathBuf,
    /// The public client the pages sign in as.
    pub client_id: String,
    /// The scopes the pages ask for.
    pub scopes: String,
}

/// The provider's endpoints, from its discovery document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where the pages send a user to sign out at the provider, if it has
    /// one.
    pub end_session_endpoint: Option<String>,
    #[serde(skip)]
    pub jwks_uri: String,
}

/// What the pages need to sign in (`/oidc.json`).
#[derive(Clone, Debug, Serialize)]
pub struct PageSettings {
    pub issuer: String,
    pub client_id: String,
    pub scopes: String,
    #[serde(flatten)]
    pub endpoints: Endpoints,
}

#[derive(Default)]
struct Held {
    endpoints: Option<Endpoints>,
    /// Key id -> key and the one algorithm it verifies.
    keys: HashMap<String, (Arc<DecodingKey>, Algorithm)>,
    /// Why the last fetch failed, for refusals while no keys are held.
    last_error: Option<String>,
}

/// The identity provider as this node knows it. Cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    settings: Arc<OidcSettings>,
    held: Arc<RwLock<Held>>,
    /// Woken by a token with an unknown key id.
    unknown_key: Arc<Notify>,
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Self {
        Oidc {
            settings: Arc::new(settings),
            held: Arc::default(),
            unknown_key: Arc::default(),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// What the pages need, once the provider has been read.
    pub fn page_settings(&self) -> Option<PageSettings> {
        let held = self.held.read().unwrap_or_else(|p| p.into_inner());
        held.endpoints.clone().map(|endpoints| PageSettings {
            issuer: self.settings.issuer.clone(),
            client_id: self.settings.client_id.clone(),
            scopes: self.settings.scopes.clone(),
            endpoints,
        })
    }

    /// Verifies an RS256 or ES256 token whose header is `header`.
    pub fn verify(&self, header: &Header, token: &str) -> Result<Verified, Error> {
        let refused = |why: String| Error::Unauthenticated(format!("invalid bearer token: {why}"));
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(refused(format!(
                "algorithm {:?} is not accepted (RS256 or ES256)",
                header.alg
            )));
        }
        let kid = header.kid.as_deref().unwrap_or("");
        let (key, alg) = {
            let held = self.held.read().unwrap_or_else(|p| p.into_inner());
            match held.keys.get(kid) {
                Some(k) => k.clone(),
                None if held.keys.is_empty() => {
                    return Err(Error::Unavailable(format!(
                        "single sign-on is not ready: the identity provider's keys have not been read ({})",
                        held.last_error.as_deref().unwrap_or("first read under way")
                    )))
                }
                None => {
                    self.unknown_key.notify_one();
                    return Err(refused(format!(
                        "signed with an unknown key {}",
                        hotline_core::error::quote(kid)
                    )));
                }
            }
        };
        if alg != header.alg {
            return Err(refused(format!("key {kid} is for {alg:?}, not {:?}", header.alg)));
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation).map_err(
            |e| {
                use jsonwebtoken::errors::ErrorKind as K;
                refused(match e.kind() {
                    K::InvalidIssuer => "wrong issuer".into(),
                    K::InvalidAudience => "wrong audience".into(),
                    K::ExpiredSignature => "expired".into(),
                    K::ImmatureSignature => "not valid yet".into(),
                    K::InvalidSignature => "bad signature".into(),
                    _ => e.to_string(),
                })
            },
        )?;
        self.principal(&data.claims)
    }

    /// The principal and sign-in time `claims` grant.
    fn principal(&self, claims: &serde_json::Map<String, Value>) -> Result<Verified, Error> {
        let s = &self.settings;
        let sub = claims
            .get(&s.subject_claim)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Error::Unauthenticated(format!(
                    "invalid bearer token: no {} claim naming the subject",
                    s.subject_claim
                ))
            })?;
        if sub.len() > MAX_SUBJECT_LEN {
            return Err(Error::Unauthenticated(format!(
                "invalid bearer token: {} is longer than {MAX_SUBJECT_LEN} bytes ({})",
                s.subject_claim,
                hotline_core::error::quote(sub)
            )));
        }
        // Walks the dotted path in place: this runs on every request, so
        // the claims are not copied to start from a `Value`.
        let mut parts = s.role_claim.split('.');
        let mut node = parts.next().and_then(|first| claims.get(first));
        for part in parts {
            node = node.and_then(|v| v.get(part));
        }
        let values: Vec<&str> = match node {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let role = s
            .role_values
            .iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
            .max_by_key(|r| rank(*r))
            .ok_or_else(|| {
                Error::PermissionDenied(format!(
                    "the token's {} claim grants no hotline role",
                    s.role_claim
                ))
            })?;
        let seconds = ["auth_time", "iat"]
            .iter()
            .find_map(|c| claims.get(*c).and_then(Value::as_u64))
            .ok_or_else(|| {
                Error::Unauthenticated("invalid bearer token: neither auth_time nor iat".into())
            })?;
        Ok(Verified {
            principal: Principal {
                sub: sub.to_string(),
                role,
            },
            signed_in_at: Timestamp::from_millis(seconds.saturating_mul(1000)),
        })
    }

    /// Reads the provider now and keeps it read until `shutdown`; returns
    /// at once (the first read happens in the background).
    pub fn spawn(&self, mut shutdown: watch::Receiver<bool>) {
        let this = self.clone();
        tokio::spawn(async move {
            let client = match this.client() {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "single sign-on is off: cannot build the client that reads the identity provider");
                    this.held.write().unwrap_or_else(|p| p.into_inner()).last_error = Some(e.to_string());
                    return;
                }
            };
            let mut backoff = Duration::from_secs(1);
            loop {
                let started = Instant::now();
                let wait = match this.fetch(&client).await {
                    Ok(keys) => {
                        crate::metrics::events::oidc_keys_fetched(true);
                        info!(issuer = %this.settings.issuer, keys, "identity provider read");
                        backoff = Duration::from_secs(1);
                        this.settings.refresh
                    }
                    Err(e) => {
                        crate::metrics::events::oidc_keys_fetched(false);
                        warn!(issuer = %this.settings.issuer, error = %e, "cannot read the identity provider; the keys read before still verify");
                        this.held.write().unwrap_or_else(|p| p.into_inner()).last_error = Some(e);
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                        backoff
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = this.unknown_key.notified() => {
                        let since = started.elapsed();
                        if since < MIN_FETCH_GAP {
                            tokio::select! {
                                _ = tokio::time::sleep(MIN_FETCH_GAP - since) => {}
                                _ = shutdown.changed() => return,
                            }
                        }
                    }
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    fn client(&self) -> Result<reqwest::Client, crate::tls::TlsError> {
        let config = crate::tls::client_config(&self.settings.ca_file)?;
        reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| crate::tls::TlsError::Settings(format!("identity provider client: {e}")))
    }

    /// One read of the discovery document and the key set; how many keys
    /// are held after it.
    async fn fetch(&self, client: &reqwest::Client) -> Result<usize, String> {
        let issuer = self.settings.issuer.trim_end_matches('/');
        let discovery: Value =
            get_json(client, &format!("{issuer}/.well-known/openid-configuration")).await?;
        let field = |name: &str| discovery.get(name).and_then(Value::as_str).map(str::to_string);
        if field("issuer").as_deref() != Some(self.settings.issuer.as_str()) {
            return Err(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                field("issuer").unwrap_or_default(),
                self.settings.issuer
            ));
        }
        let need = |name: &str| field(name).ok_or_else(|| format!("the discovery document has no {name}"));
        let endpoints = Endpoints {
            authorization_endpoint: need("authorization_endpoint")?,
            token_endpoint: need("token_endpoint")?,
            end_session_endpoint: field("end_session_endpoint"),
            jwks_uri: need("jwks_uri")?,
        };
        let set: JwkSet = get_json(client, &endpoints.jwks_uri).await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != PublicKeyUse::Signature)
            {
                continue;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                _ => continue,
            };
            let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) else {
                continue;
            };
            keys.insert(kid.clone(), (Arc::new(key), alg));
        }
        if keys.is_empty() {
            return Err("the key set holds no RS256 or ES256 signing key with a key id".into());
        }
        let held_keys = keys.len();
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        held.endpoints = Some(endpoints);
        held.keys = keys;
        held.last_error = None;
        Ok(held_keys)
    }
}

/// admin > supervisor > telephony > agent, for a token granting several.
fn rank(role: Role) -> u8 {
    match role {
        Role::Agent => 0,
        Role::Telephony => 1,
        Role::Supervisor => 2,
        Role::Admin => 3,
        Role::Node => 4,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(client: &reqwest::Client, url: &str) -> Result<T, String> {
    let mut res = client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url}: HTTP {}", res.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(role_claim: &str) -> Oidc {
        Oidc::new(OidcSettings {
            issuer: "https://idp.example.com".into(),
            audience: "urn:hotline".into(),
            subject_claim: "preferred_username".into(),
            role_claim: role_claim.into(),
            role_values: vec![("cc-agent".into(), Role::Agent), ("cc-admin".into(), Role::Admin)],
            refresh: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
            ca_file: PathBuf::new(),
            client_id: "pages".into(),
            scopes: "openid".into(),
        })
    }

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn roles_are_found_down_a_dotted_path_and_the_highest_granted_wins() {
        let keycloak = claims(serde_json::json!({
            "preferred_username": "alice", "auth_time": 1_700, "iat": 1_800,
            "realm_access": { "roles": ["offline_access", "cc-agent", "cc-admin"] },
        }));
        let v = oidc("realm_access.roles").principal(&keycloak).unwrap();
        assert_eq!(
            (v.principal.sub.as_str(), v.principal.role),
            ("alice", Role::Admin)
        );
        assert_eq!(
            v.signed_in_at,
            Timestamp::from_millis(1_700_000),
            "auth_time, not iat"
        );
        let single = claims(serde_json::json!({ "preferred_username": "bob", "iat": 5, "role": "cc-agent" }));
        assert_eq!(
            oidc("role").principal(&single).unwrap().principal.role,
            Role::Agent
        );
        let none = claims(serde_json::json!({ "preferred_username": "eve", "iat": 5, "realm_access": {} }));
        let refused = oidc("realm_access.roles").principal(&none).unwrap_err();
        assert!(matches!(refused, Error::PermissionDenied(_)), "{refused:?}");
    }
}
