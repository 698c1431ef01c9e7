//! Assembles the gRPC server: the `hotline.v1` services behind the auth
//! interceptor, open health and reflection, grpc-web for browsers (on the
//! gRPC port and, with the pages, on the web listener), and the engine
//! task. Shutdown order: health goes NOT_SERVING, then the engine stops
//! (ending every stream), then the transport drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use crate::acd::Router;
use crate::admin::LiveCatalog;
use crate::api::admin::AdminApi;
use crate::api::agent::AgentApi;
use crate::api::call::CallApi;
use crate::api::callback::CallbackApi;
use crate::api::report::ReportApi;
use crate::api::supervisor::SupervisorApi;
use crate::app::catalog_document::MAX_DOCUMENT_BYTES;
use crate::app::App;
use crate::auth::{AuthInterceptor, Authenticator, Oidc, Revocations, Role, TokenKeys};
use crate::cluster::directory::MediaDirectory;
use crate::cluster::node::{Node, NodeOptions};
use crate::cluster::protocol::NodeInterceptor;
use crate::cluster::service::ClusterApi;
use crate::cluster::{Route, RouterLink};
use crate::config::Config;
use crate::engine;
use crate::error::Error;
use crate::media::plane::{ClusterMedia, MediaPlane, MediaSettings};
use crate::media::prompt::Prompt;
use crate::media::relay::{RelayService, Relays};
use crate::media::retention;
use crate::media::webrtc::WebRtcSettings;
use crate::media::Rate;
use crate::proto::admin_service_server::AdminServiceServer;
use crate::proto::agent_service_server::AgentServiceServer;
use crate::proto::call_service_server::CallServiceServer;
use crate::proto::callback_service_server::CallbackServiceServer;
use crate::proto::cluster::cluster_server::ClusterServer;
use crate::proto::cluster::media_relay_server::MediaRelayServer;
use crate::proto::report_service_server::ReportServiceServer;
use crate::proto::session_service_server::SessionServiceServer;
use crate::proto::supervisor_service_server::SupervisorServiceServer;
use crate::store::audit::{AuditLog, MemoryAudit};
use crate::store::cases::{CaseStore, MemoryCases};
use crate::store::catalog::MemoryCatalog;
use crate::store::sessions::MemorySessions;
use crate::store::{MemoryStore, RedisOptions, RedisStore, Store};
use crate::time::Timestamp;

/// Names under which health is reported: the whole server ("") and each service.
const HEALTH_NAMES: [&str; 4] = [
    "",
    "hotline.v1.AgentService",
    "hotline.v1.CallService",
    "hotline.v1.SupervisorService",
];

/// The health name for liveness probes: SERVING from start until shutdown,
/// whatever the store does (readiness asks "" instead), so an orchestrator
/// takes a node out of rotation during a Redis outage without restarting it.
pub const LIVENESS: &str = "liveness";

/// A server running on the current tokio runtime.
pub struct RunningServer {
    /// The bound address (useful when listening on port 0).
    pub addr: SocketAddr,
    /// Where `/metrics` is served, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the web app and grpc-web are served, if configured.
    pub web_addr: Option<SocketAddr>,
    /// Where the SIP trunk listens (UDP and TCP), if configured.
    pub sip_addr: Option<SocketAddr>,
    /// Where the SIP trunk listens for TLS, if configured.
    pub sip_tls_addr: Option<SocketAddr>,
    /// The records this node reads and writes (the demo seeds history).
    pub store: Arc<dyn crate::store::Store>,
    /// The node's staffing board.
    pub staffing: crate::staffing::LiveStaffing,
    /// Signals the engine and the transport to stop.
    shutdown: watch::Sender<bool>,
    health: tonic_health::server::HealthReporter,
    transport: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    /// The engine, when this node routes alone.
    engine: Option<tokio::task::JoinHandle<()>>,
    /// The cluster member (lease, heartbeat, route), on a shared store.
    node: Option<tokio::task::JoinHandle<()>>,
    /// How long in-flight requests get before connections are cut.
    grace: Duration,
    /// How long health says NOT_SERVING before anything stops.
    drain: Duration,
    /// This node's call audio, drained at shutdown.
    media: MediaPlane,
}

impl RunningServer {
    /// Graceful stop: health goes NOT_SERVING while everything still
    /// serves for the drain period, so load balancers move traffic away;
    /// then streams end and in-flight requests finish.
    pub async fn shutdown(self) -> Result<(), Error> {
        for name in HEALTH_NAMES {
            self.health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        crate::metrics::events::health(false);
        if !self.drain.is_zero() {
            info!(drain = ?self.drain, "draining: health is NOT_SERVING, requests are still served");
            tokio::time::sleep(self.drain).await;
        }
        // Alive until now: a liveness probe must not restart a draining node.
        self.health
            .set_service_status(LIVENESS, ServingStatus::NotServing)
            .await;
        let _ = self.shutdown.send(true);
        // Calls' recordings are closed (and archived) before the store and
        // the transport go.
        self.media.drain(self.grace).await;
        if let Some(engine) = self.engine {
            let _ = engine.await;
        }
        if let Some(node) = self.node {
            let _ = node.await;
        }
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
        return Ok(Arc::new(open_memory(config)?));
    }
    Ok(Arc::new(RedisStore::connect(&redis_options(config))?))
}

/// The embedded store, on its file when it has one.
fn open_memory(config: &Config) -> Result<MemoryStore, Error> {
    if config.store.data_file.is_empty() {
        return Ok(MemoryStore::new(config.store.memory_max_ended_calls));
    }
    let path = std::path::Path::new(&config.store.data_file);
    Ok(MemoryStore::open(path, config.store.memory_max_ended_calls)?)
}

/// Binds `config.server.grpc_listen` and starts serving. With the memory
/// store this node routes alone; with Redis it joins the cluster, where one
/// node at a time routes and the others forward to it.
pub async fn start(config: &Config) -> Result<RunningServer, Error> {
    if config.auth.secret == "hotline-development-secret-change-me" {
        warn!("using the public development auth secret; set HOTLINE_AUTH__SECRET for real use");
    }
    let keys = TokenKeys::new(config.auth.secret.as_bytes());
    let listener = TcpListener::bind(config.server.grpc_listen)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot listen on {}: {e}", config.server.grpc_listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Unavailable(format!("listener address: {e}")))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let tls = config
        .tls
        .server()
        .map_err(|e| Error::Unavailable(format!("TLS: {e}")))?;
    if let Some(tls) = &tls {
        tls.spawn_reloader(shutdown_rx.clone(), crate::metrics::events::tls_reloaded);
    }
    let http_tls = tls.as_ref().map(|t| t.http.clone());
    // Metrics first, so everything after is counted.
    let metrics_addr = match config
        .metrics
        .addr()
        .map_err(|e| Error::Internal(e.to_string()))?
    {
        Some(listen) => {
            let handle = crate::metrics::install(config.queues.values().map(|q| q.service_level_secs))?;
            crate::metrics::events::set_rules(config.report_rules());
            let bound =
                crate::metrics::http::serve(listen, handle, http_tls.clone(), shutdown_rx.clone()).await?;
            info!(%bound, "metrics at /metrics");
            Some(bound)
        }
        None => None,
    };
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status(LIVENESS, ServingStatus::Serving).await;
    let seed = crate::config::seed_writes(config)?;

    // The SIP gateway dials callbacks when it has a proxy to dial through.
    let sip_listen = config.sip.addr().map_err(|e| Error::Internal(e.to_string()))?;
    let outbound_proxy = config
        .sip
        .outbound
        .proxy_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (dialer, dials) = match (sip_listen, outbound_proxy) {
        (Some(_), Some(_)) => {
            let (d, rx) = crate::dialer::Dialer::channel();
            (Some(d), rx)
        }
        _ => (None, crate::dialer::Dialer::channel().1),
    };
    let (ctx, cluster, engine_task, node_task) = if config.store.url == "memory" {
        for name in HEALTH_NAMES {
            health.set_service_status(name, ServingStatus::Serving).await;
        }
        crate::metrics::events::health(true);
        // The embedded store is in this process: up while it is.
        crate::metrics::events::store_reachable(true);
        let memory = open_memory(config)?;
        let catalog = LiveCatalog::new(Arc::new(MemoryCatalog::open(memory.journal())?), seed);
        catalog.ensure_seeded().await?;
        let revocations = Revocations::new(Arc::new(MemorySessions::open(memory.journal())?));
        let audit: Arc<dyn AuditLog> = Arc::new(MemoryAudit::open(memory.journal())?);
        let cases: Arc<dyn CaseStore> = Arc::new(MemoryCases::open(memory.journal())?);
        let router_base = config.router_config();
        let mut router = Router::new(catalog.read().router_config(&router_base, crate::admin::zone))?;
        let store: Arc<dyn Store> = Arc::new(crate::store::Metered::new(Arc::new(memory), "memory"));
        let desk = engine::restore_desk(
            &mut router,
            store.as_ref(),
            config.callbacks.tracker(),
            crate::time::MonotonicClock::process().both(),
        )
        .await?;
        let (engine_handle, engine_task) = engine::spawn(
            router,
            desk,
            store.clone(),
            dialer.clone(),
            Some(engine::CatalogFeed::new(catalog.clone(), router_base)),
            shutdown_rx.clone(),
        );
        let link = RouterLink::local(engine_handle);
        let ctx = App {
            media: media_plane(
                config,
                link.clone(),
                store.clone(),
                "local".into(),
                None,
                shutdown_rx.clone(),
            )?,
            engine: link,
            store,
            catalog,
            node: None,
            report_rules: Arc::new(config.report_rules()),
            scorecard: Arc::new(config.quality.scorecard.clone()),
            turn: Arc::new(config.turn.clone()),
            revocations,
            audit,
            live_cases: crate::cases::LiveCases::new(cases.clone()),
            cases,
            case_rules: Arc::new(config.cases.clone()),
            callback_rules: config.callbacks.tracker(),
            staffing: crate::staffing::LiveStaffing::new(&config.staffing),
        };
        (ctx, None, Some(engine_task), None)
    } else {
        // Not serving until the node has reached the store.
        for name in HEALTH_NAMES {
            health.set_service_status(name, ServingStatus::NotServing).await;
        }
        let store = Arc::new(RedisStore::connect(&redis_options(config))?);
        // Read (or seeded) by the catalog watcher as soon as the store
        // answers: a node starts while Redis is away, and serves once it
        // has the catalog (see the cluster's health).
        let catalog = LiveCatalog::new(Arc::new(store.catalog()), seed);
        let revocations = Revocations::new(Arc::new(store.sessions()));
        let audit: Arc<dyn AuditLog> = Arc::new(store.audit());
        let cases: Arc<dyn CaseStore> = Arc::new(store.cases());
        let node_id = if config.cluster.node_id.is_empty() {
            format!("node-{}", uuid::Uuid::now_v7().simple())
        } else {
            config.cluster.node_id.clone()
        };
        let advertise = if config.cluster.advertise.is_empty() {
            addr.to_string()
        } else {
            config.cluster.advertise.clone()
        };
        let (route_tx, route_rx) = watch::channel(Route::Down("electing the routing node".into()));
        let lease = Duration::from_millis(config.cluster.lease_ms);
        let node_token = keys.mint(Role::Node, &node_id, NODE_TOKEN_TTL, Timestamp::now_wall())?;
        let media_directory = MediaDirectory::connect(
            &config.store.url,
            &config.store.namespace,
            &node_id,
            &advertise,
            lease,
            Duration::from_millis(config.store.redis_timeout_ms),
        )?;
        let cluster_media = ClusterMedia {
            directory: media_directory.clone(),
            relays: Relays::new(&node_token, config.tls.peers())?,
            lease,
        };
        let node = Node {
            opts: NodeOptions {
                node_id: node_id.clone(),
                advertise,
                lease,
                namespace: config.store.namespace.clone(),
                redis_url: config.store.url.clone(),
                redis_timeout: Duration::from_millis(config.store.redis_timeout_ms),
            },
            router_base: config.router_config(),
            catalog: catalog.clone(),
            callbacks: config.callbacks.tracker(),
            store: store.clone(),
            node_token,
            peers: config.tls.peers(),
            directory: media_directory,
            route: route_tx,
            health: health.clone(),
            health_names: HEALTH_NAMES.to_vec(),
            dialer: dialer.clone(),
        };
        let node_task = tokio::spawn(node.run(shutdown_rx.clone()));
        let link = RouterLink::following(route_rx.clone());
        let store: Arc<dyn Store> = Arc::new(crate::store::Metered::new(store, "redis"));
        let ctx = App {
            media: media_plane(
                config,
                link.clone(),
                store.clone(),
                node_id.clone(),
                Some(cluster_media),
                shutdown_rx.clone(),
            )?,
            engine: link,
            store,
            catalog,
            node: Some(node_id.clone()),
            report_rules: Arc::new(config.report_rules()),
            scorecard: Arc::new(config.quality.scorecard.clone()),
            turn: Arc::new(config.turn.clone()),
            revocations,
            audit,
            live_cases: crate::cases::LiveCases::new(cases.clone()),
            cases,
            case_rules: Arc::new(config.cases.clone()),
            callback_rules: config.callbacks.tracker(),
            staffing: crate::staffing::LiveStaffing::new(&config.staffing),
        };
        let cluster = (
            ClusterApi {
                route: route_rx,
                node: node_id,
            },
            RelayService {
                plane: ctx.media.clone(),
            },
        );
        (ctx, Some(cluster), None, Some(node_task))
    };

    // Every node follows the catalog in the store (a change made through
    // any node reaches this one within a poll); ends with the shutdown.
    ctx.catalog.spawn_watcher(shutdown_rx.clone());
    // Every node follows case changes (boards, offers) and fires their due
    // times (marked once, whichever node gets there first).
    ctx.live_cases
        .start(
            Duration::from_secs(config.callbacks.warn_before_secs),
            shutdown_rx.clone(),
        )
        .await;
    let (store_handle, staffing) = (ctx.store.clone(), ctx.staffing.clone());
    // Every node computes each queue's staffing from the shared records.
    ctx.staffing.spawn(
        ctx.store.clone(),
        ctx.engine.clone(),
        ctx.catalog.clone(),
        ctx.report_rules.short_abandon,
        shutdown_rx.clone(),
    );
    // Records past their retention period are deleted (every node sweeps;
    // deleting is idempotent).
    crate::store::retention::Retention {
        store: ctx.store.clone(),
        audit: ctx.audit.clone(),
        cases: ctx.cases.clone(),
        policy: config.retention.policy(config.media.retention_days),
        audit_keep: config.retention.audit(),
        cases_keep: config.retention.cases(),
    }
    .spawn(
        Duration::from_secs(config.retention.sweep_every_secs),
        shutdown_rx.clone(),
    );
    // Sign-ins revoked before this node started are refused from its
    // first request; later ones within a poll.
    ctx.revocations
        .start(
            Duration::from_millis(config.auth.revocation_poll_ms),
            shutdown_rx.clone(),
        )
        .await;
    let oidc = config.oidc.settings(&config.tls.ca_file).map(Oidc::new);
    if let Some(oidc) = &oidc {
        oidc.spawn(shutdown_rx.clone());
    }
    let auth = AuthInterceptor::new(
        Authenticator::new(keys.clone(), oidc.clone(), Some(ctx.revocations.clone()))
            .with_sign_ins(ctx.sign_in_recorder()),
    );

    let sip_tls_listen = config
        .sip
        .tls_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let sip_addrs = match sip_listen {
        Some(listen) => Some(
            crate::sip::gateway::start(
                crate::sip::gateway::GatewaySettings {
                    listen,
                    media_ip: config
                        .sip
                        .media_ip(&config.media)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    rtp_ports: config
                        .media
                        .port_range()
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    jitter_frames: config.media.jitter_frames,
                    callback_key: config.sip.callback_key.clone(),
                    survey: config.sip.survey,
                    survey_timeout_secs: config.sip.survey_timeout_secs,
                    outbound_proxy,
                    caller_id: config.sip.outbound.caller_id.clone(),
                    ring_timeout_secs: config.sip.outbound.ring_timeout_secs,
                    tls: match (sip_tls_listen, &tls) {
                        (Some(listen), Some(tls)) => Some((listen, tls.sip.clone())),
                        _ => None,
                    },
                    require_srtp: config.sip.require_srtp,
                },
                config.sip.guard(),
                crate::sip::prompts::KeypadPrompts::load(config.sip.prompts_dir.clone())?,
                ctx.clone(),
                dials,
                shutdown_rx.clone(),
            )
            .await?,
        ),
        None => None,
    };
    if metrics_addr.is_some() {
        tokio::spawn(crate::report::gauges::run(
            ctx.store.clone(),
            config.report_rules(),
            Duration::from_secs(config.metrics.quality_every_secs),
            Duration::from_secs(config.metrics.quality_window_secs),
            shutdown_rx.clone(),
        ));
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let known = crate::metrics::grpc::KnownMethods::from_descriptor_sets(&[
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ])
    .map_err(|e| Error::Internal(format!("descriptor sets: {e}")))?
    .with(&["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"]);
    let media = ctx.media.clone();
    // The public services, served natively here and as grpc-web to the
    // browser app on the web listener.
    let public = tonic::service::Routes::new(health_service)
        .add_service(AgentServiceServer::with_interceptor(
            AgentApi { app: ctx.clone() },
            auth.clone(),
        ))
        .add_service(CallServiceServer::with_interceptor(
            CallApi { app: ctx.clone() },
            auth.clone(),
        ))
        .add_service(CallbackServiceServer::with_interceptor(
            CallbackApi { app: ctx.clone() },
            auth.clone(),
        ))
        .add_service(ReportServiceServer::with_interceptor(
            ReportApi { app: ctx.clone() },
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            // A catalog document arrives whole in UploadCatalog (browsers
            // cannot stream a request). The interceptor runs first: only
            // an authenticated caller gets a body this large read.
            AdminServiceServer::new(AdminApi { app: ctx.clone() })
                .max_decoding_message_size(MAX_DOCUMENT_BYTES + 64 * 1024),
            auth.clone(),
        ))
        .add_service(SessionServiceServer::with_interceptor(
            crate::api::session::SessionApi { app: ctx.clone() },
            auth.clone(),
        ))
        .add_service(
            crate::proto::audit_service_server::AuditServiceServer::with_interceptor(
                crate::api::audit::AuditApi { app: ctx.clone() },
                auth.clone(),
            ),
        )
        .add_service(
            crate::proto::case_service_server::CaseServiceServer::with_interceptor(
                crate::api::case::CaseApi { app: ctx.clone() },
                auth.clone(),
            ),
        )
        .add_service(
            crate::proto::privacy_service_server::PrivacyServiceServer::with_interceptor(
                crate::api::privacy::PrivacyApi { app: ctx.clone() },
                auth.clone(),
            ),
        )
        .add_service(SupervisorServiceServer::with_interceptor(
            SupervisorApi { app: ctx },
            auth.clone(),
        ));
    let web_addr = match config.web.addr().map_err(|e| Error::Internal(e.to_string()))? {
        Some(listen) => {
            let app = crate::web::router(public.clone(), known.clone(), oidc.clone());
            let bound =
                crate::http::serve(listen, app, "the web app", http_tls.clone(), shutdown_rx.clone()).await?;
            info!(%bound, "web app (agent, supervisor, caller pages and grpc-web)");
            Some(bound)
        }
        None => None,
    };
    // The internal services: node tokens and the cluster protocol version.
    let node_auth = NodeInterceptor::new(keys.clone());
    let (cluster_server, relay_server) = match cluster {
        Some((cluster, relay)) => (
            Some(ClusterServer::with_interceptor(cluster, node_auth.clone())),
            Some(MediaRelayServer::with_interceptor(relay, node_auth)),
        ),
        None => (None, None),
    };
    let incoming_stop = shutdown_rx.clone();
    let mut stop = shutdown_rx;
    let stop = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(crate::deadline::DeadlineLayer)
        .layer(crate::metrics::grpc::GrpcMetricsLayer::new(known))
        .layer(tonic_web::GrpcWebLayer::new())
        .add_routes(public)
        .add_service(reflection)
        .add_optional_service(cluster_server)
        .add_optional_service(relay_server);
    crate::tls::announce("gRPC", addr, tls.is_some());
    // Accepted connections without Nagle's delay: streams carry audio
    // (monitoring, the nodes' media relay) and small events.
    let transport = match &tls {
        Some(tls) => {
            let incoming = crate::tls::TlsIncoming::new(listener, tls.grpc.clone(), "gRPC", incoming_stop)
                .map_err(|e| Error::Unavailable(format!("gRPC listener: {e}")))?;
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stop))
        }
        None => tokio::spawn(router.serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            stop,
        )),
    };
    info!(%addr, "hotline serving gRPC, grpc-web, health and reflection");
    Ok(RunningServer {
        addr,
        metrics_addr,
        web_addr,
        sip_addr: sip_addrs.map(|a| a.sip),
        sip_tls_addr: sip_addrs.and_then(|a| a.tls),
        store: store_handle,
        staffing,
        shutdown: shutdown_tx,
        health,
        transport,
        engine: engine_task,
        node: node_task,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
        drain: Duration::from_secs(config.server.drain_secs),
        media,
    })
}

/// The node's media plane, and the retention sweep of its recordings.
fn media_plane(
    config: &Config,
    link: RouterLink,
    store: Arc<dyn Store>,
    node: String,
    cluster: Option<ClusterMedia>,
    shutdown: watch::Receiver<bool>,
) -> Result<MediaPlane, Error> {
    let m = &config.media;
    let bad = |e: crate::config::ConfigError| Error::invalid("media", e.to_string());
    let settings = MediaSettings {
        webrtc: WebRtcSettings {
            udp_ports: m.port_range().map_err(bad)?,
            ips: m.ip_addrs().map_err(bad)?,
            include_loopback: m.include_loopback,
            jitter_frames: m.jitter_frames,
            codecs: Vec::new(),
        },
        recordings_dir: m.recordings_dir.clone(),
        archive: m.archive().map_err(bad)?,
        flush_every: Duration::from_millis(m.flush_ms),
        announce_every: (m.announce_every_secs > 0).then(|| Duration::from_secs(m.announce_every_secs)),
        agent_audio_grace: Duration::from_millis(m.agent_audio_grace_ms),
        recording_keys: m.recording_keys().map_err(bad)?,
    };
    let hold = if m.hold_music == "builtin" {
        Prompt::builtin_hold_music(Rate::Narrowband)?
    } else {
        Prompt::load(std::path::Path::new(&m.hold_music), Rate::Narrowband)?
    };
    if m.retention_days > 0 {
        let root = m.recordings_dir.clone();
        let keep = Duration::from_secs(m.retention_days * 86_400);
        tokio::spawn(retention_sweeps(
            root,
            settings.archive.clone(),
            keep,
            shutdown.clone(),
        ));
    }
    let plane = MediaPlane::new(settings, hold, link, store, node, cluster, shutdown.clone())?;
    tokio::spawn(recover_and_archive(plane.clone(), shutdown));
    Ok(plane)
}

/// Closes the recordings a crash left live, then moves what the spool
/// holds to the shared archive, at start and every minute after.
async fn recover_and_archive(plane: MediaPlane, mut shutdown: watch::Receiver<bool>) {
    if let Err(e) = plane.recover_recordings().await {
        warn!(error = %e, "closing recordings left live by a crash");
    }
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        match plane.archive_spool().await {
            Ok(0) => {}
            Ok(n) => info!(recordings = n, "moved spooled recordings to the archive"),
            Err(e) => warn!(error = %e, "archiving the spooled recordings"),
        }
    }
}

/// Deletes recordings past retention (the local folder, and the shared
/// archive if there is one), at start and then hourly.
async fn retention_sweeps(
    root: std::path::PathBuf,
    archive: crate::media::archive::Archive,
    keep: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        let root = root.clone();
        let swept =
            tokio::task::spawn_blocking(move || retention::sweep(&root, Timestamp::now_wall(), keep)).await;
        match swept {
            Ok(Ok(report)) if report.files_removed > 0 => info!(
                files = report.files_removed,
                bytes = report.bytes_removed,
                "retention sweep removed old recordings"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "retention sweep"),
            Err(e) => warn!(error = %e, "retention sweep task"),
        }
        match archive.sweep(Timestamp::now_wall(), keep).await {
            Ok((0, _)) => {}
            Ok((files, bytes)) => {
                info!(files, bytes, storage = %archive, "retention sweep removed old archived recordings")
            }
            Err(e) => warn!(error = %e, storage = %archive, "retention sweep of the archive"),
        }
    }
}

/// Node tokens are minted at start and only shown to other nodes.
const NODE_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

fn redis_options(config: &Config) -> RedisOptions {
    RedisOptions {
        url: config.store.url.clone(),
        namespace: config.store.namespace.clone(),
        max_ended_calls: config.store.memory_max_ended_calls,
        response_timeout: Duration::from_millis(config.store.redis_timeout_ms),
    }
}
