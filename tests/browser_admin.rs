//! The admin page in a real browser, on a two-node cluster on a real Redis
//! with no restart: an admin on node a adds a not-ready reason and an agent
//! with a skill no one had, upgrades a customer to key account and imports
//! customers from a CSV file; the audit log shows who did it. The new agent
//! signs in on the agent page on node b, finds the admin's reason in the
//! not-ready menu, and takes the next call needing that skill (the caller's
//! leg on node a), whose offer shows the customer's new tier; the caller
//! hears the agent's browser.

mod common;

use std::time::{Duration, Instant};

use common::browser::{
    browser, chromedriver, click, go_available, screenshot, select, text, tone_file, type_into, until, web,
    AGENT_HZ, ONE_AT_A_TIME, PATIENCE,
};
use common::media::{hears, tail_power, AudioRig};
use common::redis::RedisServer;
use fantoccini::Client;
use hotline::auth::Role;
use hotline::client::softphone::tone;
use hotline::proto;

const CALLER_HZ: f64 = 440.0;

/// Opens the admin page's tab `key`.
async fn tab(page: &Client, key: &str) {
    click(page, &format!("#tabs button[data-tab='{key}']")).await;
    until(
        page,
        &format!("!document.querySelector(\"section.tab[data-tab='{key}']\").hidden"),
        &format!("the {key} tab shows"),
    )
    .await;
}

/// Waits until the kind's status line says `what`.
async fn saved(page: &Client, kind: &str, what: &str) {
    until(
        page,
        &format!(
            "document.getElementById('{kind}-status').textContent === {}",
            serde_json::json!(what)
        ),
        what,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_an_agent_on_the_admin_page_who_signs_in_on_another_node_and_takes_the_call_needing_her_skill(
) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start();
    let a = AudioRig::cluster_node(&redis, "").await;
    let b = AudioRig::cluster_node(&redis, "").await;
    let files = tempfile::tempdir().expect("tempdir");
    let agent_mic = tone_file(files.path(), "agent.wav", AGENT_HZ);
    let driver = chromedriver();

    // The "strict" line needs the vip skill, which no agent has: its
    // callers are turned away.
    let before = a.server.start_call("+2000", "500").await;
    assert_eq!(
        before.outcome,
        proto::CallOutcome::Rejected as i32,
        "no agent has vip yet"
    );

    // The admin signs in on node a's admin page.
    let admin = browser(&driver, &agent_mic).await;
    let token = a.server.token(Role::Admin, "ada");
    admin
        .goto(&format!("http://{}/admin.html#token={token}", web(&a)))
        .await
        .expect("admin page");
    until(
        &admin,
        "document.querySelectorAll('#agents-rows tr[data-id]').length >= 4",
        "the agents are listed",
    )
    .await;

    // A not-ready reason for coaching sessions.
    tab(&admin, "reason-codes").await;
    click(&admin, "#reason-codes-new").await;
    type_into(&admin, "#reason-codes-form [name=code]", "coaching").await;
    type_into(&admin, "#reason-codes-form [name=label]", "Coaching session").await;
    click(&admin, "#reason-codes-save").await;
    saved(&admin, "reason-codes", "Saved reason code coaching").await;

    // A new hire, zoe, with the vip skill at 6.
    tab(&admin, "agents").await;
    click(&admin, "#agents-new").await;
    type_into(&admin, "#agents-form [name=id]", "zoe").await;
    type_into(&admin, "#agents-form [name=displayName]", "Zoe Li").await;
    click(&admin, "#agents-form [data-field=skills] .add-row").await;
    select(&admin, "#agents-form [data-field=skills] [name=skill]", "vip").await;
    type_into(&admin, "#agents-form [data-field=skills] [name=proficiency]", "6").await;
    click(&admin, "#agents-save").await;
    saved(&admin, "agents", "Saved agent zoe").await;
    assert!(text(&admin, "#agents-rows tr[data-id='zoe']")
        .await
        .contains("vip 6"));

    // smallco becomes a key account, from the customer list's tier menu.
    tab(&admin, "customers").await;
    type_into(&admin, "#customers-search", "+2000").await;
    click(&admin, "section[data-tab='customers'] form.inline button").await;
    until(
        &admin,
        "document.querySelectorAll('#customers-rows tr[data-id]').length === 1 && document.querySelector(\"#customers-rows tr[data-id='smallco']\")",
        "the search finds smallco alone",
    )
    .await;
    select(
        &admin,
        "#customers-rows tr[data-id='smallco'] select[name=tier]",
        &(proto::Tier::KeyAccount as i32).to_string(),
    )
    .await;
    saved(&admin, "customers", "smallco is now Key account").await;

    // Customers from a CSV file; a file with a bad row imports nothing and
    // says which line and field.
    let bad = files.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,name,tier,numbers,account_manager,contract,contract_expires\n\
         newco,New Co,regular,+3000,,none,\n\
         oddco,Odd Co,platinum,+3001,,none,\n",
    )
    .expect("write csv");
    let file_input = admin
        .find(fantoccini::Locator::Css("#customers-file"))
        .await
        .expect("file input");
    file_input
        .send_keys(&bad.display().to_string())
        .await
        .expect("choose file");
    click(&admin, "#customers-import").await;
    until(
        &admin,
        "/line 3.*tier/.test(document.getElementById('customers-import-error').textContent)",
        "the bad file is refused naming line 3's tier",
    )
    .await;
    let good = files.path().join("good.csv");
    std::fs::write(
        &good,
        "id,name,tier,numbers,account_manager,contract,contract_expires\n\
         newco,New Co,regular,+3000,,none,\n\
         keyco,Key Co,key-account,+3001;+3002,zoe,contract,2027-06-30\n",
    )
    .expect("write csv");
    file_input.clear().await.expect("clear file");
    file_input
        .send_keys(&good.display().to_string())
        .await
        .expect("choose file");
    click(&admin, "#customers-import").await;
    until(
        &admin,
        "document.getElementById('customers-import-status').textContent.includes('2 created')",
        "the good file imports two customers",
    )
    .await;
    type_into(&admin, "#customers-search", "keyco").await;
    click(&admin, "section[data-tab='customers'] form.inline button").await;
    until(
        &admin,
        "document.querySelector(\"#customers-rows tr[data-id='keyco'] select[name=tier]\")?.value === '1'",
        "the imported key account is listed",
    )
    .await;

    // The billing queue's form, for people to look at.
    tab(&admin, "queues").await;
    click(&admin, "#queues-rows tr[data-id='billing'] td").await;
    until(
        &admin,
        "document.querySelector('#queues-form [name=ringTimeoutSecs]')?.value === '2'",
        "the billing queue's form shows its ring timeout",
    )
    .await;
    screenshot(&admin, "admin-queue.png").await;

    // The audit log shows who did each of these.
    tab(&admin, "audit").await;
    until(
        &admin,
        "document.querySelector(\"#audit-rows tr[data-kind='agent'][data-id='zoe'][data-actor='ada']\") && document.querySelector(\"#audit-rows tr[data-kind='customer'][data-id='smallco'][data-actor='ada']\") && document.querySelector(\"#audit-rows tr[data-kind='reason-code'][data-id='coaching'][data-actor='ada']\")",
        "the audit shows ada's changes",
    )
    .await;
    let tier_change = text(
        &admin,
        "#audit-rows tr[data-kind='customer'][data-id='smallco'] td.change",
    )
    .await;
    assert!(tier_change.contains("tier"), "{tier_change}");
    screenshot(&admin, "admin-audit.png").await;

    // Node b knows zoe once it has read the change (within a second).
    let deadline = Instant::now() + PATIENCE;
    let mut admin_b = b.server.clients(Role::Supervisor, "sam").admin;
    // (Lists read the node's own copy of the catalog; gets read the store.)
    while admin_b
        .list_agent_profiles(proto::ListRequest {
            filter: "zoe".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .agents
        .is_empty()
    {
        assert!(Instant::now() < deadline, "node b reads zoe");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // zoe signs in on node b; the not-ready menu has ada's reason.
    let agent = browser(&driver, &agent_mic).await;
    let token = b.server.token(Role::Agent, "zoe");
    agent
        .goto(&format!("http://{}/agent.html#token={token}", web(&b)))
        .await
        .expect("agent page");
    until(
        &agent,
        "document.getElementById('audio-status').textContent === 'Softphone connected'",
        "zoe's softphone connects",
    )
    .await;
    until(
        &agent,
        "[...document.querySelectorAll('#state-select option')].some(o => o.value === 'coaching' && o.textContent === 'Not ready: Coaching session')",
        "the not-ready menu offers ada's reason",
    )
    .await;
    assert_eq!(text(&agent, "#who").await, "Zoe Li");
    go_available(&agent).await;

    // smallco calls the vip line on node a: zoe gets it, as a key account.
    let call = a.server.start_call("+2000", "500").await;
    let caller = a.caller(&call.call_id, tone(CALLER_HZ, 8000)).await;
    until(
        &agent,
        "!document.getElementById('offer').hidden",
        "zoe is offered the call",
    )
    .await;
    assert_eq!(text(&agent, "#offer-queue").await, "strict");
    assert_eq!(text(&agent, "#offer-tier").await, "Key account");
    screenshot(&agent, "admin-new-agent-offer.png").await;
    click(&agent, "#accept").await;
    until(
        &agent,
        "!document.getElementById('live').hidden",
        "the call is live",
    )
    .await;
    let live = a.server.get_call(&call.call_id).await;
    assert_eq!(live.agent_id, "zoe");
    assert_eq!(live.tier, proto::Tier::KeyAccount as i32);
    let from = caller.heard_len();
    let heard = hears(&caller, from, AGENT_HZ, 1.0, 0.3).await;
    assert!(
        tail_power(&heard, AGENT_HZ, 1.0) > 0.3,
        "the caller on node a hears zoe's browser on node b ({:.2})",
        tail_power(&heard, AGENT_HZ, 1.0)
    );
    click(&agent, "#hangup").await;
    until(
        &agent,
        "!document.getElementById('wrapup').hidden",
        "the wrap-up form shows",
    )
    .await;

    for page in [admin, agent] {
        let _ = page.close().await;
    }
}
