//! The API's way to the routing core: in this process, or on the routing
//! node over the internal cluster service.

use std::pin::Pin;

use futures::Stream;
use tokio::sync::watch;

use crate::engine::{Command, Device, EngineHandle, IdempotencyKey, Reply};
use crate::error::Error;
use crate::ids::{AgentId, CallId};
use crate::status::from_remote;
use hotline_core::agent_event::{AgentEvent, AgentEventKind};

/// An agent's events, in order; an error ends it (the routing node went
/// away, or sent what this node cannot read).
pub type EventStream = Pin<Box<dyn Stream<Item = Result<AgentEvent, Error>> + Send>>;
/// A live call's records: the record now, then each change until it ends.
/// An error ends it (the routing node went away, or sent what this node
/// cannot read).
pub type CallStream = Pin<Box<dyn Stream<Item = Result<crate::acd::CallRecord, Error>> + Send>>;

pub type ClusterClient = crate::proto::cluster::cluster_client::ClusterClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        super::protocol::NodeCredentials,
    >,
>;

/// Where the routing core is right now.
#[derive(Clone)]
pub enum Route {
    /// In this process, routing in `term` (the fencing epoch; 0 alone).
    Local { engine: EngineHandle, term: u64 },
    /// On another node, routing in `term`, reached over the internal service.
    Remote {
        node: String,
        term: u64,
        client: Box<ClusterClient>,
        /// When this node last reached it (kept by a probe).
        reach: std::sync::Arc<Reach>,
    },
    /// No routing node is known (being elected, or the store is down).
    Down(String),
}

/// When something (the store, the routing node) was last reached, for
/// health that tells the truth while the node loop itself waits on an
/// unreachable store, and for commands that fail fast. Monotonic time: a
/// stepped wall clock must not flap health.
#[derive(Debug)]
pub struct Reach {
    /// The last success.
    last_ok: std::sync::Mutex<std::time::Instant>,
    /// How long a success counts.
    window: std::time::Duration,
}

impl Reach {
    /// Reached just now (a new peer gets one window of benefit of the doubt).
    pub fn new(window: std::time::Duration) -> std::sync::Arc<Reach> {
        std::sync::Arc::new(Reach {
            last_ok: std::sync::Mutex::new(std::time::Instant::now()),
            window,
        })
    }

    pub fn ok(&self) {
        if let Ok(mut last) = self.last_ok.lock() {
            *last = std::time::Instant::now();
        }
    }

    /// Reached within the window.
    pub fn fresh(&self) -> bool {
        self.last_ok
            .lock()
            .map(|last| last.elapsed() <= self.window)
            .unwrap_or(false)
    }
}

impl Route {
    /// The routing term this route leads to; none while down.
    pub fn term(&self) -> Option<u64> {
        match self {
            Route::Local { term, .. } | Route::Remote { term, .. } => Some(*term),
            Route::Down(_) => None,
        }
    }
}

/// How long a forwarded command may take when its client set no deadline:
/// longer than any store timeout the routing node waits, short enough that
/// a client retrying elsewhere is not overtaken by the first try.
pub const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Fails fast while the routing node has not answered this node's probe
/// for a lease: a forwarded request would only hang to its deadline.
fn unreachable(node: &str, reach: &Reach) -> Result<(), Error> {
    if reach.fresh() {
        Ok(())
    } else {
        Err(Error::Unavailable(format!(
            "the routing node {node} does not answer this node; retry, or use another node"
        )))
    }
}

/// Drops offers that expired on their way (a slow hop, a backlog behind a
/// paused node): the agent would accept a call that is no longer theirs.
/// The offer's expiry is the routing node's wall clock; nodes keep theirs
/// in step (NTP), and an offer rings for seconds, so skew of a few
/// milliseconds does not matter.
fn without_expired_offers(stream: EventStream) -> EventStream {
    Box::pin(futures::StreamExt::filter(stream, |item| {
        let keep = match item {
            Ok(AgentEvent {
                kind: AgentEventKind::CallOffered { expires_at, .. },
                ..
            }) => expires_at.0 == 0 || *expires_at > crate::time::Timestamp::now_wall(),
            _ => true,
        };
        if !keep {
            crate::metrics::events::expired_offer();
            tracing::warn!("an offer reached the agent's node after it expired; not shown");
        }
        futures::future::ready(keep)
    }))
}

/// Ends `stream` with UNAVAILABLE once the routing role has moved on from
/// `term`: an agent's stream or a call watch opened at one engine must not
/// outlive it silently (an old engine paused or cut off sends nothing, and
/// its successor's offers would go to nobody). The client reconnects and
/// reaches the new engine, which sends it its state and open work again.
/// A route that is merely down keeps the stream: the engine may still live.
fn until_term_ends<T: Send + 'static, E: Send + 'static>(
    stream: Pin<Box<dyn Stream<Item = Result<T, E>> + Send>>,
    mut route: watch::Receiver<Route>,
    term: u64,
    ended: fn(String) -> E,
) -> Pin<Box<dyn Stream<Item = Result<T, E>> + Send>> {
    let moved_on = async move {
        loop {
            if route.changed().await.is_err() {
                // Nobody moves the route (one node, or shutting down): the
                // engine's own end ends the stream.
                std::future::pending::<()>().await;
            }
            if route.borrow_and_update().term().is_some_and(|t| t != term) {
                return;
            }
        }
    };
    let moved_on = Box::pin(moved_on);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stream = futures::StreamExt::take_until(stream, async move {
        moved_on.await;
        let _ = tx.send(());
    });
    let tail = futures::stream::once(async move {
        rx.await.ok().map(|()| {
            Err(ended(format!(
                "the routing node changed (term {term} ended); reconnect"
            )))
        })
    });
    Box::pin(futures::StreamExt::filter_map(
        futures::StreamExt::chain(futures::StreamExt::map(stream, Some), tail),
        |item| async move { item },
    ))
}

/// A cheap, cloneable handle the API uses for every routing command.
#[derive(Clone)]
pub struct RouterLink {
    route: watch::Receiver<Route>,
}

impl RouterLink {
    /// Always this process's engine (single node).
    pub fn local(engine: EngineHandle) -> Self {
        let (_tx, rx) = watch::channel(Route::Local { engine, term: 0 });
        RouterLink { route: rx }
    }

    /// Follows a route that changes as the routing role moves.
    pub fn following(route: watch::Receiver<Route>) -> Self {
        RouterLink { route }
    }

    fn current(&self) -> Route {
        self.route.borrow().clone()
    }

    /// Resolves when the route to the routing core changes from what it is
    /// now (a takeover, the store's return); never on a single node.
    pub async fn route_changed(&self) {
        let mut route = self.route.clone();
        route.borrow_and_update();
        if route.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs a command on the routing core.
    pub async fn execute(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        self.execute_checked(true, key, cmd).await
    }

    /// [`Self::execute`] for a caller that has already asked
    /// [`crate::engine::kept`]; a forwarded command is checked again by
    /// the routing node.
    pub async fn execute_unchecked(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        self.execute_checked(false, key, cmd).await
    }

    async fn execute_checked(
        &self,
        check: bool,
        key: Option<IdempotencyKey>,
        cmd: Command,
    ) -> Result<Reply, Error> {
        match self.current() {
            Route::Local { engine, .. } if check => engine.execute(key, cmd).await,
            Route::Local { engine, .. } => engine.execute_unchecked(key, cmd).await,
            Route::Remote {
                client, reach, node, ..
            } => {
                unreachable(&node, &reach)?;
                let mut client = *client;
                let command = Some(super::wire::command_to_wire(&cmd));
                let (principal, request_id, request_digest) = key
                    .map(|k| (k.principal, k.request_id, k.digest))
                    .unwrap_or_default();
                let mut request = tonic::Request::new(crate::proto::cluster::ExecuteRequest {
                    command,
                    principal,
                    request_id,
                    request_digest,
                });
                // What is left of the client's deadline travels with the
                // command (grpc-timeout): the routing node drops it if it
                // cannot start in time. Without one, a bound of our own.
                let left = crate::deadline::current()
                    .map(|d| d.saturating_duration_since(std::time::Instant::now()))
                    .unwrap_or(FORWARD_TIMEOUT);
                if left.is_zero() {
                    return Err(Error::DeadlineExceeded(
                        "the request's deadline passed before it could be forwarded to the routing node"
                            .into(),
                    ));
                }
                request.set_timeout(left);
                let reply = client
                    .execute(request)
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

    /// Opens the agent's event stream at the routing core. It ends (with
    /// UNAVAILABLE) when the routing role moves to another term.
    pub async fn agent_events(
        &self,
        agent: AgentId,
        display_name: String,
        device: Device,
    ) -> Result<EventStream, Error> {
        let route = self.current();
        let stream: EventStream = match route {
            Route::Local { ref engine, .. } => {
                let stream = engine
                    .call(move |core, now| core.open_agent_stream_for(now, &agent, display_name, device))
                    .await?;
                Box::pin(stream)
            }
            Route::Remote {
                ref client,
                ref reach,
                ref node,
                ..
            } => {
                unreachable(node, reach)?;
                let mut client = *client.clone();
                let stream = client
                    .agent_events(crate::proto::cluster::AgentEventsRequest {
                        agent_id: agent.to_string(),
                        display_name,
                        phone: device == Device::Phone,
                    })
                    .await
                    .map_err(|s| from_remote(&s))?
                    .into_inner();
                Box::pin(futures::StreamExt::map(stream, |item| {
                    let event = item.map_err(|s| from_remote(&s))?;
                    super::wire::agent_event_from_wire(event)
                        .map_err(|e| Error::Internal(format!("the routing node's agent event: {e}")))
                }))
            }
            Route::Down(why) => return Err(Error::Unavailable(why)),
        };
        Ok(without_expired_offers(self.bound_to(
            &route,
            stream,
            Error::Unavailable,
        )))
    }

    /// Watches a live call; none if it is not live (read the store instead).
    /// The watch ends (with UNAVAILABLE) when the routing role moves on.
    pub async fn watch_call(&self, call: CallId) -> Result<Option<CallStream>, Error> {
        let route = self.current();
        let stream: CallStream = match route {
            Route::Local { ref engine, .. } => {
                let rx = engine
                    .call(move |core, _| {
                        let record = core.router.call(&call)?;
                        Some(core.subscribers.watch_call(&record))
                    })
                    .await?;
                match rx {
                    Some(rx) => Box::pin(futures::StreamExt::map(
                        tokio_stream::wrappers::ReceiverStream::new(rx),
                        Ok,
                    )),
                    None => return Ok(None),
                }
            }
            Route::Remote {
                ref client,
                ref reach,
                ref node,
                ..
            } => {
                unreachable(node, reach)?;
                let mut client = *client.clone();
                match client
                    .watch_call(crate::proto::cluster::WatchCallRequest {
                        call_id: call.to_string(),
                    })
                    .await
                {
                    Ok(s) => Box::pin(futures::StreamExt::map(s.into_inner(), |item| {
                        let record = item.map_err(|s| from_remote(&s))?;
                        super::wire::call_from_wire(record)
                            .map_err(|e| Error::Internal(format!("the routing node's call record: {e}")))
                    })),
                    Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
                    Err(s) => return Err(from_remote(&s)),
                }
            }
            Route::Down(why) => return Err(Error::Unavailable(why)),
        };
        Ok(Some(self.bound_to(&route, stream, Error::Unavailable)))
    }

    /// Ties a stream opened through `route` to its routing term.
    fn bound_to<T: Send + 'static, E: Send + 'static>(
        &self,
        route: &Route,
        stream: Pin<Box<dyn Stream<Item = Result<T, E>> + Send>>,
        ended: fn(String) -> E,
    ) -> Pin<Box<dyn Stream<Item = Result<T, E>> + Send>> {
        match route.term() {
            Some(term) => until_term_ends(stream, self.route.clone(), term, ended),
            None => stream,
        }
    }
}
