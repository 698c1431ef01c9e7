//! Every string a client sends has a maximum length, and a refusal names the
//! field and quotes at most a short prefix of what was sent, so a standard
//! gRPC client (which rejects oversized metadata) always learns the error.

mod common;

use std::future::Future;
use std::pin::Pin;

use common::*;
use hotline::auth::Role;
use hotline::proto;
use tonic::{Code, Status};

/// Far above every documented maximum; its refusal echoed whole would be
/// larger than the 16 KiB of metadata gRPC clients accept.
fn huge() -> String {
    "x".repeat(70_000)
}

/// The longest refusal message: a field name, a reason and a short quote.
const MAX_MESSAGE: usize = 256;

type Call<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;

fn boxed<'a, T: Send + 'a>(
    f: impl Future<Output = Result<tonic::Response<T>, Status>> + Send + 'a,
) -> Call<'a> {
    Box::pin(async move { f.await.map(|_| ()) })
}

/// Runs `call`; records in `failures` how its refusal falls short.
async fn assert_refused(failures: &mut Vec<String>, field: &str, call: Call<'_>) {
    let err = match call.await {
        Ok(()) => return failures.push(format!("{field}: a 70,000-byte value was accepted")),
        Err(e) => e,
    };
    let shown = err.message().chars().take(120).collect::<String>();
    if err.code() != Code::InvalidArgument {
        failures.push(format!("{field}: {:?} {shown:?}", err.code()));
    } else if !err.message().contains(field) {
        failures.push(format!("{field}: the refusal does not name the field: {shown:?}"));
    } else if err.message().len() > MAX_MESSAGE {
        failures.push(format!(
            "{field}: a {}-byte refusal quotes too much of the input",
            err.message().len()
        ));
    }
}

fn sdp(text: String) -> Option<proto::SessionOffer> {
    Some(proto::SessionOffer { sdp: text })
}

fn candidate(c: proto::IceCandidate) -> Option<proto::IceCandidate> {
    Some(c)
}

#[tokio::test]
async fn every_oversized_string_is_refused_naming_its_field_with_a_short_message() {
    let s = TestServer::start().await;
    let mut agent = s.clients(Role::Agent, "alice");
    let mut edge = s.edge();
    let mut sup = s.supervisor();
    let mut sup2 = s.supervisor();
    let mut sup3 = s.supervisor();
    let h = huge;
    let mut failures = Vec::new();

    // The agent service (as alice, about herself).
    let a = &mut agent.agent;
    assert_refused(
        &mut failures,
        "agent_id",
        boxed(a.login(proto::LoginRequest {
            agent_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "request_id",
        boxed(a.login(proto::LoginRequest {
            agent_id: "alice".into(),
            request_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "skills[0].skill",
        boxed(a.login(proto::LoginRequest {
            agent_id: "alice".into(),
            skills: vec![proto::SkillLevel {
                skill: h(),
                proficiency: 5,
            }],
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "reason",
        boxed(a.set_state(proto::SetStateRequest {
            agent_id: "alice".into(),
            state: proto::RequestedState::NotReady as i32,
            reason: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "call_id",
        boxed(a.accept(proto::CallActionRequest {
            agent_id: "alice".into(),
            call_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "queue",
        boxed(a.transfer(proto::TransferRequest {
            agent_id: "alice".into(),
            call_id: "c1".into(),
            target: Some(proto::transfer_request::Target::Queue(h())),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "to_agent_id",
        boxed(a.transfer(proto::TransferRequest {
            agent_id: "alice".into(),
            call_id: "c1".into(),
            target: Some(proto::transfer_request::Target::ToAgentId(h())),
            ..Default::default()
        })),
    )
    .await;
    for (field, category, notes) in [("category", h(), String::new()), ("notes", String::new(), h())] {
        assert_refused(
            &mut failures,
            field,
            boxed(a.complete_wrap_up(proto::CompleteWrapUpRequest {
                agent_id: "alice".into(),
                call_id: "c1".into(),
                category,
                notes,
                ..Default::default()
            })),
        )
        .await;
    }
    assert_refused(
        &mut failures,
        "offer.sdp",
        boxed(a.connect_softphone(proto::SoftphoneOffer {
            agent_id: "alice".into(),
            offer: sdp(h()),
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "candidate",
        boxed(a.add_softphone_ice_candidate(proto::SoftphoneIceCandidate {
            agent_id: "alice".into(),
            candidate: candidate(proto::IceCandidate {
                candidate: h(),
                ..Default::default()
            }),
        })),
    )
    .await;

    // The call service (as the telephony edge).
    let c = &mut edge.call;
    for (field, ani, dnis, customer_id) in [
        ("ani", h(), "100".to_string(), String::new()),
        ("dnis", "+1".to_string(), h(), String::new()),
        ("customer_id", "+1".to_string(), "100".to_string(), h()),
    ] {
        assert_refused(
            &mut failures,
            field,
            boxed(c.start_call(proto::StartCallRequest {
                ani,
                dnis,
                customer_id,
                ..Default::default()
            })),
        )
        .await;
    }
    assert_refused(
        &mut failures,
        "call_id",
        boxed(c.get_call(proto::GetCallRequest { call_id: h() })),
    )
    .await;
    assert_refused(
        &mut failures,
        "number",
        boxed(c.request_callback(proto::RequestCallbackRequest {
            call_id: "c1".into(),
            number: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "call_id",
        boxed(c.submit_survey(proto::SubmitSurveyRequest {
            call_id: h(),
            satisfaction: 5,
        })),
    )
    .await;

    // The callback service (as a supervisor).
    let cb = &mut sup.callback;
    let create = || proto::CreateCallbackRequest {
        number: "+15550001".into(),
        queue: "billing".into(),
        ..Default::default()
    };
    for (field, req) in [
        (
            "customer_id",
            proto::CreateCallbackRequest {
                customer_id: h(),
                ..create()
            },
        ),
        (
            "number",
            proto::CreateCallbackRequest {
                number: h(),
                ..create()
            },
        ),
        (
            "queue",
            proto::CreateCallbackRequest {
                queue: h(),
                ..create()
            },
        ),
        (
            "category",
            proto::CreateCallbackRequest {
                category: h(),
                ..create()
            },
        ),
        (
            "notes",
            proto::CreateCallbackRequest {
                notes: h(),
                ..create()
            },
        ),
        (
            "owner_agent_id",
            proto::CreateCallbackRequest {
                owner_agent_id: h(),
                ..create()
            },
        ),
    ] {
        assert_refused(&mut failures, field, boxed(cb.create_callback(req))).await;
    }
    assert_refused(
        &mut failures,
        "callback_id",
        boxed(cb.get_callback(proto::CallbackRef {
            callback_id: h(),
            ..Default::default()
        })),
    )
    .await;
    for (field, req) in [
        (
            "queue",
            proto::ListCallbacksRequest {
                queue: h(),
                ..Default::default()
            },
        ),
        (
            "customer_id",
            proto::ListCallbacksRequest {
                customer_id: h(),
                ..Default::default()
            },
        ),
        (
            "number",
            proto::ListCallbacksRequest {
                number: h(),
                ..Default::default()
            },
        ),
        (
            "owner_agent_id",
            proto::ListCallbacksRequest {
                owner_agent_id: h(),
                ..Default::default()
            },
        ),
        (
            "page_token",
            proto::ListCallbacksRequest {
                page_token: h(),
                ..Default::default()
            },
        ),
    ] {
        assert_refused(&mut failures, field, boxed(cb.list_callbacks(req))).await;
    }

    // The supervisor service.
    let sv = &mut sup2.supervisor;
    assert_refused(
        &mut failures,
        "page_token",
        boxed(sv.list_agents(proto::ListAgentsRequest {
            page_token: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "queue",
        boxed(sv.list_calls(proto::ListCallsRequest {
            queue: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "reason",
        boxed(sv.set_agent_state(proto::SupervisorSetAgentStateRequest {
            agent_id: "alice".into(),
            state: proto::AgentState::NotReady as i32,
            reason: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "call_id",
        boxed(sv.explain_routing(proto::ExplainRoutingRequest { call_id: h() })),
    )
    .await;
    assert_refused(
        &mut failures,
        "session_id",
        boxed(sv.add_monitor_ice_candidate(proto::MonitorIceCandidate {
            session_id: h(),
            candidate: candidate(proto::IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
                ..Default::default()
            }),
        })),
    )
    .await;
    for (field, req) in [
        (
            "agent_id",
            proto::ListRecordingsRequest {
                agent_id: h(),
                ..Default::default()
            },
        ),
        (
            "queue",
            proto::ListRecordingsRequest {
                queue: h(),
                ..Default::default()
            },
        ),
        (
            "ani",
            proto::ListRecordingsRequest {
                ani: h(),
                ..Default::default()
            },
        ),
    ] {
        assert_refused(&mut failures, field, boxed(sv.list_recordings(req))).await;
    }
    assert_refused(
        &mut failures,
        "call_id",
        boxed(sv.list_monitor_audit(proto::ListMonitorAuditRequest {
            call_id: h(),
            ..Default::default()
        })),
    )
    .await;
    let grade = || proto::GradeCallRequest {
        call_id: "c1".into(),
        ..Default::default()
    };
    let card = |name: String, criterion: String| proto::Scorecard {
        name,
        total: 100,
        criteria: vec![proto::ScorecardCriterion {
            name: criterion,
            weight: 100,
        }],
    };
    let sv = &mut sup3.supervisor;
    for (field, req) in [
        (
            "scorecard.name",
            proto::GradeCallRequest {
                scorecard: Some(card(h(), "efficiency".into())),
                ..grade()
            },
        ),
        (
            "scorecard.criteria[0].name",
            proto::GradeCallRequest {
                scorecard: Some(card("card".into(), h())),
                ..grade()
            },
        ),
        (
            "grades[0].criterion",
            proto::GradeCallRequest {
                grades: vec![proto::CriterionGrade {
                    criterion: h(),
                    grade: "A".into(),
                }],
                ..grade()
            },
        ),
        (
            "grades[0].grade",
            proto::GradeCallRequest {
                grades: vec![proto::CriterionGrade {
                    criterion: "efficiency".into(),
                    grade: h(),
                }],
                ..grade()
            },
        ),
        (
            "comments",
            proto::GradeCallRequest {
                comments: h(),
                ..grade()
            },
        ),
    ] {
        assert_refused(&mut failures, field, boxed(sv.grade_call(req))).await;
    }
    // The case service (a supervisor's requests; agents' go through the
    // same checks).
    let mut cases = s.supervisor();
    let open = |f: &dyn Fn(&mut proto::OpenCaseRequest)| {
        let mut r = proto::OpenCaseRequest {
            kind: proto::CaseKind::Complaint as i32,
            customer_id: "smallco".into(),
            category: "billing".into(),
            summary: "s".into(),
            ..Default::default()
        };
        f(&mut r);
        r
    };
    let target = |name: String| {
        Some(proto::CaseTarget {
            kind: proto::CaseTargetKind::Team as i32,
            name,
        })
    };
    let opens: Vec<(&str, proto::OpenCaseRequest)> = vec![
        ("customer_id", open(&|r| r.customer_id = h())),
        ("call_id", open(&|r| r.call_id = h())),
        ("contact", open(&|r| r.contact = h())),
        ("channel", open(&|r| r.channel = h())),
        ("category", open(&|r| r.category = h())),
        ("target.name", open(&|r| r.target = target(h()))),
        ("wanted", open(&|r| r.wanted = h())),
        ("summary", open(&|r| r.summary = h())),
        ("request_id", open(&|r| r.request_id = h())),
    ];
    for (field, req) in opens {
        assert_refused(&mut failures, field, boxed(cases.case.open_case(req))).await;
    }
    let case = cases
        .case
        .open_case(open(&|_| {}))
        .await
        .expect("a case to change")
        .into_inner()
        .case_id;
    let c = &mut cases.case;
    assert_refused(
        &mut failures,
        "case_id",
        boxed(c.get_case(proto::CaseRef { case_id: h() })),
    )
    .await;
    assert_refused(
        &mut failures,
        "answer",
        boxed(c.judge_case(proto::JudgeCaseRequest {
            case_id: case.clone(),
            answer: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "note",
        boxed(c.add_case_note(proto::AddCaseNoteRequest {
            case_id: case.clone(),
            note: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "callback_id",
        boxed(c.link_case(proto::LinkCaseRequest {
            case_id: case.clone(),
            callback_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "customer_id",
        boxed(c.list_cases(proto::ListCasesRequest {
            customer_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "owner_agent_id",
        boxed(c.list_cases(proto::ListCasesRequest {
            owner_agent_id: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "category",
        boxed(c.list_cases(proto::ListCasesRequest {
            category: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "team",
        boxed(c.list_cases(proto::ListCasesRequest {
            team: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "page_token",
        boxed(c.list_cases(proto::ListCasesRequest {
            page_token: h(),
            ..Default::default()
        })),
    )
    .await;
    c.judge_case(proto::JudgeCaseRequest {
        case_id: case.clone(),
        stands: true,
        ..Default::default()
    })
    .await
    .expect("stands");
    for (field, team, owner) in [
        ("team", h(), "bob".to_string()),
        ("owner_agent_id", "t".into(), h()),
    ] {
        assert_refused(
            &mut failures,
            field,
            boxed(c.assign_case(proto::AssignCaseRequest {
                case_id: case.clone(),
                team,
                owner_agent_id: owner,
                ..Default::default()
            })),
        )
        .await;
    }
    c.assign_case(proto::AssignCaseRequest {
        case_id: case.clone(),
        team: "billing".into(),
        owner_agent_id: "bob".into(),
        ..Default::default()
    })
    .await
    .expect("assigned");
    assert_refused(
        &mut failures,
        "notes",
        boxed(c.schedule_case_follow_up(proto::ScheduleCaseFollowUpRequest {
            case_id: case.clone(),
            queue: "billing".into(),
            notes: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "queue",
        boxed(c.schedule_case_follow_up(proto::ScheduleCaseFollowUpRequest {
            case_id: case.clone(),
            queue: h(),
            ..Default::default()
        })),
    )
    .await;
    assert_refused(
        &mut failures,
        "fix",
        boxed(c.resolve_case(proto::ResolveCaseRequest {
            case_id: case.clone(),
            fix: h(),
            ..Default::default()
        })),
    )
    .await;

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_unknown_long_value_is_quoted_by_a_short_prefix() {
    let s = TestServer::start().await;
    let mut agent = s.clients(Role::Agent, "alice");
    // Within the id limit but unknown: NOT_FOUND quotes it, shortened.
    let skill = "s".repeat(120);
    let err = agent
        .agent
        .login(proto::LoginRequest {
            agent_id: "alice".into(),
            skills: vec![proto::SkillLevel {
                skill: skill.clone(),
                proficiency: 5,
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains(&skill[..32]), "{}", err.message());
    assert!(!err.message().contains(&skill), "{}", err.message());
}
