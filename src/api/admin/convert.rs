//! Admin catalog objects between their proto and domain forms. Enumerations
//! travel as the names the configuration file uses ("round-robin",
//! "key-account" is the Tier enum); a bad one is INVALID_ARGUMENT naming
//! the field.

use hotline_core::acd::{
    NoAgentsPolicy, QueueSettings, RelaxationStep, Strategy, Tier, TierPriority, WhenClosed,
};
use hotline_core::catalog::{
    AgentProfile, Closure, Contract, Customer, EntryPoint, HoursCalendar, KeypadMenu, OpenSpan, ReasonCode,
    Skill, Versioned, WrapUpCategory,
};
use hotline_core::ids::QueueName;

use crate::error::Error;
use crate::proto;
use crate::store::catalog::AuditRecord;
use crate::validate;

/// A kebab-case serde enum from its name; the error lists what is allowed.
fn named<T: serde::de::DeserializeOwned>(
    field: &str,
    value: &str,
    allowed: &str,
    default: T,
) -> Result<T, Error> {
    if value.is_empty() {
        return Ok(default);
    }
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        Error::invalid(
            field,
            format!("{} is not one of {allowed}", hotline_core::error::quote(value)),
        )
    })
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn etag(revision: hotline_core::catalog::Revision) -> String {
    revision.0.to_string()
}

pub fn skill_in(s: proto::Skill) -> Skill {
    Skill {
        name: s.name,
        description: s.description,
    }
}

pub fn skill_out(v: &Versioned<Skill>) -> proto::Skill {
    proto::Skill {
        name: v.value.name.clone(),
        description: v.value.description.clone(),
        etag: etag(v.revision),
    }
}

pub fn agent_in(a: proto::AgentProfile) -> Result<AgentProfile, Error> {
    let skills = validate::skills(&a.skills)?;
    Ok(AgentProfile {
        id: a.id,
        display_name: a.display_name,
        skills,
        sip_password: a.sip_password,
        active: a.active,
    })
}

pub fn agent_out(v: &Versioned<AgentProfile>) -> proto::AgentProfile {
    let a = &v.value;
    proto::AgentProfile {
        id: a.id.clone(),
        display_name: a.display_name.clone(),
        skills: crate::convert::skill_levels(&a.skills),
        sip_password: String::new(),
        has_sip_password: !a.sip_password.is_empty(),
        active: a.active,
        etag: etag(v.revision),
    }
}

pub fn queue_in(q: proto::Queue) -> Result<QueueSettings, Error> {
    let small = |field: &str, v: u64| u32::try_from(v).map_err(|_| Error::invalid(field, "too large"));
    Ok(QueueSettings {
        name: Some(QueueName::new(&q.name)),
        required_skills: validate::requirements(&q.required_skills).map_err(|e| match e {
            Error::InvalidArgument { field, reason } => {
                Error::invalid(field.replacen("skills", "required_skills", 1), reason)
            }
            other => other,
        })?,
        strategy: named(
            "strategy",
            &q.strategy,
            "longest-idle, most-proficient, fewest-calls, round-robin",
            Strategy::default(),
        )?,
        tier_priority: q
            .tier_priority
            .map(|t| TierPriority {
                key_account_secs: t.key_account_secs,
                potential_secs: t.potential_secs,
                regular_secs: t.regular_secs,
                one_off_secs: t.one_off_secs,
            })
            .unwrap_or_default(),
        relaxation: q
            .relaxation
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(RelaxationStep {
                    after_secs: s.after_secs,
                    lower_proficiency_by: u8::try_from(s.lower_proficiency_by).map_err(|_| {
                        Error::invalid(format!("relaxation[{i}].lower_proficiency_by"), "at most 9")
                    })?,
                    drop_optional_skills: s.drop_optional_skills,
                })
            })
            .collect::<Result<_, Error>>()?,
        ring_timeout_secs: q.ring_timeout_secs,
        wrap_up_secs: q.wrap_up_secs,
        max_queue_len: usize::try_from(q.max_queue_len)
            .map_err(|_| Error::invalid("max_queue_len", "too large"))?,
        max_wait_secs: q.max_wait_secs,
        overflow_queue: (!q.overflow_queue.is_empty()).then(|| QueueName::new(&q.overflow_queue)),
        when_no_agents: named(
            "when_no_agents",
            &q.when_no_agents,
            "wait, overflow, reject",
            NoAgentsPolicy::default(),
        )?,
        preferred_agent_wait_secs: q.preferred_agent_wait_secs,
        max_consecutive_misses: q.max_consecutive_misses,
        reoffer_delay_secs: q.reoffer_delay_secs,
        service_level_secs: q.service_level_secs,
        // Unset in the message (proto3's zero): the default.
        service_level_target_percent: match q.service_level_target_percent {
            0 => QueueSettings::default().service_level_target_percent,
            p => p,
        },
        callback_deadline_secs: q.callback_deadline_secs,
        callback_urgent_before_secs: q.callback_urgent_before_secs,
        callback_max_attempts: small("callback_max_attempts", u64::from(q.callback_max_attempts))?,
        callback_on_abandon_after_secs: q.callback_on_abandon_after_secs,
        callback_on_open_wrap_up: q.callback_on_open_wrap_up,
        hours: q.hours,
        when_closed: named(
            "when_closed",
            &q.when_closed,
            "announce, callback, overflow",
            WhenClosed::default(),
        )?,
        callback_hours: q.callback_hours,
    })
}

pub fn queue_out(v: &Versioned<QueueSettings>) -> proto::Queue {
    let q = &v.value;
    proto::Queue {
        name: q.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
        required_skills: q
            .required_skills
            .iter()
            .map(|r| proto::SkillRequirement {
                skill: r.skill.to_string(),
                min_proficiency: u32::from(r.min_proficiency),
                optional: r.optional,
            })
            .collect(),
        strategy: name_of(&q.strategy),
        tier_priority: Some(proto::TierPriority {
            key_account_secs: q.tier_priority.key_account_secs,
            potential_secs: q.tier_priority.potential_secs,
            regular_secs: q.tier_priority.regular_secs,
            one_off_secs: q.tier_priority.one_off_secs,
        }),
        relaxation: q
            .relaxation
            .iter()
            .map(|s| proto::RelaxationStep {
                after_secs: s.after_secs,
                lower_proficiency_by: u32::from(s.lower_proficiency_by),
                drop_optional_skills: s.drop_optional_skills,
            })
            .collect(),
        ring_timeout_secs: q.ring_timeout_secs,
        wrap_up_secs: q.wrap_up_secs,
        max_queue_len: q.max_queue_len as u64,
        max_wait_secs: q.max_wait_secs,
        overflow_queue: q
            .overflow_queue
            .as_ref()
            .map(|o| o.to_string())
            .unwrap_or_default(),
        when_no_agents: name_of(&q.when_no_agents),
        preferred_agent_wait_secs: q.preferred_agent_wait_secs,
        max_consecutive_misses: q.max_consecutive_misses,
        reoffer_delay_secs: q.reoffer_delay_secs,
        service_level_secs: q.service_level_secs,
        service_level_target_percent: q.service_level_target_percent,
        callback_deadline_secs: q.callback_deadline_secs,
        callback_urgent_before_secs: q.callback_urgent_before_secs,
        callback_max_attempts: q.callback_max_attempts,
        callback_on_abandon_after_secs: q.callback_on_abandon_after_secs,
        callback_on_open_wrap_up: q.callback_on_open_wrap_up,
        hours: q.hours.clone(),
        when_closed: name_of(&q.when_closed),
        callback_hours: q.callback_hours.clone(),
        etag: etag(v.revision),
    }
}

pub fn calendar_in(c: proto::Calendar) -> Result<HoursCalendar, Error> {
    if c.open.len() > validate::MAX_SPANS || c.closed.len() > validate::MAX_CLOSURES {
        return Err(Error::invalid(
            "open",
            format!(
                "at most {} spans and {} closed days",
                validate::MAX_SPANS,
                validate::MAX_CLOSURES
            ),
        ));
    }
    let closed = c
        .closed
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(Closure {
                date: d.date.trim().parse().map_err(|_| {
                    Error::invalid(
                        format!("closed[{i}].date"),
                        format!("{} is not a date YYYY-MM-DD", hotline_core::error::quote(&d.date)),
                    )
                })?,
                label: d.label,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(HoursCalendar {
        id: c.id,
        description: c.description,
        time_zone: c.time_zone,
        open: c
            .open
            .into_iter()
            .map(|s| OpenSpan {
                days: s.days,
                from: s.from,
                to: s.to,
            })
            .collect(),
        closed,
    })
}

pub fn calendar_out(v: &Versioned<HoursCalendar>) -> proto::Calendar {
    let c = &v.value;
    proto::Calendar {
        id: c.id.clone(),
        description: c.description.clone(),
        time_zone: c.time_zone.clone(),
        open: c
            .open
            .iter()
            .map(|s| proto::OpenSpan {
                days: s.days.clone(),
                from: s.from.clone(),
                to: s.to.clone(),
            })
            .collect(),
        closed: c
            .closed
            .iter()
            .map(|d| proto::Closure {
                date: d.date.to_string(),
                label: d.label.clone(),
            })
            .collect(),
        etag: etag(v.revision),
    }
}

pub fn entry_point_in(e: proto::EntryPoint) -> EntryPoint {
    EntryPoint {
        number: e.number,
        queue: e.queue,
        description: e.description,
    }
}

pub fn entry_point_out(v: &Versioned<EntryPoint>) -> proto::EntryPoint {
    proto::EntryPoint {
        number: v.value.number.clone(),
        queue: v.value.queue.clone(),
        description: v.value.description.clone(),
        etag: etag(v.revision),
    }
}

/// A menu as sent; its bounds (how many keys, which) are checked in one
/// place, `validate::catalog`'s `Bounded`, like every object's.
pub fn keypad_menu_in(m: proto::KeypadMenu) -> Result<KeypadMenu, Error> {
    let mut options = std::collections::BTreeMap::new();
    for (i, o) in m.options.into_iter().enumerate() {
        if options.insert(o.key.clone(), o.entry_point).is_some() {
            return Err(Error::invalid(
                format!("options[{i}].key"),
                format!("{} is listed twice", hotline_core::error::quote(&o.key)),
            ));
        }
    }
    let defaults = KeypadMenu::default();
    Ok(KeypadMenu {
        number: m.number,
        description: m.description,
        // Unset in the message: the defaults.
        prompt: if m.prompt.is_empty() {
            defaults.prompt
        } else {
            m.prompt
        },
        options,
        timeout_secs: if m.timeout_secs == 0 {
            defaults.timeout_secs
        } else {
            m.timeout_secs
        },
        default_entry_point: m.default_entry_point,
    })
}

pub fn keypad_menu_out(v: &Versioned<KeypadMenu>) -> proto::KeypadMenu {
    let m = &v.value;
    proto::KeypadMenu {
        number: m.number.clone(),
        description: m.description.clone(),
        prompt: m.prompt.clone(),
        options: m
            .options
            .iter()
            .map(|(key, entry_point)| proto::KeypadOption {
                key: key.clone(),
                entry_point: entry_point.clone(),
            })
            .collect(),
        timeout_secs: m.timeout_secs,
        default_entry_point: m.default_entry_point.clone(),
        etag: etag(v.revision),
    }
}

pub fn reason_code_in(r: proto::ReasonCode) -> ReasonCode {
    ReasonCode {
        code: r.code,
        label: r.label,
        active: r.active,
    }
}

pub fn reason_code_out(v: &Versioned<ReasonCode>) -> proto::ReasonCode {
    proto::ReasonCode {
        code: v.value.code.clone(),
        label: v.value.label.clone(),
        active: v.value.active,
        etag: etag(v.revision),
    }
}

pub fn category_in(c: proto::WrapUpCategory) -> WrapUpCategory {
    WrapUpCategory {
        code: c.code,
        label: c.label,
        active: c.active,
    }
}

pub fn category_out(v: &Versioned<WrapUpCategory>) -> proto::WrapUpCategory {
    proto::WrapUpCategory {
        code: v.value.code.clone(),
        label: v.value.label.clone(),
        active: v.value.active,
        etag: etag(v.revision),
    }
}

pub fn tier_in(field: &str, t: i32) -> Result<Tier, Error> {
    match proto::Tier::try_from(t) {
        Ok(proto::Tier::KeyAccount) => Ok(Tier::KeyAccount),
        Ok(proto::Tier::Potential) => Ok(Tier::Potential),
        Ok(proto::Tier::Regular) | Ok(proto::Tier::Unspecified) => Ok(Tier::Regular),
        Ok(proto::Tier::OneOff) => Ok(Tier::OneOff),
        Err(_) => Err(Error::invalid(field, format!("{t} is not a tier"))),
    }
}

pub fn customer_in(c: proto::Customer) -> Result<Customer, Error> {
    if c.numbers.len() > validate::MAX_CUSTOMER_NUMBERS {
        return Err(Error::invalid(
            "numbers",
            format!("at most {}", validate::MAX_CUSTOMER_NUMBERS),
        ));
    }
    let contract_expires = match c.contract_expires.trim() {
        "" => None,
        d => Some(d.parse::<jiff::civil::Date>().map_err(|_| {
            Error::invalid(
                "contract_expires",
                format!("{} is not a date YYYY-MM-DD", hotline_core::error::quote(d)),
            )
        })?),
    };
    Ok(Customer {
        id: c.id,
        name: c.name,
        tier: tier_in("tier", c.tier)?,
        numbers: c.numbers,
        account_manager: c.account_manager,
        contract: named(
            "contract",
            &c.contract,
            "none, free-period, contract",
            Contract::None,
        )?,
        contract_expires,
    })
}

pub fn customer_out(v: &Versioned<Customer>) -> proto::Customer {
    let c = &v.value;
    proto::Customer {
        id: c.id.clone(),
        name: c.name.clone(),
        tier: crate::convert::tier(c.tier) as i32,
        numbers: c.numbers.clone(),
        account_manager: c.account_manager.clone(),
        contract: c.contract.as_str().to_string(),
        contract_expires: c.contract_expires.map(|d| d.to_string()).unwrap_or_default(),
        etag: etag(v.revision),
    }
}

/// A stored body as shown in the audit: agents' SIP passwords hidden.
fn shown(body: &Option<String>) -> String {
    let Some(body) = body else { return String::new() };
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(p) = v
                .get_mut("sip_password")
                .filter(|p| p.as_str().is_some_and(|s| !s.is_empty()))
            {
                *p = serde_json::Value::String("<hidden>".into());
            }
            v.to_string()
        }
        Err(_) => "<unreadable>".into(),
    }
}

pub fn audit_out(r: &AuditRecord) -> proto::AuditEntry {
    proto::AuditEntry {
        revision: r.revision.0,
        at_unix_ms: r.at.as_millis() as i64,
        actor: r.actor.clone(),
        kind: r.kind.as_str().to_string(),
        id: r.id.clone(),
        action: name_of(&r.action()),
        before_json: shown(&r.before),
        after_json: shown(&r.after),
    }
}

pub fn summary_out(s: &crate::app::catalog_document::ImportSummary) -> proto::ImportSummary {
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    proto::ImportSummary {
        objects: n(s.objects),
        created: n(s.created),
        updated: n(s.updated),
        unchanged: n(s.unchanged),
    }
}
