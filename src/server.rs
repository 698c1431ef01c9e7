//! Assembles the gRPC server: the three `hotline.v1` services behind the auth
//! interceptor, open health and reflection, grpc-web for browsers, and the
//! engine task. Shutdown order: health goes NOT_SERVING, then the engine stops
//! (ending every stream), then the transport drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use crate::acd::Router;
use crate::api::agent::AgentApi;
use crate::api::call::CallApi;
use crate::api::supervisor::SupervisorApi;
use crate::api::ApiContext;
use crate::auth::{AuthInterceptor, TokenKeys};
use crate::config::{Config, Directory};
use crate::engine;
use crate::error::Error;
use crate::proto::agent_service_server::AgentServiceServer;
use crate::proto::call_service_server::CallServiceServer;
use crate::proto::supervisor_service_server::SupervisorServiceServer;
use crate::store::{MemoryStore, RedisOptions, RedisStore, Store};

/// Names under which health is reported: the whole server ("") and each service.
const HEALTH_NAMES: [&str; 4] = [
    "",
    "hotline.v1.AgentService",
    "hotline.v1.CallService",
    "hotline.v1.SupervisorService",
];

/// A server running on the current tokio runtime.
pub struct RunningServer {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// Signals the engine and the transport to stop.
    shutdown: watch::Sender<bool>,
    health: tonic_health::server::HealthReporter,
    transport: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    engine: tokio::task::JoinHandle<()>,
    /// How long in-flight requests get before connections are cut.
    grace: Duration,
}

impl RunningServer {
    /// Graceful stop: NOT_SERVING first so load balancers drain, then streams
    /// end and in-flight requests finish.
    pub async fn shutdown(self) -> Result<(), Error> {
        for name in HEALTH_NAMES {
            self.health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        let _ = self.shutdown.send(true);
        let _ = self.engine.await;
        let mut transport = self.transport;
        match tokio::time::timeout(self.grace, &mut transport).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(Error::Internal(format!("transport: {e}"))),
            Ok(Err(e)) => Err(Error::Internal(format!("server task: {e}"))),
            Err(_) => {
                // Long-lived client streams (e.g. a health Watch) would hold
                // shutdown forever; the grace period bounds it.
                warn!(grace = ?self.grace, "closing connections still open after the shutdown grace period");
                transport.abort();
                Ok(())
            }
        }
    }
}

/// The store the configuration names.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, Error> {
    if config.store.url == "memory" {
        return Ok(Arc::new(MemoryStore::new(config.store.memory_max_ended_calls)));
    }
    let store = RedisStore::connect(&RedisOptions {
        url: config.store.url.clone(),
        namespace: config.store.namespace.clone(),
        max_ended_calls: config.store.memory_max_ended_calls,
        response_timeout: Duration::from_millis(config.store.redis_timeout_ms),
    })?;
    Ok(Arc::new(store))
}

/// Binds `config.server.grpc_listen` and starts serving.
pub async fn start(config: &Config) -> Result<RunningServer, Error> {
    let router = Router::new(config.router_config())?;
    let store = open_store(config)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (engine_handle, engine_task) = engine::spawn(router, store.clone(), shutdown_rx.clone());
    let ctx = ApiContext {
        engine: crate::cluster::RouterLink::local(engine_handle),
        store,
        directory: Arc::new(Directory::new(config)),
    };
    if config.auth.secret == "hotline-development-secret-change-me" {
        warn!("using the public development auth secret; set HOTLINE_AUTH__SECRET for real use");
    }
    let auth = AuthInterceptor::new(TokenKeys::new(config.auth.secret.as_bytes()));

    let (health, health_service) = tonic_health::server::health_reporter();
    for name in HEALTH_NAMES {
        health.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    let listener = TcpListener::bind(config.server.grpc_listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen on {}: {e}", config.server.grpc_listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("listener address: {e}")))?;
    let mut stop = shutdown_rx;
    let transport = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(health_service)
        .add_service(reflection)
        .add_service(AgentServiceServer::with_interceptor(
            AgentApi { ctx: ctx.clone() },
            auth.clone(),
        ))
        .add_service(CallServiceServer::with_interceptor(
            CallApi { ctx: ctx.clone() },
            auth.clone(),
        ))
        .add_service(SupervisorServiceServer::with_interceptor(
            SupervisorApi { ctx },
            auth,
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        });
    let transport = tokio::spawn(transport);
    info!(%addr, "hotline serving gRPC, grpc-web, health and reflection");
    Ok(RunningServer {
        addr,
        shutdown: shutdown_tx,
        health,
        transport,
        engine: engine_task,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
    })
}
