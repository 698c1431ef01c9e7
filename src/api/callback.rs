//! `hotline.v1.CallbackService`: callbacks as records with deadlines.

use tonic::{Request, Response, Status};

use super::ApiContext;
use crate::auth::principal;
use crate::auth::Role;
use crate::callback::{AttemptOutcome, CallbackDetails, CallbackOrigin, CallbackStatus};
use crate::engine::callbacks::NewCallback;
use crate::engine::Command;
use crate::error::Error;
use crate::ids::{AgentId, CallbackId, QueueName};
use crate::proto;
use crate::proto::callback_service_server::CallbackService;
use crate::status::status;
use crate::store::CallbackFilter;
use crate::time::Timestamp;
use crate::{convert, validate};

pub struct CallbackApi {
    pub ctx: ApiContext,
}

/// Longest category or notes.
const MAX_TEXT_LEN: usize = 2000;

/// A time field: 0 means unset; negative is invalid.
pub fn optional_time(field: &str, ms: i64) -> Result<Option<Timestamp>, Error> {
    match ms {
        0 => Ok(None),
        ms if ms < 0 => Err(Error::invalid(field, "must not be negative")),
        ms => Ok(Some(Timestamp(ms as u64))),
    }
}

pub fn attempt_outcome(o: i32) -> Result<AttemptOutcome, Error> {
    match proto::AttemptOutcome::try_from(o) {
        Ok(proto::AttemptOutcome::Reached) => Ok(AttemptOutcome::Reached),
        Ok(proto::AttemptOutcome::NoAnswer) => Ok(AttemptOutcome::NoAnswer),
        Ok(proto::AttemptOutcome::Busy) => Ok(AttemptOutcome::Busy),
        Ok(proto::AttemptOutcome::WrongNumber) => Ok(AttemptOutcome::WrongNumber),
        _ => Err(Error::invalid(
            "outcome",
            "must be REACHED, NO_ANSWER, BUSY or WRONG_NUMBER",
        )),
    }
}

fn status_from(s: i32) -> Result<CallbackStatus, Error> {
    match proto::CallbackStatus::try_from(s) {
        Ok(proto::CallbackStatus::Scheduled) => Ok(CallbackStatus::Scheduled),
        Ok(proto::CallbackStatus::Due) => Ok(CallbackStatus::Due),
        Ok(proto::CallbackStatus::Reached) => Ok(CallbackStatus::Reached),
        Ok(proto::CallbackStatus::Failed) => Ok(CallbackStatus::Failed),
        Ok(proto::CallbackStatus::Cancelled) => Ok(CallbackStatus::Cancelled),
        _ => Err(Error::invalid(
            "statuses",
            format!("{s} is not a callback status"),
        )),
    }
}

fn callback_id(value: &str) -> Result<CallbackId, Error> {
    Ok(CallbackId::new(validate::id("callback_id", value)?))
}

impl CallbackApi {
    /// A command on one callback, named by `req`, for callers with `roles`.
    async fn on_callback(
        &self,
        req: Request<proto::CallbackRef>,
        roles: &[Role],
        command: fn(CallbackId) -> Command,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(roles).map_err(status)?;
        let r = req.into_inner();
        let id = callback_id(&r.callback_id).map_err(status)?;
        Ok(Response::new(
            self.run(&p, &r.request_id, &r, command(id))
                .await
                .map_err(status)?,
        ))
    }

    async fn run(
        &self,
        p: &crate::auth::Principal,
        request_id: &str,
        body: &impl prost::Message,
        cmd: Command,
    ) -> Result<proto::Callback, Error> {
        let key = validate::request_key(p, request_id, body)?;
        let record = self.ctx.engine.execute(key, cmd).await?.callback()?;
        Ok(convert::callback(&record))
    }
}

fn board(b: &crate::engine::callbacks::CallbackBoard) -> proto::CallbackBoard {
    use crate::engine::callbacks::AlertKind;
    proto::CallbackBoard {
        at_unix_ms: convert::ms(b.at),
        pending: b.pending,
        due_now: b.due_now,
        due_soon: b.due_soon,
        overdue: b.overdue,
        met: b.counters.met,
        missed: b.counters.missed,
        closed_on_time: b.counters.closed_on_time,
        closed_late: b.counters.closed_late,
        alerts: b
            .alerts
            .iter()
            .map(|a| proto::CallbackAlert {
                seq: a.seq,
                callback_id: a.callback.to_string(),
                kind: match a.kind {
                    AlertKind::Warned => proto::CallbackAlertKind::Warned,
                    AlertKind::Breached => proto::CallbackAlertKind::Breached,
                    AlertKind::CloseLate => proto::CallbackAlertKind::CloseLate,
                } as i32,
                at_unix_ms: convert::ms(a.at),
                deadline_unix_ms: convert::ms(a.deadline),
                queue: a.queue.as_ref().map(|q| q.to_string()).unwrap_or_default(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl CallbackService for CallbackApi {
    type WatchCallbacksStream = super::Polled<proto::CallbackBoard>;

    async fn watch_callbacks(
        &self,
        req: Request<proto::WatchCallbacksRequest>,
    ) -> Result<Response<Self::WatchCallbacksStream>, Status> {
        principal(&req)
            .map_err(status)?
            .require(&[Role::Supervisor])
            .map_err(status)?;
        let interval = validate::stream_interval(req.get_ref().interval_ms).map_err(status)?;
        let engine = self.ctx.engine.clone();
        // The first board carries the alerts still kept; later ones only new ones.
        let after = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        Ok(Response::new(super::polled(interval, move || {
            let (engine, after) = (engine.clone(), after.clone());
            async move {
                use std::sync::atomic::Ordering;
                let b = engine
                    .execute(
                        None,
                        Command::CallbackBoard {
                            after: after.load(Ordering::Relaxed),
                        },
                    )
                    .await
                    .and_then(|r| r.board())
                    .ok()?;
                if let Some(last) = b.alerts.last() {
                    after.store(last.seq, Ordering::Relaxed);
                }
                Some(board(&b))
            }
        })))
    }

    async fn create_callback(
        &self,
        req: Request<proto::CreateCallbackRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Supervisor, Role::Telephony]).map_err(status)?;
        let r = req.into_inner();
        let queue = QueueName::new(validate::id("queue", &r.queue).map_err(status)?);
        let (customer, tier, known_number) = if r.customer_id.is_empty() {
            (None, None, None)
        } else {
            let (c, t) = self.ctx.customer(&r.customer_id).map_err(status)?;
            let number = self.ctx.directory.first_number(c.as_str());
            (Some(c), Some(t), number)
        };
        let number = match (r.number.trim(), known_number) {
            ("", Some(n)) => n,
            ("", None) => {
                return Err(status(Error::invalid(
                    "number",
                    "required without a customer with a known number",
                )))
            }
            (n, _) => validate::label("number", n, validate::MAX_NUMBER_LEN)
                .map_err(status)?
                .to_string(),
        };
        let tier = tier.or_else(|| self.ctx.directory.customer_by_number(&number).map(|(_, t)| *t));
        let customer = customer.or_else(|| {
            self.ctx
                .directory
                .customer_by_number(&number)
                .map(|(c, _)| c.clone())
        });
        let now = Timestamp::now_wall();
        let not_before = optional_time("not_before_unix_ms", r.not_before_unix_ms).map_err(status)?;
        let deadline = optional_time("deadline_unix_ms", r.deadline_unix_ms).map_err(status)?;
        if let Some(d) = deadline {
            if d <= now {
                return Err(status(Error::invalid(
                    "deadline_unix_ms",
                    format!("{d} is in the past"),
                )));
            }
            if not_before.is_some_and(|n| n >= d) {
                return Err(status(Error::invalid(
                    "deadline_unix_ms",
                    "must be after not_before_unix_ms",
                )));
            }
        }
        if r.max_attempts < 0 {
            return Err(status(Error::invalid(
                "max_attempts",
                format!("{} is negative", r.max_attempts),
            )));
        }
        let text = |field: &str, v: &str| -> Result<Option<String>, Error> {
            if v.len() > MAX_TEXT_LEN {
                return Err(Error::invalid(field, format!("longer than {MAX_TEXT_LEN} bytes")));
            }
            Ok((!v.trim().is_empty()).then(|| v.to_string()))
        };
        let owner = if r.owner_agent_id.is_empty() {
            None
        } else {
            Some(AgentId::new(
                validate::id("owner_agent_id", &r.owner_agent_id).map_err(status)?,
            ))
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
                category: text("category", &r.category).map_err(status)?,
                notes: text("notes", &r.notes).map_err(status)?,
                owner,
                origin: CallbackOrigin::Api,
                source_call: None,
            },
            not_before,
            deadline,
            max_attempts: (r.max_attempts > 0).then_some(r.max_attempts as u32),
        };
        Ok(Response::new(
            self.run(&p, &r.request_id, &r, Command::CreateCallback(Box::new(new)))
                .await
                .map_err(status)?,
        ))
    }

    async fn get_callback(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Supervisor, Role::Agent]).map_err(status)?;
        let id = callback_id(&req.get_ref().callback_id).map_err(status)?;
        let record = self
            .ctx
            .store
            .get_callback(&id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "callback",
                id: id.to_string(),
            })
            .map_err(status)?;
        Ok(Response::new(convert::callback(&record)))
    }

    async fn list_callbacks(
        &self,
        req: Request<proto::ListCallbacksRequest>,
    ) -> Result<Response<proto::ListCallbacksResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        // Supervisors list any callbacks; an agent lists only those it owns
        // (its softphone's "my callbacks"), naming itself as the owner.
        if p.role == Role::Agent {
            p.require_agent(&req.get_ref().owner_agent_id).map_err(status)?;
        } else {
            p.require(&[Role::Supervisor]).map_err(status)?;
        }
        let r = req.into_inner();
        let size = validate::page_size(r.page_size).map_err(status)?;
        let after = validate::time_cursor(&r.page_token)
            .map_err(status)?
            .map(|(t, id)| (t, CallbackId::new(id)));
        let customer_key = match (r.customer_id.is_empty(), r.number.is_empty()) {
            (false, _) => Some(
                validate::id("customer_id", &r.customer_id)
                    .map_err(status)?
                    .to_string(),
            ),
            (true, false) => Some(
                validate::label("number", &r.number, validate::MAX_NUMBER_LEN)
                    .map_err(status)?
                    .to_string(),
            ),
            (true, true) => None,
        };
        let filter = CallbackFilter {
            statuses: r
                .statuses
                .iter()
                .map(|s| status_from(*s))
                .collect::<Result<_, _>>()
                .map_err(status)?,
            queue: match r.queue.as_str() {
                "" => None,
                q => Some(QueueName::new(validate::id("queue", q).map_err(status)?)),
            },
            customer_key,
            owner: match r.owner_agent_id.as_str() {
                "" => None,
                a => Some(AgentId::new(validate::id("owner_agent_id", a).map_err(status)?)),
            },
            from: optional_time("from_unix_ms", r.from_unix_ms).map_err(status)?,
            to: optional_time("to_unix_ms", r.to_unix_ms).map_err(status)?,
        };
        let records = self
            .ctx
            .store
            .list_callbacks(&filter, after.as_ref(), size)
            .await
            .map_err(Error::from)
            .map_err(status)?;
        let next_page_token = validate::page_token(
            records.len() == size,
            records.last().map(|c| (c.created_at, c.id.as_str())),
        );
        Ok(Response::new(proto::ListCallbacksResponse {
            callbacks: records.iter().map(convert::callback).collect(),
            next_page_token,
        }))
    }

    async fn reschedule_callback(
        &self,
        req: Request<proto::RescheduleCallbackRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Supervisor, Role::Agent]).map_err(status)?;
        let r = req.into_inner();
        let id = callback_id(&r.callback_id).map_err(status)?;
        let not_before = optional_time("not_before_unix_ms", r.not_before_unix_ms)
            .map_err(status)?
            .ok_or_else(|| Error::invalid("not_before_unix_ms", "required"))
            .map_err(status)?;
        let deadline = optional_time("deadline_unix_ms", r.deadline_unix_ms).map_err(status)?;
        if deadline.is_some_and(|d| d <= not_before) {
            return Err(status(Error::invalid(
                "deadline_unix_ms",
                "must be after not_before_unix_ms",
            )));
        }
        let cmd = Command::RescheduleCallback {
            id,
            not_before,
            deadline,
        };
        Ok(Response::new(
            self.run(&p, &r.request_id, &r, cmd).await.map_err(status)?,
        ))
    }

    async fn cancel_callback(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        self.on_callback(req, &[Role::Supervisor], |id| Command::CancelCallback { id })
            .await
    }

    async fn record_attempt(
        &self,
        req: Request<proto::RecordAttemptRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let agent = validate::id("agent_id", &r.agent_id).map_err(status)?;
        p.require_agent(agent).map_err(status)?;
        let cmd = Command::RecordAttempt {
            agent: AgentId::new(agent),
            id: callback_id(&r.callback_id).map_err(status)?,
            outcome: attempt_outcome(r.outcome).map_err(status)?,
        };
        Ok(Response::new(
            self.run(&p, &r.request_id, &r, cmd).await.map_err(status)?,
        ))
    }

    async fn mark_work_done(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        p.require(&[Role::Agent, Role::Supervisor]).map_err(status)?;
        let r = req.into_inner();
        let id = callback_id(&r.callback_id).map_err(status)?;
        let stored = self.ctx.store.get_callback(&id).await?.map(Box::new);
        Ok(Response::new(
            self.run(&p, &r.request_id, &r, Command::MarkWorkDone { id, stored })
                .await
                .map_err(status)?,
        ))
    }

    async fn close_request(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        self.on_callback(req, &[Role::Agent, Role::Supervisor], |id| {
            Command::CloseRequest { id }
        })
        .await
    }
}
