//! A real hotline server on 127.0.0.1:0 per test, with generated tonic clients.
#![allow(dead_code)]

pub mod browser;
pub mod cases;
pub mod media;
pub mod metrics;
pub mod netns;
pub mod oidc;
pub mod process;
pub mod redis;
pub mod s3;
pub mod sip;
pub mod sites;
pub mod turn;

use std::time::Duration;

use hotline::auth::{Role, TokenKeys};
use hotline::client::{self, Clients};
use hotline::config::Config;
use hotline::proto;
use hotline::proto::agent_event::Event as Ev;
use hotline::server::RunningServer;
use hotline::time::Timestamp;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const SECRET: &str = "test-secret-0123456789abcdef";

/// Short timings so behaviour over time shows in a second or two.
pub const CONFIG: &str = r#"
skills = ["billing", "spanish", "repairs", "vip"]

[server]
grpc_listen = "127.0.0.1:0"
shutdown_grace_secs = 1
drain_secs = 0

[auth]
secret = "test-secret-0123456789abcdef"

[metrics]
listen = "127.0.0.1:0"
quality_every_secs = 1

[web]
listen = "127.0.0.1:0"

[entry_points]
"100" = "billing"
"200" = "repairs"
"300" = "relaxing"
"400" = "short"
"500" = "strict"

[queues.billing]
required_skills = [{ skill = "billing", min_proficiency = 1 }]
ring_timeout_secs = 2
wrap_up_secs = 30
max_consecutive_misses = 2
reoffer_delay_secs = 30
preferred_agent_wait_secs = 1
# Ownership tests leave issues open without wanting a callback in the way.
callback_on_open_wrap_up = false

[queues.repairs]
required_skills = [{ skill = "repairs", min_proficiency = 1 }]
wrap_up_secs = 1

[queues.relaxing]
required_skills = [{ skill = "repairs", min_proficiency = 8 }]
relaxation = [{ after_secs = 1, lower_proficiency_by = 5 }]

[queues.short]
required_skills = [{ skill = "vip", min_proficiency = 1 }]
max_wait_secs = 1
overflow_queue = "repairs"

[queues.strict]
required_skills = [{ skill = "vip", min_proficiency = 1 }]
when_no_agents = "reject"

[[customers]]
id = "bigco"
tier = "key-account"
numbers = ["+1000"]

[[customers]]
id = "smallco"
tier = "regular"
numbers = ["+2000"]

[[agents]]
id = "alice"
skills = { billing = 5 }

[[agents]]
id = "bob"
skills = { billing = 5, spanish = 8 }

[[agents]]
id = "carol"
skills = { repairs = 9 }

[[agents]]
id = "dave"
skills = { repairs = 4 }
# Dave's desk has a SIP phone (used where the server takes SIP).
sip_password = "dave-phone-pw"
"#;

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub channel: Channel,
    keys: TokenKeys,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with_config(CONFIG).await
    }

    pub async fn with_config(toml: &str) -> TestServer {
        let mut config = Config::from_toml(toml).expect("test config is valid");
        // In-process servers keep nothing on disk unless a test says where.
        if !toml.contains("data_file") {
            config.store.data_file.clear();
        }
        // Nor take the web app's fixed port: a free one per server.
        if !toml.contains("[web]") {
            config.web.listen = "127.0.0.1:0".into();
        }
        let server = hotline::server::start(&config).await.expect("server starts");
        // Over TLS when the server serves it, trusting its [tls] ca_file.
        let tls = config.tls.peers();
        let channel = client::channel_with(server.addr, &tls).await.expect("connects");
        wait_serving(&channel).await;
        TestServer {
            server: Some(server),
            channel,
            keys: TokenKeys::new(SECRET.as_bytes()),
        }
    }

    pub fn token(&self, role: Role, sub: &str) -> String {
        self.keys
            .mint(role, sub, Duration::from_secs(600), Timestamp::now_wall())
            .expect("mint")
    }

    pub fn clients(&self, role: Role, sub: &str) -> Clients {
        Clients::new(self.channel.clone(), &self.token(role, sub)).expect("clients")
    }

    pub fn edge(&self) -> Clients {
        self.clients(Role::Telephony, "edge")
    }

    pub fn supervisor(&self) -> Clients {
        self.clients(Role::Supervisor, "sup")
    }

    /// The audit trail's events of `action` (every action when empty),
    /// newest first, read by a supervisor on this node.
    pub async fn audit_events(&self, action: &str) -> Vec<proto::AuditEvent> {
        self.supervisor()
            .audit
            .list_audit_events(proto::ListAuditEventsRequest {
                action: action.into(),
                ..Default::default()
            })
            .await
            .expect("the audit trail")
            .into_inner()
            .events
    }

    /// Logs an agent in (directory skills), opens its event stream and makes
    /// it available.
    pub async fn agent(&self, id: &str) -> Agent {
        let mut c = self.clients(Role::Agent, id);
        c.agent
            .login(proto::LoginRequest {
                agent_id: id.into(),
                ..Default::default()
            })
            .await
            .expect("login");
        let events = c
            .agent
            .events(proto::EventsRequest { agent_id: id.into() })
            .await
            .expect("events")
            .into_inner();
        let mut a = Agent {
            id: id.into(),
            c,
            events,
        };
        a.available().await;
        a
    }

    pub async fn start_call(&self, ani: &str, dnis: &str) -> proto::Call {
        self.start_call_with(proto::StartCallRequest {
            ani: ani.into(),
            dnis: dnis.into(),
            ..Default::default()
        })
        .await
    }

    pub async fn start_call_with(&self, req: proto::StartCallRequest) -> proto::Call {
        self.edge()
            .call
            .start_call(req)
            .await
            .expect("start call")
            .into_inner()
    }

    pub async fn get_call(&self, id: &str) -> proto::Call {
        self.edge()
            .call
            .get_call(proto::GetCallRequest { call_id: id.into() })
            .await
            .expect("get call")
            .into_inner()
    }

    pub async fn end_call(&self, id: &str) -> proto::Call {
        self.edge()
            .call
            .end_call(proto::EndCallRequest {
                call_id: id.into(),
                request_id: String::new(),
            })
            .await
            .expect("end call")
            .into_inner()
    }

    /// Why each agent was offered the call, oldest first.
    pub async fn explain(&self, call_id: &str) -> Vec<proto::RoutingDecision> {
        self.supervisor()
            .supervisor
            .explain_routing(proto::ExplainRoutingRequest {
                call_id: call_id.into(),
            })
            .await
            .expect("explain")
            .into_inner()
            .decisions
    }

    /// `id`'s row of the agent report over the last hour.
    pub async fn agent_report_row(&self, id: &str) -> proto::AgentReportRow {
        let now = Timestamp::now_wall().as_millis() as i64;
        self.supervisor()
            .report
            .get_agent_stats(proto::ReportRequest {
                from_unix_ms: now - 3_600_000,
                to_unix_ms: now + 1,
            })
            .await
            .expect("agent stats")
            .into_inner()
            .agents
            .into_iter()
            .find(|r| r.agent_id == id)
            .unwrap_or_else(|| panic!("{id}'s row in the agent report"))
    }

    pub async fn agent_record(&self, id: &str) -> proto::Agent {
        let list = self
            .supervisor()
            .supervisor
            .list_agents(proto::ListAgentsRequest::default())
            .await
            .expect("list agents")
            .into_inner();
        list.agents
            .into_iter()
            .find(|a| a.agent_id == id)
            .expect("agent listed")
    }
}

/// Waits until the node reports SERVING (on Redis: store reached and a
/// routing node known).
pub async fn wait_serving(channel: &Channel) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..200 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.ok() == Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node never reported SERVING");
}

/// Reopens an agent's event stream (e.g. after the routing node changed),
/// retrying while the cluster settles.
pub async fn reconnect(s: &TestServer, id: &str) -> Agent {
    let mut c = s.clients(hotline::auth::Role::Agent, id);
    for _ in 0..100 {
        if let Ok(events) = c.agent.events(proto::EventsRequest { agent_id: id.into() }).await {
            return Agent {
                id: id.into(),
                c,
                events: events.into_inner(),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} could not reconnect");
}

pub struct Agent {
    pub id: String,
    pub c: Clients,
    pub events: tonic::Streaming<proto::AgentEvent>,
}

impl Agent {
    pub fn action(&self, call_id: &str) -> proto::CallActionRequest {
        proto::CallActionRequest {
            agent_id: self.id.clone(),
            call_id: call_id.into(),
            request_id: String::new(),
        }
    }

    pub async fn available(&mut self) -> proto::Agent {
        self.c
            .agent
            .set_state(proto::SetStateRequest {
                agent_id: self.id.clone(),
                state: proto::RequestedState::Available as i32,
                ..Default::default()
            })
            .await
            .expect("set available")
            .into_inner()
    }

    pub async fn not_ready(&mut self, reason: &str) -> proto::Agent {
        self.c
            .agent
            .set_state(proto::SetStateRequest {
                agent_id: self.id.clone(),
                state: proto::RequestedState::NotReady as i32,
                reason: reason.into(),
                request_id: String::new(),
            })
            .await
            .expect("set not ready")
            .into_inner()
    }

    /// The next event matching `pick`, skipping others, within `within`.
    pub async fn wait_for<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&Ev) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.next())
                .await
                .ok()??;
            let event = next.ok()?.event?;
            if let Some(t) = pick(&event) {
                return Some(t);
            }
        }
    }

    /// Waits for an offer and returns the offered call.
    pub async fn expect_offer(&mut self, within: Duration) -> proto::Call {
        self.wait_for(within, |e| match e {
            Ev::CallOffered(o) => o.call.clone(),
            _ => None,
        })
        .await
        .unwrap_or_else(|| panic!("{} was offered no call within {within:?}", self.id))
    }

    /// True if an offer arrives within `within`.
    pub async fn gets_offer_within(&mut self, within: Duration) -> bool {
        self.wait_for(within, |e| matches!(e, Ev::CallOffered(_)).then_some(()))
            .await
            .is_some()
    }

    pub async fn accept(&mut self, call_id: &str) -> proto::Call {
        let req = self.action(call_id);
        self.c.agent.accept(req).await.expect("accept").into_inner()
    }

    pub async fn hangup(&mut self, call_id: &str) -> proto::Call {
        let req = self.action(call_id);
        self.c.agent.hangup(req).await.expect("hangup").into_inner()
    }

    pub async fn wrap_up(
        &mut self,
        call_id: &str,
        disposition: proto::Disposition,
        category: &str,
    ) -> proto::Agent {
        self.c
            .agent
            .complete_wrap_up(proto::CompleteWrapUpRequest {
                agent_id: self.id.clone(),
                call_id: call_id.into(),
                disposition: disposition as i32,
                category: category.into(),
                notes: String::new(),
                request_id: String::new(),
            })
            .await
            .expect("wrap up")
            .into_inner()
    }
}

pub const SHORT: Duration = Duration::from_millis(400);
pub const SOON: Duration = Duration::from_secs(5);
