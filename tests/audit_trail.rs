//! The audit trail: one log of every sensitive action, written by any node
//! of a cluster (two nodes on a real Redis here) and read, filtered and
//! paged, from any node; exported as JSON Lines. Reads of sensitive data
//! (a recording played or downloaded, a call listened in on) are recorded
//! before the data is given, and refused when the trail cannot be written
//! (Redis refusing XADD through an ACL, here).

mod common;

use std::collections::HashSet;

use common::media::{finished_recording, AudioRig};
use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::auth::Role;
use hotline::client::softphone::tone;
use hotline::proto;
use tokio_stream::StreamExt;
use tonic::Code;

async fn trail(node: &TestServer, req: proto::ListAuditEventsRequest) -> Vec<proto::AuditEvent> {
    node.supervisor()
        .audit
        .list_audit_events(req)
        .await
        .expect("the trail")
        .into_inner()
        .events
}

fn of(action: &str) -> proto::ListAuditEventsRequest {
    proto::ListAuditEventsRequest {
        action: action.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sensitive_action_on_either_node_lands_in_one_trail_read_from_the_other() {
    let redis = RedisServer::start();
    let config = common::media::cluster_config(&redis, "");
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;

    // A call alice answers on node b; the supervisor forces her state and
    // grades the call on node a.
    let mut alice = b.agent("alice").await;
    let call = a.start_call("+2000", "100").await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    alice.hangup(&call.call_id).await;
    let sup = a.supervisor();
    sup.supervisor
        .clone()
        .set_agent_state(proto::SupervisorSetAgentStateRequest {
            agent_id: "alice".into(),
            state: proto::AgentState::NotReady as i32,
            reason: "Coaching".into(),
            ..Default::default()
        })
        .await
        .expect("forced");
    let criterion = |name: &str, weight| proto::ScorecardCriterion {
        name: name.into(),
        weight,
    };
    sup.supervisor
        .clone()
        .grade_call(proto::GradeCallRequest {
            call_id: call.call_id.clone(),
            scorecard: Some(proto::Scorecard {
                name: "short".into(),
                total: 10,
                criteria: vec![criterion("greeting", 4), criterion("solution", 6)],
            }),
            grades: ["greeting", "solution"]
                .map(|c| proto::CriterionGrade {
                    criterion: c.into(),
                    grade: "A".into(),
                })
                .to_vec(),
            comments: String::new(),
        })
        .await
        .expect("graded");
    // A callback booked on node a is cancelled on node b.
    let booked = sup
        .callback
        .clone()
        .create_callback(proto::CreateCallbackRequest {
            number: "+3009".into(),
            queue: "billing".into(),
            ..Default::default()
        })
        .await
        .expect("booked")
        .into_inner();
    b.supervisor()
        .callback
        .cancel_callback(proto::CallbackRef {
            callback_id: booked.callback_id.clone(),
            ..Default::default()
        })
        .await
        .expect("cancelled");
    // An admin changes the catalog on node b and signs mallory out on a.
    let admin_b = b.clients(Role::Admin, "ada");
    admin_b
        .admin
        .clone()
        .create_skill(proto::CreateSkillRequest {
            skill: Some(proto::Skill {
                name: "german".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("skill created");
    a.clients(Role::Admin, "ada")
        .session
        .revoke_sessions(proto::RevokeSessionsRequest {
            subject: "mallory".into(),
            reason: "left the company".into(),
        })
        .await
        .expect("revoked");

    // Read on the other node from where each happened.
    let forced = b.audit_events("agent-state-forced").await;
    assert_eq!(forced.len(), 1, "{forced:?}");
    assert_eq!(
        (
            forced[0].actor.as_str(),
            forced[0].role.as_str(),
            forced[0].target.as_str()
        ),
        ("sup", "supervisor", "agent:alice")
    );
    assert!(forced[0].detail.contains("coaching"), "{}", forced[0].detail);
    let graded = b.audit_events("call-graded").await;
    assert_eq!(graded[0].target, format!("call:{}", call.call_id));
    assert!(graded[0].detail.contains("on short"), "{}", graded[0].detail);
    let cancelled = a.audit_events("callback-cancelled").await;
    assert_eq!(cancelled[0].target, format!("callback:{}", booked.callback_id));
    let changed = a.audit_events("catalog-changed").await;
    assert!(
        changed
            .iter()
            .any(|e| e.target == "skill:german" && e.actor == "ada" && e.detail.starts_with("created")),
        "{changed:?}"
    );
    let revoked = b.audit_events("sessions-revoked").await;
    assert_eq!(revoked[0].target, "subject:mallory");
    assert_eq!(revoked[0].detail, "left the company");
    // Each subject's first request on each node is its sign-in there.
    let signed_in = trail(
        &a,
        proto::ListAuditEventsRequest {
            action: "signed-in".into(),
            target: "subject:sup".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(!signed_in.is_empty(), "the supervisor's sign-in is in the trail");

    // Filters: one actor; a target kind. Paging: no gap, no repeat.
    let adas = trail(
        &b,
        proto::ListAuditEventsRequest {
            actor: "ada".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        adas.len() >= 3 && adas.iter().all(|e| e.actor == "ada"),
        "{adas:?}"
    );
    let agents = trail(
        &b,
        proto::ListAuditEventsRequest {
            target: "agent:".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(agents.iter().all(|e| e.target.starts_with("agent:")));
    let all = trail(&b, proto::ListAuditEventsRequest::default()).await;
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = b
            .supervisor()
            .audit
            .list_audit_events(proto::ListAuditEventsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        paged.extend(page.events.into_iter().map(|e| e.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let ids: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
    // (The listing itself signs nobody in anew: the same events.)
    assert_eq!(paged[..ids.len()], ids[..], "pages of two, newest first");
    assert_eq!(paged.iter().collect::<HashSet<_>>().len(), paged.len());

    // The export holds what the listing holds, one JSON object per line.
    let (lines, count) = hotline::client::audit::export(&mut b.supervisor(), of("sessions-revoked"))
        .await
        .expect("export");
    assert_eq!(count, 1);
    let line: serde_json::Value = serde_json::from_slice(lines.trim_ascii_end()).expect("JSON");
    assert_eq!(line["target"], "subject:mallory");

    // Agents may not read it; bad filters are named.
    let denied = b
        .clients(Role::Agent, "alice")
        .audit
        .list_audit_events(proto::ListAuditEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = b
        .supervisor()
        .audit
        .list_audit_events(of("deleted-everything"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("action"), "{}", bad.message());
}

async fn fetch(rig: &AudioRig, recording_id: &str, download: bool) -> Result<usize, tonic::Status> {
    let mut chunks = rig
        .server
        .supervisor()
        .supervisor
        .get_recording(proto::GetRecordingRequest {
            recording_id: recording_id.into(),
            download,
        })
        .await?
        .into_inner();
    let mut bytes = 0;
    while let Some(chunk) = chunks.next().await {
        bytes += chunk?.data.len();
    }
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_played_and_downloaded_are_recorded_first_and_refused_when_the_trail_cannot_be_written() {
    let redis = RedisServer::start();
    let rig = AudioRig::on_config(&common::media::cluster_config(&redis, ""), "").await;
    let s = &rig.server;
    let mut alice = s.agent("alice").await;
    let _phone = rig.softphone(&mut alice, tone(1000.0, 8000)).await;
    let call = s.start_call("+2000", "100").await;
    let _caller = rig.caller(&call.call_id, tone(440.0, 8000)).await;
    alice.expect_offer(SOON).await;
    alice.accept(&call.call_id).await;
    alice.hangup(&call.call_id).await;
    let rec = finished_recording(&rig, &call.call_id).await;

    assert!(fetch(&rig, &rec.recording_id, false).await.expect("played") > 0);
    assert!(fetch(&rig, &rec.recording_id, true).await.expect("downloaded") > 0);
    let target = format!("call:{}", call.call_id);
    for action in ["recording-played", "recording-downloaded"] {
        let events = trail(
            s,
            proto::ListAuditEventsRequest {
                action: action.into(),
                target: target.clone(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0].actor, "sup");
        assert_eq!(events[0].detail, "agent alice");
    }

    // The store stops taking trail writes (and only those).
    let acl = |rule: &str| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "ACL", "SETUSER", "default", rule])
            .output()
            .expect("redis-cli");
        assert!(String::from_utf8_lossy(&out.stdout).contains("OK"), "{out:?}");
    };
    acl("-xadd");
    let refused = fetch(&rig, &rec.recording_id, false).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("audit trail"), "{}", refused.message());
    acl("+xadd");
    assert!(
        fetch(&rig, &rec.recording_id, false).await.is_ok(),
        "served again once the trail takes writes"
    );
}
