//! The admin catalog through AdminService on a two-node cluster over a real
//! Redis: changes reach routing on every node with no restart, etags refuse
//! stale writes, the audit says who changed what, and bad input is refused
//! naming the field with nothing stored lost.

mod common;

use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::*;
use hotline::auth::Role;
use hotline::client::Clients;
use hotline::proto;
use prost_types::FieldMask;

fn config_for(redis: &RedisServer) -> String {
    format!(
        "{CONFIG}\n[store]\nurl = \"{}\"\nnamespace = \"admin\"\n[cluster]\nlease_ms = 1500\n",
        redis.url()
    )
}

fn admin(node: &TestServer) -> Clients {
    node.clients(Role::Admin, "ada")
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// Waits until `node` has the entry point (changes spread by polling).
async fn until_node_routes(node: &TestServer, number: &str) {
    let deadline = Instant::now() + SOON;
    let mut c = node.supervisor();
    loop {
        let found = c
            .admin
            .get_entry_point(proto::GetRequest { id: number.into() })
            .await
            .is_ok()
            && c.admin
                .list_entry_points(proto::ListRequest {
                    filter: number.into(),
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().entry_points.iter().any(|e| e.number == number))
                .unwrap_or(false);
        if found {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "entry point {number} never reached the node"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_skill_given_through_the_api_routes_on_either_node_without_a_restart() {
    let redis = RedisServer::start();
    let a = TestServer::with_config(&config_for(&redis)).await;
    let b = TestServer::with_config(&config_for(&redis)).await;
    let mut ada = admin(&a);
    ada.admin
        .create_skill(proto::CreateSkillRequest {
            skill: Some(proto::Skill {
                name: "french".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("skill");
    ada.admin
        .create_queue(proto::CreateQueueRequest {
            queue: Some(proto::Queue {
                name: "french".into(),
                required_skills: vec![proto::SkillRequirement {
                    skill: "french".into(),
                    min_proficiency: 5,
                    optional: false,
                }],
                ..Default::default()
            }),
        })
        .await
        .expect("queue");
    ada.admin
        .create_entry_point(proto::CreateEntryPointRequest {
            entry_point: Some(proto::EntryPoint {
                number: "600".into(),
                queue: "french".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("entry point");
    // bob, on node b, has no French yet: a French call waits.
    let mut bob = b.agent("bob").await;
    until_node_routes(&b, "600").await;
    let first = b.start_call("+3001", "600").await;
    assert!(
        !bob.gets_offer_within(Duration::from_millis(500)).await,
        "bob has no French"
    );
    let before = ada
        .admin
        .get_agent_profile(proto::GetRequest { id: "bob".into() })
        .await
        .expect("bob")
        .into_inner();
    let mut given = before.clone();
    given.skills.push(proto::SkillLevel {
        skill: "french".into(),
        proficiency: 6,
    });
    let after = ada
        .admin
        .update_agent_profile(proto::UpdateAgentProfileRequest {
            agent: Some(given),
            update_mask: mask(&["skills"]),
        })
        .await
        .expect("update")
        .into_inner();
    assert_ne!(after.etag, before.etag, "a write moves the etag");
    // The waiting call, and the next one entering the other node, reach him.
    assert_eq!(bob.expect_offer(SOON).await.call_id, first.call_id);
    bob.accept(&first.call_id).await;
    bob.hangup(&first.call_id).await;
    bob.wrap_up(&first.call_id, proto::Disposition::Resolved, "billing")
        .await;
    let next = a.start_call("+3002", "600").await;
    assert_eq!(bob.expect_offer(SOON).await.call_id, next.call_id);

    // A stale etag is refused, and changes nothing.
    let mut stale = before.clone();
    stale.display_name = "Robert".into();
    let err = ada
        .admin
        .update_agent_profile(proto::UpdateAgentProfileRequest {
            agent: Some(stale),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect_err("stale");
    assert_eq!(err.code(), tonic::Code::Aborted, "{err:?}");
    let now = b
        .supervisor()
        .admin
        .get_agent_profile(proto::GetRequest { id: "bob".into() })
        .await
        .expect("bob")
        .into_inner();
    assert_eq!(
        (now.display_name.as_str(), now.etag.as_str()),
        ("", after.etag.as_str())
    );

    // The audit, read on the other node, says who changed what.
    let audit = b
        .supervisor()
        .admin
        .list_audit_entries(proto::ListAuditEntriesRequest {
            kind: "agent".into(),
            id: "bob".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .entries;
    let change = audit.first().expect("bob's change is audited");
    assert_eq!(
        (change.actor.as_str(), change.action.as_str()),
        ("ada", "updated")
    );
    assert!(
        !change.before_json.contains("french") && change.after_json.contains("french"),
        "{change:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_upgraded_to_key_account_gets_that_tier_on_their_next_call() {
    let redis = RedisServer::start();
    let a = TestServer::with_config(&config_for(&redis)).await;
    let b = TestServer::with_config(&config_for(&redis)).await;
    let before = a.start_call("+2000", "100").await;
    assert_eq!(before.tier, proto::Tier::Regular as i32);
    a.end_call(&before.call_id).await;
    let mut ada = admin(&b);
    let smallco = ada
        .admin
        .get_customer(proto::GetRequest { id: "smallco".into() })
        .await
        .expect("smallco")
        .into_inner();
    ada.admin
        .update_customer(proto::UpdateCustomerRequest {
            customer: Some(proto::Customer {
                tier: proto::Tier::KeyAccount as i32,
                ..smallco
            }),
            update_mask: mask(&["tier"]),
        })
        .await
        .expect("upgrade");
    // Node a learns it within a poll; the caller's next call shows it.
    let deadline = Instant::now() + SOON;
    loop {
        let call = a.start_call("+2000", "100").await;
        a.end_call(&call.call_id).await;
        if call.tier == proto::Tier::KeyAccount as i32 {
            assert_eq!(call.customer_id, "smallco");
            assert_eq!(call.priority_ms, 300_000, "a key account's head start");
            break;
        }
        assert!(Instant::now() < deadline, "the upgrade never reached node a");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_catalog_input_is_refused_naming_the_field_and_loses_nothing() {
    let s = TestServer::start().await;
    let mut ada = admin(&s);
    let bob = || proto::AgentProfile {
        id: "bob".into(),
        ..Default::default()
    };
    let refused = |agent: proto::AgentProfile| {
        let mut ada = admin(&s);
        async move {
            ada.admin
                .update_agent_profile(proto::UpdateAgentProfileRequest {
                    agent: Some(agent),
                    update_mask: mask(&["skills"]),
                })
                .await
                .expect_err("refused")
        }
    };
    let unknown = refused(proto::AgentProfile {
        skills: vec![proto::SkillLevel {
            skill: "klingon".into(),
            proficiency: 5,
        }],
        ..bob()
    })
    .await;
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().starts_with("skills: unknown skill klingon"),
        "{}",
        unknown.message()
    );
    let range = refused(proto::AgentProfile {
        skills: vec![proto::SkillLevel {
            skill: "billing".into(),
            proficiency: 11,
        }],
        ..bob()
    })
    .await;
    assert!(
        range.message().starts_with("skills[0].proficiency"),
        "{}",
        range.message()
    );
    let mask_err = ada
        .admin
        .update_agent_profile(proto::UpdateAgentProfileRequest {
            agent: Some(bob()),
            update_mask: mask(&["shoe_size"]),
        })
        .await
        .expect_err("unknown field");
    assert!(
        mask_err.message().starts_with("update_mask"),
        "{}",
        mask_err.message()
    );
    let date = ada
        .admin
        .create_customer(proto::CreateCustomerRequest {
            customer: Some(proto::Customer {
                id: "initech".into(),
                contract: "contract".into(),
                contract_expires: "2027-02-30".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("no such day");
    assert!(
        date.message().starts_with("contract_expires"),
        "{}",
        date.message()
    );
    let taken = ada
        .admin
        .create_customer(proto::CreateCustomerRequest {
            customer: Some(proto::Customer {
                id: "initech".into(),
                numbers: vec!["+1000".into()],
                ..Default::default()
            }),
        })
        .await
        .expect_err("bigco's number");
    assert!(taken.message().contains("bigco"), "{}", taken.message());
    let in_use = ada
        .admin
        .delete_skill(proto::DeleteRequest {
            id: "billing".into(),
            etag: String::new(),
        })
        .await
        .expect_err("used");
    assert_eq!(in_use.code(), tonic::Code::FailedPrecondition);
    // Nothing of it landed: bob keeps his skills and routes as before.
    let kept = ada
        .admin
        .get_agent_profile(proto::GetRequest { id: "bob".into() })
        .await
        .expect("bob")
        .into_inner();
    assert_eq!(kept.skills.len(), 2);
    assert!(ada
        .admin
        .get_customer(proto::GetRequest { id: "initech".into() })
        .await
        .is_err());
    let mut alice = s.agent("alice").await;
    let call = s.start_call("+4000", "100").await;
    assert_eq!(alice.expect_offer(SOON).await.call_id, call.call_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_write_the_catalog_and_supervisors_read_it() {
    let s = TestServer::start().await;
    let skill = || proto::CreateSkillRequest {
        skill: Some(proto::Skill {
            name: "welsh".into(),
            ..Default::default()
        }),
    };
    let sup = s
        .supervisor()
        .admin
        .create_skill(skill())
        .await
        .expect_err("supervisor");
    assert_eq!(sup.code(), tonic::Code::PermissionDenied);
    let agent = s
        .clients(Role::Agent, "alice")
        .admin
        .list_skills(proto::ListRequest::default())
        .await
        .expect_err("agent");
    assert_eq!(agent.code(), tonic::Code::PermissionDenied);
    // Agents read the choices their softphone offers.
    s.clients(Role::Agent, "alice")
        .admin
        .list_reason_codes(proto::ListRequest::default())
        .await
        .expect("agents read reason codes");
    s.clients(Role::Agent, "alice")
        .admin
        .list_wrap_up_categories(proto::ListRequest::default())
        .await
        .expect("and wrap-up categories");
    let listed = s
        .supervisor()
        .admin
        .list_skills(proto::ListRequest::default())
        .await
        .expect("supervisors read")
        .into_inner();
    assert_eq!(listed.total_size, 4, "the seed's skills");
    // Paging: two pages of two, in name order.
    let mut c = s.supervisor();
    let first = c
        .admin
        .list_skills(proto::ListRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = c
        .admin
        .list_skills(proto::ListRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = first
        .skills
        .iter()
        .chain(&second.skills)
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, ["billing", "repairs", "spanish", "vip"]);
    assert!(second.next_page_token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_password_set_through_the_api_registers_a_phone_on_another_node() {
    use common::sip::{free_udp_port, register_phone};
    let redis = RedisServer::start();
    let with_sip = |r: &RedisServer| format!("{}\n[sip]\nlisten = \"127.0.0.1:0\"\n", config_for(r));
    let a = TestServer::with_config(&with_sip(&redis)).await;
    let b = TestServer::with_config(&with_sip(&redis)).await;
    let sip_b = b.server.as_ref().unwrap().sip_addr.expect("b takes SIP");
    let dir = tempfile::tempdir().unwrap();
    assert!(
        !register_phone(dir.path(), sip_b, free_udp_port(), "alice", "alice-new-pw", 60).await,
        "alice has no phone yet"
    );
    let mut ada = admin(&a);
    ada.admin
        .update_agent_profile(proto::UpdateAgentProfileRequest {
            agent: Some(proto::AgentProfile {
                id: "alice".into(),
                sip_password: "alice-new-pw".into(),
                ..Default::default()
            }),
            update_mask: mask(&["sip_password"]),
        })
        .await
        .expect("password set");
    let got = ada
        .admin
        .get_agent_profile(proto::GetRequest { id: "alice".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        got.has_sip_password && got.sip_password.is_empty(),
        "write-only: {got:?}"
    );
    let deadline = Instant::now() + SOON;
    while !register_phone(dir.path(), sip_b, free_udp_port(), "alice", "alice-new-pw", 60).await {
        assert!(
            Instant::now() < deadline,
            "node b never took alice's new phone account"
        );
    }
    assert!(
        !register_phone(dir.path(), sip_b, free_udp_port(), "dave", "wrong-pw", 60).await,
        "a wrong password is still refused"
    );
}
