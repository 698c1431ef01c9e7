//! Typed clients with a bearer token attached, for the demo, load generators,
//! CLI tools and tests.

pub mod audit;
pub mod catalog;
pub mod softphone;

use std::net::SocketAddr;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::Error;
use crate::proto::agent_service_client::AgentServiceClient;
use crate::proto::call_service_client::CallServiceClient;
use crate::proto::supervisor_service_client::SupervisorServiceClient;

/// Adds `authorization: Bearer <token>` to every request.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Result<Self, Error> {
        format!("Bearer {token}")
            .parse()
            .map(Bearer)
            .map_err(|_| Error::invalid("token", "not valid header text"))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// One connection, three services, one identity.
#[derive(Clone)]
pub struct Clients {
    pub agent: AgentServiceClient<Authed>,
    pub call: CallServiceClient<Authed>,
    pub supervisor: SupervisorServiceClient<Authed>,
    pub callback: crate::proto::callback_service_client::CallbackServiceClient<Authed>,
    pub report: crate::proto::report_service_client::ReportServiceClient<Authed>,
    pub admin: crate::proto::admin_service_client::AdminServiceClient<Authed>,
    pub session: crate::proto::session_service_client::SessionServiceClient<Authed>,
    pub audit: crate::proto::audit_service_client::AuditServiceClient<Authed>,
    pub privacy: crate::proto::privacy_service_client::PrivacyServiceClient<Authed>,
    pub case: crate::proto::case_service_client::CaseServiceClient<Authed>,
}

impl Clients {
    /// Clients over an existing channel.
    pub fn new(channel: Channel, token: &str) -> Result<Self, Error> {
        let bearer = Bearer::new(token)?;
        Ok(Clients {
            agent: AgentServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            call: CallServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            supervisor: SupervisorServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            callback: crate::proto::callback_service_client::CallbackServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            report: crate::proto::report_service_client::ReportServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            admin: crate::proto::admin_service_client::AdminServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            session: crate::proto::session_service_client::SessionServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            audit: crate::proto::audit_service_client::AuditServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            privacy: crate::proto::privacy_service_client::PrivacyServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            case: crate::proto::case_service_client::CaseServiceClient::with_interceptor(channel, bearer),
        })
    }
}

impl Clients {
    /// Every call the server recorded (live and ended), following the pages.
    pub async fn all_calls(&mut self) -> Result<Vec<crate::proto::Call>, Error> {
        let mut calls = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .supervisor
                .list_calls(crate::proto::ListCallsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    queue: String::new(),
                    include_ended: true,
                })
                .await
                .map_err(|s| crate::status::from_remote(&s))?
                .into_inner();
            calls.extend(page.calls);
            if page.next_page_token.is_empty() {
                return Ok(calls);
            }
            page_token = page.next_page_token;
        }
    }
}

/// Connects to a hotline server over plain HTTP/2.
pub async fn channel(addr: SocketAddr) -> Result<Channel, Error> {
    channel_with(addr, &crate::tls::PeerTls::default()).await
}

/// Connects to a hotline server, over TLS when `tls` says so.
pub async fn channel_with(addr: SocketAddr, tls: &crate::tls::PeerTls) -> Result<Channel, Error> {
    tls.endpoint(&addr.to_string())
        .map_err(|e| Error::invalid("addr", e.to_string()))?
        .connect()
        .await
        .map_err(|e| Error::Unavailable(format!("cannot connect to {addr}: {e}")))
}

/// One health check of `service` ("" = the whole server): the status name
/// (SERVING, NOT_SERVING, SERVICE_UNKNOWN, ...).
pub async fn health_status(addr: SocketAddr, service: &str) -> Result<String, Error> {
    let channel = channel(addr).await?;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map_err(|e| Error::Unavailable(format!("health check of {addr}: {}", e.message())))?;
    Ok(reply.into_inner().status().as_str_name().to_string())
}

/// Waits until the server reports SERVING (on Redis: the store is reached
/// and a routing node is known), at most `within`.
pub async fn wait_serving(channel: &Channel, within: std::time::Duration) -> Result<(), Error> {
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.ok() == Some(ServingStatus::Serving as i32) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Unavailable("the server did not become ready".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
