//! `hotline.v1.PrivacyService` on the wire (`app::privacy`).

use tonic::{Request, Response, Status};

use crate::app::App;
use crate::auth::principal;
use crate::proto;
use crate::proto::privacy_service_server::PrivacyService;
use crate::status::status;

pub struct PrivacyApi {
    pub app: App,
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn export_customer_data(
        &self,
        req: Request<proto::ExportCustomerDataRequest>,
    ) -> Result<Response<proto::CustomerData>, Status> {
        let p = principal(&req).map_err(status)?;
        let id = &req.get_ref().customer_id;
        let (json, at) = self.app.export_customer(&p, id).await.map_err(status)?;
        Ok(Response::new(proto::CustomerData {
            customer_id: id.clone(),
            exported_at_unix_ms: i64::try_from(at.as_millis()).unwrap_or(i64::MAX),
            json,
        }))
    }
}
