//! `[oidc]`: single sign-on through an OpenID Connect identity provider,
//! and `[auth]`'s revocation poll. Checked here, turned into the auth
//! layer's plain settings by [`OidcConfig::settings`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::auth::{OidcSettings, Role};

/// The identity provider whose access tokens hotline accepts, and how the
/// pages sign in with it. Empty `issuer`: single sign-on is off (hotline's
/// own tokens still work).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL exactly as the provider's tokens and discovery
    /// document name it (https; http only on loopback, for labs).
    pub issuer: String,
    /// The audience (`aud`) hotline's access tokens carry.
    pub audience: String,
    /// The public client (authorization code with PKCE, no secret) the
    /// pages sign in as; its redirect URIs are the pages' own URLs.
    pub client_id: String,
    /// The scopes the pages ask for.
    pub scopes: String,
    /// The claim naming the subject; for an agent, the agent's id.
    pub subject_claim: String,
    /// The claim holding roles (a string or a list; a dotted path reaches
    /// into objects, e.g. Keycloak's "realm_access.roles").
    pub role_claim: String,
    /// hotline role (agent, supervisor, admin, telephony) -> the claim
    /// value that grants it. A token granting several gets the highest.
    pub roles: BTreeMap<String, String>,
    /// How often the provider's signing keys are read again (a token with
    /// an unknown key id also triggers a read, at most every 10 s).
    pub refresh_secs: u64,
    /// Clock skew allowed on a token's expiry.
    pub leeway_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: String::new(),
            audience: String::new(),
            client_id: String::new(),
            scopes: "openid".into(),
            subject_claim: "sub".into(),
            role_claim: "roles".into(),
            roles: ["agent", "supervisor", "admin"]
                .into_iter()
                .map(|r| (r.to_string(), r.to_string()))
                .collect(),
            refresh_secs: 300,
            leeway_secs: 30,
        }
    }
}

impl OidcConfig {
    pub fn enabled(&self) -> bool {
        !self.issuer.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        let uri: http::Uri = self
            .issuer
            .parse()
            .map_err(|_| invalid("oidc.issuer", "not a URL"))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            Some("http") => {
                return Err(invalid(
                    "oidc.issuer",
                    "must be https (http only on loopback): keys read in the clear could be forged",
                ))
            }
            _ => return Err(invalid("oidc.issuer", "an https:// URL")),
        }
        for (key, value) in [
            ("oidc.audience", &self.audience),
            ("oidc.client_id", &self.client_id),
            ("oidc.subject_claim", &self.subject_claim),
            ("oidc.role_claim", &self.role_claim),
        ] {
            if value.trim().is_empty() || value.len() > 256 {
                return Err(invalid(key, "1 to 256 characters"));
            }
        }
        if self.roles.is_empty() {
            return Err(invalid("oidc.roles", "name the claim value of at least one role"));
        }
        for (role, value) in &self.roles {
            match role.parse::<Role>() {
                Ok(Role::Node) | Err(_) => {
                    return Err(invalid(
                        format!("oidc.roles.{role}"),
                        "roles are agent, supervisor, admin or telephony",
                    ))
                }
                Ok(_) if value.is_empty() => {
                    return Err(invalid(format!("oidc.roles.{role}"), "the claim value is empty"))
                }
                Ok(_) => {}
            }
        }
        if !(10..=86_400).contains(&self.refresh_secs) {
            return Err(invalid("oidc.refresh_secs", "between 10 and 86400"));
        }
        if self.leeway_secs > 300 {
            return Err(invalid("oidc.leeway_secs", "at most 300"));
        }
        Ok(())
    }

    /// The auth layer's settings (`ca_file`: certificates trusted besides
    /// the public roots, from `[tls]`); none when single sign-on is off.
    pub fn settings(&self, ca_file: &std::path::Path) -> Option<OidcSettings> {
        self.enabled().then(|| OidcSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            subject_claim: self.subject_claim.clone(),
            role_claim: self.role_claim.clone(),
            role_values: self
                .roles
                .iter()
                .filter_map(|(role, value)| Some((value.clone(), role.parse().ok()?)))
                .collect(),
            refresh: Duration::from_secs(self.refresh_secs),
            leeway: Duration::from_secs(self.leeway_secs),
            ca_file: ca_file.to_path_buf(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
        })
    }
}
