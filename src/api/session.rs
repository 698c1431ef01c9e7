//! `hotline.v1.SessionService`: the ICE servers a signed-in page connects
//! its WebRTC audio through (`app::session`), on the wire.

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
