//! Quality signals of a real call, on two nodes sharing a real Redis: a
//! caller and an agent (WebRTC peers) talk through node A, the agent holds
//! the caller for about 7 seconds and speaks as soon as they resume; once
//! the call ends, its recording's metadata holds the signals (talk on both
//! channels, the hold span, flagged "hold over 6 s, apology to check"),
//! which node B lists, turns into suggested grades on the grading sheet,
//! and adds up in the agent's report; /metrics counts the hold by flag.

mod common;

use std::time::Duration;

use common::media::{call_with_a_hold, finished_recording, AudioRig};
use common::redis::RedisServer;
use hotline::proto;

/// Longer than the manuals' 6 seconds.
const HOLD: Duration = Duration::from_millis(7_000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_hold_is_flagged_for_the_grader_on_every_node() {
    let redis = RedisServer::start();
    let a = AudioRig::cluster_node(&redis, "").await;
    let b = AudioRig::cluster_node(&redis, "").await;
    let (call_id, held_for) = call_with_a_hold(&a, HOLD).await;

    // Node B lists the recording with its signals.
    let rec = finished_recording(&b, &call_id).await;
    let signals = rec.signals.clone().expect("signals with the recording");
    assert!(signals.caller_talk_ms > 2_000, "{signals:?}");
    assert!(signals.agent_talk_ms > 2_000, "{signals:?}");
    assert!(
        signals.agent_talk_share > 0.2 && signals.agent_talk_share < 0.8,
        "{signals:?}"
    );
    assert_eq!(signals.holds.len(), 1, "{signals:?}");
    let hold = &signals.holds[0];
    let span = Duration::from_millis(hold.end_ms - hold.start_ms);
    // The span is the recording's own clock: within a few ticks of the
    // time between the two requests.
    assert!(
        span.abs_diff(held_for) < Duration::from_millis(500),
        "hold of {span:?} recorded for {held_for:?} held"
    );
    assert_eq!(hold.flag, "apology-to-check", "{hold:?}");
    assert!(
        hold.agent_spoke_after_ms.is_some_and(|ms| ms <= 2_000),
        "{hold:?}"
    );

    // Node B's grading sheet suggests what the signals say.
    let sheet = b
        .server
        .supervisor()
        .supervisor
        .get_grading_sheet(proto::GetGradingSheetRequest {
            recording_id: rec.recording_id.clone(),
        })
        .await
        .expect("the grading sheet")
        .into_inner();
    assert_eq!(
        sheet.recording.as_ref().map(|r| r.call_id.as_str()),
        Some(call_id.as_str())
    );
    let card = sheet.scorecard.expect("the scorecard");
    assert!(card.criteria.iter().any(|c| c.name == "hold-apology"));
    let apology = sheet
        .suggestions
        .iter()
        .find(|s| s.criterion == "hold-apology")
        .expect("a hold-apology suggestion");
    assert_eq!(apology.grade, "B");
    assert!(
        apology.reason.contains("listen for the apology"),
        "{}",
        apology.reason
    );
    assert!(sheet.suggestions.iter().any(|s| s.criterion == "efficiency"));
    let refused = b
        .server
        .supervisor()
        .supervisor
        .get_grading_sheet(proto::GetGradingSheetRequest {
            recording_id: "no-such-call".into(),
        })
        .await
        .expect_err("no such recording");
    assert_eq!(refused.code(), tonic::Code::NotFound);

    // Node B's agent report adds it up.
    let row = b.server.agent_report_row("alice").await;
    let figures = row
        .common
        .as_ref()
        .and_then(|c| c.signals)
        .expect("signal figures");
    assert_eq!((figures.analysed, figures.long_holds_to_check), (1, 1));
    assert_eq!(figures.long_holds_without_apology, 0);

    // And /metrics counts the hold by what it asks of the grader.
    let addr = a
        .server
        .server
        .as_ref()
        .and_then(|s| s.metrics_addr)
        .expect("metrics");
    let text = common::metrics::scrape(addr).await;
    let flagged = common::metrics::counter(
        &text,
        "hotline_recording_holds_total{queue=\"billing\",flag=\"apology-to-check\"}",
    );
    assert!(flagged >= 1.0, "{flagged}");
    assert!(common::metrics::counter(&text, "hotline_recordings_analysed_total{queue=\"billing\"}") >= 1.0);
}
