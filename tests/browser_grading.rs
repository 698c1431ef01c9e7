//! Grading in the supervisor console, in a real browser (headless Chromium
//! over WebDriver): a real call with a hold of about 7 seconds is
//! recorded; the supervisor finds the recording with its signals in the
//! list, opens it to grade (it plays), sees the signals (talk, overtalk,
//! the longest silence, the hold flagged "apology to check") and the
//! suggested grades already chosen, listens, grades every criterion A-F
//! and saves; the grade shows in the agent's row of the console's report
//! and in the report API. Screenshots go to `target/tmp/browser/`.

mod common;

use std::time::Duration;

use common::browser::{
    browser, chromedriver, click, screenshot, select, text, tone_file, until, web, ONE_AT_A_TIME,
};
use common::media::{call_with_a_hold, finished_recording, AudioRig};
use hotline::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_grades_a_recording_with_its_signals_and_the_grade_counts_for_the_agent() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let rig = AudioRig::start().await;
    let s = &rig.server;

    // alice and a caller talk, alice holds the caller for about 7 s and
    // speaks again as the hold ends.
    let (call_id, _) = call_with_a_hold(&rig, Duration::from_millis(7_000)).await;
    let rec = finished_recording(&rig, &call_id).await;
    assert!(rec.signals.is_some(), "the recording has its signals");

    // The console lists the recording with its signals.
    let files = tempfile::tempdir().expect("tempdir");
    let mic = tone_file(files.path(), "quiet.wav", 300.0);
    let driver = chromedriver();
    let page = browser(&driver, &mic).await;
    let token = s.token(Role::Supervisor, "floor-manager");
    page.goto(&format!("http://{}/supervisor.html#token={token}", web(&rig)))
        .await
        .expect("supervisor page");
    let row = format!("#recordings tr[data-recording='{}']", rec.recording_id);
    until(
        &page,
        &format!("document.querySelector(\"{row} .talk-share\") !== null"),
        "the recording is listed with its signals",
    )
    .await;
    let listed = text(&page, &row).await;
    assert!(listed.contains("1 long (1 to check)"), "{listed}");

    // Opened to grade: it plays, the signals show, the suggestions are
    // chosen.
    click(&page, &format!("{row} button.grade")).await;
    until(
        &page,
        "!document.getElementById('grading').hidden && document.querySelector(\"#grade-form select[data-criterion='hold-apology']\")?.value === 'B'",
        "the grading sheet with its suggestions",
    )
    .await;
    until(
        &page,
        "document.getElementById('playback').dataset.recording !== undefined && !document.getElementById('playback').hidden",
        "the recording plays",
    )
    .await;
    let sheet = text(&page, "#grading").await;
    for words in [
        "Talk: agent",
        "Overtalk",
        "Longest silence",
        "hold over 6 s, apology to check",
        "listen for the apology",
    ] {
        assert!(sheet.contains(words), "{words:?} not in {sheet}");
    }
    assert_ne!(
        text(&page, "#grade-form tr[data-criterion='efficiency'] .suggestion").await,
        "",
        "efficiency is suggested"
    );
    screenshot(&page, "supervisor-grading.png").await;

    // The grader heard the apology: A for it, and grades what the signals
    // cannot tell.
    select(&page, "#grade-form select[data-criterion='hold-apology']", "A").await;
    for (criterion, grade) in [
        ("greeting", "A"),
        ("confirms-customer-details", "B"),
        ("understands-request", "A"),
        ("clear-expression", "B"),
        ("complaint-handling", "C"),
        ("product-knowledge", "A"),
        ("first-contact-resolution", "A"),
    ] {
        select(
            &page,
            &format!("#grade-form select[data-criterion='{criterion}']"),
            grade,
        )
        .await;
    }
    click(&page, "#grade-save").await;
    until(
        &page,
        "document.getElementById('grade-result').textContent.startsWith('Graded')",
        "the grade is saved",
    )
    .await;
    let saved = text(&page, "#grade-result").await;

    // The grade counts in alice's report: on the console and in the API.
    until(
        &page,
        "(document.querySelector(\"#agent-quality tr[data-agent='alice'] .quality\")?.textContent ?? '').includes('1 graded')",
        "alice's report shows the grade",
    )
    .await;
    screenshot(&page, "supervisor-agent-quality.png").await;
    let common = s.agent_report_row("alice").await.common.expect("alice's figures");
    assert_eq!(common.graded, 1);
    let score = common.quality_average.expect("a quality average");
    assert!(
        saved.contains(&format!("{score:.1} / 100")),
        "{saved} against {score}"
    );
    let _ = page.close().await;
}
