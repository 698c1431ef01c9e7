//! The internal `hotline.cluster.v1.Cluster` service, served by every node;
//! only the routing node accepts work, the others answer UNAVAILABLE so the
//! sender looks up the routing node again.

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::link::Route;
use crate::auth::principal;
use crate::auth::Role;
use crate::engine::{Device, EngineHandle, IdempotencyKey};
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::proto::cluster::cluster_server::Cluster;
use crate::proto::cluster::{
    AgentEventsRequest, ExecuteRequest, ExecuteResponse, PingRequest, PingResponse, WatchCallRequest,
};
use crate::status::status;

pub struct ClusterApi {
    /// Where the router is; this node serves only while it is `Local`.
    pub route: watch::Receiver<Route>,
    /// This node's id, for error messages.
    pub node: String,
}

impl ClusterApi {
    fn engine(&self) -> Result<EngineHandle, Error> {
        match &*self.route.borrow() {
            Route::Local { engine, .. } => Ok(engine.clone()),
            _ => Err(Error::Unavailable(format!(
                "node {} does not route right now",
                self.node
            ))),
        }
    }
}

fn check<T>(req: &Request<T>) -> Result<(), Error> {
    principal(req)?.require(&[Role::Node])
}

#[tonic::async_trait]
impl Cluster for ClusterApi {
    async fn execute(&self, req: Request<ExecuteRequest>) -> Result<Response<ExecuteResponse>, Status> {
        check(&req).map_err(status)?;
        let r = req.into_inner();
        let cmd = super::wire::command_from_wire(r.command.unwrap_or_default())
            .map_err(Error::from)
            .map_err(status)?;
        let key = (!r.request_id.is_empty()).then_some(IdempotencyKey {
            principal: r.principal,
            request_id: r.request_id,
            digest: r.request_digest,
        });
        let reply = self
            .engine()
            .map_err(status)?
            .execute(key, cmd)
            .await
            .map_err(status)?;
        Ok(Response::new(ExecuteResponse {
            reply: Some(super::wire::reply_to_wire(&reply)),
        }))
    }

    type AgentEventsStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<crate::proto::cluster::AgentEvent, Status>> + Send>,
    >;

    async fn agent_events(
        &self,
        req: Request<AgentEventsRequest>,
    ) -> Result<Response<Self::AgentEventsStream>, Status> {
        check(&req).map_err(status)?;
        let r = req.into_inner();
        let id = AgentId::new(&r.agent_id);
        let engine = self.engine().map_err(status)?;
        let stream = engine
            .call(move |core, now| {
                let device = if r.phone { Device::Phone } else { Device::Client };
                core.open_agent_stream_for(now, &id, r.display_name, device)
            })
            .await
            .map_err(status)?;
        Ok(Response::new(Box::pin(futures::StreamExt::map(stream, |item| {
            item.map(|e| super::wire::agent_event_to_wire(&e)).map_err(status)
        }))))
    }

    async fn ping(&self, req: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        check(&req).map_err(status)?;
        let epoch = match &*self.route.borrow() {
            Route::Local { term, .. } => *term,
            _ => 0,
        };
        Ok(Response::new(PingResponse { epoch }))
    }

    type WatchCallStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<crate::proto::cluster::CallRecord, Status>> + Send>,
    >;

    async fn watch_call(
        &self,
        req: Request<WatchCallRequest>,
    ) -> Result<Response<Self::WatchCallStream>, Status> {
        check(&req).map_err(status)?;
        let id = CallId::new(&req.get_ref().call_id);
        let engine = self.engine().map_err(status)?;
        let cid = id.clone();
        let rx = engine
            .call(move |core, _| {
                let record = core.router.call(&cid)?;
                Some(core.subscribers.watch_call(&record))
            })
            .await
            .map_err(status)?;
        match rx {
            Some(rx) => Ok(Response::new(Box::pin(futures::StreamExt::map(
                tokio_stream::wrappers::ReceiverStream::new(rx),
                |record| Ok(super::wire::call_to_wire(&record)),
            )))),
            None => Err(status(Error::NotFound {
                what: "live call",
                id: id.to_string(),
            })),
        }
    }
}
