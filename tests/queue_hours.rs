//! Queues kept by hours calendars set through AdminService: a call to a
//! closed queue hears the closed announcement and is released, or is
//! booked a callback for the next opening, as the queue says; calendars
//! with an unknown zone or impossible hours are refused naming the field.

mod common;

use common::*;
use hotline::auth::Role;
use hotline::client::Clients;
use hotline::proto;
use prost_types::FieldMask;

fn admin(s: &TestServer) -> Clients {
    s.clients(Role::Admin, "ada")
}

/// Midnight UTC `days` from today, in ms.
fn midnight_in(days: i64) -> i64 {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let day = today.checked_add(jiff::Span::new().days(days)).unwrap();
    day.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn date_in(days: i64) -> String {
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    today
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// Open around the clock every day but today and tomorrow (UTC).
fn closed_until_the_day_after_tomorrow() -> proto::Calendar {
    proto::Calendar {
        id: "holidays".into(),
        time_zone: "UTC".into(),
        open: vec![proto::OpenSpan {
            days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .map(String::from)
                .to_vec(),
            from: "00:00".into(),
            to: "24:00".into(),
        }],
        closed: vec![
            proto::Closure {
                date: date_in(0),
                label: "today".into(),
            },
            proto::Closure {
                date: date_in(1),
                label: "tomorrow".into(),
            },
        ],
        ..Default::default()
    }
}

async fn closed_queue(s: &TestServer, when_closed: &str) {
    let mut ada = admin(s);
    ada.admin
        .create_calendar(proto::CreateCalendarRequest {
            calendar: Some(closed_until_the_day_after_tomorrow()),
        })
        .await
        .expect("calendar");
    ada.admin
        .create_queue(proto::CreateQueueRequest {
            queue: Some(proto::Queue {
                name: "holiday-line".into(),
                required_skills: vec![proto::SkillRequirement {
                    skill: "billing".into(),
                    min_proficiency: 1,
                    optional: false,
                }],
                hours: "holidays".into(),
                when_closed: when_closed.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("queue");
    ada.admin
        .create_entry_point(proto::CreateEntryPointRequest {
            entry_point: Some(proto::EntryPoint {
                number: "700".into(),
                queue: "holiday-line".into(),
                ..Default::default()
            }),
        })
        .await
        .expect("entry point");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_closed_queue_is_announced_closed_and_released_not_queued() {
    let s = TestServer::start().await;
    let _alice = s.agent("alice").await;
    closed_queue(&s, "announce").await;
    let call = s.start_call("+5550001", "700").await;
    assert_eq!(
        call.status,
        proto::CallStatus::Ended as i32,
        "released, not queued"
    );
    assert_eq!(call.outcome, proto::CallOutcome::Closed as i32);
    assert!(call.end_reason.contains("closed"), "{}", call.end_reason);
    let callbacks = s
        .supervisor()
        .callback
        .list_callbacks(proto::ListCallbacksRequest {
            number: "+5550001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .callbacks;
    assert!(callbacks.is_empty(), "announce books nothing: {callbacks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_queue_that_offers_callbacks_books_one_for_the_next_opening() {
    let s = TestServer::start().await;
    closed_queue(&s, "callback").await;
    let call = s.start_call("+5550002", "700").await;
    assert_eq!(call.outcome, proto::CallOutcome::Closed as i32);
    let callbacks = s
        .supervisor()
        .callback
        .list_callbacks(proto::ListCallbacksRequest {
            number: "+5550002".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .callbacks;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    let opens = callbacks[0].not_before_unix_ms;
    // The day after tomorrow, 00:00 UTC (a day later if midnight passed
    // while the test ran).
    assert!(
        opens == midnight_in(2) || opens == midnight_in(3),
        "not before the next opening: {opens} vs {}",
        midnight_in(2)
    );
    assert!(
        callbacks[0].deadline_unix_ms > opens,
        "its deadline counts from the opening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hours_are_refused_naming_the_field_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let mut ada = admin(&s);
    let refused = |c: proto::Calendar| {
        let mut ada = admin(&s);
        async move {
            ada.admin
                .create_calendar(proto::CreateCalendarRequest { calendar: Some(c) })
                .await
                .expect_err("refused")
        }
    };
    let zone = refused(proto::Calendar {
        time_zone: "Mars/Olympus_Mons".into(),
        ..closed_until_the_day_after_tomorrow()
    })
    .await;
    assert_eq!(zone.code(), tonic::Code::InvalidArgument);
    assert!(zone.message().starts_with("time_zone:"), "{}", zone.message());
    let mut overlapping = closed_until_the_day_after_tomorrow();
    overlapping.open.push(proto::OpenSpan {
        days: vec!["mon".into()],
        from: "08:00".into(),
        to: "09:00".into(),
    });
    let overlap = refused(overlapping).await;
    assert!(
        overlap.message().starts_with("open:") && overlap.message().contains("overlap"),
        "{}",
        overlap.message()
    );
    let mut backwards = closed_until_the_day_after_tomorrow();
    backwards.open[0].from = "18:00".into();
    backwards.open[0].to = "09:00".into();
    assert!(refused(backwards).await.message().starts_with("open:"));
    let mut bad_time = closed_until_the_day_after_tomorrow();
    bad_time.open[0].to = "25:00".into();
    assert!(refused(bad_time).await.message().starts_with("open[0].to:"));
    let mut bad_date = closed_until_the_day_after_tomorrow();
    bad_date.closed[0].date = "2027-02-30".into();
    assert!(refused(bad_date).await.message().starts_with("closed[0].date:"));
    let listed = ada
        .admin
        .list_calendars(proto::ListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0, "nothing of it was stored");
    // A queue cannot name hours that do not exist.
    let unknown = ada
        .admin
        .update_queue(proto::UpdateQueueRequest {
            queue: Some(proto::Queue {
                name: "billing".into(),
                hours: "nowhere".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["hours".into()],
            }),
        })
        .await
        .expect_err("unknown calendar");
    assert!(unknown.message().starts_with("hours:"), "{}", unknown.message());
}

/// The built-in closed announcements last this long at least (5.3 s and
/// 5.9 s): a refusal sooner would mean the caller was not told.
const ANNOUNCEMENT: std::time::Duration = std::time::Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_caller_to_a_closed_queue_hears_why_before_the_call_is_refused() {
    use common::sip::{finished, scenario, sipp, ulaw_tone};
    for (when_closed, booked) in [("announce", false), ("callback", true)] {
        let s = TestServer::with_config(&format!("{CONFIG}\n[sip]\nlisten = \"127.0.0.1:0\"\n")).await;
        let sip = s
            .server
            .as_ref()
            .unwrap()
            .sip_addr
            .expect("the SIP trunk listens");
        closed_queue(&s, when_closed).await;
        let dir = tempfile::tempdir().unwrap();
        let audio = ulaw_tone(dir.path(), 440.0, 1);
        let started = std::time::Instant::now();
        let caller = sipp(
            &scenario(dir.path(), "closed.xml", &audio),
            "700",
            sip,
            dir.path(),
        );
        let (ok, errors) = finished(caller, std::time::Duration::from_secs(30)).await;
        assert!(ok, "{when_closed}: refused 480 after the early media: {errors}");
        assert!(
            started.elapsed() >= ANNOUNCEMENT,
            "{when_closed}: the announcement played before the refusal ({:?})",
            started.elapsed()
        );
        let callbacks = s
            .supervisor()
            .callback
            .list_callbacks(proto::ListCallbacksRequest {
                number: "+15550001".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .callbacks;
        assert_eq!(
            callbacks.len(),
            usize::from(booked),
            "{when_closed}: {callbacks:?}"
        );
    }
}
