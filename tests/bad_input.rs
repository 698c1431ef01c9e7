//! Malformed or wrong requests get a clear status naming the problem, retried
//! requests have no second effect, and the server keeps serving throughout.

mod common;

use common::*;
use hotline::auth::Role;
use hotline::proto;
use tonic::Code;

fn login(agent: &str, skills: Vec<(&str, u32)>) -> proto::LoginRequest {
    proto::LoginRequest {
        agent_id: agent.into(),
        skills: skills
            .into_iter()
            .map(|(s, p)| proto::SkillLevel {
                skill: s.into(),
                proficiency: p,
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn login_rejects_bad_ids_skills_and_proficiencies() {
    let s = TestServer::start().await;
    let mut admin = s.clients(Role::Admin, "root");
    let cases: Vec<(proto::LoginRequest, Code, &str)> = vec![
        (login("", vec![]), Code::InvalidArgument, "agent_id"),
        (login(&"x".repeat(200), vec![]), Code::InvalidArgument, "agent_id"),
        (login("nobody", vec![]), Code::NotFound, "agent nobody"),
        (
            login("alice", vec![("juggling", 5)]),
            Code::NotFound,
            "skill juggling",
        ),
        (
            login("alice", vec![("billing", 0)]),
            Code::InvalidArgument,
            "skills[0].proficiency",
        ),
        (
            login("alice", vec![("billing", 11)]),
            Code::InvalidArgument,
            "skills[0].proficiency",
        ),
        (
            login("alice", vec![("", 5)]),
            Code::InvalidArgument,
            "skills[0].skill",
        ),
    ];
    for (req, code, needle) in cases {
        let err = admin.agent.login(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{req:?}: {}", err.message());
        assert!(
            err.message().contains(needle),
            "{:?} should mention {needle}",
            err.message()
        );
    }
    // Still serving, and nothing was half-applied.
    let ok = admin
        .agent
        .login(login("alice", vec![("billing", 7)]))
        .await
        .expect("valid login");
    assert_eq!(ok.into_inner().skills[0].proficiency, 7);
}

#[tokio::test]
async fn start_call_rejects_unknown_numbers_customers_and_skills() {
    let s = TestServer::start().await;
    let mut edge = s.edge();
    let req = |ani: &str, dnis: &str, customer: &str, skill: (&str, u32)| proto::StartCallRequest {
        ani: ani.into(),
        dnis: dnis.into(),
        customer_id: customer.into(),
        skills: if skill.0.is_empty() {
            vec![]
        } else {
            vec![proto::SkillRequirement {
                skill: skill.0.into(),
                min_proficiency: skill.1,
                optional: false,
            }]
        },
        request_id: String::new(),
    };
    let cases = vec![
        (req("", "100", "", ("", 0)), Code::InvalidArgument, "ani"),
        (req("+1", "", "", ("", 0)), Code::InvalidArgument, "dnis"),
        (
            req(&"9".repeat(65), "100", "", ("", 0)),
            Code::InvalidArgument,
            "ani",
        ),
        (req("+1", "999", "", ("", 0)), Code::NotFound, "entry point 999"),
        (
            req("+1", "100", "ghost", ("", 0)),
            Code::NotFound,
            "customer ghost",
        ),
        (
            req("+1", "100", "", ("juggling", 3)),
            Code::NotFound,
            "skill juggling",
        ),
        (
            req("+1", "100", "", ("spanish", 11)),
            Code::InvalidArgument,
            "min_proficiency",
        ),
        (
            req("+1\u{7}", "100", "", ("", 0)),
            Code::InvalidArgument,
            "control",
        ),
    ];
    for (r, code, needle) in cases {
        let err = edge.call.start_call(r.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{r:?}: {}", err.message());
        assert!(
            err.message().contains(needle),
            "{:?} should mention {needle}",
            err.message()
        );
    }
    let listed = s
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest {
            include_ended: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.calls.is_empty(), "no bad request created a call");
}

#[tokio::test]
async fn a_retried_request_id_has_no_second_effect() {
    let s = TestServer::start().await;
    let mut edge = s.edge();
    let req = proto::StartCallRequest {
        ani: "+5000".into(),
        dnis: "100".into(),
        request_id: "edge-req-1".into(),
        ..Default::default()
    };
    let first = edge.call.start_call(req.clone()).await.unwrap().into_inner();
    let again = edge.call.start_call(req).await.unwrap().into_inner();
    assert_eq!(first.call_id, again.call_id, "the retry returns the first result");
    let listed = s
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.calls.len(), 1, "one call, not two");

    // The same id for a different method is a client bug, said clearly.
    let err = edge
        .call
        .end_call(proto::EndCallRequest {
            call_id: first.call_id.clone(),
            request_id: "edge-req-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("request_id"), "{}", err.message());

    // Retried EndCall: the first ends the call, the retry returns the same end.
    let end = proto::EndCallRequest {
        call_id: first.call_id.clone(),
        request_id: "edge-req-2".into(),
    };
    let e1 = edge.call.end_call(end.clone()).await.unwrap().into_inner();
    let e2 = edge.call.end_call(end).await.unwrap().into_inner();
    assert_eq!(e1.outcome, proto::CallOutcome::Abandoned as i32);
    assert_eq!(e2, e1);
}

#[tokio::test]
async fn a_request_id_reused_with_a_different_body_is_refused_naming_request_id() {
    let s = TestServer::start().await;
    let mut edge = s.edge();
    let first = proto::StartCallRequest {
        ani: "+5000".into(),
        dnis: "100".into(),
        request_id: "edge-req-9".into(),
        ..Default::default()
    };
    let call = edge.call.start_call(first.clone()).await.unwrap().into_inner();
    // Another caller under the same request id: not the first call back.
    let err = edge
        .call
        .start_call(proto::StartCallRequest {
            ani: "+5001".into(),
            ..first.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().starts_with("request_id:"), "{}", err.message());
    // The true retry still gets the first call.
    let again = edge.call.start_call(first).await.unwrap().into_inner();
    assert_eq!(again.call_id, call.call_id);
    edge.call
        .end_call(proto::EndCallRequest {
            call_id: call.call_id,
            request_id: String::new(),
        })
        .await
        .unwrap();

    // The same for an agent's request: a different state under one id.
    let mut agent = s.clients(Role::Agent, "alice");
    agent
        .agent
        .login(login("alice", vec![("billing", 7)]))
        .await
        .unwrap();
    let ready = proto::SetStateRequest {
        agent_id: "alice".into(),
        state: proto::RequestedState::Available as i32,
        request_id: "alice-1".into(),
        ..Default::default()
    };
    agent.agent.set_state(ready.clone()).await.unwrap();
    let err = agent
        .agent
        .set_state(proto::SetStateRequest {
            state: proto::RequestedState::NotReady as i32,
            reason: "break".into(),
            ..ready.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().starts_with("request_id:"), "{}", err.message());
    agent
        .agent
        .set_state(ready)
        .await
        .expect("the true retry is answered");
    let agents = s
        .supervisor()
        .supervisor
        .list_agents(proto::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    let now = agents
        .iter()
        .find(|a| a.agent_id == "alice")
        .expect("alice is listed");
    assert_eq!(
        now.state,
        proto::AgentState::Available as i32,
        "the refused request changed nothing"
    );
}

#[tokio::test]
async fn wrong_state_and_unknown_ids_get_clear_statuses() {
    let s = TestServer::start().await;
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+6000", "100").await;
    alice.expect_offer(SOON).await;
    // Hanging up a call you do not hold yet.
    let err = alice
        .c
        .agent
        .hangup(alice.action(&call.call_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("not connected"), "{}", err.message());
    // Unknown call for the edge.
    let err = s
        .edge()
        .call
        .get_call(proto::GetCallRequest {
            call_id: "no-such-call".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Oversized notes, missing category, bad enum values.
    alice.accept(&call.call_id).await;
    alice.hangup(&call.call_id).await;
    let wrap = |notes: String, category: &str, disposition: i32| proto::CompleteWrapUpRequest {
        agent_id: "alice".into(),
        call_id: call.call_id.clone(),
        disposition,
        category: category.into(),
        notes,
        request_id: String::new(),
    };
    let resolved = proto::Disposition::Resolved as i32;
    for (req, needle) in [
        (wrap("n".repeat(5000), "billing/x", resolved), "notes"),
        (wrap(String::new(), "", resolved), "category"),
        (wrap(String::new(), "billing/x", 42), "disposition"),
    ] {
        let err = alice.c.agent.complete_wrap_up(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains(needle), "{}", err.message());
    }
    let err = alice
        .c
        .agent
        .set_state(proto::SetStateRequest {
            agent_id: "alice".into(),
            state: proto::RequestedState::NotReady as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("reason"));
    let err = s
        .supervisor()
        .supervisor
        .list_agents(proto::ListAgentsRequest {
            page_size: 10_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_size"));
    let err = s
        .supervisor()
        .supervisor
        .list_calls(proto::ListCallsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // The agent can still finish properly: nothing was lost.
    let after = alice
        .wrap_up(&call.call_id, proto::Disposition::Resolved, "billing/x")
        .await;
    assert_eq!(after.state, proto::AgentState::Available as i32);
}

#[tokio::test]
async fn lists_paginate() {
    let s = TestServer::start().await;
    for id in ["alice", "bob", "carol", "dave"] {
        s.agent(id).await;
    }
    let mut sup = s.supervisor();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = sup
            .supervisor
            .list_agents(proto::ListAgentsRequest {
                page_size: 3,
                page_token: token.clone(),
                state: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.agents.len() <= 3);
        seen.extend(page.agents.into_iter().map(|a| a.agent_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["alice", "bob", "carol", "dave"]);
    for i in 0..5 {
        s.start_call(&format!("+70{i}"), "500").await; // rejected at once: ended calls
    }
    let mut calls = Vec::new();
    let mut token = String::new();
    loop {
        let page = sup
            .supervisor
            .list_calls(proto::ListCallsRequest {
                page_size: 2,
                page_token: token.clone(),
                queue: "strict".into(),
                include_ended: true,
            })
            .await
            .unwrap()
            .into_inner();
        calls.extend(page.calls.into_iter().map(|c| c.call_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(calls.len(), 5);
    let mut unique = calls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no call listed twice across pages");
}
