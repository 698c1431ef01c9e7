//! What generic clients see: grpc-web over HTTP/1.1 (browser softphones),
//! server reflection (grpcurl), and configuration from the environment.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn grpc_web_requests_over_http1_are_served() {
    let s = TestServer::start().await;
    let addr = s.server.as_ref().unwrap().addr;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // An empty HealthCheckRequest in one grpc-web frame: flag 0, length 0.
    let body = [0u8, 0, 0, 0, 0];
    let head = format!(
        "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply).await.unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_lowercase().contains("content-type: application/grpc-web"),
        "{text}"
    );
    assert!(
        text.contains("grpc-status:0"),
        "trailers in the body frame: {text}"
    );
}

#[tokio::test]
async fn reflection_lists_the_hotline_services() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let s = TestServer::start().await;
    let mut client = ServerReflectionClient::new(s.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let reply = replies.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "hotline.v1.AgentService",
        "hotline.v1.CallService",
        "hotline.v1.SupervisorService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
}

#[test]
fn environment_overrides_the_configuration() {
    let secret = "from-the-environment-0123456789";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["token", "--role", "admin", "--sub", "ops"])
        .env("HOTLINE_AUTH__SECRET", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let keys = hotline::auth::TokenKeys::new(secret.as_bytes());
    assert_eq!(keys.verify(token.trim()).unwrap().sub, "ops");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["token", "--role", "admin", "--sub", "ops"])
        .env("HOTLINE_SERVER__GRPC_LISTEN", "not-an-address")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("server.grpc_listen"));
}
