//! Commits while the engine goes on deciding: at most one batch of writes
//! is on its way to the store ([`InFlight`]); jobs decided meanwhile wait
//! for the next batch with their replies, which starts as soon as the
//! first is answered. So a slow store delays acknowledgements (and what
//! subscribers are told), never the decisions of other requests.
//!
//! Invariants: writes reach the store in the order they were queued (one
//! batch at a time); a reply is sent once every write of its job is
//! answered, and says whether all landed; a refused claim goes back to the
//! router before anyone hears of it.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use tracing::warn;

use super::dirty::{Batch, Begun, Committed};
use super::{events, Core, Responder};
use crate::store::{Store, StoreError};
use crate::time::Now;

/// A job's reply and the writes (in the next batch's queued part) it
/// waits for.
pub(super) type Waiting = Vec<(Responder, Range<usize>)>;

type Answer = Pin<Box<dyn Future<Output = (Batch, Vec<Result<(), StoreError>>)> + Send>>;

/// A batch on its way to the store, and the replies that wait for it.
pub(super) struct InFlight {
    answer: Answer,
    replies: Waiting,
}

/// Starts a batch of what is queued (with `replies` waiting for it).
/// None when nothing had to go to the store: the replies are sent already.
pub(super) fn start(
    core: &mut Core,
    store: &Arc<dyn Store>,
    clock: Now,
    probe: bool,
    replies: Waiting,
) -> Option<InFlight> {
    match core.dirty.begin(probe) {
        Begun::Answered(committed) => {
            settle(core, clock, committed, replies);
            None
        }
        Begun::Send(batch) => {
            let store = store.clone();
            let answer: Answer = Box::pin(async move {
                let results = store.write_batch(&batch.writes).await;
                (batch, results)
            });
            Some(InFlight { answer, replies })
        }
    }
}

/// Waits for the batch on its way; never resolves when there is none.
pub(super) async fn answered(inflight: &mut Option<InFlight>) -> (Batch, Vec<Result<(), StoreError>>) {
    match inflight {
        Some(f) => f.answer.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The store answered the batch in flight (taken from `inflight`).
pub(super) fn finish(
    core: &mut Core,
    clock: Now,
    inflight: &mut Option<InFlight>,
    (batch, results): (Batch, Vec<Result<(), StoreError>>),
) {
    let replies = inflight.take().map(|f| f.replies).unwrap_or_default();
    let committed = core.dirty.finish(batch, results);
    settle(core, clock, committed, replies);
}

/// Commits everything queued and waits for the store, until nothing is
/// queued (refused claims decide again and write): a restore's writes,
/// and whatever is left when the engine stops.
pub(super) async fn commit_now(
    core: &mut Core,
    store: &Arc<dyn Store>,
    clock: Now,
    mut inflight: Option<InFlight>,
    mut replies: Waiting,
) {
    loop {
        if inflight.is_none() {
            inflight = start(core, store, clock, false, std::mem::take(&mut replies));
        }
        if inflight.is_none() {
            return;
        }
        let answer = answered(&mut inflight).await;
        finish(core, clock, &mut inflight, answer);
        if core.dirty.queued() == 0 || core.dirty.fenced {
            return;
        }
    }
}

/// A batch's answers: claims the store refused go back to the router
/// (their notes are never sent), the notes whose writes are all held go
/// out, and each reply says whether its own writes landed.
fn settle(core: &mut Core, clock: Now, mut committed: Committed, replies: Waiting) {
    let refused = std::mem::take(&mut committed.refused);
    if !refused.is_empty() {
        for (agent, call, why) in refused {
            // Someone else holds this agent: withdraw and try the next
            // candidate (its writes go in the next batch).
            warn!(agent = %agent, call = %call, %why, "claim refused; trying the next candidate");
            core.refused.insert((agent.clone(), call.clone()));
            let _ = core.router.handle_claim_refused(clock, &agent, &call, &why);
        }
        events::decide(core, clock);
    }
    core.release_held();
    for (reply, writes) in replies {
        reply(committed.all_landed(writes));
    }
}
