//! A real OpenID Connect provider for the tests: panva/oidc-provider (npm,
//! OpenID certified; `tests/oidc/`, which the test command installs with
//! `npm ci`) under Node on a free loopback port. Users sign in through its
//! development login and consent forms, driven here over HTTP as a
//! browser would (cookies, redirects), or by Chromium in browser tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::Digest;

/// The audience hotline's access tokens are for, in these tests.
pub const AUDIENCE: &str = "urn:hotline:test";
/// The pages' public client.
pub const CLIENT_ID: &str = "hotline-pages";

/// The provider's Node process, killed when dropped.
pub struct Provider {
    child: Child,
    pub issuer: String,
    /// Its signing keys (PEM), for tokens a provider would not issue.
    keys: tempfile::TempDir,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An access token and the refresh token that came with it.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

impl Provider {
    /// Starts a provider whose public client may redirect to
    /// `redirect_uris`, with `accounts` (id -> extra claims, e.g.
    /// `{"roles": ["agent"]}`) and access tokens living `access_ttl_secs`.
    pub fn start(redirect_uris: &[String], accounts: serde_json::Value, access_ttl_secs: u64) -> Provider {
        // reqwest's rustls takes the process's provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = project();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test identity provider is not installed: npm ci --prefix tests/oidc (./scripts/test does)"
        );
        let keys = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("OIDC_AUDIENCE", AUDIENCE)
            .env(
                "OIDC_REDIRECT_URIS",
                serde_json::to_string(redirect_uris).unwrap(),
            )
            .env("OIDC_ACCOUNTS", accounts.to_string())
            .env("OIDC_ACCESS_TTL", access_ttl_secs.to_string())
            .env("OIDC_KEYS_OUT", keys.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the test identity provider (Node.js is installed by ./scripts/test)");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("the provider starts");
        // Keep reading what it prints: a closed pipe would kill it.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let started: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("provider said {line:?}: {e}"));
        Provider {
            child,
            issuer: started["issuer"].as_str().expect("issuer").to_string(),
            keys,
        }
    }

    /// The `[oidc]` section of a node trusting this provider.
    pub fn config(&self) -> hotline::config::OidcConfig {
        hotline::config::OidcConfig {
            issuer: self.issuer.clone(),
            audience: AUDIENCE.into(),
            client_id: CLIENT_ID.into(),
            ..Default::default()
        }
    }

    /// A token signed with the provider's own key `kid` ("ec-1" ES256 or
    /// "rsa-1" RS256), with `claims` as given: for tokens the provider
    /// would never issue (wrong audience, expired, ...).
    pub fn forge(&self, kid: &str, claims: &serde_json::Value) -> String {
        let (alg, key) = key_file(&self.keys.path().join(format!("{kid}.pem")), kid);
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &key).expect("signs")
    }

    /// Signs `user` in through the authorization-code flow with PKCE, as
    /// the pages do: the login form, the consent form, the code, the
    /// token.
    pub async fn sign_in(&self, user: &str, redirect_uri: &str) -> Tokens {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut jar: HashMap<String, String> = HashMap::new();
        let verifier = "a-test-verifier-of-enough-length-0123456789-abcdefgh";
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
        let mut url = format!(
            "{}/auth?client_id={CLIENT_ID}&response_type=code&scope=openid&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=s",
            self.issuer,
            urlencode(redirect_uri)
        );
        let mut form: Option<Vec<(&str, &str)>> = None;
        let code = loop {
            let req = match form.take() {
                Some(fields) => http.post(&url).form(&fields),
                None => http.get(&url),
            };
            let cookie = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let res = req
                .header("cookie", cookie)
                .send()
                .await
                .expect("provider answers");
            for set in res.headers().get_all("set-cookie") {
                let pair = set.to_str().unwrap().split(';').next().unwrap();
                if let Some((k, v)) = pair.split_once('=') {
                    jar.insert(k.to_string(), v.to_string());
                }
            }
            let Some(next) = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
            else {
                panic!(
                    "the sign-in stopped at {url}: {}",
                    res.text().await.unwrap_or_default()
                );
            };
            if let Some(query) = next.strip_prefix(&format!("{redirect_uri}?")) {
                let params: HashMap<_, _> = url_params(query);
                break params
                    .get("code")
                    .unwrap_or_else(|| panic!("no code: {next}"))
                    .clone();
            }
            url = if next.starts_with('/') {
                format!("{}{next}", self.issuer)
            } else {
                next
            };
            // The development forms: login, then consent.
            if url.contains("/interaction/") {
                let page = http
                    .get(&url)
                    .header(
                        "cookie",
                        jar.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                form = Some(if page.contains("name=\"login\"") {
                    vec![("prompt", "login"), ("login", user), ("password", "any")]
                } else {
                    vec![("prompt", "consent")]
                });
            }
        };
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// A new access token for `refresh` (silent refresh).
    pub async fn refresh(&self, refresh: &str) -> Tokens {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .await
    }

    async fn token(&self, fields: &[(&str, &str)]) -> Tokens {
        let mut all = vec![("client_id", CLIENT_ID)];
        all.extend_from_slice(fields);
        let res: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .form(&all)
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token JSON");
        Tokens {
            access: res["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no access token: {res}"))
                .to_string(),
            refresh: res["refresh_token"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// An ES256 key no provider publishes, with its PEM.
pub fn stranger_key() -> EncodingKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("pem")
}

fn key_file(path: &Path, kid: &str) -> (Algorithm, EncodingKey) {
    let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if kid.starts_with("rsa") {
        (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&pem).expect("RSA key"),
        )
    } else {
        (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).expect("EC key"))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn url_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
