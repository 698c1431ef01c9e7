//! `hotline.v1.AgentService`: the softphone's API.

use tonic::{Request, Response, Status};

use crate::acd::{Disposition, TransferTarget};
use crate::app::agents::{CallAction, CallRef, RequestedState, WrapUp};
use crate::app::App;
use crate::auth::principal;
use crate::engine::Device;
use crate::error::Error;
use crate::ids::{AgentId, QueueName};
use crate::proto;
use crate::proto::agent_service_server::AgentService;
use crate::status::status;
use crate::{convert, validate};

/// Most open cases shown with an offer.
const OFFER_CASES: usize = 5;

/// An offer shows the customer's open cases, most urgent first, from the
/// cases this node follows (no store round trip while the phone rings).
fn with_open_cases(
    app: &App,
    e: &hotline_core::agent_event::AgentEvent,
    mut out: proto::AgentEvent,
) -> proto::AgentEvent {
    use hotline_core::agent_event::AgentEventKind as K;
    if let (K::CallOffered { call, .. }, Some(proto::agent_event::Event::CallOffered(offered))) =
        (&e.kind, out.event.as_mut())
    {
        if let Some(customer) = &call.customer {
            offered.open_cases = app
                .live_cases
                .of_customer(customer)
                .iter()
                .take(OFFER_CASES)
                .map(|c| crate::api::case::case_proto(app, c))
                .collect();
        }
    }
    out
}

pub struct AgentApi {
    pub app: App,
}

fn call_ref(r: &proto::CallActionRequest) -> CallRef {
    CallRef {
        agent_id: r.agent_id.clone(),
        call_id: r.call_id.clone(),
        request_id: r.request_id.clone(),
    }
}

impl AgentApi {
    /// PCI pause (or resume) of the recording of the agent's connected call.
    async fn recording_action(
        &self,
        req: Request<proto::CallActionRequest>,
        pause: bool,
    ) -> Result<Response<proto::Recording>, Status> {
        let p = principal(&req).map_err(status)?;
        let rec = self
            .app
            .pause_recording(&p, &call_ref(req.get_ref()), pause)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::recording(&rec, None)))
    }

    /// An action on a call of the agent; replies with the call as it is now.
    async fn call_action(
        &self,
        req: Request<proto::CallActionRequest>,
        action: CallAction,
    ) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let call = self
            .app
            .call_action(&p, &call_ref(req.get_ref()), action)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::call(&call)))
    }
}

/// The state an agent asks for in proto terms.
fn requested(state: i32) -> Result<RequestedState, Error> {
    match proto::RequestedState::try_from(state) {
        Ok(proto::RequestedState::Available) => Ok(RequestedState::Available),
        Ok(proto::RequestedState::NotReady) => Ok(RequestedState::NotReady),
        _ => Err(Error::invalid("state", "must be AVAILABLE or NOT_READY")),
    }
}

#[tonic::async_trait]
impl AgentService for AgentApi {
    async fn login(&self, req: Request<proto::LoginRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let skills = validate::skills(&r.skills).map_err(status)?;
        let agent = self
            .app
            .login(&p, &r.agent_id, skills, r.start_available, &r.request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    async fn logout(&self, req: Request<proto::LogoutRequest>) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let agent = self
            .app
            .logout(&p, &r.agent_id, &r.request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    async fn set_state(
        &self,
        req: Request<proto::SetStateRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let state = requested(r.state).map_err(status)?;
        let agent = self
            .app
            .set_state(&p, &r.agent_id, state, &r.reason, &r.request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    type EventsStream = crate::api::Polled<proto::AgentEvent>;

    async fn events(
        &self,
        req: Request<proto::EventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let p = principal(&req).map_err(status)?;
        let stream = self
            .app
            .agent_events(&p, &req.get_ref().agent_id, Device::Client)
            .await
            .map_err(status)?;
        let app = self.app.clone();
        Ok(Response::new(Box::pin(futures::StreamExt::map(
            stream,
            move |item| {
                item.map(|e| with_open_cases(&app, &e, convert::agent_event(&e)))
                    .map_err(status)
            },
        ))))
    }

    async fn accept(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, CallAction::Accept).await
    }

    async fn decline(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, CallAction::Decline).await
    }

    async fn hangup(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, CallAction::Hangup).await
    }

    async fn hold(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, CallAction::Hold).await
    }

    async fn resume(&self, req: Request<proto::CallActionRequest>) -> Result<Response<proto::Call>, Status> {
        self.call_action(req, CallAction::Resume).await
    }

    async fn transfer(&self, req: Request<proto::TransferRequest>) -> Result<Response<proto::Call>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let target = match &r.target {
            Some(proto::transfer_request::Target::Queue(q)) => {
                TransferTarget::Queue(QueueName::new(validate::id("queue", q).map_err(status)?))
            }
            Some(proto::transfer_request::Target::ToAgentId(a)) => {
                TransferTarget::Agent(AgentId::new(validate::id("to_agent_id", a).map_err(status)?))
            }
            None => {
                return Err(status(Error::invalid(
                    "target",
                    "a queue or to_agent_id is required",
                )))
            }
        };
        let r = CallRef {
            agent_id: r.agent_id,
            call_id: r.call_id,
            request_id: r.request_id,
        };
        let call = self
            .app
            .call_action(&p, &r, CallAction::Transfer(target))
            .await
            .map_err(status)?;
        Ok(Response::new(convert::call(&call)))
    }

    async fn complete_wrap_up(
        &self,
        req: Request<proto::CompleteWrapUpRequest>,
    ) -> Result<Response<proto::Agent>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.into_inner();
        let disposition = match proto::Disposition::try_from(r.disposition) {
            Ok(proto::Disposition::Unspecified) => None,
            Ok(proto::Disposition::Resolved) => Some(Disposition::Resolved),
            Ok(proto::Disposition::Unresolved) => Some(Disposition::Unresolved),
            Ok(proto::Disposition::CallbackNeeded) => Some(Disposition::CallbackNeeded),
            Err(_) => {
                return Err(status(Error::invalid(
                    "disposition",
                    format!("unknown value {}", r.disposition),
                )))
            }
        };
        let wrap_up = WrapUp {
            call: CallRef {
                agent_id: r.agent_id,
                call_id: r.call_id,
                request_id: r.request_id,
            },
            disposition,
            category: r.category,
            notes: r.notes,
        };
        let agent = self.app.complete_wrap_up(&p, wrap_up).await.map_err(status)?;
        Ok(Response::new(convert::agent(&agent)))
    }

    async fn connect_softphone(
        &self,
        req: Request<proto::SoftphoneOffer>,
    ) -> Result<Response<proto::SessionAnswer>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let offer = validate::offer("offer.sdp", r.offer.as_ref()).map_err(status)?;
        let (sdp, codec) = self
            .app
            .connect_softphone(&p, &r.agent_id, offer)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SessionAnswer {
            sdp,
            codec,
            session_id: String::new(),
        }))
    }

    async fn add_softphone_ice_candidate(
        &self,
        req: Request<proto::SoftphoneIceCandidate>,
    ) -> Result<Response<proto::SoftphoneIceAck>, Status> {
        let p = principal(&req).map_err(status)?;
        let r = req.get_ref();
        let candidate = validate::candidate(r.candidate.as_ref()).map_err(status)?;
        self.app
            .softphone_candidate(&p, &r.agent_id, candidate)
            .await
            .map_err(status)?;
        Ok(Response::new(proto::SoftphoneIceAck {}))
    }

    async fn pause_recording(
        &self,
        req: Request<proto::CallActionRequest>,
    ) -> Result<Response<proto::Recording>, Status> {
        self.recording_action(req, true).await
    }

    async fn resume_recording(
        &self,
        req: Request<proto::CallActionRequest>,
    ) -> Result<Response<proto::Recording>, Status> {
        self.recording_action(req, false).await
    }
}
