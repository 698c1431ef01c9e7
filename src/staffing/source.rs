//! Reads what staffing counts from the store: calls queued and contacts
//! answered in a range.

use crate::acd::{CallRecord, ContactRecord};
use crate::error::Error;
use crate::store::Store;
use crate::time::Timestamp;

/// Records read per kind at most; a range holding more is refused rather
/// than silently cut (a plan over a partial history would understaff).
pub const MAX_RECORDS: usize = 2_000_000;

/// The calls queued in `[from, to)` and the contacts answered in it.
pub async fn load(
    store: &dyn Store,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<CallRecord>, Vec<ContactRecord>), Error> {
    let calls = crate::report::source::calls_between(store, from, to, MAX_RECORDS + 1).await?;
    if calls.len() > MAX_RECORDS {
        return Err(too_many("calls"));
    }
    let contacts = store.contacts_between(from, to, MAX_RECORDS + 1).await?;
    if contacts.len() > MAX_RECORDS {
        return Err(too_many("contacts"));
    }
    Ok((calls, contacts))
}

/// Where a history read from the store begins: at its first call (days
/// before it are unknown, not quiet: the system was not taking calls), or
/// `now` when it holds none.
pub fn history_begins(calls: &[CallRecord], now: Timestamp) -> Timestamp {
    calls.iter().map(|c| c.enqueued_at).min().unwrap_or(now)
}

fn too_many(what: &str) -> Error {
    Error::FailedPrecondition(format!(
        "more than {MAX_RECORDS} {what} in the staffing history: shorten staffing.history_days"
    ))
}
