//! The retention part of the store contract: one old and one new record of
//! every kind, and old ones still live; pruning in small batches deletes
//! exactly the old records that no longer change.

use super::{sample_call, sample_callback, sample_contact, sample_recording};
use crate::acd::CallStatus;
use crate::callback::CallbackStatus;
use crate::ids::{AgentId, CallId, CallbackId, QueueName};
use crate::quality::{GradeRecord, Letter, Scorecard, SurveyRecord};
use crate::recording::{MonitorMode, MonitorSessionRecord};
use crate::store::{RecordKind, Store};
use crate::time::Timestamp;
use hotline_core::report::AgentDayRecord;

const OLD: u64 = 50_000;
/// Far after every other check's records.
const NEW: u64 = 4_000_000_000_000;
const BEFORE: Timestamp = Timestamp(1_000_000_000_000);

fn grade(id: &str, at: u64) -> GradeRecord {
    let card = Scorecard::default_call_quality();
    let grades: Vec<(String, Letter)> = card
        .criteria
        .iter()
        .map(|c| (c.name.clone(), Letter::A))
        .collect();
    GradeRecord {
        id: id.into(),
        call: CallId::new(format!("call-{id}")),
        agent: AgentId::new("ann"),
        queue: QueueName::new("q"),
        supervisor: "sue".into(),
        graded_at: Timestamp(at),
        score: card.score(&grades).unwrap_or(0.0),
        scorecard: card,
        grades,
        comments: String::new(),
    }
}

fn session(id: &str, ended: bool) -> MonitorSessionRecord {
    MonitorSessionRecord {
        id: id.into(),
        supervisor: "sue".into(),
        call: CallId::new(format!("call-{id}")),
        mode: MonitorMode::Listen,
        started_at: Timestamp(OLD),
        ended_at: ended.then_some(Timestamp(OLD + 1)),
    }
}

pub async fn records_past_their_period_are_deleted_in_batches_and_live_ones_kept(store: &dyn Store) {
    for (call, at) in [("p-old-1", OLD), ("p-old-2", OLD + 1), ("p-new", NEW)] {
        store
            .append_contact(&sample_contact(call, "p-cust", "ann", at, None))
            .await
            .unwrap();
    }
    for (id, at) in [("p-call-old", OLD), ("p-call-new", NEW)] {
        let mut c = sample_call(id, "q", at - 10);
        c.status = CallStatus::Ended;
        c.ended_at = Some(Timestamp(at));
        store.put_call(&c).await.unwrap();
    }
    let mut closed = sample_callback("p-cb-closed", "q", OLD, CallbackStatus::Reached);
    closed.request_closed_at = Some(Timestamp(OLD + 1));
    store.put_callback(&closed).await.unwrap();
    store
        .put_callback(&sample_callback("p-cb-live", "q", OLD, CallbackStatus::Due))
        .await
        .unwrap();
    for (id, at) in [("p-g-old", OLD), ("p-g-new", NEW)] {
        store.put_grade(&grade(id, at)).await.unwrap();
    }
    for (call, at) in [("p-s-old", OLD), ("p-s-new", NEW)] {
        store
            .put_survey(&SurveyRecord {
                call: CallId::new(call),
                agent: None,
                queue: QueueName::new("q"),
                satisfaction: 4,
                at: Timestamp(at),
            })
            .await
            .unwrap();
    }
    for day in [0, NEW - NEW % 86_400_000] {
        store
            .put_agent_day(&AgentDayRecord {
                day: Timestamp(day),
                agent: AgentId::new("p-ann"),
                ms_by_state: Default::default(),
            })
            .await
            .unwrap();
    }
    store
        .put_monitor_session(&session("p-m-ended", true))
        .await
        .unwrap();
    store
        .put_monitor_session(&session("p-m-open", false))
        .await
        .unwrap();
    store
        .put_recording(&sample_recording("p-r-old", "ann", "q", "+1", OLD))
        .await
        .unwrap();
    let mut live = sample_recording("p-r-live", "ann", "q", "+1", OLD);
    live.live = true;
    store.put_recording(&live).await.unwrap();

    for kind in RecordKind::ALL {
        // Batches of two: a kind with more old records takes several.
        let mut rounds = 0;
        while store.prune(kind, BEFORE, 2).await.unwrap() > 0 {
            rounds += 1;
            assert!(rounds < 10_000, "{kind:?} pruning ends");
        }
    }

    let contacts: Vec<String> = store
        .contacts_of("p-cust", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call.to_string())
        .collect();
    assert_eq!(contacts, ["p-new"], "old contacts leave the customer's list");
    assert!(
        store
            .contacts_between(Timestamp(0), BEFORE, 1_000)
            .await
            .unwrap()
            .is_empty(),
        "and the contact log"
    );
    assert!(store
        .get_call(&CallId::new("p-call-old"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_call(&CallId::new("p-call-new"))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .get_callback(&CallbackId::new("p-cb-closed"))
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .get_callback(&CallbackId::new("p-cb-live"))
            .await
            .unwrap()
            .is_some(),
        "a live callback stays, however old"
    );
    let grades = store
        .grades_between(Timestamp(0), Timestamp(u64::MAX), 1_000)
        .await
        .unwrap();
    assert_eq!(
        grades.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["p-g-new"]
    );
    let surveys = store
        .surveys_between(Timestamp(0), Timestamp(u64::MAX), 1_000)
        .await
        .unwrap();
    assert_eq!(
        surveys.iter().map(|s| s.call.as_str()).collect::<Vec<_>>(),
        ["p-s-new"]
    );
    let days = store
        .agent_days_between(Timestamp(0), Timestamp(u64::MAX), 1_000)
        .await
        .unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    let sessions: Vec<String> = store
        .monitor_sessions(None, None, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .filter(|id| id.starts_with("p-m-"))
        .collect();
    assert_eq!(sessions, ["p-m-open"], "an open session stays");
    assert!(store
        .get_recording(&CallId::new("p-r-old"))
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .get_recording(&CallId::new("p-r-live"))
            .await
            .unwrap()
            .is_some(),
        "a recording still being written stays"
    );
}
