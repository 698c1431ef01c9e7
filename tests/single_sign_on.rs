//! Single sign-on against a real OpenID Connect provider (panva's
//! oidc-provider on loopback), on two nodes sharing a real Redis: tokens
//! from the provider's code flow are taken on both nodes, with roles and
//! the agent id from claims; tokens a provider would not issue are refused,
//! each for its reason; and "sign out everywhere" on one node makes the
//! next RPC on the other UNAUTHENTICATED within a minute, refreshed tokens
//! included, until the user signs in again.

mod common;

use std::time::{Duration, Instant};

use common::oidc::{Provider, AUDIENCE};
use common::redis::RedisServer;
use common::TestServer;
use hotline::client::Clients;
use hotline::proto;
use serde_json::json;
use tonic::Code;

const REDIRECT: &str = "http://127.0.0.1:9/agent.html";

fn accounts() -> serde_json::Value {
    json!({
        "alice": { "roles": ["agent"] },
        "ada": { "roles": ["admin", "agent"] },
        "mallory": { "roles": ["visitor"] },
    })
}

async fn node(redis: &RedisServer, provider: &Provider) -> TestServer {
    let oidc = provider.config();
    let config = common::media::cluster_config(
        redis,
        &format!(
            "[oidc]\nissuer = \"{}\"\naudience = \"{}\"\nclient_id = \"{}\"\n",
            oidc.issuer, oidc.audience, oidc.client_id
        ),
    );
    TestServer::with_config(&config).await
}

/// WhoAmI with `token`, once the node has read the provider (it answers
/// UNAVAILABLE, naming why, until then).
async fn who(node: &TestServer, token: &str) -> Result<proto::WhoAmIResponse, tonic::Status> {
    let mut c = Clients::new(node.channel.clone(), token).expect("clients");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match c.session.who_am_i(proto::WhoAmIRequest {}).await {
            Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => return other.map(|r| r.into_inner()),
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_work_on_both_nodes_and_bad_ones_are_refused_for_their_reason() {
    let provider = Provider::start(&[REDIRECT.into()], accounts(), 300);
    let redis = RedisServer::start();
    let a = node(&redis, &provider).await;
    let b = node(&redis, &provider).await;

    let alice = provider.sign_in("alice", REDIRECT).await;
    for n in [&a, &b] {
        let me = who(n, &alice.access).await.expect("alice's provider token");
        assert_eq!((me.subject.as_str(), me.role.as_str()), ("alice", "agent"));
    }
    // The claim maps to an agent who logs in and works.
    let mut c = Clients::new(b.channel.clone(), &alice.access).unwrap();
    c.agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .expect("alice logs in with her provider token");
    // The highest role a token grants wins.
    let ada = provider.sign_in("ada", REDIRECT).await;
    assert_eq!(who(&a, &ada.access).await.unwrap().role, "admin");
    // A user the provider knows but who holds no hotline role.
    let mallory = provider.sign_in("mallory", REDIRECT).await;
    let refused = who(&a, &mallory.access).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    let valid = |over: serde_json::Value| {
        let mut claims = json!({
            "iss": provider.issuer, "aud": AUDIENCE, "sub": "alice", "roles": ["agent"],
            "iat": now(), "exp": now() + 300,
        });
        claims
            .as_object_mut()
            .unwrap()
            .extend(over.as_object().unwrap().clone());
        claims
    };
    // RS256 under the provider's published RSA key is taken too.
    let rs256 = provider.forge("rsa-1", &valid(json!({})));
    assert_eq!(who(&b, &rs256).await.expect("RS256").subject, "alice");
    for (what, token, reason) in [
        (
            "wrong issuer",
            provider.forge("ec-1", &valid(json!({"iss": "https://idp.example.com"}))),
            "wrong issuer",
        ),
        (
            "wrong audience",
            provider.forge("ec-1", &valid(json!({"aud": "urn:someone-else"}))),
            "wrong audience",
        ),
        (
            "expired",
            provider.forge("ec-1", &valid(json!({"iat": now() - 900, "exp": now() - 600}))),
            "expired",
        ),
        (
            "unknown key",
            {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some("ec-1".into());
                jsonwebtoken::encode(&header, &valid(json!({})), &common::oidc::stranger_key()).unwrap()
            },
            "bad signature",
        ),
        (
            "unknown key id",
            {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                header.kid = Some("not-published".into());
                jsonwebtoken::encode(&header, &valid(json!({})), &common::oidc::stranger_key()).unwrap()
            },
            "unknown key",
        ),
    ] {
        for n in [&a, &b] {
            let refused = who(n, &token).await.expect_err(what);
            assert_eq!(refused.code(), Code::Unauthenticated, "{what}: {refused:?}");
            assert!(
                refused.message().contains(reason),
                "{what}: {}",
                refused.message()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_is_refused_on_the_other_node_within_a_minute_refresh_included() {
    let provider = Provider::start(&[REDIRECT.into()], accounts(), 300);
    let redis = RedisServer::start();
    let a = node(&redis, &provider).await;
    let b = node(&redis, &provider).await;
    let alice = provider.sign_in("alice", REDIRECT).await;
    let ada = provider.sign_in("ada", REDIRECT).await;
    who(&b, &alice.access).await.expect("alice works on node b");
    let mut on_b = Clients::new(b.channel.clone(), &alice.access).unwrap();
    on_b.agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            ..Default::default()
        })
        .await
        .expect("alice logs in on node b");

    // An agent may not revoke anyone.
    let mut as_alice = Clients::new(a.channel.clone(), &alice.access).unwrap();
    let denied = as_alice
        .session
        .revoke_sessions(proto::RevokeSessionsRequest {
            subject: "ada".into(),
            reason: "no".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let mut admin = Clients::new(a.channel.clone(), &ada.access).unwrap();
    let revoked = admin
        .session
        .revoke_sessions(proto::RevokeSessionsRequest {
            subject: "alice".into(),
            reason: "laptop stolen".into(),
        })
        .await
        .expect("ada revokes alice")
        .into_inner();
    let started = Instant::now();
    assert!(revoked.agent_logged_out, "alice was signed in as an agent");
    // Node a, which took the revocation, refuses at once.
    let here = who(&a, &alice.access).await.unwrap_err();
    assert_eq!(here.code(), Code::Unauthenticated, "{here:?}");
    // Node b refuses within a minute (its poll is a second).
    let refused = loop {
        match on_b
            .agent
            .set_state(proto::SetStateRequest {
                agent_id: "alice".into(),
                state: proto::RequestedState::Available as i32,
                ..Default::default()
            })
            .await
        {
            Err(s) if s.code() == Code::Unauthenticated => break s,
            _ if started.elapsed() > Duration::from_secs(60) => {
                panic!("node b still takes alice's token a minute after the revocation")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(refused.message().contains("revoked"), "{}", refused.message());
    // A silent refresh keeps the sign-in's time: still refused.
    let refreshed = provider.refresh(&alice.refresh).await;
    assert_ne!(refreshed.access, alice.access);
    let again = who(&b, &refreshed.access).await.unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated, "{again:?}");
    // Others are untouched; a new sign-in at the provider gets alice back.
    who(&b, &ada.access).await.expect("ada is not revoked");
    // auth_time has a second's resolution: a sign-in in the revocation's
    // own second still counts as before it.
    let cut = revoked.revoked_at_unix_ms as u64 / 1000 + 1;
    while now() < cut {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back = provider.sign_in("alice", REDIRECT).await;
    assert_eq!(
        who(&b, &back.access).await.expect("signed in again").subject,
        "alice"
    );
}
