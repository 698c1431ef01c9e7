//! Limits on admin catalog objects: lengths, counts and ranges, checked
//! before the catalog checks their meaning (`hotline_core::catalog`).

use hotline_core::acd::QueueSettings;
use hotline_core::catalog::{
    AgentProfile, Customer, EntryPoint, HoursCalendar, KeypadMenu, ReasonCode, Skill, WrapUpCategory,
};

use super::{id, label, MAX_LABEL_LEN, MAX_NUMBER_LEN};
use crate::error::Error;

/// Most skills an agent has, and requirements a queue has.
pub const MAX_SKILLS: usize = 64;
/// Most relaxation steps of a queue.
pub const MAX_RELAXATION_STEPS: usize = 16;
/// Most numbers of one customer.
pub const MAX_CUSTOMER_NUMBERS: usize = 16;
/// Longest SIP password.
pub const MAX_PASSWORD_LEN: usize = 128;
/// The longest any queue duration may be (a day), and the longest callback
/// deadline (thirty days).
pub const MAX_QUEUE_SECS: u64 = 86_400;
pub const MAX_CALLBACK_DEADLINE_SECS: u64 = 30 * 86_400;
/// Most calls one queue may hold waiting.
pub const MAX_QUEUE_LEN: usize = 100_000;
/// Most open spans and closed days of an hours calendar.
pub const MAX_SPANS: usize = 64;
pub const MAX_CLOSURES: usize = 1_000;
/// Most options of a keypad menu: one per key, 0-9, * and #.
pub const MAX_KEYPAD_OPTIONS: usize = 12;
/// The longest a keypad menu waits for a key.
pub const MAX_MENU_TIMEOUT_SECS: u64 = 60;
/// The longest prompt file name.
pub const MAX_PROMPT_NAME_LEN: usize = 128;

/// Most objects of one kind (customers: [`MAX_CUSTOMERS`]).
pub const MAX_OBJECTS: usize = 10_000;
pub const MAX_CUSTOMERS: usize = 2_000_000;

/// An object's lengths, counts and ranges.
pub trait Bounded {
    fn bounded(&self) -> Result<(), Error>;
}

/// A catalog id: required, at most [`super::MAX_ID_LEN`] bytes, no control
/// characters and no line breaks (the store separates kind and id by one).
fn catalog_id(field: &str, value: &str) -> Result<(), Error> {
    id(field, value)?;
    if value.contains(['\n', '\t']) || value.trim() != value {
        return Err(Error::invalid(field, "has spaces at its ends or line breaks"));
    }
    Ok(())
}

fn at_most(field: &str, value: u64, max: u64) -> Result<(), Error> {
    if value > max {
        return Err(Error::invalid(field, format!("{value} is more than {max}")));
    }
    Ok(())
}

impl Bounded for Skill {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("name", &self.name)?;
        label("description", &self.description, MAX_LABEL_LEN).map(|_| ())
    }
}

impl Bounded for AgentProfile {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("id", &self.id)?;
        label("display_name", &self.display_name, MAX_LABEL_LEN)?;
        if self.skills.len() > MAX_SKILLS {
            return Err(Error::invalid("skills", format!("at most {MAX_SKILLS}")));
        }
        for (i, s) in self.skills.iter().enumerate() {
            catalog_id(&format!("skills[{i}].skill"), s.skill.as_str())?;
        }
        label("sip_password", &self.sip_password, MAX_PASSWORD_LEN).map(|_| ())
    }
}

impl Bounded for QueueSettings {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("name", self.name.as_ref().map(|n| n.as_str()).unwrap_or(""))?;
        if self.required_skills.len() > MAX_SKILLS {
            return Err(Error::invalid("required_skills", format!("at most {MAX_SKILLS}")));
        }
        if self.relaxation.len() > MAX_RELAXATION_STEPS {
            return Err(Error::invalid(
                "relaxation",
                format!("at most {MAX_RELAXATION_STEPS} steps"),
            ));
        }
        for (i, s) in self.relaxation.iter().enumerate() {
            at_most(
                &format!("relaxation[{i}].after_secs"),
                s.after_secs,
                MAX_QUEUE_SECS,
            )?;
        }
        let t = &self.tier_priority;
        for (field, v) in [
            ("tier_priority.key_account_secs", t.key_account_secs),
            ("tier_priority.potential_secs", t.potential_secs),
            ("tier_priority.regular_secs", t.regular_secs),
            ("tier_priority.one_off_secs", t.one_off_secs),
            ("ring_timeout_secs", self.ring_timeout_secs),
            ("wrap_up_secs", self.wrap_up_secs),
            ("max_wait_secs", self.max_wait_secs),
            ("preferred_agent_wait_secs", self.preferred_agent_wait_secs),
            ("reoffer_delay_secs", self.reoffer_delay_secs),
            ("service_level_secs", self.service_level_secs),
            (
                "callback_on_abandon_after_secs",
                self.callback_on_abandon_after_secs,
            ),
        ] {
            at_most(field, v, MAX_QUEUE_SECS)?;
        }
        at_most("max_queue_len", self.max_queue_len as u64, MAX_QUEUE_LEN as u64)?;
        if !(1..=100).contains(&self.service_level_target_percent) {
            return Err(Error::invalid(
                "service_level_target_percent",
                format!("must be 1 to 100, not {}", self.service_level_target_percent),
            ));
        }
        at_most(
            "max_consecutive_misses",
            u64::from(self.max_consecutive_misses),
            100,
        )?;
        at_most(
            "callback_max_attempts",
            u64::from(self.callback_max_attempts),
            100,
        )?;
        at_most(
            "callback_deadline_secs",
            self.callback_deadline_secs,
            MAX_CALLBACK_DEADLINE_SECS,
        )?;
        at_most(
            "callback_urgent_before_secs",
            self.callback_urgent_before_secs,
            MAX_CALLBACK_DEADLINE_SECS,
        )
    }
}

impl Bounded for HoursCalendar {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("id", &self.id)?;
        label("description", &self.description, MAX_LABEL_LEN)?;
        if self.open.len() > MAX_SPANS {
            return Err(Error::invalid("open", format!("at most {MAX_SPANS} spans")));
        }
        if self.closed.len() > MAX_CLOSURES {
            return Err(Error::invalid("closed", format!("at most {MAX_CLOSURES} days")));
        }
        for (i, c) in self.closed.iter().enumerate() {
            label(&format!("closed[{i}].label"), &c.label, MAX_LABEL_LEN)?;
        }
        label("time_zone", &self.time_zone, MAX_LABEL_LEN)?;
        if crate::admin::zone(&self.time_zone).is_none() {
            return Err(Error::invalid(
                "time_zone",
                format!(
                    "{} is not a known IANA time zone (e.g. Europe/Berlin)",
                    crate::error::quote(&self.time_zone)
                ),
            ));
        }
        Ok(())
    }
}

impl Bounded for EntryPoint {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("number", &self.number)?;
        label("number", &self.number, MAX_NUMBER_LEN)?;
        catalog_id("queue", &self.queue)?;
        label("description", &self.description, MAX_LABEL_LEN).map(|_| ())
    }
}

impl Bounded for KeypadMenu {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("number", &self.number)?;
        label("number", &self.number, MAX_NUMBER_LEN)?;
        label("description", &self.description, MAX_LABEL_LEN)?;
        prompt_name("prompt", &self.prompt)?;
        if self.options.len() > MAX_KEYPAD_OPTIONS {
            return Err(Error::invalid(
                "options",
                format!("at most {MAX_KEYPAD_OPTIONS} (one per key)"),
            ));
        }
        for (key, target) in &self.options {
            if !hotline_core::catalog::is_key(key) {
                return Err(Error::invalid(
                    "options",
                    format!("{} is not a key: 0-9, * or #", hotline_core::error::quote(key)),
                ));
            }
            catalog_id(&format!("options.{key}"), target)?;
        }
        if !self.default_entry_point.is_empty() {
            catalog_id("default_entry_point", &self.default_entry_point)?;
        }
        at_most("timeout_secs", self.timeout_secs, MAX_MENU_TIMEOUT_SECS)
    }
}

/// A recording's name: "builtin", or a file name (no folders) in a node's
/// prompts folder, ending .wav, .mp3 or .ogg.
pub fn prompt_name(field: &str, name: &str) -> Result<(), Error> {
    if name == "builtin" {
        return Ok(());
    }
    label(field, name, MAX_PROMPT_NAME_LEN)?;
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let lower = name.to_ascii_lowercase();
    if !plain || ![".wav", ".mp3", ".ogg"].iter().any(|e| lower.ends_with(e)) {
        return Err(Error::invalid(
            field,
            format!(
                "{} is not \"builtin\" or a file name (letters, digits, - _ .) ending .wav, .mp3 or .ogg",
                hotline_core::error::quote(name)
            ),
        ));
    }
    Ok(())
}

impl Bounded for ReasonCode {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("code", &self.code)?;
        label("code", &self.code, MAX_LABEL_LEN)?;
        label("label", &self.label, MAX_LABEL_LEN).map(|_| ())
    }
}

impl Bounded for WrapUpCategory {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("code", &self.code)?;
        label("code", &self.code, MAX_LABEL_LEN)?;
        label("label", &self.label, MAX_LABEL_LEN).map(|_| ())
    }
}

impl Bounded for Customer {
    fn bounded(&self) -> Result<(), Error> {
        catalog_id("id", &self.id)?;
        label("name", &self.name, MAX_LABEL_LEN)?;
        if self.numbers.len() > MAX_CUSTOMER_NUMBERS {
            return Err(Error::invalid(
                "numbers",
                format!("at most {MAX_CUSTOMER_NUMBERS}"),
            ));
        }
        for (i, n) in self.numbers.iter().enumerate() {
            catalog_id(&format!("numbers[{i}]"), n)?;
            label(&format!("numbers[{i}]"), n, MAX_NUMBER_LEN)?;
        }
        if !self.account_manager.is_empty() {
            catalog_id("account_manager", &self.account_manager)?;
        }
        Ok(())
    }
}

/// The most objects a kind may hold.
pub fn max_objects(kind: hotline_core::catalog::Kind) -> usize {
    match kind {
        hotline_core::catalog::Kind::Customer => MAX_CUSTOMERS,
        _ => MAX_OBJECTS,
    }
}

/// A list page token: the last id of the previous page.
pub fn after_token(token: &str) -> Result<Option<&str>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let after = token
        .strip_prefix("after:")
        .ok_or_else(|| Error::invalid("page_token", "not a token from a previous response"))?;
    id("page_token", after)?;
    Ok(Some(after))
}
