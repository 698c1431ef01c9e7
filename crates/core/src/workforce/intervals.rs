//! What each queue was offered, interval by interval: the demand the
//! forecast learns from and the plan is checked against.
//!
//! Rules:
//! - intervals are `length` long and aligned to the Unix epoch (so to
//!   every zone whose offset is a multiple of the length: any zone for
//!   15 minutes);
//! - a call counts in the interval it was queued in, in the queue it ended
//!   in; callbacks' work items and calls refused at entry (queue full or
//!   closed) are not demand the agents could have served;
//! - abandons shorter than the short-abandon time are not counted (as in
//!   the reports), but the time they waited is: patience is estimated as
//!   the time all callers waited divided by the callers who gave up (the
//!   maximum-likelihood estimate for exponential patience, answered
//!   callers being censored observations);
//! - handle time = talk + hold + wrap-up of contacts answered in the
//!   interval.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::acd::{CallOutcome, CallRecord, ContactRecord};
use crate::ids::QueueName;
use crate::time::Timestamp;

/// The interval lengths offered: each divides an hour, so intervals line
/// up with the clock.
pub const LENGTHS_MINUTES: [u64; 4] = [15, 20, 30, 60];

/// Intervals of one length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    length_ms: u64,
}

impl Grid {
    /// The default: quarter hours.
    pub const QUARTER_HOUR: Grid = Grid {
        length_ms: 15 * 60_000,
    };

    /// A grid of `minutes`-long intervals; none when `minutes` is not one
    /// of [`LENGTHS_MINUTES`].
    pub fn minutes(minutes: u64) -> Option<Grid> {
        LENGTHS_MINUTES.contains(&minutes).then_some(Grid {
            length_ms: minutes * 60_000,
        })
    }

    pub fn length(&self) -> Duration {
        Duration::from_millis(self.length_ms)
    }

    /// The start of the interval holding `t`.
    pub fn start_of(&self, t: Timestamp) -> Timestamp {
        Timestamp(t.as_millis() - t.as_millis() % self.length_ms)
    }

    /// The start of the interval `n` after the one starting at `start`.
    pub fn after(&self, start: Timestamp, n: u64) -> Timestamp {
        Timestamp(start.as_millis() + n * self.length_ms)
    }

    /// The starts of the intervals overlapping `[from, to)`.
    pub fn starts(&self, from: Timestamp, to: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        let first = self.start_of(from).as_millis();
        (first..to.as_millis())
            .step_by(self.length_ms as usize)
            .map(Timestamp)
    }
}

/// One queue's figures over one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalFigures {
    /// Calls that arrived and could have been served.
    pub offered: u32,
    pub answered: u32,
    /// Gave up after at least the short-abandon time.
    pub abandoned: u32,
    /// Contacts answered in the interval, and their handle time in total.
    pub handled: u32,
    pub handle_ms: u64,
    /// Time every arriving caller waited (answered, abandoned or still
    /// waiting), in total: with `abandoned`, the patience estimate.
    pub waited_ms: u64,
}

impl IntervalFigures {
    pub fn add(&mut self, other: &IntervalFigures) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.abandoned += other.abandoned;
        self.handled += other.handled;
        self.handle_ms += other.handle_ms;
        self.waited_ms += other.waited_ms;
    }

    /// Average handle time; none with nothing handled.
    pub fn average_handle(&self) -> Option<Duration> {
        (self.handled > 0).then(|| Duration::from_millis(self.handle_ms / u64::from(self.handled)))
    }

    /// Mean patience; none with no one giving up (callers who never give
    /// up are Erlang C's).
    pub fn patience(&self) -> Option<Duration> {
        (self.abandoned > 0).then(|| Duration::from_millis(self.waited_ms / u64::from(self.abandoned)))
    }
}

/// Each queue's figures by interval start.
pub type QueueIntervals = BTreeMap<QueueName, BTreeMap<Timestamp, IntervalFigures>>;

/// The figures of every interval with traffic, from `calls` queued and
/// `contacts` answered at any time (the caller narrows the range); a call
/// still waiting counts the wait so far, up to `now`.
pub fn interval_figures(
    grid: &Grid,
    calls: &[CallRecord],
    contacts: &[ContactRecord],
    short_abandon: Duration,
    now: Timestamp,
) -> QueueIntervals {
    tally(calls, contacts, short_abandon, now, |t| Some(grid.start_of(t)))
}

/// Each queue's figures over `[from, to)` as one window (calls queued and
/// contacts answered in it), counting waits up to `now`.
pub fn window_figures(
    calls: &[CallRecord],
    contacts: &[ContactRecord],
    from: Timestamp,
    to: Timestamp,
    short_abandon: Duration,
    now: Timestamp,
) -> BTreeMap<QueueName, IntervalFigures> {
    tally(calls, contacts, short_abandon, now, |t| {
        (t >= from && t < to).then_some(from)
    })
    .into_iter()
    .filter_map(|(q, mut slots)| Some((q, slots.remove(&from)?)))
    .collect()
}

/// Counts calls and contacts into the slot `slot` puts their time in (none:
/// left out).
fn tally(
    calls: &[CallRecord],
    contacts: &[ContactRecord],
    short_abandon: Duration,
    now: Timestamp,
    slot: impl Fn(Timestamp) -> Option<Timestamp>,
) -> QueueIntervals {
    let mut out = QueueIntervals::new();
    for c in calls.iter().filter(|c| c.callback.is_none()) {
        if matches!(c.outcome, Some(CallOutcome::Rejected) | Some(CallOutcome::Closed)) {
            continue;
        }
        let Some(at) = slot(c.enqueued_at) else { continue };
        let f = out.entry(c.queue.clone()).or_default().entry(at).or_default();
        f.offered += 1;
        let waited_until = match c.outcome {
            Some(CallOutcome::Answered) => c.answered_at,
            Some(_) => c.ended_at,
            None => c.answered_at,
        }
        .unwrap_or(now);
        let waited = waited_until.since(c.enqueued_at);
        f.waited_ms += waited.as_millis() as u64;
        match c.outcome {
            Some(CallOutcome::Answered) => f.answered += 1,
            Some(CallOutcome::Abandoned) if waited >= short_abandon => f.abandoned += 1,
            _ => {}
        }
    }
    for c in contacts {
        let Some(at) = slot(c.answered_at) else { continue };
        let f = out.entry(c.queue.clone()).or_default().entry(at).or_default();
        f.handled += 1;
        f.handle_ms += c.wrap_up_ended_at.since(c.answered_at).as_millis() as u64;
    }
    out
}
