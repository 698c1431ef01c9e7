//! Softphones behind NAT: the pages take their ICE servers from hotline
//! (`SessionService.GetIceServers`), with TURN credentials made from the
//! secret hotline shares with a real coturn. With `relay_only`, the agent's
//! and the caller's browsers (headless Chromium) offer relayed candidates
//! only, so every packet goes through coturn: the call still carries both
//! tones, the caller's on the left of the recording and the agent's on the
//! right.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::{
    browser, chromedriver, click, go_available, text, tone_file, until, web, AGENT_HZ, CALLER_HZ,
    ONE_AT_A_TIME,
};
use common::media::{assert_sides, finished_recording, AudioRig};
use common::turn::Turn;
use fantoccini::Locator;
use hotline::auth::Role;
use hotline::proto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_browsers_talk_through_coturn_with_credentials_hotline_made() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let files = tempfile::tempdir().expect("tempdir");
    let turn = Turn::start(files.path());
    let config = common::CONFIG.replacen("ring_timeout_secs = 2", "ring_timeout_secs = 30", 1);
    let rig = AudioRig::on_config(&format!("{config}{}", turn.config(true)), "").await;

    // What the pages are given: coturn, credentials for this user, relay only.
    let ice = rig
        .server
        .clients(Role::Agent, "alice")
        .session
        .get_ice_servers(proto::GetIceServersRequest {})
        .await
        .expect("ice servers")
        .into_inner();
    assert!(ice.relay_only);
    let server = &ice.ice_servers[0];
    assert_eq!(
        server.urls,
        [format!("turn:127.0.0.1:{}?transport=udp", turn.port)]
    );
    assert!(server.username.ends_with(":alice"), "{}", server.username);
    assert!(ice.expires_at_unix_ms > 0);

    let caller_mic = tone_file(files.path(), "caller.wav", CALLER_HZ);
    let agent_mic = tone_file(files.path(), "agent.wav", AGENT_HZ);
    let driver = chromedriver();
    let web = web(&rig);

    let agent = browser(&driver, &agent_mic).await;
    let token = rig.server.token(Role::Agent, "alice");
    agent
        .goto(&format!("http://{web}/agent.html#token={token}"))
        .await
        .expect("agent page");
    until(
        &agent,
        "document.getElementById('audio-status').textContent === 'Softphone connected'",
        "the agent's softphone connects through coturn",
    )
    .await;
    until(
        &agent,
        "document.getElementById('remote').dataset.path === 'relay'",
        "the agent's audio path is the relay",
    )
    .await;
    go_available(&agent).await;

    let caller = browser(&driver, &caller_mic).await;
    let token = rig.server.token(Role::Telephony, "web-widget");
    caller
        .goto(&format!("http://{web}/caller.html#token={token}"))
        .await
        .expect("caller page");
    for (field, value) in [("#dnis", "100"), ("#ani", "+2000")] {
        let input = caller.find(Locator::Css(field)).await.expect(field);
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }
    click(&caller, "#call").await;
    until(
        &agent,
        "!document.getElementById('offer').hidden",
        "the offer shows",
    )
    .await;
    click(&agent, "#accept").await;
    until(
        &agent,
        "!document.getElementById('live').hidden",
        "the call is live",
    )
    .await;
    let call_id = text(&agent, "#live-call").await;
    until(
        &caller,
        "document.getElementById('status').textContent === 'Talking to an agent'",
        "the caller is connected",
    )
    .await;
    until(
        &caller,
        "document.getElementById('remote').dataset.path === 'relay'",
        "the caller's audio path is the relay",
    )
    .await;
    // They talk long enough for the recording to judge.
    tokio::time::sleep(Duration::from_secs(3)).await;
    click(&agent, "#hangup").await;
    until(&agent, "!document.getElementById('wrapup').hidden", "wrap-up").await;

    let rec = finished_recording(&rig, &call_id).await;
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join("turn-call.wav");
    std::fs::create_dir_all(kept.parent().expect("folder")).expect("folder");
    std::fs::copy(rig.recording_file(&rec), &kept).expect("keep the recording");
    assert_sides(
        &kept,
        CALLER_HZ,
        AGENT_HZ,
        ("the caller's relayed browser", "the agent's relayed browser"),
    );
    // coturn saw hotline's credentials and relayed for alice.
    let log = turn.log_text();
    assert!(log.contains(":alice"), "coturn's log names alice's allocation");

    for page in [agent, caller] {
        let _ = page.close().await;
    }
}
