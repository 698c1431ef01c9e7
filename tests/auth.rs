//! Every hotline.v1 RPC needs a valid bearer token and the right role;
//! health and reflection stay open.

mod common;

use std::time::Duration;

use common::*;
use hotline::auth::{Role, TokenKeys};
use hotline::client::Clients;
use hotline::proto;
use hotline::proto::agent_service_client::AgentServiceClient;
use hotline::time::Timestamp;
use tonic::Code;

#[tokio::test]
async fn no_token_is_unauthenticated() {
    let s = TestServer::start().await;
    let mut raw = AgentServiceClient::new(s.channel.clone());
    let err = raw
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("authorization"), "{}", err.message());
}

#[tokio::test]
async fn forged_and_expired_tokens_are_unauthenticated() {
    let s = TestServer::start().await;
    let forged = TokenKeys::new(b"some-other-secret-of-16+")
        .mint(
            Role::Admin,
            "mallory",
            Duration::from_secs(60),
            Timestamp::now_wall(),
        )
        .unwrap();
    let expired = TokenKeys::new(SECRET.as_bytes())
        .mint(
            Role::Admin,
            "old",
            Duration::from_secs(60),
            Timestamp::from_millis(1_000_000),
        )
        .unwrap();
    for token in [forged, expired, "not-a-jwt".to_string()] {
        let mut c = Clients::new(s.channel.clone(), &token).unwrap();
        let err = c
            .supervisor
            .list_agents(proto::ListAgentsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{token}");
    }
}

#[tokio::test]
async fn agent_acting_as_another_agent_is_denied() {
    let s = TestServer::start().await;
    let mut mallory = s.clients(Role::Agent, "alice");
    let err = mallory
        .agent
        .login(proto::LoginRequest {
            agent_id: "bob".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("may not act as agent bob"),
        "{}",
        err.message()
    );
    let err = mallory
        .agent
        .events(proto::EventsRequest {
            agent_id: "bob".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn roles_are_checked_per_service() {
    let s = TestServer::start().await;
    let mut agent = s.clients(Role::Agent, "alice");
    let err = agent
        .supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = agent
        .call
        .start_call(proto::StartCallRequest {
            ani: "+1".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A supervisor cannot pose as an agent's softphone, but may force states.
    let mut sup = s.supervisor();
    let err = sup
        .agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Telephony starts calls but does not read the floor.
    let mut edge = s.edge();
    let err = edge
        .supervisor
        .list_calls(proto::ListCallsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Admin may do anything.
    let mut admin = s.clients(Role::Admin, "root");
    admin
        .agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .expect("admin acts as any agent");
    admin
        .supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .expect("admin reads the floor");
}

#[tokio::test]
async fn supervisor_forces_a_stuck_agent_out_and_the_reason_is_kept() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+4000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    // The agent itself may not log out mid-call...
    let err = alice
        .c
        .agent
        .logout(proto::LogoutRequest {
            agent_id: "alice".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // ...but a supervisor may, which ends the call.
    let forced = s
        .supervisor()
        .supervisor
        .set_agent_state(proto::SupervisorSetAgentStateRequest {
            agent_id: "alice".into(),
            state: proto::AgentState::LoggedOut as i32,
            reason: String::new(),
            request_id: String::new(),
        })
        .await
        .expect("forced logout")
        .into_inner();
    assert_eq!(forced.state, proto::AgentState::LoggedOut as i32);
    assert!(
        forced.state_reason.contains("supervisor sup"),
        "{}",
        forced.state_reason
    );
    let ended = s.get_call(&call.call_id).await;
    assert_eq!(ended.status, proto::CallStatus::Ended as i32);
    assert_eq!(ended.outcome, proto::CallOutcome::Answered as i32);
}

#[tokio::test]
async fn health_and_reflection_need_no_token_and_shutdown_goes_not_serving() {
    let mut s = TestServer::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "hotline.v1.AgentService".into(),
        })
        .await
        .expect("health is open")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // An open agent stream ends cleanly when the server shuts down.
    let mut alice = s.agent("alice").await;
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let server = s.server.take().unwrap();
    let stop = tokio::spawn(server.shutdown());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("health changes");
    if let Ok(Some(m)) = next {
        assert_eq!(
            m.status,
            tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
        );
    }
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match alice.events.message().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await
    .expect("agent stream ends");
    assert!(end.is_ok(), "stream ended cleanly: {end:?}");
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("shutdown completes")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn during_the_drain_period_health_is_not_serving_while_requests_are_still_served() {
    let config = CONFIG.replace("drain_secs = 0", "drain_secs = 3");
    let mut s = TestServer::with_config(&config).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel.clone());
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(watch.message().await.unwrap().unwrap().status, serving);
    let stop = tokio::spawn(s.server.take().unwrap().shutdown());
    let next = watch
        .message()
        .await
        .expect("the watch still runs")
        .expect("a change");
    assert_eq!(next.status, not_serving, "health went NOT_SERVING first");
    // Draining, not closed: new requests on the same connection are served.
    let check = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("a new request is served while draining")
        .into_inner();
    assert_eq!(check.status, not_serving);
    let alive = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "liveness".into(),
        })
        .await
        .expect("liveness is served while draining")
        .into_inner();
    assert_eq!(
        alive.status, serving,
        "a draining node is not restarted by its liveness probe"
    );
    let call = s
        .edge()
        .call
        .start_call(proto::StartCallRequest {
            ani: "+4400".into(),
            dnis: "100".into(),
            ..Default::default()
        })
        .await
        .expect("the API serves while draining")
        .into_inner();
    assert_eq!(call.status, proto::CallStatus::Queued as i32);
    tokio::time::timeout(Duration::from_secs(15), stop)
        .await
        .expect("shutdown finishes after the drain")
        .expect("task")
        .expect("clean shutdown");
}
