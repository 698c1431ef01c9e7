//! Reads what the reports need from the store: the one loader behind the
//! report API and the quality gauges.

use crate::error::Error;
use crate::report::{ReportInput, ReportRules};
use crate::store::{CallFilter, Store};
use crate::time::Timestamp;

/// Records read per kind for one report; a range holding more is refused
/// rather than silently cut.
const MAX_RECORDS: usize = 500_000;

fn full<T>(what: &str, v: Vec<T>) -> Result<Vec<T>, Error> {
    if v.len() >= MAX_RECORDS {
        return Err(Error::FailedPrecondition(format!(
            "more than {MAX_RECORDS} {what} in the range: ask for a shorter one"
        )));
    }
    Ok(v)
}

/// The calls queued in `[from, to)`, newest first, at most `limit` (the
/// caller tells a full read from a cut one by its length).
pub async fn calls_between(
    store: &dyn Store,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> Result<Vec<crate::acd::CallRecord>, Error> {
    let mut calls = Vec::new();
    let filter = CallFilter {
        queue: None,
        include_ended: true,
    };
    // Newest first, starting just before `to`: later calls are never read.
    let mut cursor: Option<(Timestamp, crate::ids::CallId)> = Some((to, crate::ids::CallId::new("")));
    'pages: loop {
        let page = store.list_calls(&filter, cursor.as_ref(), 1000).await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.enqueued_at, last.id.clone()));
        let done = page.len() < 1000;
        for c in page {
            if c.enqueued_at < from {
                break 'pages;
            }
            if c.enqueued_at < to {
                calls.push(c);
            }
        }
        if done || calls.len() >= limit {
            break;
        }
    }
    Ok(calls)
}

/// Everything the reports read for `[from, to)`; contacts one FCR window
/// past `to`, so repeats of contacts in the range are seen.
pub async fn load(
    store: &dyn Store,
    rules: &ReportRules,
    from: Timestamp,
    to: Timestamp,
) -> Result<ReportInput, Error> {
    let calls = calls_between(store, from, to, MAX_RECORDS).await?;
    let contacts = store
        .contacts_between(from, to.plus(rules.fcr_window), MAX_RECORDS)
        .await?;
    let mut callbacks = Vec::new();
    let cb_filter = crate::store::CallbackFilter {
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let mut after = None;
    loop {
        let page = store.list_callbacks(&cb_filter, after.as_ref(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        let done = page.len() < 1000;
        callbacks.extend(page);
        if done || callbacks.len() >= MAX_RECORDS {
            break;
        }
    }
    let mut recordings = Vec::new();
    let rec_filter = crate::recording::RecordingFilter {
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let mut after = None;
    loop {
        let page = store.list_recordings(&rec_filter, after.as_ref(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.started_at, last.call.clone()));
        let done = page.len() < 1000;
        recordings.extend(page);
        if done || recordings.len() >= MAX_RECORDS {
            break;
        }
    }
    Ok(ReportInput {
        recordings: full("recordings", recordings)?,
        calls: full("calls", calls)?,
        contacts: full("contacts", contacts)?,
        callbacks: full("callbacks", callbacks)?,
        grades: full("grades", store.grades_between(from, to, MAX_RECORDS).await?)?,
        surveys: full("surveys", store.surveys_between(from, to, MAX_RECORDS).await?)?,
        agent_days: store
            .agent_days_between(from.utc_day_start(), to, MAX_RECORDS)
            .await?,
    })
}
