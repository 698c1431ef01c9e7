//! Keypad menus are catalog objects: added through AdminService on one node
//! of a two-node cluster on Redis, they answer phone callers (sipp) on the
//! other, with no restart. A menu's own recording comes from the node's
//! prompts folder; one the node cannot read is never silence: the caller
//! hears the built-in prompt, still picks a queue, and the operator sees
//! `hotline_prompts_unreadable_total`. Bad menus are refused naming the
//! field.

mod common;

use std::time::{Duration, Instant};

use common::media::{write_tone_wav, AudioRig};
use common::metrics::{counter, scrape};
use common::redis::RedisServer;
use common::sip::{finished, scenario, sipp, ulaw_tone};
use common::{TestServer, SOON};
use hotline::auth::Role;
use hotline::client::softphone::tone;
use hotline::proto;

const UNREADABLE: &str = "hotline_prompts_unreadable_total{prompt=\"keypad_menu\"}";

fn menu(number: &str, prompt: &str) -> proto::KeypadMenu {
    proto::KeypadMenu {
        number: number.into(),
        description: "press 2 for repairs".into(),
        prompt: prompt.into(),
        options: vec![proto::KeypadOption {
            key: "2".into(),
            entry_point: "200".into(),
        }],
        timeout_secs: 3,
        default_entry_point: "100".into(),
        ..Default::default()
    }
}

/// A phone caller dials `number` on `rig`'s trunk and presses 2; `carol`
/// is offered the call and handles it; the caller rates it.
async fn phone_call_through_the_menu(rig: &AudioRig, carol: &mut common::Agent, number: &str) {
    let sip = rig
        .server
        .server
        .as_ref()
        .and_then(|s| s.sip_addr)
        .expect("the SIP trunk listens");
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = ulaw_tone(dir.path(), 440.0, 1);
    let caller = sipp(
        &scenario(dir.path(), "menu_survey.xml", &audio),
        number,
        sip,
        dir.path(),
    );
    let offered = carol.expect_offer(Duration::from_secs(15)).await;
    assert_eq!(offered.queue, "repairs", "key 2 chose repairs on menu {number}");
    carol.accept(&offered.call_id).await;
    carol.hangup(&offered.call_id).await;
    carol
        .wrap_up(&offered.call_id, proto::Disposition::Resolved, "repairs")
        .await;
    let (ok, errors) = finished(caller, Duration::from_secs(30)).await;
    assert!(
        ok,
        "the caller's call through menu {number} ran to its end: {errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_added_on_one_node_answers_phone_callers_on_another_and_a_missing_recording_is_not_silence() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hotline=info")
        .try_init();
    let redis = RedisServer::start();
    let prompts = tempfile::tempdir().expect("tempdir");
    write_tone_wav(&prompts.path().join("repairs-menu.wav"), 700.0, 1);
    let sip = format!(
        "\n[sip]\nlisten = \"127.0.0.1:0\"\nsurvey_timeout_secs = 3\nprompts_dir = {:?}\n",
        prompts.path().display().to_string()
    );
    let a = AudioRig::cluster_node(&redis, "").await;
    let b = AudioRig::cluster_node(&redis, &sip).await;

    // An admin on node a adds two menus: one with a recording node b has,
    // one whose recording is missing.
    let mut admin = a.server.clients(Role::Admin, "ada").admin;
    for (number, prompt) in [("900", "repairs-menu.wav"), ("901", "missing.wav")] {
        admin
            .create_keypad_menu(proto::CreateKeypadMenuRequest {
                keypad_menu: Some(menu(number, prompt)),
            })
            .await
            .expect("menu created");
    }
    // (Lists read the node's own copy of the catalog; gets read the store.)
    let mut on_b = b.server.clients(Role::Supervisor, "sam").admin;
    let deadline = Instant::now() + SOON;
    let listed = loop {
        let listed = on_b
            .list_keypad_menus(proto::ListRequest::default())
            .await
            .expect("list")
            .into_inner();
        if listed.total_size == 2 {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "node b reads the new menus: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(listed.keypad_menus[0].options[0].entry_point, "200");

    let mut carol = a.server.agent("carol").await;
    carol.not_ready("setting up").await;
    let _phone = a.softphone(&mut carol, tone(1000.0, 8000)).await;
    carol.available().await;
    let metrics = b
        .server
        .server
        .as_ref()
        .and_then(|s| s.metrics_addr)
        .expect("metrics listener");
    let unreadable_before = counter(&scrape(metrics).await, UNREADABLE);

    phone_call_through_the_menu(&b, &mut carol, "900").await;
    assert_eq!(
        counter(&scrape(metrics).await, UNREADABLE),
        unreadable_before,
        "node b read repairs-menu.wav"
    );
    phone_call_through_the_menu(&b, &mut carol, "901").await;
    assert_eq!(
        counter(&scrape(metrics).await, UNREADABLE),
        unreadable_before + 1.0,
        "the missing recording is counted (the built-in prompt played)"
    );

    // Deleting the entry point a menu names is refused; the menu goes
    // first, and then it may.
    let ep = admin
        .get_entry_point(proto::GetRequest { id: "200".into() })
        .await
        .expect("entry point")
        .into_inner();
    let refused = admin
        .delete_entry_point(proto::DeleteRequest {
            id: "200".into(),
            etag: ep.etag.clone(),
        })
        .await
        .expect_err("a menu names it");
    assert!(refused.message().contains("keypad menu"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_menu_is_refused_naming_the_field_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let mut admin = s.clients(Role::Admin, "ada").admin;
    let cases: Vec<(proto::KeypadMenu, &str)> = vec![
        (
            proto::KeypadMenu {
                options: vec![proto::KeypadOption {
                    key: "2".into(),
                    entry_point: "999".into(),
                }],
                ..menu("900", "builtin")
            },
            "options.2",
        ),
        (
            proto::KeypadMenu {
                options: vec![proto::KeypadOption {
                    key: "12".into(),
                    entry_point: "200".into(),
                }],
                ..menu("900", "builtin")
            },
            "options",
        ),
        (
            proto::KeypadMenu {
                options: vec![
                    proto::KeypadOption {
                        key: "2".into(),
                        entry_point: "200".into(),
                    },
                    proto::KeypadOption {
                        key: "2".into(),
                        entry_point: "100".into(),
                    },
                ],
                ..menu("900", "builtin")
            },
            "options[1].key",
        ),
        (menu("900", "../../etc/passwd"), "prompt"),
        (menu("900", "welcome.exe"), "prompt"),
        (menu("100", "builtin"), "number"),
        (
            proto::KeypadMenu {
                default_entry_point: "nowhere".into(),
                ..menu("900", "builtin")
            },
            "default_entry_point",
        ),
        (
            proto::KeypadMenu {
                timeout_secs: 3600,
                ..menu("900", "builtin")
            },
            "timeout_secs",
        ),
        (
            proto::KeypadMenu {
                options: Vec::new(),
                ..menu("900", "builtin")
            },
            "options",
        ),
    ];
    for (bad, field) in cases {
        let err = admin
            .create_keypad_menu(proto::CreateKeypadMenuRequest {
                keypad_menu: Some(bad.clone()),
            })
            .await
            .expect_err(field);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err}");
        assert!(err.message().starts_with(field), "{err} should name {field}");
        assert!(err.message().len() < 300, "a short message: {err}");
    }
    let listed = admin
        .list_keypad_menus(proto::ListRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total_size, 0, "nothing was stored: {listed:?}");
    // An entry point may not take a menu's number either.
    admin
        .create_keypad_menu(proto::CreateKeypadMenuRequest {
            keypad_menu: Some(menu("900", "builtin")),
        })
        .await
        .expect("a good menu");
    let err = s
        .clients(Role::Admin, "ada")
        .admin
        .create_entry_point(proto::CreateEntryPointRequest {
            entry_point: Some(proto::EntryPoint {
                number: "900".into(),
                queue: "billing".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("900 is a menu");
    assert!(err.message().starts_with("number"), "{err}");
}
