//! Queue and agent reports are pure functions of stored records: written-out
//! calls, contacts, callbacks, grades and agent time give exactly the
//! figures below (short abandons excluded and shown apart, service level,
//! ASA, AHT, occupancy, callbacks met and missed, quality, satisfaction).

use std::collections::HashMap;
use std::time::Duration;

use hotline::acd::{CallOutcome, CallStatus, ContactRecord, Disposition, Tier};
use hotline::callback::CallbackStatus;
use hotline::ids::{AgentId, CallId, QueueName};
use hotline::quality::signals::{HoldFlag, HoldSignal, QualitySignals};
use hotline::quality::SurveyRecord;
use hotline::recording::RecordingRecord;
use hotline::report::{agent_stats, queue_stats, AgentDayRecord, ReportInput, ReportRules};
use hotline::store::conformance::{sample_call, sample_callback, sample_recording};
use hotline::time::Timestamp;

const H: u64 = 3_600_000;
const DAY: u64 = 24 * H;

fn t(secs: u64) -> Timestamp {
    Timestamp(DAY + secs * 1000)
}

fn ended(
    id: &str,
    queued: u64,
    answered: Option<u64>,
    ended: u64,
    outcome: CallOutcome,
) -> hotline::acd::CallRecord {
    let mut c = sample_call(id, "sales", t(queued).as_millis());
    c.status = CallStatus::Ended;
    c.answered_at = answered.map(t);
    c.ended_at = Some(t(ended));
    c.outcome = Some(outcome);
    c.agent = answered.map(|_| AgentId::new("ann"));
    c
}

fn contact(call: &str, answered: u64, wrap_end: u64) -> ContactRecord {
    ContactRecord {
        call: CallId::new(call),
        customer_key: format!("cust-{call}"),
        agent: AgentId::new("ann"),
        queue: QueueName::new("sales"),
        tier: Tier::Regular,
        disposition: Some(Disposition::Resolved),
        category: Some("orders".into()),
        notes: None,
        enqueued_at: t(answered - 5),
        answered_at: t(answered),
        ended_at: t(wrap_end - 10),
        wrap_up_ended_at: t(wrap_end),
        hold_ms: 0,
        callback: None,
    }
}

fn signals(
    agent_ms: u64,
    caller_ms: u64,
    overtalk_ms: u64,
    silence_ms: u64,
    holds: &[HoldFlag],
) -> QualitySignals {
    QualitySignals {
        duration_ms: 180_000,
        caller_talk_ms: caller_ms,
        agent_talk_ms: agent_ms,
        overtalk_ms,
        longest_silence_ms: silence_ms,
        longest_silence_at_ms: 0,
        holds: holds
            .iter()
            .map(|&flag| HoldSignal {
                start_ms: 10_000,
                end_ms: 18_000,
                agent_spoke_after_ms: None,
                flag,
            })
            .collect(),
    }
}

fn recording(call: &str, answered: u64, s: QualitySignals) -> RecordingRecord {
    RecordingRecord {
        signals: Some(s),
        ..sample_recording(call, "ann", "sales", "+1", t(answered).as_millis())
    }
}

fn rules() -> ReportRules {
    ReportRules {
        short_abandon: Duration::from_secs(5),
        service_level: HashMap::from([(QueueName::new("sales"), Duration::from_secs(20))]),
        fcr_window: Duration::from_secs(7 * 86_400),
    }
}

#[test]
fn queue_and_agent_figures_follow_the_written_rules() {
    let mut met = sample_callback("cb-met", "sales", t(0).as_millis(), CallbackStatus::Reached);
    met.met = Some(true);
    let mut missed = sample_callback("cb-missed", "sales", t(0).as_millis(), CallbackStatus::Failed);
    missed.met = Some(false);
    let open = sample_callback("cb-open", "sales", t(0).as_millis(), CallbackStatus::Due);
    let mut day = AgentDayRecord {
        day: Timestamp(DAY),
        agent: AgentId::new("ann"),
        ms_by_state: Default::default(),
    };
    // 3 h available, 1 h on calls or wrapping up: occupancy 25%.
    day.ms_by_state.insert("available".into(), 3 * H);
    day.ms_by_state.insert("on-call".into(), H / 2);
    day.ms_by_state.insert("wrap-up".into(), H / 2);
    day.ms_by_state.insert("not-ready".into(), 5 * H);
    let input = ReportInput {
        calls: vec![
            // Answered in 10 s and in 30 s (the second misses the 20 s level).
            ended("a1", 0, Some(10), 100, CallOutcome::Answered),
            ended("a2", 0, Some(30), 200, CallOutcome::Answered),
            // A 3 s abandon is short: excluded. A 60 s one counts.
            ended("ab-short", 0, None, 3, CallOutcome::Abandoned),
            ended("ab", 0, None, 60, CallOutcome::Abandoned),
        ],
        contacts: vec![contact("a1", 10, 130), contact("a2", 30, 230)],
        callbacks: vec![met, missed, open],
        grades: Vec::new(),
        surveys: vec![
            SurveyRecord {
                call: CallId::new("a1"),
                agent: Some(AgentId::new("ann")),
                queue: QueueName::new("sales"),
                satisfaction: 5,
                at: t(300),
            },
            SurveyRecord {
                call: CallId::new("a2"),
                agent: Some(AgentId::new("ann")),
                queue: QueueName::new("sales"),
                satisfaction: 2,
                at: t(300),
            },
        ],
        agent_days: vec![day],
        recordings: vec![
            recording(
                "a1",
                10,
                signals(30_000, 90_000, 6_000, 12_000, &[HoldFlag::ApologyToCheck]),
            ),
            recording(
                "a2",
                30,
                signals(
                    50_000,
                    30_000,
                    2_000,
                    4_000,
                    &[HoldFlag::NoApology, HoldFlag::Fine],
                ),
            ),
            // Not analysed: counts nowhere in the signal figures.
            RecordingRecord {
                signals: None,
                ..recording("ab", 20, QualitySignals::default())
            },
        ],
    };
    let (from, to, now) = (Timestamp(DAY), Timestamp(2 * DAY), Timestamp(2 * DAY));
    let q = &queue_stats(now, from, to, &rules(), &input)[0];
    assert_eq!(q.queue.as_str(), "sales");
    assert_eq!(
        (q.offered, q.answered, q.abandoned, q.short_abandons),
        (4, 2, 1, 1)
    );
    // 1 answered within 20 s of 2 answered + 1 abandoned.
    assert_eq!(q.service_level, Some(1.0 / 3.0));
    assert_eq!(q.average_speed_of_answer, Some(Duration::from_secs(20)));
    // Handle time: answer to end of wrap-up, 120 s and 200 s.
    assert_eq!(q.common.average_handle_time, Some(Duration::from_secs(160)));
    assert_eq!(
        (
            q.common.callbacks_met,
            q.common.callbacks_missed,
            q.common.callbacks_open
        ),
        (1, 1, 1)
    );
    assert_eq!(q.common.satisfaction_average, Some(3.5));
    assert_eq!(q.common.fcr.contacts, 2);
    // Signals: talk share over all talk (80 of 200 s), means per analysed
    // recording, long holds by flag.
    let s = &q.common.signals;
    assert_eq!(s.analysed, 2);
    assert_eq!(s.agent_talk_share, Some(0.4));
    assert_eq!(s.mean_overtalk, Some(Duration::from_secs(4)));
    assert_eq!(s.mean_longest_silence, Some(Duration::from_secs(8)));
    assert_eq!((s.long_holds_to_check, s.long_holds_without_apology), (1, 1));
    let a = &agent_stats(now, from, to, &rules(), &input)[0];
    assert_eq!(a.common.signals, *s, "all of them are ann's");
    assert_eq!(a.agent.as_str(), "ann");
    assert_eq!(a.occupancy, Some(0.25), "not-ready time is not staffed time");
    assert_eq!(a.common.handled, 2);
    assert!(
        rules().describe().contains("abandons under 5 s are excluded"),
        "the rule travels with the figures"
    );
}
