//! `hotline.v1.AuditService` on the wire (`app::audit`).

use tonic::{Request, Response, Status};

use crate::app::audit::ListAudit;
use crate::app::App;
use crate::auth::principal;
use crate::proto;
use crate::proto::audit_service_server::AuditService;
use crate::status::status;

pub struct AuditApi {
    pub app: App,
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_events(
        &self,
        req: Request<proto::ListAuditEventsRequest>,
    ) -> Result<Response<proto::ListAuditEventsResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let (events, next) = self
            .app
            .audit_events(
                &p,
                ListAudit {
                    actor: r.actor,
                    action: r.action,
                    target: r.target,
                    from_unix_ms: r.from_unix_ms,
                    to_unix_ms: r.to_unix_ms,
                    page_size: r.page_size,
                    page_token: r.page_token,
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(proto::ListAuditEventsResponse {
            events: events
                .into_iter()
                .map(|e| proto::AuditEvent {
                    id: e.id,
                    at_unix_ms: i64::try_from(e.at.as_millis()).unwrap_or(i64::MAX),
                    actor: e.actor,
                    role: e.role,
                    action: e.action.as_str().to_string(),
                    target: e.target,
                    detail: e.detail,
                    node: e.node,
                })
                .collect(),
            next_page_token: next,
        }))
    }
}
