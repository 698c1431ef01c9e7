//! `hotline.v1.SessionService` on the wire (`app::session`): who the caller
//! is, the ICE servers a signed-in page connects its WebRTC audio through,
//! and signing a subject out everywhere.

use tonic::{Request, Response, Status};

use crate::app::App;
use crate::auth::principal;
use crate::proto;
use crate::proto::session_service_server::SessionService;
use crate::status::status;
use crate::time::Timestamp;

pub struct SessionApi {
    pub app: App,
}

#[tonic::async_trait]
impl SessionService for SessionApi {
    async fn who_am_i(
        &self,
        req: Request<proto::WhoAmIRequest>,
    ) -> Result<Response<proto::WhoAmIResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        Ok(Response::new(proto::WhoAmIResponse {
            subject: p.sub,
            role: p.role.as_str().to_string(),
        }))
    }

    async fn revoke_sessions(
        &self,
        req: Request<proto::RevokeSessionsRequest>,
    ) -> Result<Response<proto::RevokeSessionsResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let revoked = self
            .app
            .revoke_sessions(&p, &r.subject, &r.reason, Timestamp::now_wall())
            .await
            .map_err(status)?;
        Ok(Response::new(proto::RevokeSessionsResponse {
            revoked_at_unix_ms: i64::try_from(revoked.at.as_millis()).unwrap_or(i64::MAX),
            agent_logged_out: revoked.agent_logged_out,
        }))
    }

    async fn get_ice_servers(
        &self,
        req: Request<proto::GetIceServersRequest>,
    ) -> Result<Response<proto::GetIceServersResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let ice = self.app.ice_servers(&p, Timestamp::now_wall()).map_err(status)?;
        Ok(Response::new(proto::GetIceServersResponse {
            ice_servers: ice
                .servers
                .into_iter()
                .map(|s| proto::IceServer {
                    urls: s.urls,
                    username: s.username,
                    credential: s.credential,
                })
                .collect(),
            relay_only: ice.relay_only,
            expires_at_unix_ms: ice
                .expires_at
                .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }))
    }
}
