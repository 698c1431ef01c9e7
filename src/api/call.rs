//! `hotline.v1.CallService`: the telephony edge's API.

use tonic::{Request, Response, Status};

use crate::app::calls::{RequestCallback, StartCall};
use crate::app::App;
use crate::auth::principal;
use crate::proto;
use crate::proto::call_service_server::CallService;
use crate::status::status;
use crate::{convert, validate};

pub struct CallApi {
    pub app: App,
}

#[tonic::async_trait]
impl CallService for CallApi {
    async fn start_call(
        &self,
        req: Request<proto::StartCallRequest>,
    ) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let start = StartCall {
            skills: validate::requirements(&r.skills).map_err(status)?,
            ani: r.ani,
            dnis: r.dnis,
            customer_id: r.customer_id,
            request_id: r.request_id,
        };
        let call = self.app.start_call(&p, start).await.map_err(status)?;
        Ok(Response::new(convert::call(&call)))
    }

    async fn end_call(&self, req: Request<proto::EndCallRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let call = self
            .app
            .end_call(&p, &r.call_id, &r.request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::call(&call)))
    }

    async fn get_call(&self, req: Request<proto::GetCallRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let call = self
            .app
            .get_call(&p, &req.get_ref().call_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::call(&call)))
    }

    type WatchCallStream = crate::api::Polled<proto::Call>;

    async fn watch_call(
        &self,
        req: Request<proto::GetCallRequest>,
    ) -> Result<Response<Self::WatchCallStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let stream = self
            .app
            .watch_call(&p, &req.get_ref().call_id)
            .await
            .map_err(status)?;
        Ok(Response::new(Box::pin(futures::StreamExt::map(stream, |item| {
            item.map(|c| convert::call(&c)).map_err(status)
        }))))
    }

    async fn connect_caller_media(
        &self,
        req: Request<proto::CallerOffer>,
    ) -> Result<Response<proto::SessionAnswer>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let offer = validate::offer("offer.sdp", r.offer.as_ref()).map_err(status)?;
        let (sdp, codec) = self
            .app
            .connect_caller(&p, &r.call_id, offer)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SessionAnswer {
            sdp,
            codec,
            session_id: String::new(),
        }))
    }

    async fn add_caller_ice_candidate(
        &self,
        req: Request<proto::CallerIceCandidate>,
    ) -> Result<Response<proto::CallerIceAck>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.app
            .caller_candidate(&p, &r.call_id, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::CallerIceAck {}))
    }

    async fn request_callback(
        &self,
        req: Request<proto::RequestCallbackRequest>,
    ) -> Result<Response<proto::Callback>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let asked = RequestCallback {
            call_id: r.call_id,
            number: r.number,
            request_id: r.request_id,
        };
        let record = self.app.request_callback(&p, asked).await.map_err(status)?;
        Ok(Response::new(convert::callback(&record)))
    }

    async fn submit_survey(
        &self,
        req: Request<proto::SubmitSurveyRequest>,
    ) -> Result<Response<proto::SubmitSurveyResponse>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        self.app
            .submit_survey(&p, &r.call_id, i64::from(r.satisfaction))
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SubmitSurveyResponse {}))
    }
}
