//! Cases in a real browser (headless Chromium over WebDriver): the agent
//! page shows the caller's open case, with its timeline, on the offer;
//! the supervisor console's cases board shows it overdue once its due time
//! passes. Screenshots go to `target/tmp/browser/` for people to look at.

mod common;

use common::browser::{
    browser, chromedriver, go_available, open_agent_page, screenshot, text, tone_file, until, web, AGENT_HZ,
    ONE_AT_A_TIME,
};
use common::cases;
use common::media::AudioRig;
use hotline::auth::Role;
use hotline::time::Timestamp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_sees_the_callers_open_case_on_the_offer_and_the_console_shows_it_overdue() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // The offer rings long enough to be looked at.
    let config = common::CONFIG.replacen("ring_timeout_secs = 2", "ring_timeout_secs = 30", 1);
    let rig = AudioRig::on_config(&config, "").await;
    let web = web(&rig);
    let files = tempfile::tempdir().expect("tempdir");
    let mic = tone_file(files.path(), "agent.wav", AGENT_HZ);
    let driver = chromedriver();

    // smallco complained about a late fee; it stands and is alice's, due
    // in 4 seconds.
    let mut sup = rig.server.supervisor();
    let id = cases::open(&mut sup, cases::complaint("smallco")).await.case_id;
    cases::judge(&mut sup, &id, true, "").await.expect("stands");
    let due = Timestamp::now_wall().as_millis() as i64 + 4_000;
    cases::assign(&mut sup, &id, "billing", "alice", due)
        .await
        .expect("assigned");

    // Alice's softphone page: signed in, audio up, available.
    let agent = browser(&driver, &mic).await;
    let token = rig.server.token(Role::Agent, "alice");
    open_agent_page(&agent, web, &token).await;
    go_available(&agent).await;

    // smallco calls: the offer shows their open case and its timeline.
    rig.server.start_call("+2000", "100").await;
    until(
        &agent,
        "!document.getElementById('offer').hidden",
        "the offer shows",
    )
    .await;
    let card = format!("#offer-cases .case[data-case='{id}']");
    until(
        &agent,
        &format!("document.querySelector(\"{card}\") !== null"),
        "the open case is on the offer",
    )
    .await;
    let shown = text(&agent, &card).await;
    for words in [
        "Complaint: billing/late-fee",
        "Assigned",
        "owner alice",
        "charged a late fee",
        "judged by sup: stands",
        "assigned by sup: billing / alice",
    ] {
        assert!(shown.contains(words), "{words:?} in {shown:?}");
    }
    screenshot(&agent, "agent-offer-case.png").await;

    // The console's board: the case is due soon, then overdue.
    let console = browser(&driver, &mic).await;
    let token = rig.server.token(Role::Supervisor, "sam");
    console
        .goto(&format!("http://{web}/supervisor.html#token={token}"))
        .await
        .expect("console");
    until(
        &console,
        "!document.getElementById('console').hidden",
        "the console opens",
    )
    .await;
    let row = format!("#cases tr[data-case='{id}']");
    until(
        &console,
        &format!("document.querySelector(\"{row}\") !== null"),
        "the case is on the board",
    )
    .await;
    until(
        &console,
        &format!("document.querySelector(\"{row}\").classList.contains('overdue')"),
        "the case shows overdue after its due time",
    )
    .await;
    assert!(
        Timestamp::now_wall().as_millis() as i64 >= due,
        "not before its due time"
    );
    let cells = text(&console, &row).await;
    assert!(
        cells.contains("Overdue") && cells.contains("alice") && cells.contains("late"),
        "{cells}"
    );
    let tiles = text(&console, "#case-board").await;
    assert!(tiles.contains("Overdue"), "{tiles}");
    let categories = text(&console, "#case-categories").await;
    assert!(categories.contains("billing/late-fee"), "{categories}");
    let targets = text(&console, "#case-targets").await;
    assert!(targets.contains("team:billing"), "{targets}");
    screenshot(&console, "console-cases-board.png").await;
}
