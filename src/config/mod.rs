//! Configuration: built-in defaults, then a TOML file, then `HOTLINE_*`
//! environment variables (`HOTLINE_SERVER__GRPC_LISTEN=0.0.0.0:50051`), then
//! command-line flags. Without a file the documented example
//! (`deploy/hotline.example.toml`) is the configuration, so `hotline serve`
//! runs out of the box.
//!
//! Invariant: a [`Config`] returned by [`Config::load`] has passed
//! [`Config::validate`]: every queue, skill, entry point, customer and agent
//! it names exists and every number is in range.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::acd::{QueueSettings, RouterConfig, Tier, MAX_PROFICIENCY, MIN_PROFICIENCY};
use crate::ids::{QueueName, SkillName};

/// The documented example, which is also the built-in default.
pub const EXAMPLE_TOML: &str = include_str!("../../deploy/hotline.example.toml");

/// Secrets shorter than this are refused: HS256 keys must resist guessing.
const MIN_SECRET_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration key {key}: {reason}")]
    Invalid { key: String, reason: String },
}

pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

mod cases;
mod oidc;
mod retention;
mod sections;
mod seed;
mod staffing;

pub use cases::CasesConfig;
pub use oidc::OidcConfig;
pub use retention::RetentionConfig;
pub use staffing::StaffingConfig;

pub use seed::seed_writes;

use sections::is_key;
pub use sections::*;

/// A customer in the directory.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomerEntry {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub tier: Tier,
    /// Caller numbers that identify this customer.
    #[serde(default)]
    pub numbers: Vec<String>,
}

/// An agent in the directory.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// skill -> proficiency 1..=10.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// The digest password of the agent's SIP phone (username: the agent
    /// id); "" = the agent cannot register one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sip_password: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub oidc: OidcConfig,
    pub tls: TlsConfig,
    pub turn: TurnConfig,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub presence: PresenceConfig,
    pub cluster: ClusterConfig,
    pub media: MediaConfig,
    pub metrics: MetricsConfig,
    pub web: WebConfig,
    pub sip: SipConfig,
    pub callbacks: CallbacksConfig,
    pub reports: ReportsConfig,
    pub quality: QualityConfig,
    pub retention: RetentionConfig,
    pub cases: CasesConfig,
    pub staffing: StaffingConfig,
    /// The skill catalog.
    pub skills: Vec<String>,
    pub queues: BTreeMap<String, QueueSettings>,
    /// Dialled number -> queue.
    pub entry_points: BTreeMap<String, String>,
    pub customers: Vec<CustomerEntry>,
    pub agents: Vec<AgentEntry>,
    /// Not-ready reasons agents pick from.
    pub reason_codes: Vec<hotline_core::catalog::ReasonCode>,
    /// Issue categories for wrap-up.
    pub wrap_up_categories: Vec<hotline_core::catalog::WrapUpCategory>,
    /// Hours calendars queues are open by or count deadlines in.
    pub calendars: Vec<hotline_core::catalog::HoursCalendar>,
}

impl Config {
    /// Loads defaults, then `path` (or the built-in example), then the
    /// environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Config::default()));
        let figment = match path {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigError::Parse(format!("file {} does not exist", p.display())));
                }
                figment.merge(Toml::file_exact(p))
            }
            None => figment.merge(Toml::string(EXAMPLE_TOML)),
        };
        // HOTLINE_CONFIG names the file and HOTLINE_TOKEN the console
        // commands' token: neither is a configuration key.
        Self::extract(figment.merge(Env::prefixed("HOTLINE_").split("__").ignore(&["config", "token"])))
    }

    /// Parses a TOML document (no environment), validated.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::extract(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)))
    }

    fn extract(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                ConfigError::Parse(e.to_string())
            } else {
                invalid(key, e.kind.to_string())
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every cross-reference and range; the error names the key.
    /// The configuration with every secret hidden (the token secret, trunk
    /// and phone passwords), for showing.
    pub fn redacted(&self) -> Config {
        let hidden = |s: &mut String| {
            if !s.is_empty() {
                *s = "<hidden>".into();
            }
        };
        let mut shown = self.clone();
        hidden(&mut shown.auth.secret);
        for t in &mut shown.sip.trunks {
            hidden(&mut t.password);
        }
        for a in &mut shown.agents {
            hidden(&mut a.sip_password);
        }
        for (key, value) in &mut shown.media.storage_options {
            if key.contains("secret") || key.contains("token") {
                hidden(value);
            }
        }
        shown
    }

    /// SIP accounts of agents who may register a phone: agent id -> password.
    pub fn sip_accounts(&self) -> std::collections::HashMap<String, String> {
        self.agents
            .iter()
            .filter(|a| !a.sip_password.is_empty())
            .map(|a| (a.id.clone(), a.sip_password.clone()))
            .collect()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.auth.secret.len() < MIN_SECRET_LEN {
            return Err(invalid(
                "auth.secret",
                format!("must be at least {MIN_SECRET_LEN} bytes (set HOTLINE_AUTH__SECRET)"),
            ));
        }
        if self.store.url != "memory" && !self.store.url.starts_with("redis://") {
            return Err(invalid(
                "store.url",
                format!(
                    "unsupported store {:?}; use \"memory\" or redis://host:port/db",
                    self.store.url
                ),
            ));
        }
        self.metrics.addr()?;
        self.web.addr()?;
        self.sip.media_ip(&self.media)?;
        if !self.sip.callback_key.is_empty() && !is_key(&self.sip.callback_key) {
            return Err(invalid("sip.callback_key", "must be one keypad key: 0-9, * or #"));
        }
        if self.sip.survey_timeout_secs == 0 {
            return Err(invalid("sip.survey_timeout_secs", "must be at least 1"));
        }
        self.sip.outbound.proxy_addr()?;
        if self.sip.tls_addr()?.is_some() {
            if self.sip.addr()?.is_none() {
                return Err(invalid(
                    "sip.tls_listen",
                    "needs sip.listen (the trunk's UDP and TCP side)",
                ));
            }
            if self.tls.cert_file.as_os_str().is_empty() {
                return Err(invalid(
                    "sip.tls_listen",
                    "needs [tls] cert_file and key_file (the certificate it serves)",
                ));
            }
        }
        if self.sip.require_srtp && self.sip.tls_addr()?.is_none() {
            return Err(invalid(
                "sip.require_srtp",
                "needs sip.tls_listen: SRTP keys are taken only over TLS",
            ));
        }
        if self.sip.outbound.ring_timeout_secs == 0 {
            return Err(invalid("sip.outbound.ring_timeout_secs", "must be at least 1"));
        }
        let caller_id_ok = |c: char| c.is_ascii_alphanumeric() || "+-_.".contains(c);
        if self.sip.outbound.caller_id.is_empty() || !self.sip.outbound.caller_id.chars().all(caller_id_ok) {
            return Err(invalid(
                "sip.outbound.caller_id",
                "must be a number or name of letters, digits and + - _ .",
            ));
        }
        for (i, trunk) in self.sip.trunks.iter().enumerate() {
            if trunk.username.is_empty() != trunk.password.is_empty() {
                return Err(invalid(
                    format!("sip.trunks[{i}].password"),
                    "username and password go together",
                ));
            }
            if trunk.sources.is_empty() {
                return Err(invalid(
                    format!("sip.trunks[{i}].sources"),
                    "a trunk needs a source address",
                ));
            }
            for (j, source) in trunk.sources.iter().enumerate() {
                if hotline_sip::guard::Network::parse(source).is_none() {
                    return Err(invalid(
                        format!("sip.trunks[{i}].sources[{j}]"),
                        format!("{source:?} is not an address or network (192.0.2.0/24)"),
                    ));
                }
            }
        }
        let l = &self.sip.limits;
        for (key, v) in [
            ("invite_per_sec", l.invite_per_sec),
            ("invite_burst", l.invite_burst),
            ("register_per_sec", l.register_per_sec),
            ("register_burst", l.register_burst),
            ("options_per_sec", l.options_per_sec),
            ("options_burst", l.options_burst),
            ("other_per_sec", l.other_per_sec),
            ("other_burst", l.other_burst),
        ] {
            if !(v.is_finite() && v >= 1.0) {
                return Err(invalid(format!("sip.limits.{key}"), "must be at least 1"));
            }
        }
        for (number, menu) in &self.sip.menus {
            let at = |k: &str| format!("sip.menus.{number}.{k}");
            if menu.timeout_secs == 0 {
                return Err(invalid(at("timeout_secs"), "must be at least 1"));
            }
            if menu.options.is_empty() {
                return Err(invalid(at("options"), "a menu needs at least one option"));
            }
            for (key, target) in &menu.options {
                if !is_key(key) {
                    return Err(invalid(at(&format!("options.{key}")), "keys are 0-9, * or #"));
                }
                if !self.entry_points.contains_key(target) {
                    return Err(invalid(
                        at(&format!("options.{key}")),
                        format!("{target:?} is not in [entry_points]"),
                    ));
                }
            }
            if !menu.default.is_empty() && !self.entry_points.contains_key(&menu.default) {
                return Err(invalid(
                    at("default"),
                    format!("{:?} is not in [entry_points]", menu.default),
                ));
            }
            if self.entry_points.contains_key(number) {
                return Err(invalid(
                    at("options"),
                    "the number is also in [entry_points]; a number is a menu or an entry point",
                ));
            }
            if let Err(e) = crate::validate::prompt_name(&at("prompt"), &menu.prompt) {
                let reason = match e {
                    crate::error::Error::InvalidArgument { reason, .. } => reason,
                    other => other.to_string(),
                };
                return Err(invalid(at("prompt"), reason));
            }
            if menu.prompt != "builtin" && !self.sip.prompts_dir.join(&menu.prompt).is_file() {
                return Err(invalid(
                    at("prompt"),
                    format!(
                        "no file {} in sip.prompts_dir ({})",
                        menu.prompt,
                        self.sip.prompts_dir.display()
                    ),
                ));
            }
        }
        if self.tls.cert_file.as_os_str().is_empty() != self.tls.key_file.as_os_str().is_empty() {
            return Err(invalid(
                "tls.key_file",
                "tls.cert_file and tls.key_file go together (both, or neither for plain text)",
            ));
        }
        for (i, u) in self.turn.urls.iter().enumerate() {
            if !(u.starts_with("turn:") || u.starts_with("turns:")) {
                return Err(invalid(format!("turn.urls[{i}]"), "a turn: or turns: URL"));
            }
        }
        for (i, u) in self.turn.stun_urls.iter().enumerate() {
            if !u.starts_with("stun:") {
                return Err(invalid(format!("turn.stun_urls[{i}]"), "a stun: URL"));
            }
        }
        if !self.turn.urls.is_empty() && self.turn.secret.len() < 16 {
            return Err(invalid(
                "turn.secret",
                "at least 16 bytes, shared with the TURN service",
            ));
        }
        if !(60..=86_400).contains(&self.turn.ttl_secs) {
            return Err(invalid("turn.ttl_secs", "between 60 and 86400"));
        }
        if self.turn.relay_only && self.turn.urls.is_empty() {
            return Err(invalid(
                "turn.relay_only",
                "needs turn.urls: relayed candidates come from TURN",
            ));
        }
        if self.metrics.quality_every_secs == 0 {
            return Err(invalid("metrics.quality_every_secs", "must be at least 1"));
        }
        if self.metrics.quality_window_secs == 0 {
            return Err(invalid("metrics.quality_window_secs", "must be at least 1"));
        }
        if let Err(e) = self.quality.scorecard.check() {
            return Err(invalid("quality.scorecard", e.to_string()));
        }
        if self.reports.fcr_window_days == 0 {
            return Err(invalid("reports.fcr_window_days", "must be at least 1"));
        }
        if self.callbacks.retry_after_secs == 0 {
            return Err(invalid("callbacks.retry_after_secs", "must be at least 1"));
        }
        check_name("store.namespace", &self.store.namespace)?;
        if self.store.namespace.contains(['{', '}']) {
            return Err(invalid("store.namespace", "must not contain braces"));
        }
        if self.cluster.lease_ms < 300 {
            return Err(invalid("cluster.lease_ms", "must be at least 300"));
        }
        self.media.validate()?;
        self.oidc.validate()?;
        self.retention.validate()?;
        self.cases.validate()?;
        self.staffing.validate()?;
        if !(100..=30_000).contains(&self.auth.revocation_poll_ms) {
            return Err(invalid("auth.revocation_poll_ms", "between 100 and 30000"));
        }
        if self.store.redis_timeout_ms == 0 {
            return Err(invalid("store.redis_timeout_ms", "must be at least 1"));
        }
        let mut skills = HashSet::new();
        for (i, s) in self.skills.iter().enumerate() {
            check_name(&format!("skills[{i}]"), s)?;
            if !skills.insert(s.as_str()) {
                return Err(invalid(format!("skills[{i}]"), format!("skill {s} listed twice")));
            }
        }
        if self.queues.is_empty() {
            return Err(invalid("queues", "at least one queue is required"));
        }
        for (name, q) in &self.queues {
            check_name(&format!("queues.{name}"), name)?;
            for (i, r) in q.required_skills.iter().enumerate() {
                let key = format!("queues.{name}.required_skills[{i}]");
                if !skills.contains(r.skill.as_str()) {
                    return Err(invalid(key, format!("unknown skill {}", r.skill)));
                }
                if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(&r.min_proficiency) {
                    return Err(invalid(key, "min_proficiency must be 1..=10"));
                }
            }
            if let Some(o) = &q.overflow_queue {
                if !self.queues.contains_key(o.as_str()) {
                    return Err(invalid(
                        format!("queues.{name}.overflow_queue"),
                        format!("unknown queue {o}"),
                    ));
                }
            }
        }
        for (dnis, queue) in &self.entry_points {
            if !self.queues.contains_key(queue) {
                return Err(invalid(
                    format!("entry_points.{dnis}"),
                    format!("unknown queue {queue}"),
                ));
            }
        }
        let mut ids = HashSet::new();
        let mut numbers = HashSet::new();
        for (i, c) in self.customers.iter().enumerate() {
            check_name(&format!("customers[{i}].id"), &c.id)?;
            if !ids.insert(c.id.as_str()) {
                return Err(invalid(
                    format!("customers[{i}].id"),
                    format!("customer {} listed twice", c.id),
                ));
            }
            for n in &c.numbers {
                if !numbers.insert(n.as_str()) {
                    return Err(invalid(
                        format!("customers[{i}].numbers"),
                        format!("number {n} listed twice"),
                    ));
                }
            }
        }
        let mut agents = HashSet::new();
        for (i, a) in self.agents.iter().enumerate() {
            check_name(&format!("agents[{i}].id"), &a.id)?;
            if !agents.insert(a.id.as_str()) {
                return Err(invalid(
                    format!("agents[{i}].id"),
                    format!("agent {} listed twice", a.id),
                ));
            }
            for (skill, p) in &a.skills {
                let key = format!("agents[{i}].skills.{skill}");
                if !skills.contains(skill.as_str()) {
                    return Err(invalid(key, format!("unknown skill {skill}")));
                }
                if !(MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(p) {
                    return Err(invalid(key, format!("proficiency {p} outside 1..=10")));
                }
            }
        }
        // The router repeats some checks with its own view; anything left it
        // rejects is still reported against the configuration.
        for (i, c) in self.calendars.iter().enumerate() {
            if jiff::tz::db().get(&c.time_zone).is_err() {
                return Err(invalid(
                    format!("calendars[{i}].time_zone"),
                    format!("{:?} is not a known IANA time zone", c.time_zone),
                ));
            }
            c.hours(jiff::tz::TimeZone::UTC).map_err(|e| match e {
                crate::error::Error::InvalidArgument { field, reason } => {
                    invalid(format!("calendars[{i}].{field}"), reason)
                }
                other => invalid(format!("calendars[{i}]"), other.to_string()),
            })?;
        }
        crate::acd::Router::new(self.router_config()).map_err(|e| invalid("queues", e.to_string()))?;
        Ok(())
    }

    /// The routing core's part of the configuration.
    /// The rules reports apply.
    pub fn report_rules(&self) -> hotline_core::report::ReportRules {
        hotline_core::report::ReportRules {
            short_abandon: Duration::from_secs(self.reports.short_abandon_secs),
            service_level: self
                .queues
                .iter()
                .map(|(n, q)| (QueueName::new(n), Duration::from_secs(q.service_level_secs)))
                .collect(),
            fcr_window: Duration::from_secs(self.reports.fcr_window_days * 86_400),
        }
    }

    pub fn router_config(&self) -> RouterConfig {
        RouterConfig {
            skills: self.skills.iter().map(SkillName::new).collect(),
            queues: self
                .queues
                .iter()
                .map(|(name, q)| QueueSettings {
                    name: Some(QueueName::new(name)),
                    ..q.clone()
                })
                .collect(),
            presence_grace: (self.presence.grace_secs > 0)
                .then(|| std::time::Duration::from_secs(self.presence.grace_secs)),
            short_abandon: std::time::Duration::from_secs(self.reports.short_abandon_secs),
            hours: self
                .calendars
                .iter()
                .filter_map(|c| {
                    let zone = jiff::tz::db().get(&c.time_zone).ok()?;
                    Some((c.id.clone(), c.hours(zone).ok()?))
                })
                .collect(),
        }
    }
}

fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
        return Err(invalid(key, "must be 1..=128 printable characters"));
    }
    Ok(())
}
