//! The web app in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`), driven over WebDriver, with fake microphones
//! playing tone files. An agent signs in on the softphone page and goes
//! available, a caller calls in from the "call us" page, the agent sees the
//! offer, accepts, talks, hangs up and wraps up; a supervisor listens in
//! from the console; the recording holds the caller's 440 Hz on the left
//! and the agent's 1 kHz on the right. Screenshots of the agent's offer and
//! of the wallboard under demo load are written to
//! `target/tmp/browser/` for people to look at.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::{
    browser, chromedriver, click, free_port, go_available, open_agent_page, screenshot, select, text,
    tone_file, until, web, AGENT_HZ, CALLER_HZ, ONE_AT_A_TIME, PATIENCE,
};
use common::media::{assert_sides, channel_share, finished_recording, AudioRig};
use fantoccini::{Client, Locator};
use hotline::auth::{Role, TokenKeys};
use hotline::proto;
use hotline::time::Timestamp;

/// Waits until the caller page's status line reads `status`.
async fn caller_shows(caller: &Client, status: &str, what: &str) {
    until(
        caller,
        &format!("document.getElementById('status').textContent === '{status}'"),
        what,
    )
    .await;
}

/// Whether the monitor audit of `call_id` holds a session of `supervisor`
/// in `mode`.
async fn audited(rig: &AudioRig, call_id: &str, supervisor: &str, mode: proto::MonitorMode) -> bool {
    let audit = rig
        .server
        .supervisor()
        .supervisor
        .list_monitor_audit(proto::ListMonitorAuditRequest {
            call_id: call_id.into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    audit
        .entries
        .iter()
        .any(|e| e.supervisor == supervisor && e.mode == mode as i32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_agent_takes_a_browser_callers_call_while_a_supervisor_listens() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // People, not scripts, answer here: the offer rings long enough to
    // look at it (the test configuration's 2 s is for routing tests).
    let config = common::CONFIG.replacen("ring_timeout_secs = 2", "ring_timeout_secs = 30", 1);
    let rig = AudioRig::on_config(&config, "").await;
    let web = web(&rig);
    let files = tempfile::tempdir().expect("tempdir");
    let caller_mic = tone_file(files.path(), "caller.wav", CALLER_HZ);
    let agent_mic = tone_file(files.path(), "agent.wav", AGENT_HZ);
    let driver = chromedriver();

    // The customer called before: bob left the issue unresolved, then went
    // home. The offer will show that contact and the open issue.
    let earlier = rig.server.start_call("+2000", "100").await;
    let mut bob = rig.server.agent("bob").await;
    bob.expect_offer(Duration::from_secs(5)).await;
    bob.accept(&earlier.call_id).await;
    bob.hangup(&earlier.call_id).await;
    bob.wrap_up(&earlier.call_id, proto::Disposition::Unresolved, "late-fee")
        .await;
    rig.server
        .supervisor()
        .supervisor
        .set_agent_state(proto::SupervisorSetAgentStateRequest {
            agent_id: "bob".into(),
            state: proto::AgentState::LoggedOut as i32,
            reason: "shift over".into(),
            request_id: String::new(),
        })
        .await
        .expect("bob logs out");

    // An admin adds a not-ready reason: the softphone offers it (its
    // reasons and categories come from the catalog).
    rig.server
        .clients(Role::Admin, "ada")
        .admin
        .create_reason_code(proto::CreateReasonCodeRequest {
            reason_code: Some(proto::ReasonCode {
                code: "coaching".into(),
                label: "Coaching session".into(),
                active: true,
                ..Default::default()
            }),
        })
        .await
        .expect("reason code");

    // The agent signs in (token in the fragment) and goes available once
    // the softphone's audio is up.
    let agent = browser(&driver, &agent_mic).await;
    let token = rig.server.token(Role::Agent, "alice");
    open_agent_page(&agent, web, &token).await;
    until(
        &agent,
        "[...document.querySelectorAll('#state-select option')].some(o => o.value === 'coaching' && o.textContent === 'Not ready: Coaching session')",
        "the not-ready menu offers the reason the admin added",
    )
    .await;
    go_available(&agent).await;
    assert_eq!(
        rig.server.agent_record("alice").await.state,
        proto::AgentState::Available as i32
    );

    // A caller calls the billing line from the "call us" page.
    let caller = browser(&driver, &caller_mic).await;
    let token = rig.server.token(Role::Telephony, "web-widget");
    caller
        .goto(&format!("http://{web}/caller.html#token={token}"))
        .await
        .expect("caller page");
    let dnis = caller.find(Locator::Css("#dnis")).await.expect("dnis");
    dnis.clear().await.expect("clear");
    dnis.send_keys("100").await.expect("type");
    let ani = caller.find(Locator::Css("#ani")).await.expect("ani");
    ani.clear().await.expect("clear");
    ani.send_keys("+2000").await.expect("type");
    click(&caller, "#call").await;

    // The offer shows the caller, tier and queue; the agent accepts.
    until(
        &agent,
        "!document.getElementById('offer').hidden",
        "the offer shows",
    )
    .await;
    assert_eq!(text(&agent, "#offer-ani").await, "+2000");
    assert_eq!(text(&agent, "#offer-tier").await, "Regular");
    assert_eq!(text(&agent, "#offer-queue").await, "billing");
    assert_eq!(text(&agent, "#offer-customer").await, "smallco");
    assert_eq!(text(&agent, "#offer-open").await, "1 (late-fee)");
    let history = text(&agent, "#offer-history").await;
    assert!(
        history.contains("late-fee") && history.contains("Unresolved") && history.contains("bob"),
        "{history}"
    );
    screenshot(&agent, "agent-offer.png").await;
    click(&agent, "#accept").await;
    until(
        &agent,
        "!document.getElementById('live').hidden",
        "the call is live",
    )
    .await;
    let call_id = text(&agent, "#live-call").await;
    assert!(!call_id.is_empty(), "the live call names its id");
    caller_shows(
        &caller,
        "Talking to an agent",
        "the caller's page shows the call connected",
    )
    .await;

    // The supervisor sees the call live and listens in: the console's
    // meter moves with what it hears, and the session is audited.
    let supervisor_mic = tone_file(files.path(), "supervisor.wav", 300.0);
    let supervisor = browser(&driver, &supervisor_mic).await;
    let token = rig.server.token(Role::Supervisor, "sam");
    supervisor
        .goto(&format!("http://{web}/supervisor.html#token={token}"))
        .await
        .expect("supervisor page");
    let row = format!("#calls tr[data-call='{call_id}']");
    until(
        &supervisor,
        &format!("document.querySelector(\"{row}\")"),
        "the live call is listed",
    )
    .await;
    until(
        &supervisor,
        &format!("document.querySelector(\"{row}\")?.textContent.includes('+2000')"),
        "the listed call shows the caller",
    )
    .await;
    supervisor
        .execute(
            &format!("document.querySelector(\"{row} button\").click();"),
            vec![],
        )
        .await
        .expect("click Listen");
    until(
        &supervisor,
        "!document.getElementById('monitor').hidden",
        "listening starts",
    )
    .await;
    assert!(text(&supervisor, "#monitor-what").await.starts_with("Listening"));
    until(
        &supervisor,
        "parseFloat(document.getElementById('monitor-bar').style.width) > 0",
        "the supervisor hears the call (frames arrive with sound)",
    )
    .await;
    assert!(audited(&rig, &call_id, "sam", proto::MonitorMode::Listen).await);
    screenshot(&supervisor, "supervisor-listening.png").await;

    // The agent holds and resumes; the caller's page follows.
    click(&agent, "#hold").await;
    until(
        &agent,
        "!document.getElementById('live-hold').hidden",
        "the call shows on hold",
    )
    .await;
    caller_shows(&caller, "On hold", "the caller's page shows the hold").await;
    assert!(rig.server.get_call(&call_id).await.on_hold);
    click(&agent, "#hold").await;
    until(
        &agent,
        "document.getElementById('live-hold').hidden",
        "the call resumes",
    )
    .await;
    caller_shows(
        &caller,
        "Talking to an agent",
        "the caller's page shows the call resumed",
    )
    .await;

    // The supervisor stops listening and whispers to the agent instead: a
    // WebRTC leg from the console's microphone, audited as a whisper.
    click(&supervisor, "#monitor-stop").await;
    until(
        &supervisor,
        "document.getElementById('monitor').hidden",
        "listening stops",
    )
    .await;
    supervisor
        .execute(
            &format!("document.querySelectorAll(\"{row} button\")[1].click();"),
            vec![],
        )
        .await
        .expect("click Whisper");
    until(
        &supervisor,
        "document.getElementById('monitor').dataset.connection === 'connected'",
        "the whisper leg connects",
    )
    .await;
    assert!(text(&supervisor, "#monitor-what").await.starts_with("Whispering"));
    assert!(audited(&rig, &call_id, "sam", proto::MonitorMode::Whisper).await);
    click(&supervisor, "#monitor-stop").await;

    // They talk a while; the agent hangs up and wraps up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    click(&agent, "#hangup").await;
    until(
        &agent,
        "!document.getElementById('wrapup').hidden",
        "the wrap-up form shows",
    )
    .await;
    select(&agent, "#wrapup-category", "billing").await;
    agent
        .find(Locator::Css("#wrapup-notes"))
        .await
        .expect("notes")
        .send_keys("Explained the late fee; refunded.")
        .await
        .expect("type notes");
    click(&agent, "#wrapup-done").await;
    until(
        &agent,
        "!document.getElementById('idle').hidden",
        "the agent is back to idle",
    )
    .await;
    caller_shows(&caller, "Call ended", "the caller's page shows the call ended").await;

    // The recording: the caller's browser on the left, the agent's on the
    // right; the wrap-up's outcome is on it.
    let rec = finished_recording(&rig, &call_id).await;
    assert_eq!(rec.agent_id, "alice");
    assert_eq!(rec.disposition, proto::Disposition::Resolved as i32);
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join("browser-call.wav");
    std::fs::copy(rig.recording_file(&rec), &kept).expect("keep the recording");
    // (Wideband, 16 kHz, when the browsers speak Opus.)
    assert_sides(
        &kept,
        CALLER_HZ,
        AGENT_HZ,
        ("the caller's browser", "the agent's browser"),
    );
    assert!(
        channel_share(&kept, 0, AGENT_HZ) < 0.1,
        "the agent is not on the left"
    );

    // The supervisor finds the recording and plays it in the page.
    click(&supervisor, "#recording-search button").await;
    let rec_row = format!("#recordings tr[data-call='{call_id}']");
    until(
        &supervisor,
        &format!("document.querySelector(\"{rec_row} button\")"),
        "the recording is listed with a Play button",
    )
    .await;
    supervisor
        .execute(
            &format!("document.querySelector(\"{rec_row} button\").click();"),
            vec![],
        )
        .await
        .expect("click Play");
    until(
        &supervisor,
        &format!(
            "document.getElementById('playback').dataset.recording === '{}' && document.getElementById('playback').duration > 3",
            rec.recording_id
        ),
        "the recording plays in the page",
    )
    .await;

    // The caller calls again; this time the agent declines: the offer
    // goes, she is available again and the caller waits on (passed over by
    // her for the queue's re-offer delay).
    click(&caller, "#call").await;
    until(
        &agent,
        "!document.getElementById('offer').hidden",
        "the second offer shows",
    )
    .await;
    click(&agent, "#decline").await;
    until(
        &agent,
        "document.getElementById('offer').hidden",
        "the declined offer goes",
    )
    .await;
    until(
        &agent,
        "document.getElementById('state').textContent === 'Available'",
        "the agent is available after declining",
    )
    .await;
    caller_shows(&caller, "Waiting for an agent", "the caller waits on").await;

    // The supervisor logs the agent out; the softphone shows it.
    supervisor
        .execute(
            "document.querySelector(\"#agents tr[data-agent='alice'] button\").click();",
            vec![],
        )
        .await
        .expect("click Log out");
    supervisor.accept_alert().await.expect("confirm the log-out");
    until(
        &agent,
        "document.getElementById('state').textContent === 'Logged out'",
        "the agent's page shows the log-out",
    )
    .await;
    assert_eq!(
        rig.server.agent_record("alice").await.state,
        proto::AgentState::LoggedOut as i32
    );

    for page in [agent, caller, supervisor] {
        let _ = page.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_wallboard_shows_the_floor_under_demo_load() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut config = hotline::config::Config::load(None).expect("the built-in config");
    let dir = tempfile::tempdir().expect("tempdir");
    config.media.recordings_dir = dir.path().join("recordings");
    let port = free_port();
    let token = TokenKeys::new(config.auth.secret.as_bytes())
        .mint(
            Role::Supervisor,
            "floor-manager",
            Duration::from_secs(600),
            Timestamp::now_wall(),
        )
        .expect("token");
    let demo = tokio::spawn(hotline::demo::run(
        config,
        hotline::demo::DemoOptions {
            duration: Duration::from_secs(20),
            calls_per_second: 2.5,
            status_every: None,
            web_listen: Some(SocketAddr::from(([127, 0, 0, 1], port))),
            ..Default::default()
        },
    ));
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the demo serves the web app");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let driver = chromedriver();
    let files = tempfile::tempdir().expect("tempdir");
    let mic = tone_file(files.path(), "quiet.wav", 300.0);
    let page = browser(&driver, &mic).await;
    page.goto(&format!("http://127.0.0.1:{port}/supervisor.html#token={token}"))
        .await
        .expect("supervisor page");
    // The floor fills: queue tiles with agents by state, agents on calls,
    // live calls listed.
    until(
        &page,
        "document.querySelectorAll('.queue-tile').length >= 3",
        "queue tiles",
    )
    .await;
    until(
        &page,
        "[...document.querySelectorAll('#agents .pill')].filter(p => p.textContent === 'On call').length >= 3",
        "agents on calls",
    )
    .await;
    until(
        &page,
        "document.querySelectorAll('#calls tr[data-call]').length >= 3",
        "live calls",
    )
    .await;
    // Staffing: required against on duty, with what the agents on duty give.
    until(
        &page,
        "Number(document.querySelector(\".queue-tile[data-queue='billing'] .staffing .on-duty .value\")?.textContent) > 0",
        "billing's agents on duty",
    )
    .await;
    let billing = text(&page, ".queue-tile[data-queue='billing']").await;
    assert!(billing.contains("Service level"), "{billing}");
    assert!(
        billing.contains("Required") && billing.contains("Expected SL"),
        "{billing}"
    );
    assert!(billing.contains("On call"), "{billing}");
    screenshot(&page, "supervisor-wallboard.png").await;
    let _ = page.close().await;
    let report = demo.await.expect("demo task").expect("demo runs");
    assert!(report.answered > 0, "{report}");
}
