//! `hotline.v1.CallbackService`: callbacks as records with deadlines.

use tonic::{Request, Response, Status};

use crate::app::callbacks::{CreateCallback, ListCallbacks};
use crate::app::App;
use crate::auth::principal;
use crate::callback::{AttemptOutcome, CallbackStatus};
use crate::error::Error;
use crate::proto;
use crate::proto::callback_service_server::CallbackService;
use crate::status::status;
use crate::{convert, validate};

pub struct CallbackApi {
    pub app: App,
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

/// The answer to a request on one callback.
fn reply(
    record: Result<crate::callback::CallbackRecord, Error>,
) -> Result<Response<proto::Callback>, Status> {
    Ok(Response::new(convert::callback(&record.map_err(status)?)))
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
                    AlertKind::CloseSoon => proto::CallbackAlertKind::CloseSoon,
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
        let p = principal(&req).map_err(status)?;
        // Refused at once rather than on the first board.
        self.app.callback_board(&p, u64::MAX).await.map_err(status)?;
        let interval = crate::validate::stream_interval(req.get_ref().interval_ms).map_err(status)?;
        let app = self.app.clone();
        // The first board carries the alerts still kept; later ones only new ones.
        let after = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        Ok(Response::new(super::polled(interval, move || {
            let (app, p, after) = (app.clone(), p.clone(), after.clone());
            async move {
                use std::sync::atomic::Ordering;
                let b = app.callback_board(&p, after.load(Ordering::Relaxed)).await.ok()?;
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
        let r = req.into_inner();
        let create = CreateCallback {
            not_before: validate::optional_time("not_before_unix_ms", r.not_before_unix_ms)
                .map_err(status)?,
            deadline: validate::optional_time("deadline_unix_ms", r.deadline_unix_ms).map_err(status)?,
            queue: r.queue,
            customer_id: r.customer_id,
            number: r.number,
            max_attempts: r.max_attempts,
            category: r.category,
            notes: r.notes,
            owner_agent_id: r.owner_agent_id,
            request_id: r.request_id,
        };
        reply(self.app.create_callback(&p, create).await)
    }

    async fn get_callback(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        reply(self.app.get_callback(&p, &req.get_ref().callback_id).await)
    }

    async fn list_callbacks(
        &self,
        req: Request<proto::ListCallbacksRequest>,
    ) -> Result<Response<proto::ListCallbacksResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let list = ListCallbacks {
            statuses: r
                .statuses
                .iter()
                .map(|s| status_from(*s))
                .collect::<Result<_, _>>()
                .map_err(status)?,
            from: validate::optional_time("from_unix_ms", r.from_unix_ms).map_err(status)?,
            to: validate::optional_time("to_unix_ms", r.to_unix_ms).map_err(status)?,
            queue: r.queue,
            customer_id: r.customer_id,
            number: r.number,
            owner_agent_id: r.owner_agent_id,
            page_size: r.page_size,
            page_token: r.page_token,
        };
        let (records, next_page_token) = self.app.list_callbacks(&p, list).await.map_err(status)?;
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
        let r = req.get_ref();
        let not_before =
            validate::optional_time("not_before_unix_ms", r.not_before_unix_ms).map_err(status)?;
        let deadline = validate::optional_time("deadline_unix_ms", r.deadline_unix_ms).map_err(status)?;
        reply(
            self.app
                .reschedule_callback(&p, &r.callback_id, not_before, deadline, &r.request_id)
                .await,
        )
    }

    async fn cancel_callback(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        reply(self.app.cancel_callback(&p, &r.callback_id, &r.request_id).await)
    }

    async fn record_attempt(
        &self,
        req: Request<proto::RecordAttemptRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let outcome = attempt_outcome(r.outcome).map_err(status)?;
        reply(
            self.app
                .record_attempt(&p, &r.agent_id, &r.callback_id, outcome, &r.request_id)
                .await,
        )
    }

    async fn mark_work_done(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        reply(self.app.mark_work_done(&p, &r.callback_id, &r.request_id).await)
    }

    async fn close_request(
        &self,
        req: Request<proto::CallbackRef>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        reply(self.app.close_request(&p, &r.callback_id, &r.request_id).await)
    }
}
