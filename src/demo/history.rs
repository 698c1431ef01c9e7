//! The demo's past week: each queue's calls around this time of day on the
//! 7 days before, drawn from the synthetic history with a daily peak
//! (`hotline_core::workforce::synthetic`), so the staffing board shows a
//! forecast, Erlang A (some callers gave up) and the next hour from the
//! first refresh. Only the quarter hours within 75 minutes of now are
//! written: what the live forecast reads.

use std::time::Duration;

use crate::acd::{CallOutcome, CallRecord, CallStatus, ContactRecord, Disposition, Tier};
use crate::error::Error;
use crate::ids::{AgentId, CallId, QueueName};
use crate::store::Store;
use crate::time::Timestamp;
use hotline_core::workforce::synthetic;

const DAY_MS: u64 = 86_400_000;
/// Calls per quarter hour at the synthetic morning peak, per queue.
const PEAK: f64 = 24.0;
const HANDLE_MS: u64 = 180_000;
/// One caller in ten gave up, after this long.
const GAVE_UP_AFTER_MS: u64 = 40_000;

/// Writes the week before `now` for `queues`, handled by `agent`; returns
/// the calls written.
pub async fn seed(store: &dyn Store, queues: &[String], agent: &str, now: Timestamp) -> Result<u32, Error> {
    let midnight = now.utc_day_start();
    let from = Timestamp(midnight.as_millis() - 7 * DAY_MS);
    let near = |t: Timestamp| {
        let of_day = |t: Timestamp| t.as_millis() % DAY_MS;
        let d = of_day(t).abs_diff(of_day(now));
        d.min(DAY_MS - d) <= 75 * 60_000
    };
    let mut written = 0;
    for (qi, queue) in queues.iter().enumerate() {
        let history = synthetic::history(from, 7, PEAK, HANDLE_MS, 11 + qi as u64);
        for (start, figures) in history.into_iter().filter(|(t, _)| near(*t)) {
            for i in 0..figures.offered {
                let queued =
                    Timestamp(start.as_millis() + u64::from(i) * 900_000 / u64::from(figures.offered));
                let id = format!("demo-past-{queue}-{}-{i}", start.as_millis());
                let mut call = CallRecord::arrived(
                    CallId::new(&id),
                    "+8613900000000".into(),
                    "past".into(),
                    QueueName::new(queue),
                    Tier::Regular,
                    queued,
                );
                call.status = CallStatus::Ended;
                if i % 10 == 9 {
                    call.outcome = Some(CallOutcome::Abandoned);
                    call.ended_at = Some(queued.plus(Duration::from_millis(GAVE_UP_AFTER_MS)));
                } else {
                    let answered = queued.plus(Duration::from_secs(8));
                    call.outcome = Some(CallOutcome::Answered);
                    call.agent = Some(AgentId::new(agent));
                    call.answered_at = Some(answered);
                    call.ended_at = Some(answered.plus(Duration::from_millis(HANDLE_MS - 30_000)));
                    store
                        .append_contact(&ContactRecord {
                            call: CallId::new(&id),
                            customer_key: id.clone(),
                            agent: AgentId::new(agent),
                            queue: QueueName::new(queue),
                            tier: Tier::Regular,
                            disposition: Some(Disposition::Resolved),
                            category: None,
                            notes: None,
                            enqueued_at: queued,
                            answered_at: answered,
                            ended_at: answered.plus(Duration::from_millis(HANDLE_MS - 30_000)),
                            wrap_up_ended_at: answered.plus(Duration::from_millis(HANDLE_MS)),
                            hold_ms: 0,
                            callback: None,
                        })
                        .await?;
                }
                store.put_call(&call).await?;
                written += 1;
            }
        }
    }
    Ok(written)
}
