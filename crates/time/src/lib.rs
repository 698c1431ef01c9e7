//! Protocol time. The sans-IO cores never read a clock: every input carries
//! the time the driver took from its clock (the real ones in the server, a
//! simulated one in tests). Two kinds, never mixed:
//!
//! - [`Timestamp`]: wall-clock milliseconds since the Unix epoch. What is
//!   recorded, shown to clients or compared across nodes (enqueue times,
//!   callback deadlines, the expiries a failover must carry to another node).
//! - [`Monotonic`]: milliseconds on a clock that is never stepped, from an
//!   origin the driver picks. Short protocol timers that must not jump when
//!   an operator or NTP steps the wall clock (an offer's ring timeout, SIP's
//!   T1 retransmissions) run on it. Meaningless outside the process: never
//!   stored or sent.
//!
//! [`TimerQueue`] is the one timer queue of the cores (the router, the
//! callback tracker, the SIP trunk): timers due together fire in a fixed
//! order, and a timer no longer wanted lapses when it comes up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_ms(d)))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// The wall clock, for adapters only.
    pub fn now_wall() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(duration_ms(d))
    }

    /// Start of the UTC day containing `self`.
    pub fn utc_day_start(self) -> Timestamp {
        Timestamp(self.0 - self.0 % 86_400_000)
    }
}

/// RFC 3339 in UTC, for messages and reports.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(self.0);
        write!(f, "{}", humantime::format_rfc3339_millis(t))
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds on the driver's monotonic clock (see the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Monotonic(pub u64);

impl Monotonic {
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> Monotonic {
        Monotonic(self.0.saturating_add(duration_ms(d)))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Monotonic) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// A monotonic clock for drivers (never for the cores): milliseconds since
/// the clock was made.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicClock {
    /// The process's clock: one origin for every driver, so a core
    /// restored by one task and driven by another sees one timeline.
    pub fn process() -> Self {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        Self {
            origin: *ORIGIN.get_or_init(std::time::Instant::now),
        }
    }

    pub fn new() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }

    pub fn now(&self) -> Monotonic {
        Monotonic(duration_ms(self.origin.elapsed()))
    }

    /// Both clocks read now: this one and the wall clock.
    pub fn both(&self) -> Now {
        Now {
            wall: Timestamp::now_wall(),
            mono: self.now(),
        }
    }
}

/// Both clocks at one moment, as a driver passes them to a core that keeps
/// wall-clock records and monotonic timers. A bare [`Timestamp`] converts
/// with the monotonic reading equal to it (for simulated clocks, where both
/// advance together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub wall: Timestamp,
    pub mono: Monotonic,
}

impl From<Timestamp> for Now {
    fn from(wall: Timestamp) -> Self {
        Now {
            wall,
            mono: Monotonic(wall.0),
        }
    }
}

/// When a core with both kinds of timers must next be woken: its earliest
/// wall-clock timer and its earliest monotonic one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub wall: Option<Timestamp>,
    pub mono: Option<Monotonic>,
}

impl Deadlines {
    /// How long from `now` until the earlier deadline (zero if one has
    /// passed); none without timers.
    pub fn wait(&self, now: Now) -> Option<Duration> {
        let wall = self.wall.map(|at| at.since(now.wall));
        let mono = self.mono.map(|at| at.since(now.mono));
        match (wall, mono) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a timer is due at `now`.
    pub fn due_by(&self, now: impl Into<Now>) -> bool {
        let now = now.into();
        self.wall.is_some_and(|at| at <= now.wall) || self.mono.is_some_and(|at| at <= now.mono)
    }

    /// The earlier deadline on a simulated clock, where both readings are
    /// the same number (see `From<Timestamp> for Now`).
    pub fn simulated(&self) -> Option<Timestamp> {
        let mono = self.mono.map(|m| Timestamp(m.0));
        match (self.wall, mono) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Timers ordered by when they are due, then by the timer itself (so
/// timers due together fire in a fixed order). A binary heap: arming is
/// cheap however many timers wait. Timers are never cancelled: each core
/// checks, when one fires, that it is still wanted (the router by serials,
/// the callback tracker against the record, the SIP core against the call),
/// so a stale timer lapses for the cost of one comparison.
/// `At` is [`Timestamp`] or [`Monotonic`].
#[derive(Clone, Debug)]
pub struct TimerQueue<At: Ord, T: Ord> {
    due: BinaryHeap<Reverse<(At, T)>>,
}

impl<At: Ord + Copy, T: Ord> Default for TimerQueue<At, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<At: Ord + Copy, T: Ord> TimerQueue<At, T> {
    pub fn new() -> Self {
        Self {
            due: BinaryHeap::new(),
        }
    }

    /// Arms `timer` for `at`.
    pub fn arm(&mut self, at: At, timer: T) {
        self.due.push(Reverse((at, timer)));
    }

    /// When the earliest timer is due.
    pub fn next_at(&self) -> Option<At> {
        self.due.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: At) -> Option<(At, T)> {
        if self.next_at()? > now {
            return None;
        }
        self.due.pop().map(|Reverse(entry)| entry)
    }

    /// Timers armed and not yet taken (stale ones included).
    pub fn len(&self) -> usize {
        self.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    pub fn clear(&mut self) {
        self.due.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_earliest_first_and_only_when_due() {
        let mut q = TimerQueue::new();
        q.arm(Monotonic(30), "c");
        q.arm(Monotonic(10), "b");
        q.arm(Monotonic(10), "a");
        assert_eq!(q.next_at(), Some(Monotonic(10)));
        assert_eq!(q.pop_due(Monotonic(9)), None);
        assert_eq!(q.pop_due(Monotonic(10)), Some((Monotonic(10), "a")));
        assert_eq!(q.pop_due(Monotonic(10)), Some((Monotonic(10), "b")));
        assert_eq!(q.pop_due(Monotonic(29)), None);
        assert_eq!(q.pop_due(Monotonic(100)), Some((Monotonic(30), "c")));
        assert!(q.is_empty());
    }

    #[test]
    fn timers_due_together_fire_in_the_timers_order_and_each_arming_fires() {
        let mut q = TimerQueue::new();
        q.arm(Timestamp(5), 2u8);
        q.arm(Timestamp(5), 1u8);
        q.arm(Timestamp(5), 1u8);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_due(Timestamp(10)), Some((Timestamp(5), 1)));
        assert_eq!(q.pop_due(Timestamp(10)), Some((Timestamp(5), 1)));
        assert_eq!(q.pop_due(Timestamp(10)), Some((Timestamp(5), 2)));
        assert!(q.is_empty());
    }

    #[test]
    fn a_bare_wall_reading_converts_with_the_same_monotonic_reading() {
        let now: Now = Timestamp(1234).into();
        assert_eq!(now.mono, Monotonic(1234));
        assert_eq!(
            Monotonic(10).plus(Duration::from_millis(5)).since(Monotonic(12)),
            Duration::from_millis(3)
        );
    }
}
