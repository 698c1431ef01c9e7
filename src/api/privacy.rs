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

    async fn erase_customer_data(
        &self,
        req: Request<proto::EraseCustomerDataRequest>,
    ) -> Result<Response<proto::CustomerErased>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let done = self
            .app
            .erase_customer(&p, &r.customer_id, &r.confirm_customer_id)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::CustomerErased {
            customer_id: r.customer_id.clone(),
            erased_at_unix_ms: i64::try_from(done.at.as_millis()).unwrap_or(i64::MAX),
            contacts: done.records.contacts,
            calls: done.records.calls,
            callbacks: done.records.callbacks,
            recordings: done.files,
            callbacks_cancelled: done.callbacks_cancelled,
            cases: done.records.cases,
        }))
    }
}
