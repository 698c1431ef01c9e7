//! Staffing on two nodes sharing a real Redis: a week of billing history
//! in the store (20 calls per quarter hour around this time of day, 4
//! minutes each, 2 callers a quarter hour giving up after a minute) gives
//! every node the same live figures: this interval's forecast, the agents
//! it needs by Erlang A (callers give up) and by Erlang C, against the
//! agents on duty as they log in on either node; calls arriving now show as
//! observed demand; the same figures are on /metrics; a day's plan comes
//! from the report API and `hotline report staffing` as CSV, with the
//! forecast's error over the week before.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use common::{TestServer, SOON};
use hotline::acd::{CallOutcome, CallStatus};
use hotline::auth::Role;
use hotline::proto;
use hotline::store::conformance::{sample_call, sample_contact};
use hotline::store::{RedisOptions, RedisStore, Store};
use hotline::time::Timestamp;
use hotline::workforce::erlang::Target;
use hotline::workforce::plan::{staff, PlanRules};
use tokio_stream::StreamExt;

const QUARTER_MS: u64 = 900_000;
const DAY_MS: u64 = 86_400_000;
const CALLS: u64 = 20;
const ABANDONS: u64 = 2;
const HANDLE_MS: u64 = 240_000;

/// Seven days of billing history around this time of day: quarter hours
/// from an hour before now to two hours after, on each earlier day.
async fn seed_history(store: &RedisStore, now: Timestamp) {
    let current = now.as_millis() - now.as_millis() % QUARTER_MS;
    for day in 1..=7u64 {
        for slot in 0..12u64 {
            let start = current - day * DAY_MS - 4 * QUARTER_MS + slot * QUARTER_MS;
            for i in 0..CALLS {
                let id = format!("hist-{day}-{slot}-{i}");
                let queued = start + i * 30_000;
                let mut call = sample_call(&id, "billing", queued);
                call.status = CallStatus::Ended;
                if i < ABANDONS {
                    call.outcome = Some(CallOutcome::Abandoned);
                    call.ended_at = Some(Timestamp(queued + 60_000));
                } else {
                    call.outcome = Some(CallOutcome::Answered);
                    call.answered_at = Some(Timestamp(queued + 10_000));
                    call.ended_at = Some(Timestamp(queued + 10_000 + HANDLE_MS - 30_000));
                    let mut contact = sample_contact(&id, &id, "alice", queued + 10_000 + HANDLE_MS, None);
                    contact.queue = hotline::ids::QueueName::new("billing");
                    contact.answered_at = Timestamp(queued + 10_000);
                    store.append_contact(&contact).await.expect("contact written");
                }
                store.put_call(&call).await.expect("call written");
            }
        }
    }
}

/// The next billing staffing from `queues` that `pick` accepts.
async fn billing_where(
    queues: &mut tonic::Streaming<proto::QueueSnapshot>,
    what: &str,
    pick: impl Fn(&proto::QueueStaffing) -> bool,
) -> proto::QueueStaffing {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, queues.next()).await {
            Ok(Some(Ok(snap))) => {
                let staffing = snap
                    .queues
                    .iter()
                    .find(|q| q.queue == "billing")
                    .and_then(|q| q.staffing.clone());
                if let Some(s) = staffing.filter(|s| pick(s)) {
                    return s;
                }
            }
            other => panic!("billing's staffing never showed {what}: {other:?}"),
        }
    }
}

async fn watch(s: &TestServer) -> tonic::Streaming<proto::QueueSnapshot> {
    s.supervisor()
        .supervisor
        .watch_queues(proto::WatchQueuesRequest { interval_ms: 200 })
        .await
        .expect("the queue board")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_shows_the_agents_the_demand_needs_against_those_on_duty() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&RedisOptions {
        url: redis.url(),
        namespace: "cluster".into(),
        max_ended_calls: 10_000,
        response_timeout: Duration::from_secs(2),
    })
    .expect("redis store");
    let now = Timestamp::now_wall();
    seed_history(&store, now).await;
    let config = common::media::cluster_config(&redis, "") + "\n[staffing]\nrefresh_secs = 1\n";
    let a = TestServer::with_config(&config).await;
    let b = TestServer::with_config(&config).await;
    let (mut on_a, mut on_b) = (watch(&a).await, watch(&b).await);

    // What the core computes for this history: 20 calls a quarter hour of
    // 4 minutes, patience 60 s from 2 × 12 × 7 callers giving up (the
    // answered callers' 10 s waits count as time waited too).
    let abandons = (ABANDONS * 12 * 7) as u32;
    let waited_ms = 12 * 7 * (ABANDONS * 60_000 + (CALLS - ABANDONS) * 10_000);
    let patience = Duration::from_millis(waited_ms / u64::from(abandons));
    let rules = PlanRules {
        target: Target {
            threshold: Duration::from_secs(20),
            service_level: 0.8,
            max_occupancy: 0.85,
        },
        default_handle: Duration::from_secs(300),
        min_abandons: 20,
    };
    let want = staff(
        &rules,
        CALLS as f64,
        Duration::from_millis(QUARTER_MS),
        Some(Duration::from_millis(HANDLE_MS)),
        Some((patience, abandons)),
        Some(0),
    );
    for board in [&mut on_a, &mut on_b] {
        let s = billing_where(board, "the forecast", |s| s.has_forecast).await;
        assert!(
            (s.forecast_calls - CALLS as f64).abs() < 1e-9,
            "{}",
            s.forecast_calls
        );
        assert!(s.from_forecast, "nothing arrives now: the forecast rules");
        assert_eq!(s.model, "erlang-a", "callers are seen giving up");
        assert_eq!(s.handle_secs, (HANDLE_MS / 1000) as u32);
        assert_eq!(s.patience_secs, patience.as_secs() as u32);
        assert_eq!(s.required_agents, want.required().agents);
        assert_eq!(s.required_erlang_c, want.erlang_c.agents);
        assert!(s.required_agents <= s.required_erlang_c);
        assert_eq!(s.service_level_target_percent, 80);
        let required = s.required.expect("the required outlook");
        assert!(required.service_level >= 0.8 && required.occupancy <= 0.85);
        assert_eq!((s.on_duty_agents, s.interval_minutes), (0, 15));
        assert_eq!(s.ahead.len(), 4, "the next hour, quarter by quarter");
        assert!(s.ahead.iter().all(|x| x.required_agents > 0));
    }

    // Agents log in on either node: both boards count them on duty.
    let mut alice = a.agent("alice").await;
    alice.available().await;
    let mut bob = b.agent("bob").await;
    bob.not_ready("training").await;
    for board in [&mut on_a, &mut on_b] {
        let s = billing_where(board, "alice on duty", |s| s.on_duty_agents == 1).await;
        let on_duty = s.on_duty.expect("the on-duty outlook");
        assert_eq!(on_duty.agents, 1);
        assert!(on_duty.service_level < 0.8, "one agent for {} calls", CALLS);
    }
    bob.available().await;
    billing_where(&mut on_b, "bob on duty too", |s| s.on_duty_agents == 2).await;

    // A surge now, far above the forecast: the observed demand rules.
    alice.not_ready("break").await;
    bob.not_ready("break").await;
    for _ in 0..40 {
        a.start_call("+2000", "100").await;
    }
    let surge = billing_where(&mut on_b, "the surge", |s| s.observed_calls >= 40).await;
    assert!(!surge.from_forecast, "40 now against 20 forecast");
    assert!(surge.required_agents > want.required().agents);

    // /metrics says the same.
    let addr = b.server.as_ref().and_then(|s| s.metrics_addr).expect("metrics");
    let text = common::metrics::scrape(addr).await;
    let required = common::metrics::value(&text, "hotline_staffing_required_agents{queue=\"billing\"}");
    assert!(
        required.is_some_and(|r| r >= f64::from(want.required().agents)),
        "{required:?}"
    );
    assert!(common::metrics::value(&text, "hotline_staffing_on_duty_agents{queue=\"billing\"}").is_some());
    assert!(common::metrics::value(&text, "hotline_staffing_forecast_calls{queue=\"billing\"}").is_some());

    // Today's plan: every quarter hour of billing, the current one as live.
    let today = jiff::Timestamp::from_millisecond(now.as_millis() as i64)
        .expect("now")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let plan = b
        .supervisor()
        .report
        .get_staffing_plan(proto::StaffingPlanRequest {
            date: today.clone(),
            queue: "billing".into(),
        })
        .await
        .expect("the plan")
        .into_inner();
    assert_eq!((plan.interval_minutes, plan.time_zone.as_str()), (15, "UTC"));
    assert_eq!(plan.rows.len(), 96);
    let current = now.as_millis() - now.as_millis() % QUARTER_MS;
    let row = plan
        .rows
        .iter()
        .find(|r| r.start_unix_ms as u64 == current)
        .expect("this quarter hour");
    assert!(row.forecast && (row.forecast_calls - CALLS as f64).abs() < 1e-9);
    assert_eq!(row.required_agents, want.required().agents);
    assert_eq!(row.required_erlang_a, want.required().agents);
    assert_eq!(row.required_erlang_c, want.erlang_c.agents);
    let accuracy = plan.accuracy.first().expect("the forecast's accuracy");
    assert_eq!(accuracy.queue, "billing");
    assert!(accuracy.intervals > 0);

    // Refused by name: a bad date, an unknown queue, an agent asking.
    let mut sup = a.supervisor();
    let bad = sup
        .report
        .get_staffing_plan(proto::StaffingPlanRequest {
            date: "30/11/2026 and more text".into(),
            queue: String::new(),
        })
        .await
        .expect_err("not a date");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("date") && !bad.message().contains("more text"));
    let unknown = sup
        .report
        .get_staffing_plan(proto::StaffingPlanRequest {
            date: today.clone(),
            queue: "nosuch".into(),
        })
        .await
        .expect_err("no such queue");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let denied = a
        .clients(Role::Agent, "alice")
        .report
        .get_staffing_plan(proto::StaffingPlanRequest {
            date: today.clone(),
            queue: String::new(),
        })
        .await
        .expect_err("agents do not plan");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // A tighter target set through one node's admin API is planned for on
    // the other's board; a target past 100% is refused by name.
    let mut ada = a.clients(Role::Admin, "ada");
    let set_target = |percent: u32| proto::UpdateQueueRequest {
        queue: Some(proto::Queue {
            name: "billing".into(),
            service_level_target_percent: percent,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["service_level_target_percent".into()],
        }),
    };
    let refused = ada
        .admin
        .update_queue(set_target(101))
        .await
        .expect_err("over 100%");
    assert!(
        refused.message().starts_with("service_level_target_percent:"),
        "{}",
        refused.message()
    );
    ada.admin.update_queue(set_target(95)).await.expect("target set");
    let tighter = billing_where(&mut on_b, "the 95% target", |s| {
        s.service_level_target_percent == 95
    })
    .await;
    assert!(
        tighter.required.is_some_and(|o| o.service_level >= 0.95),
        "{tighter:?}"
    );

    // And as CSV for a spreadsheet.
    let token = a.token(Role::Supervisor, "sup");
    let addr = a.server.as_ref().expect("running").addr.to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args([
            "report", "staffing", "--date", &today, "--queue", "billing", "--csv", "-", "--server", &addr,
            "--token", &token,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .is_some_and(|h| h.starts_with("queue,interval,forecast_calls,handle_secs")));
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("billing,")).count(),
        97,
        "96 quarters and the accuracy"
    );
    let _ = SOON;
}
