//! Reports over the API and through `hotline report`: first-call resolution
//! from real contacts (a repeat about the same category makes the first
//! contact unresolved, observed, while both were declared resolved), queue
//! figures, and the same report as CSV from the command line.

mod common;

use std::time::Duration;

use common::TestServer;
use hotline::auth::Role;
use hotline::proto;

fn now_ms() -> i64 {
    hotline::time::Timestamp::now_wall().as_millis() as i64
}

/// dave answers a call from `ani` and wraps it up as resolved in `category`.
async fn handled(s: &TestServer, dave: &mut common::Agent, ani: &str, category: &str) {
    let call = s.start_call(ani, "200").await;
    let offer = dave.expect_offer(Duration::from_secs(5)).await;
    assert_eq!(offer.call_id, call.call_id);
    dave.accept(&call.call_id).await;
    dave.hangup(&call.call_id).await;
    dave.wrap_up(&call.call_id, proto::Disposition::Resolved, category)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_contact_makes_observed_fcr_lower_than_declared_and_the_command_prints_it() {
    let s = TestServer::start().await;
    let mut dave = s.agent("dave").await;
    // smallco calls twice about the boiler; bigco once about billing.
    handled(&s, &mut dave, "+2000", "boiler").await;
    handled(&s, &mut dave, "+2000", "boiler").await;
    handled(&s, &mut dave, "+1000", "invoice").await;
    let mut sup = s.supervisor();
    let range = (now_ms() - 3_600_000, now_ms() + 1);
    let fcr = sup
        .report
        .get_first_call_resolution(proto::FcrRequest {
            from_unix_ms: range.0,
            to_unix_ms: range.1,
            group_by: proto::FcrGroupBy::Category as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fcr.window_days, 7);
    let row = |key: &str| fcr.rows.iter().find(|r| r.key == key).cloned().expect(key);
    let boiler = row("boiler");
    assert_eq!(
        (
            boiler.contacts,
            boiler.declared_resolved,
            boiler.issues,
            boiler.observed_resolved
        ),
        (2, 2, 1, 0),
        "two contacts declared resolved, one issue, repeated: {boiler:?}"
    );
    let invoice = row("invoice");
    assert_eq!((invoice.issues, invoice.observed_resolved), (1, 1));
    assert!(
        invoice.provisional,
        "inside its 7-day window the figure is provisional"
    );

    let queues = sup
        .report
        .get_queue_stats(proto::ReportRequest {
            from_unix_ms: range.0,
            to_unix_ms: range.1,
        })
        .await
        .unwrap()
        .into_inner();
    let repairs = queues
        .queues
        .iter()
        .find(|q| q.queue == "repairs")
        .expect("repairs");
    assert_eq!((repairs.offered, repairs.answered), (3, 3));
    assert_eq!(repairs.common.as_ref().unwrap().handled, 3);
    assert!(queues.rules.contains("abandons under 5 s"), "{}", queues.rules);

    // The same through the command line, as CSV.
    let token = s.token(Role::Supervisor, "sup-cli");
    let addr = s.server.as_ref().unwrap().addr.to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "report", "fcr", "--by", "category", "--csv", "-", "--server", &addr, "--token", &token,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("group,contacts,declared_resolved"), "{csv}");
    assert!(
        lines.iter().any(|l| l.starts_with("boiler,2,2,100.0,1,0,0.0,")),
        "{csv}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["report", "queues", "--server", &addr, "--token", &token])
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("repairs") && text.contains("rules:"), "{text}");
}

#[tokio::test]
async fn a_short_abandon_is_counted_apart_alike_on_the_wallboard_and_in_the_report() {
    let s = TestServer::start().await;
    let from = now_ms();
    // Hung up at once: under the 5 s short-abandon time.
    let call = s.start_call("+3950", "100").await;
    s.edge()
        .call
        .end_call(proto::EndCallRequest {
            call_id: call.call_id,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let mut sup = s.supervisor();
    let live = sup
        .supervisor
        .watch_queues(proto::WatchQueuesRequest { interval_ms: 100 })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let billing = live.queues.iter().find(|q| q.queue == "billing").unwrap();
    let report = sup
        .report
        .get_queue_stats(proto::ReportRequest {
            from_unix_ms: from - 1000,
            to_unix_ms: now_ms() + 1000,
        })
        .await
        .unwrap()
        .into_inner();
    let row = report.queues.iter().find(|q| q.queue == "billing").unwrap();
    assert_eq!(
        (billing.abandoned_today, billing.short_abandons_today),
        (row.abandoned, row.short_abandons),
        "one definition of abandoned"
    );
    assert_eq!((row.abandoned, row.short_abandons), (0, 1));
    assert_eq!(
        billing.service_level_today, 1.0,
        "a short abandon does not lower service level"
    );
}
