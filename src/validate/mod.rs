//! Input checks at the API edge. Every failure names the field.

use crate::acd::{Requirement, SkillLevel, MAX_PROFICIENCY, MIN_PROFICIENCY};
use crate::auth::Principal;
use crate::error::Error;
use crate::ids::SkillName;
use crate::proto;
use hotline_core::idempotency::IdempotencyKey;

/// Longest id accepted (agent, call, customer, queue, skill, request ids).
pub const MAX_ID_LEN: usize = 128;
/// Longest free text (notes).
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest reason or category.
pub const MAX_LABEL_LEN: usize = 256;
/// Longest phone number (caller, dialled, call-back) accepted.
pub const MAX_NUMBER_LEN: usize = 64;
/// Most criteria on a scorecard, and most grades in one GradeCall.
pub const MAX_CRITERIA: usize = 32;
/// Longest letter grade ("A".."F", with room for "A+" style marks).
pub const MAX_GRADE_LEN: usize = 2;
/// Largest page.
pub const MAX_PAGE_SIZE: u32 = 500;
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest SDP accepted; real offers are a few KiB.
pub const MAX_SDP_LEN: usize = 64 * 1024;

/// A required identifier: 1..=128 bytes, no control characters.
pub fn id<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    label(field, value, MAX_ID_LEN)
}

/// Optional text up to `max` bytes, no control characters except newlines and tabs.
pub fn label<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, Error> {
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("is {} bytes; at most {max}", value.len()),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(value)
}

pub fn proficiency(field: &str, value: u32) -> Result<u8, Error> {
    u8::try_from(value)
        .ok()
        .filter(|p| (MIN_PROFICIENCY..=MAX_PROFICIENCY).contains(p))
        .ok_or_else(|| Error::invalid(field, format!("proficiency {value} is outside 1..=10")))
}

pub fn skills(levels: &[proto::SkillLevel]) -> Result<Vec<SkillLevel>, Error> {
    if levels.len() > 64 {
        return Err(Error::invalid("skills", "at most 64 skills"));
    }
    levels
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(SkillLevel {
                skill: SkillName::new(id(&format!("skills[{i}].skill"), &s.skill)?),
                proficiency: proficiency(&format!("skills[{i}].proficiency"), s.proficiency)?,
            })
        })
        .collect()
}

pub fn requirements(reqs: &[proto::SkillRequirement]) -> Result<Vec<Requirement>, Error> {
    if reqs.len() > 16 {
        return Err(Error::invalid("skills", "at most 16 requirements"));
    }
    reqs.iter()
        .enumerate()
        .map(|(i, r)| {
            Ok(Requirement {
                skill: SkillName::new(id(&format!("skills[{i}].skill"), &r.skill)?),
                min_proficiency: proficiency(&format!("skills[{i}].min_proficiency"), r.min_proficiency)?,
                optional: r.optional,
            })
        })
        .collect()
}

pub fn page_size(value: u32) -> Result<usize, Error> {
    match value {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        v if v > MAX_PAGE_SIZE => Err(Error::invalid("page_size", format!("at most {MAX_PAGE_SIZE}"))),
        v => Ok(v as usize),
    }
}

/// The idempotency key of a request: none when `request_id` is empty.
/// `body` is the whole request as received, encoded; its digest tells a
/// retry from a different request that reuses the id.
pub fn request_key(
    principal: &Principal,
    request_id: &str,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, Error> {
    use sha2::Digest;
    if request_id.is_empty() {
        return Ok(None);
    }
    label("request_id", request_id, MAX_ID_LEN)?;
    let digest = sha2::Sha256::digest(body);
    Ok(Some(IdempotencyKey {
        principal: format!("{}:{}", principal.role, principal.sub),
        request_id: request_id.to_string(),
        digest: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }))
}

/// A time field in Unix milliseconds: 0 means unset; negative is invalid.
pub fn optional_time(field: &str, ms: i64) -> Result<Option<crate::time::Timestamp>, Error> {
    match ms {
        0 => Ok(None),
        ms => u64::try_from(ms)
            .map(|ms| Some(crate::time::Timestamp(ms)))
            .map_err(|_| Error::invalid(field, "must not be negative")),
    }
}

/// The SDP text of a required offer.
pub fn offer<'a>(field: &str, offer: Option<&'a proto::SessionOffer>) -> Result<&'a str, Error> {
    let sdp = offer.map(|o| o.sdp.as_str()).unwrap_or_default();
    if sdp.trim().is_empty() {
        return Err(Error::invalid(field, "an SDP offer is required"));
    }
    if sdp.len() > MAX_SDP_LEN {
        return Err(Error::invalid(
            field,
            format!("longer than {} bytes", MAX_SDP_LEN),
        ));
    }
    Ok(sdp)
}

/// A trickled ICE candidate, as the media layer takes it.
pub fn candidate(
    c: Option<&proto::IceCandidate>,
) -> Result<rtc::peer_connection::transport::RTCIceCandidateInit, Error> {
    let c = c.ok_or_else(|| Error::invalid("candidate", "required"))?;
    if c.candidate.len() > 1024 || c.sdp_mid.len() > 64 || c.username_fragment.len() > 256 {
        return Err(Error::invalid("candidate", "too long"));
    }
    let mline = u16::try_from(c.sdp_mline_index).ok();
    Ok(rtc::peer_connection::transport::RTCIceCandidateInit {
        candidate: c.candidate.clone(),
        sdp_mid: (!c.sdp_mid.is_empty()).then(|| c.sdp_mid.clone()),
        sdp_mline_index: mline,
        username_fragment: (!c.username_fragment.is_empty()).then(|| c.username_fragment.clone()),
        url: None,
    })
}

/// A stream's refresh interval in ms: 100..=60000, 0 meaning 1000.
pub fn stream_interval(value: u32) -> Result<std::time::Duration, Error> {
    match value {
        0 => Ok(std::time::Duration::from_secs(1)),
        v @ 100..=60_000 => Ok(std::time::Duration::from_millis(u64::from(v))),
        _ => Err(Error::invalid(
            "interval_ms",
            "must be 100..=60000 (or 0 for 1000)",
        )),
    }
}

/// Parses a page token of a time-ordered listing (calls, recordings,
/// callbacks): "<ms>:<id>", as [`page_token`] makes them.
pub fn time_cursor(token: &str) -> Result<Option<(crate::time::Timestamp, String)>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid("page_token", "not a token from a previous response");
    let (ms, id) = token.split_once(':').ok_or_else(bad)?;
    let ms: u64 = ms.parse().map_err(|_| bad())?;
    let id = self::id("page_token", id)?;
    Ok(Some((crate::time::Timestamp(ms), id.to_string())))
}

/// The next page token of a time-ordered listing: the last item's position
/// when the page is full, else none (empty).
pub fn page_token(full: bool, last: Option<(crate::time::Timestamp, &str)>) -> String {
    match last {
        Some((t, id)) if full => format!("{}:{id}", t.as_millis()),
        _ => String::new(),
    }
}

/// A scorecard sent with a grade: a bounded name and criteria.
pub fn scorecard(c: &proto::Scorecard) -> Result<crate::quality::Scorecard, Error> {
    if c.criteria.len() > MAX_CRITERIA {
        return Err(Error::invalid(
            "scorecard.criteria",
            format!("at most {MAX_CRITERIA} criteria"),
        ));
    }
    Ok(crate::quality::Scorecard {
        name: label("scorecard.name", &c.name, MAX_LABEL_LEN)?.to_string(),
        total: c.total,
        criteria: c
            .criteria
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Ok(crate::quality::Criterion {
                    name: id(&format!("scorecard.criteria[{i}].name"), &c.name)?.to_string(),
                    weight: c.weight,
                })
            })
            .collect::<Result<_, Error>>()?,
    })
}

/// The per-criterion letters of a grade.
pub fn criterion_grades(
    grades: &[proto::CriterionGrade],
) -> Result<Vec<(String, crate::quality::Letter)>, Error> {
    if grades.len() > MAX_CRITERIA {
        return Err(Error::invalid("grades", format!("at most {MAX_CRITERIA} grades")));
    }
    grades
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let criterion = id(&format!("grades[{i}].criterion"), &g.criterion)?;
            let field = format!("grades[{i}].grade");
            let letter = label(&field, &g.grade, MAX_GRADE_LEN)?;
            let letter =
                crate::quality::Letter::parse(letter).map_err(|e| Error::invalid(field, e.to_string()))?;
            Ok((criterion.to_string(), letter))
        })
        .collect()
}

mod catalog;
pub use catalog::*;
