//! The API's way to the routing core: in this process, or on the routing
//! node over the internal cluster service.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::watch;
use tonic::Status;

use crate::api::status::from_remote;
use crate::engine::{Command, Device, EngineHandle, IdempotencyKey, Reply};
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::proto;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<proto::AgentEvent, Status>> + Send>>;
pub type CallStream = Pin<Box<dyn Stream<Item = Result<proto::Call, Status>> + Send>>;

pub type ClusterClient = crate::proto::cluster::cluster_client::ClusterClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        super::protocol::NodeCredentials,
    >,
>;

/// Where the routing core is right now.
#[derive(Clone)]
pub enum Route {
    /// In this process.
    Local(EngineHandle),
    /// On another node, reached over the internal service.
    Remote {
        node: String,
        client: Box<ClusterClient>,
    },
    /// No routing node is known (being elected, or the store is down).
    Down(String),
}

/// A cheap, cloneable handle the API uses for every routing command.
#[derive(Clone)]
pub struct RouterLink {
    route: watch::Receiver<Route>,
}

impl RouterLink {
    /// Always this process's engine (single node).
    pub fn local(engine: EngineHandle) -> Self {
        let (_tx, rx) = watch::channel(Route::Local(engine));
        RouterLink { route: rx }
    }

    /// Follows a route that changes as the routing role moves.
    pub fn following(route: watch::Receiver<Route>) -> Self {
        RouterLink { route }
    }

    fn current(&self) -> Route {
        self.route.borrow().clone()
    }

    /// Runs a command on the routing core.
    pub async fn execute(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        match self.current() {
            Route::Local(engine) => engine.execute(key, cmd).await,
            Route::Remote { client, .. } => {
                let mut client = *client;
                let command = Some(super::wire::command_to_wire(&cmd));
                let (principal, request_id) = key.map(|k| (k.principal, k.request_id)).unwrap_or_default();
                let reply = client
                    .execute(crate::proto::cluster::ExecuteRequest {
                        command,
                        principal,
                        request_id,
                    })
                    .await
                    .map_err(|s| from_remote(&s))?
                    .into_inner();
                let reply = reply
                    .reply
                    .ok_or_else(|| Error::Internal("the routing node sent no reply".into()))?;
                super::wire::reply_from_wire(reply)
                    .map_err(|e| Error::Internal(format!("the routing node's reply: {e}")))
            }
            Route::Down(why) => Err(Error::Unavailable(why)),
        }
    }

    /// Opens the agent's event stream at the routing core.
    pub async fn agent_events(
        &self,
        agent: AgentId,
        display_name: String,
        device: Device,
    ) -> Result<EventStream, Error> {
        match self.current() {
            Route::Local(engine) => {
                let stream = engine
                    .call(move |core, now| core.open_agent_stream_for(now, &agent, display_name, device))
                    .await?;
                Ok(Box::pin(stream))
            }
            Route::Remote { client, .. } => {
                let mut client = *client;
                let stream = client
                    .agent_events(crate::proto::cluster::AgentEventsRequest {
                        agent_id: agent.to_string(),
                        display_name,
                        phone: device == Device::Phone,
                    })
                    .await
                    .map_err(|s| from_remote(&s))?
                    .into_inner();
                Ok(Box::pin(stream))
            }
            Route::Down(why) => Err(Error::Unavailable(why)),
        }
    }

    /// Watches a live call; none if it is not live (read the store instead).
    pub async fn watch_call(&self, call: CallId) -> Result<Option<CallStream>, Error> {
        match self.current() {
            Route::Local(engine) => {
                let rx = engine
                    .call(move |core, _| {
                        let record = core.router.call(&call)?;
                        Some(core.subscribers.watch_call(&record))
                    })
                    .await?;
                Ok(rx.map(|rx| Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)) as CallStream))
            }
            Route::Remote { client, .. } => {
                let mut client = *client;
                match client
                    .watch_call(crate::proto::cluster::WatchCallRequest {
                        call_id: call.to_string(),
                    })
                    .await
                {
                    Ok(s) => Ok(Some(Box::pin(s.into_inner()))),
                    Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
                    Err(s) => Err(from_remote(&s)),
                }
            }
            Route::Down(why) => Err(Error::Unavailable(why)),
        }
    }
}
