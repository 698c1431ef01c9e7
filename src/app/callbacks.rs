//! Callbacks as records with deadlines: created by supervisors and the
//! telephony edge, worked by agents (attempts, work done, the customer's
//! request closed), listed and watched by supervisors.

use serde::Serialize;

use super::{request_key, App};
use crate::auth::{Principal, Role};
use crate::callback::{AttemptOutcome, CallbackDetails, CallbackOrigin, CallbackRecord, CallbackStatus};
use crate::engine::callbacks::{CallbackBoard, NewCallback};
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallbackId, QueueName};
use crate::store::CallbackFilter;
use crate::time::Timestamp;
use crate::validate;

/// Longest category or notes.
pub const MAX_TEXT_LEN: usize = 2000;

/// A callback a supervisor (or the telephony edge) promises.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateCallback {
    pub queue: String,
    /// The customer, whose first known number is called when `number` is empty.
    pub customer_id: String,
    pub number: String,
    pub not_before: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    /// 0: the tracker's default.
    pub max_attempts: i32,
    pub category: String,
    pub notes: String,
    pub owner_agent_id: String,
    pub request_id: String,
}

/// Which callbacks to list (all of each when empty), a page at a time.
#[derive(Clone, Debug, Default)]
pub struct ListCallbacks {
    pub statuses: Vec<CallbackStatus>,
    pub queue: String,
    pub customer_id: String,
    pub number: String,
    pub owner_agent_id: String,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub page_size: u32,
    pub page_token: String,
}

fn callback_id(value: &str) -> Result<CallbackId, Error> {
    Ok(CallbackId::new(validate::id("callback_id", value)?))
}

/// Free text up to [`MAX_TEXT_LEN`]; none when blank.
fn text(field: &str, v: &str) -> Result<Option<String>, Error> {
    validate::label(field, v, MAX_TEXT_LEN)?;
    Ok((!v.trim().is_empty()).then(|| v.to_string()))
}

impl App {
    async fn callback_command(
        &self,
        p: &Principal,
        request_id: &str,
        body: &impl Serialize,
        cmd: Command,
    ) -> Result<CallbackRecord, Error> {
        let key = request_key(p, request_id, body)?;
        self.engine.execute(key, cmd).await?.callback()
    }

    pub async fn create_callback(&self, p: &Principal, r: CreateCallback) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Supervisor, Role::Telephony])?;
        self.book_callback(p, r).await
    }

    /// Books a callback for `p`, whose right to was checked by the caller
    /// (a supervisor's request, a case owner's follow-up).
    pub(crate) async fn book_callback(
        &self,
        p: &Principal,
        r: CreateCallback,
    ) -> Result<CallbackRecord, Error> {
        let queue = QueueName::new(validate::id("queue", &r.queue)?);
        let (customer, tier, known_number) = if r.customer_id.is_empty() {
            (None, None, None)
        } else {
            let (c, t) = self.customer(&r.customer_id)?;
            let number = self
                .catalog
                .read()
                .customer(c.as_str())
                .and_then(|c| c.numbers.first().cloned());
            (Some(c), Some(t), number)
        };
        let number = match (r.number.trim(), known_number) {
            ("", Some(n)) => n,
            ("", None) => {
                return Err(Error::invalid(
                    "number",
                    "required without a customer with a known number",
                ))
            }
            (n, _) => validate::label("number", n, validate::MAX_NUMBER_LEN)?.to_string(),
        };
        let known = self
            .catalog
            .read()
            .customer_by_number(&number)
            .map(|c| (crate::ids::CustomerId::new(&c.id), c.tier));
        let tier = tier.or_else(|| known.as_ref().map(|(_, t)| *t));
        let customer = customer.or_else(|| known.map(|(c, _)| c));
        let now = Timestamp::now_wall();
        if let Some(d) = r.deadline {
            if d <= now {
                return Err(Error::invalid("deadline_unix_ms", format!("{d} is in the past")));
            }
            if r.not_before.is_some_and(|n| n >= d) {
                return Err(Error::invalid(
                    "deadline_unix_ms",
                    "must be after not_before_unix_ms",
                ));
            }
        }
        if r.max_attempts < 0 {
            return Err(Error::invalid(
                "max_attempts",
                format!("{} is negative", r.max_attempts),
            ));
        }
        let owner = match r.owner_agent_id.as_str() {
            "" => None,
            a => Some(AgentId::new(validate::id("owner_agent_id", a)?)),
        };
        let customer_key = customer
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| number.clone());
        let new = NewCallback {
            id: CallbackId::new(format!("cb-{}", uuid::Uuid::now_v7().simple())),
            details: CallbackDetails {
                number,
                customer,
                customer_key,
                tier,
                queue: Some(queue),
                category: text("category", &r.category)?,
                notes: text("notes", &r.notes)?,
                owner,
                origin: CallbackOrigin::Api,
                source_call: None,
            },
            not_before: r.not_before,
            deadline: r.deadline,
            max_attempts: (r.max_attempts > 0).then_some(r.max_attempts as u32),
        };
        self.callback_command(p, &r.request_id, &r, Command::CreateCallback(Box::new(new)))
            .await
    }

    pub async fn get_callback(&self, p: &Principal, callback: &str) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Supervisor, Role::Agent])?;
        let id = callback_id(callback)?;
        self.store
            .get_callback(&id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "callback",
                id: id.to_string(),
            })
    }

    /// A page of callbacks and the next page's token (empty after the last).
    /// Supervisors list any; an agent only those it owns (its softphone's
    /// "my callbacks"), naming itself as the owner.
    pub async fn list_callbacks(
        &self,
        p: &Principal,
        r: ListCallbacks,
    ) -> Result<(Vec<CallbackRecord>, String), Error> {
        if p.role == Role::Agent {
            p.require_agent(&r.owner_agent_id)?;
        } else {
            p.require(&[Role::Supervisor])?;
        }
        let size = validate::page_size(r.page_size)?;
        let after = validate::time_cursor(&r.page_token)?.map(|(t, id)| (t, CallbackId::new(id)));
        let customer_key = match (r.customer_id.is_empty(), r.number.is_empty()) {
            (false, _) => Some(validate::id("customer_id", &r.customer_id)?.to_string()),
            (true, false) => {
                Some(validate::label("number", &r.number, validate::MAX_NUMBER_LEN)?.to_string())
            }
            (true, true) => None,
        };
        let filter = CallbackFilter {
            statuses: r.statuses,
            queue: match r.queue.as_str() {
                "" => None,
                q => Some(QueueName::new(validate::id("queue", q)?)),
            },
            customer_key,
            owner: match r.owner_agent_id.as_str() {
                "" => None,
                a => Some(AgentId::new(validate::id("owner_agent_id", a)?)),
            },
            from: r.from,
            to: r.to,
        };
        let records = self.store.list_callbacks(&filter, after.as_ref(), size).await?;
        let next = validate::page_token(
            records.len() == size,
            records.last().map(|c| (c.created_at, c.id.as_str())),
        );
        Ok((records, next))
    }

    pub async fn reschedule_callback(
        &self,
        p: &Principal,
        callback: &str,
        not_before: Option<Timestamp>,
        deadline: Option<Timestamp>,
        request_id: &str,
    ) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Supervisor, Role::Agent])?;
        let id = callback_id(callback)?;
        let not_before = not_before.ok_or_else(|| Error::invalid("not_before_unix_ms", "required"))?;
        if deadline.is_some_and(|d| d <= not_before) {
            return Err(Error::invalid(
                "deadline_unix_ms",
                "must be after not_before_unix_ms",
            ));
        }
        let body = ("RescheduleCallback", callback, not_before, deadline);
        let cmd = Command::RescheduleCallback {
            id: id.clone(),
            not_before,
            deadline,
        };
        let record = self.callback_command(p, request_id, &body, cmd).await?;
        let detail = format!(
            "not before {} ms{}",
            not_before.as_millis(),
            deadline
                .map(|d| format!(", deadline {} ms", d.as_millis()))
                .unwrap_or_default()
        );
        self.audit_after(
            p,
            crate::store::audit::AuditAction::CallbackRescheduled,
            format!("callback:{id}"),
            detail,
        )
        .await;
        Ok(record)
    }

    pub async fn cancel_callback(
        &self,
        p: &Principal,
        callback: &str,
        request_id: &str,
    ) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Supervisor])?;
        let id = callback_id(callback)?;
        let record = self
            .callback_command(
                p,
                request_id,
                &("CancelCallback", callback),
                Command::CancelCallback { id: id.clone() },
            )
            .await?;
        self.audit_after(
            p,
            crate::store::audit::AuditAction::CallbackCancelled,
            format!("callback:{id}"),
            String::new(),
        )
        .await;
        Ok(record)
    }

    /// An agent's attempt to reach the customer, as they (or the SIP
    /// gateway dialling for them) judged it.
    pub async fn record_attempt(
        &self,
        p: &Principal,
        agent_id: &str,
        callback: &str,
        outcome: AttemptOutcome,
        request_id: &str,
    ) -> Result<CallbackRecord, Error> {
        let agent = validate::id("agent_id", agent_id)?;
        p.require_agent(agent)?;
        let body = ("RecordAttempt", agent_id, callback, outcome);
        let cmd = Command::RecordAttempt {
            agent: AgentId::new(agent),
            id: callback_id(callback)?,
            outcome,
        };
        self.callback_command(p, request_id, &body, cmd).await
    }

    pub async fn mark_work_done(
        &self,
        p: &Principal,
        callback: &str,
        request_id: &str,
    ) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        let id = callback_id(callback)?;
        let stored = self.store.get_callback(&id).await?.map(Box::new);
        self.callback_command(
            p,
            request_id,
            &("MarkWorkDone", callback),
            Command::MarkWorkDone { id, stored },
        )
        .await
    }

    pub async fn close_request(
        &self,
        p: &Principal,
        callback: &str,
        request_id: &str,
    ) -> Result<CallbackRecord, Error> {
        p.require(&[Role::Agent, Role::Supervisor])?;
        let id = callback_id(callback)?;
        self.callback_command(
            p,
            request_id,
            &("CloseRequest", callback),
            Command::CloseRequest { id },
        )
        .await
    }

    /// The supervisors' callback board, with the alerts after `after`.
    pub async fn callback_board(&self, p: &Principal, after: u64) -> Result<CallbackBoard, Error> {
        p.require(&[Role::Supervisor])?;
        self.engine
            .execute(None, Command::CallbackBoard { after })
            .await?
            .board()
    }
}
