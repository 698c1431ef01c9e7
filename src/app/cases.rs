//! Cases from the application's side: complaints, repair requests and
//! inquiries opened from a call or by a supervisor, judged, assigned,
//! worked, followed up by callbacks, resolved and confirmed by the
//! customer (the flow itself is `hotline_core::case`).
//!
//! Invariants:
//! - who may do what: agents open cases for the caller of a call they
//!   answered, and work the cases they own (start, resolve, follow up,
//!   record the customer's rating); the owner or the agent who opened a
//!   case may add notes and links; supervisors (and admins) do everything,
//!   and alone judge and assign. Agents read any one case, and list a
//!   customer's cases or their own, never the whole book;
//! - a change is read, applied by the core and written back naming the
//!   version it read; when another change got there first it is applied
//!   again to the case as it now is (the core refuses what no longer
//!   applies), so concurrent changes from any node never overwrite each
//!   other;
//! - a change made with a request id is stamped on its timeline entries: a
//!   retry finds it there and gets the case back with no second change; a
//!   case opened with a request id gets an id derived from it;
//! - every change is counted (`hotline_case_changes_total`) and written to
//!   the audit trail once made.

use serde::Serialize;
use tracing::warn;

use super::{request_key, App};
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::ids::{AgentId, CallId, CallbackId, CaseId};
use crate::store::audit::AuditAction;
use crate::store::cases::{version, CaseFilter};
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::validate;
use hotline_core::acd::Tier;
use hotline_core::case::{CaseCommand, CaseKind, CaseLink, CaseRecord, CaseStatus, CaseTarget, NewCase};
use hotline_core::idempotency::IdempotencyKey;

/// Longest contact (a number or an address).
pub const MAX_CONTACT_LEN: usize = 256;
/// Longest channel name.
pub const MAX_CHANNEL_LEN: usize = 64;
/// Highest priority a request may give (the tier's weight is added).
pub const MAX_PRIORITY: u32 = 9;
/// How often a change is applied again after losing a race, before the
/// client is told to retry.
const ATTEMPTS: usize = 5;

/// A case to open, as the edges hand it over.
#[derive(Clone, Debug, Serialize)]
pub struct OpenCase {
    pub kind: CaseKind,
    pub call_id: String,
    pub customer_id: String,
    pub contact: String,
    pub channel: String,
    pub category: String,
    pub target: Option<CaseTarget>,
    pub wanted: String,
    pub summary: String,
    pub priority: u32,
    pub request_id: String,
}

/// Which cases to list, a page at a time.
#[derive(Clone, Debug, Default)]
pub struct ListCases {
    pub customer_id: String,
    pub owner_agent_id: String,
    pub kind: Option<CaseKind>,
    pub category: String,
    pub team: String,
    pub statuses: Vec<CaseStatus>,
    pub open_only: bool,
    pub page_size: u32,
    pub page_token: String,
}

/// A change asked of a case, before its input is checked.
#[derive(Clone, Debug, Serialize)]
pub enum CaseChangeRequest {
    Judge {
        stands: bool,
        answer: String,
    },
    /// `due` none: the kind's default from now.
    Assign {
        team: String,
        owner_agent_id: String,
        due: Option<Timestamp>,
    },
    Start,
    Note {
        note: String,
    },
    Link {
        call_id: String,
        callback_id: String,
    },
    Resolve {
        fix: String,
    },
    Rate {
        satisfaction: u32,
    },
}

/// A follow-up callback to book for a case.
#[derive(Clone, Debug, Serialize)]
pub struct FollowUp {
    pub queue: String,
    pub not_before: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub notes: String,
    pub request_id: String,
}

fn case_id(value: &str) -> Result<CaseId, Error> {
    Ok(CaseId::new(validate::id("case_id", value)?))
}

/// Required free text up to [`validate::MAX_TEXT_LEN`].
fn required_text(field: &str, value: &str) -> Result<String, Error> {
    validate::label(field, value, validate::MAX_TEXT_LEN)?;
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    Ok(value.to_string())
}

/// How much a customer's tier raises a case's priority.
fn tier_weight(tier: Tier) -> u32 {
    match tier {
        Tier::KeyAccount => 3,
        Tier::Potential => 2,
        Tier::Regular => 1,
        Tier::OneOff => 0,
    }
}

/// How a request's retry key is stamped on a timeline: its stored form and
/// its body's digest.
fn stamp(key: &IdempotencyKey) -> String {
    format!("{}#{}", key.stored(), key.digest)
}

/// Whether `key` already changed `case`; an error when its request id was
/// used for a different change.
fn replayed(case: &CaseRecord, key: &IdempotencyKey) -> Result<bool, Error> {
    let prefix = format!("{}#", key.stored());
    let used = case
        .timeline
        .iter()
        .find_map(|e| e.request.as_deref().and_then(|r| r.strip_prefix(prefix.as_str())));
    match used {
        None => Ok(false),
        Some(digest) if digest == key.digest || digest.is_empty() || key.digest.is_empty() => Ok(true),
        Some(_) => Err(Error::invalid(
            "request_id",
            "already used for a different change of this case; use a new request_id",
        )),
    }
}

/// Which change a command is, for the audit and for checking roles.
fn action_name(r: &CaseChangeRequest) -> &'static str {
    match r {
        CaseChangeRequest::Judge { .. } => "judge",
        CaseChangeRequest::Assign { .. } => "assign",
        CaseChangeRequest::Start => "start",
        CaseChangeRequest::Note { .. } => "note",
        CaseChangeRequest::Link { .. } => "link",
        CaseChangeRequest::Resolve { .. } => "resolve",
        CaseChangeRequest::Rate { .. } => "rate",
    }
}

/// Whether `p` may make change `r` on `case`.
fn may_change(p: &Principal, case: &CaseRecord, r: &CaseChangeRequest) -> Result<(), Error> {
    if matches!(p.role, Role::Supervisor | Role::Admin) {
        return Ok(());
    }
    if p.role != Role::Agent {
        return Err(Error::PermissionDenied(format!(
            "role {} may not change cases",
            p.role
        )));
    }
    let owns = case.owner.as_ref().is_some_and(|o| o.as_str() == p.sub);
    let opened = case.opened_by == p.sub;
    let allowed = match r {
        CaseChangeRequest::Judge { .. } | CaseChangeRequest::Assign { .. } => false,
        // The customer's rating is taken by whoever reaches them: the
        // owner on the follow-up, or the agent who took the complaint.
        CaseChangeRequest::Note { .. } | CaseChangeRequest::Link { .. } | CaseChangeRequest::Rate { .. } => {
            owns || opened
        }
        CaseChangeRequest::Start | CaseChangeRequest::Resolve { .. } => owns,
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "agent {} may not {} case {}: {}",
            p.sub,
            action_name(r),
            case.id,
            if matches!(
                r,
                CaseChangeRequest::Judge { .. } | CaseChangeRequest::Assign { .. }
            ) {
                "supervisors judge and assign"
            } else {
                "it is not theirs"
            }
        )))
    }
}

impl App {
    /// A stored case, or NOT_FOUND naming it.
    async fn stored_case(&self, id: &CaseId) -> Result<CaseRecord, Error> {
        self.cases.get_case(id).await?.ok_or_else(|| Error::NotFound {
            what: "case",
            id: id.to_string(),
        })
    }

    /// Opens a case: from an agent's answered call (the customer and how
    /// to reach them from the call), or by a supervisor for any customer.
    pub async fn open_case(&self, p: &Principal, r: OpenCase) -> Result<CaseRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        let key = request_key(p, &r.request_id, &("OpenCase", &r))?;
        let call = match r.call_id.as_str() {
            "" if p.role == Role::Agent => return Err(Error::invalid("call_id", "is required for agents")),
            "" => None,
            id => {
                let (call, agent) = self.answered_call(&App::call_id(id)?, "open a case for").await?;
                if p.role == Role::Agent && agent.as_str() != p.sub {
                    return Err(Error::PermissionDenied(format!(
                        "call {} was answered by another agent",
                        call.id
                    )));
                }
                Some(call)
            }
        };
        let (customer, tier) = match (
            r.customer_id.as_str(),
            call.as_ref().and_then(|c| c.customer.as_ref()),
        ) {
            ("", Some(c)) => self.customer(c.as_str())?,
            ("", None) if call.is_some() => {
                return Err(Error::invalid(
                    "customer_id",
                    "is required: the caller is not in the directory",
                ))
            }
            ("", None) => return Err(Error::invalid("customer_id", "is required without call_id")),
            (id, _) => self.customer(id)?,
        };
        let contact = validate::label("contact", &r.contact, MAX_CONTACT_LEN)?.trim();
        let contact = match (contact, &call) {
            ("", Some(c)) if !c.ani.is_empty() => c.ani.clone(),
            ("", _) => self
                .catalog
                .read()
                .customer(customer.as_str())
                .and_then(|c| c.numbers.first().cloned())
                .unwrap_or_default(),
            (c, _) => c.to_string(),
        };
        let channel = match validate::label("channel", &r.channel, MAX_CHANNEL_LEN)?.trim() {
            "" if call.is_some() => "phone".to_string(),
            "" => "api".to_string(),
            c => c.to_string(),
        };
        let category = validate::label("category", &r.category, validate::MAX_LABEL_LEN)?.trim();
        if category.is_empty() {
            return Err(Error::invalid("category", "is required"));
        }
        let target = match r.target {
            None => None,
            Some(CaseTarget::Agent(a)) => {
                let id = validate::id("target.name", a.as_str())?;
                if self.catalog.read().agent(id).is_none() {
                    return Err(Error::NotFound {
                        what: "agent",
                        id: id.to_string(),
                    });
                }
                Some(CaseTarget::Agent(AgentId::new(id)))
            }
            Some(CaseTarget::Team(t)) => Some(CaseTarget::Team(validate::id("target.name", &t)?.to_string())),
            Some(CaseTarget::Product(t)) => {
                Some(CaseTarget::Product(validate::id("target.name", &t)?.to_string()))
            }
        };
        validate::label("wanted", &r.wanted, validate::MAX_TEXT_LEN)?;
        let summary = required_text("summary", &r.summary)?;
        if r.priority > MAX_PRIORITY {
            return Err(Error::invalid(
                "priority",
                format!("{} is above {MAX_PRIORITY}", r.priority),
            ));
        }
        let id = match &key {
            // A retried open finds the case its first try made.
            Some(k) => {
                use sha2::Digest;
                let d = sha2::Sha256::digest(k.stored().as_bytes());
                let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
                CaseId::new(format!("case-{hex}"))
            }
            None => CaseId::new(format!("case-{}", uuid::Uuid::now_v7().simple())),
        };
        let mut case = CaseRecord::open(
            NewCase {
                id: id.clone(),
                kind: r.kind,
                customer,
                contact,
                channel,
                category: category.to_string(),
                target,
                wanted: r.wanted.trim().to_string(),
                summary,
                priority: r.priority + tier_weight(tier),
            },
            &p.sub,
            Timestamp::now_wall(),
        );
        if let Some(call) = &call {
            case.links.push(CaseLink::Call(call.id.clone()));
        }
        if let Some(k) = &key {
            case.stamp_request(0, &stamp(k));
        }
        match self.cases.put_case(&case, None).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) if key.is_some() => {
                let stored = self.stored_case(&id).await?;
                return match key.as_ref().map(|k| replayed(&stored, k)).transpose()? {
                    Some(true) => Ok(stored),
                    _ => Err(Error::invalid("request_id", "already used; use a new request_id")),
                };
            }
            Err(e) => return Err(e.into()),
        }
        self.live_cases.observe(&case);
        crate::metrics::cases::case_changed(case.kind, "opened");
        self.audit_after(p, AuditAction::CaseChanged, format!("case:{id}"), "opened".into())
            .await;
        Ok(case)
    }

    /// The callbacks linked to a case (one since deleted by retention is
    /// left out).
    pub async fn case_callbacks(
        &self,
        c: &CaseRecord,
    ) -> Result<Vec<crate::callback::CallbackRecord>, Error> {
        let mut out = Vec::new();
        for link in &c.links {
            if let CaseLink::Callback(id) = link {
                out.extend(self.store.get_callback(id).await?);
            }
        }
        Ok(out)
    }

    /// The open cases to watch on the supervisors' board.
    pub fn watch_cases(&self, p: &Principal) -> Result<crate::cases::LiveCases, Error> {
        p.require(&[Role::Supervisor])?;
        Ok(self.live_cases.clone())
    }

    pub async fn get_case(&self, p: &Principal, id: &str) -> Result<CaseRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        self.stored_case(&case_id(id)?).await
    }

    /// A page of cases and the next page's token (empty after the last).
    /// Agents list a customer's cases or their own.
    pub async fn list_cases(&self, p: &Principal, r: ListCases) -> Result<(Vec<CaseRecord>, String), Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        let size = validate::page_size(r.page_size)?;
        let after = validate::time_cursor(&r.page_token)?.map(|(t, id)| (t, CaseId::new(id)));
        let customer = match r.customer_id.as_str() {
            "" => None,
            c => Some(crate::ids::CustomerId::new(validate::id("customer_id", c)?)),
        };
        let owner = match r.owner_agent_id.as_str() {
            "" => None,
            a => Some(AgentId::new(validate::id("owner_agent_id", a)?)),
        };
        if p.role == Role::Agent && customer.is_none() && owner.as_ref().is_none_or(|o| o.as_str() != p.sub) {
            return Err(Error::PermissionDenied(
                "agents list a customer's cases (customer_id) or their own (owner_agent_id)".into(),
            ));
        }
        let text = |field: &str, v: &str, max: usize| -> Result<Option<String>, Error> {
            validate::label(field, v, max)?;
            Ok((!v.is_empty()).then(|| v.to_string()))
        };
        let filter = CaseFilter {
            customer,
            open_only: r.open_only,
            statuses: r.statuses,
            owner,
            kind: r.kind,
            category: text("category", &r.category, validate::MAX_LABEL_LEN)?,
            team: text("team", &r.team, validate::MAX_ID_LEN)?,
        };
        let cases = self.cases.list_cases(&filter, after.as_ref(), size).await?;
        let next = validate::page_token(
            cases.len() == size,
            cases.last().map(|c| (c.opened_at, c.id.as_str())),
        );
        Ok((cases, next))
    }

    /// The core command `r` asks of `case`, its input checked.
    async fn case_command(
        &self,
        case: &CaseRecord,
        r: &CaseChangeRequest,
        now: Timestamp,
    ) -> Result<CaseCommand, Error> {
        Ok(match r {
            CaseChangeRequest::Judge { stands, answer } => CaseCommand::Judge {
                stands: *stands,
                answer: validate::label("answer", answer, validate::MAX_TEXT_LEN)?
                    .trim()
                    .to_string(),
            },
            CaseChangeRequest::Assign {
                team,
                owner_agent_id,
                due,
            } => {
                let owner = validate::id("owner_agent_id", owner_agent_id)?;
                if self.catalog.read().agent(owner).is_none() {
                    return Err(Error::NotFound {
                        what: "agent",
                        id: owner.to_string(),
                    });
                }
                CaseCommand::Assign {
                    team: validate::id("team", team)?.to_string(),
                    owner: AgentId::new(owner),
                    due: due
                        .unwrap_or_else(|| now.plus(self.case_rules.due_within(case.kind, &case.category))),
                }
            }
            CaseChangeRequest::Start => CaseCommand::Start,
            CaseChangeRequest::Note { note } => CaseCommand::AddNote {
                note: required_text("note", note)?,
            },
            CaseChangeRequest::Link { call_id, callback_id } => {
                let link = match (call_id.as_str(), callback_id.as_str()) {
                    (c, "") if !c.is_empty() => {
                        let id = App::call_id(c)?;
                        self.call_record(&id).await?;
                        CaseLink::Call(id)
                    }
                    ("", b) if !b.is_empty() => {
                        let id = CallbackId::new(validate::id("callback_id", b)?);
                        self.store
                            .get_callback(&id)
                            .await?
                            .ok_or_else(|| Error::NotFound {
                                what: "callback",
                                id: id.to_string(),
                            })?;
                        CaseLink::Callback(id)
                    }
                    _ => {
                        return Err(Error::invalid(
                            "call_id",
                            "give exactly one of call_id and callback_id",
                        ))
                    }
                };
                CaseCommand::Link { link }
            }
            CaseChangeRequest::Resolve { fix } => CaseCommand::Resolve {
                fix: required_text("fix", fix)?,
            },
            CaseChangeRequest::Rate { satisfaction } => CaseCommand::Rate {
                satisfaction: u8::try_from(*satisfaction)
                    .ok()
                    .filter(|s| (1..=5).contains(s))
                    .ok_or_else(|| {
                        Error::invalid("satisfaction", format!("{satisfaction} is outside 1..=5"))
                    })?,
            },
        })
    }

    /// Applies `r` to the case `id` as `p`: read, apply, write naming the
    /// version read; again on a lost race.
    pub async fn change_case(
        &self,
        p: &Principal,
        id: &str,
        r: CaseChangeRequest,
        request_id: &str,
    ) -> Result<CaseRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        self.apply_case_change(p, &case_id(id)?, r, request_id, may_change)
            .await
    }

    /// [`Self::change_case`] once the principal's role was checked;
    /// `allowed` says whether it may make the change on the case as read.
    async fn apply_case_change(
        &self,
        p: &Principal,
        id: &CaseId,
        r: CaseChangeRequest,
        request_id: &str,
        allowed: fn(&Principal, &CaseRecord, &CaseChangeRequest) -> Result<(), Error>,
    ) -> Result<CaseRecord, Error> {
        let key = request_key(p, request_id, &("ChangeCase", id.as_str(), &r))?;
        for _ in 0..ATTEMPTS {
            let case = self.stored_case(id).await?;
            if let Some(k) = &key {
                if replayed(&case, k)? {
                    return Ok(case);
                }
            }
            allowed(p, &case, &r)?;
            let now = Timestamp::now_wall();
            let cmd = self.case_command(&case, &r, now).await?;
            let (mut next, change) = case.apply(cmd, &p.sub, now)?;
            if let Some(k) = &key {
                next.stamp_request(case.timeline.len(), &stamp(k));
            }
            match self.cases.put_case(&next, Some(version(&case))).await {
                Ok(()) => {
                    self.live_cases.observe(&next);
                    for e in &next.timeline[case.timeline.len()..] {
                        crate::metrics::cases::case_changed(next.kind, e.change.name());
                        if let hotline_core::case::CaseChange::Rated { satisfied: false, .. } = e.change {
                            crate::metrics::cases::reopened(next.kind);
                        }
                    }
                    if let (None, Some(met)) = (case.due_met, next.due_met) {
                        crate::metrics::cases::due_counted(next.kind, met);
                    }
                    self.audit_after(
                        p,
                        AuditAction::CaseChanged,
                        format!("case:{id}"),
                        change.name().to_string(),
                    )
                    .await;
                    return Ok(next);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Aborted(format!(
            "case {id} kept changing under this request; try again"
        )))
    }

    /// A keypad survey's rating of a call is the customer's confirmation
    /// of their resolved cases the call (or the callback it made) is
    /// linked to: 4 or 5 closes them, less reopens them. What cannot be
    /// applied is warned and counted; the survey itself stands.
    pub(crate) async fn rate_cases_from_survey(
        &self,
        p: &Principal,
        call: &crate::acd::CallRecord,
        satisfaction: u8,
    ) {
        let Some(customer) = &call.customer else { return };
        let links: Vec<CaseLink> = std::iter::once(CaseLink::Call(call.id.clone()))
            .chain(call.callback.as_ref().map(|w| CaseLink::Callback(w.id.clone())))
            .collect();
        let resolved: Vec<CaseId> = self
            .live_cases
            .of_customer(customer)
            .into_iter()
            .filter(|c| c.status == CaseStatus::Resolved && c.links.iter().any(|l| links.contains(l)))
            .map(|c| c.id)
            .collect();
        for id in resolved {
            let rate = CaseChangeRequest::Rate {
                satisfaction: u32::from(satisfaction),
            };
            if let Err(e) = self.apply_case_change(p, &id, rate, "", |_, _, _| Ok(())).await {
                crate::metrics::cases::survey_rating_failed();
                warn!(case = %id, call = %call.id, error = %e, "the keypad survey's rating could not be applied to the case; an agent can record it");
            }
        }
    }

    /// Books a callback to the case's customer through the callback
    /// machinery (offered to the case's owner first) and links it.
    pub async fn schedule_case_follow_up(
        &self,
        p: &Principal,
        id: &str,
        f: FollowUp,
    ) -> Result<CaseRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        let case = self.stored_case(&case_id(id)?).await?;
        if !case.is_open() {
            return Err(Error::FailedPrecondition(format!(
                "case {} is closed: it needs no follow-up",
                case.id
            )));
        }
        if p.role == Role::Agent && case.owner.as_ref().is_none_or(|o| o.as_str() != p.sub) {
            return Err(Error::PermissionDenied(format!(
                "agent {} may not follow up case {}: it is not theirs",
                p.sub, case.id
            )));
        }
        let notes = validate::label("notes", &f.notes, super::callbacks::MAX_TEXT_LEN)?;
        let callback = self
            .book_callback(
                p,
                super::callbacks::CreateCallback {
                    queue: f.queue.clone(),
                    customer_id: case.customer.to_string(),
                    number: case.contact.clone(),
                    not_before: f.not_before,
                    deadline: f.deadline,
                    max_attempts: 0,
                    category: case.category.clone(),
                    notes: format!("case {}: {notes}", case.id),
                    owner_agent_id: case.owner.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                    // The same follow-up request books the same callback.
                    request_id: match f.request_id.as_str() {
                        "" => String::new(),
                        r => format!("{r}/callback"),
                    },
                },
            )
            .await?;
        self.change_case(
            p,
            case.id.as_str(),
            CaseChangeRequest::Link {
                call_id: String::new(),
                callback_id: callback.id.to_string(),
            },
            &f.request_id,
        )
        .await
    }
}

/// A case's linked calls and callbacks, apart.
pub fn links(case: &CaseRecord) -> (Vec<&CallId>, Vec<&CallbackId>) {
    let mut calls = Vec::new();
    let mut callbacks = Vec::new();
    for l in &case.links {
        match l {
            CaseLink::Call(c) => calls.push(c),
            CaseLink::Callback(b) => callbacks.push(b),
        }
    }
    (calls, callbacks)
}
