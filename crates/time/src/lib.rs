//! Protocol time. The routing core never reads a clock: every input carries a
//! [`Timestamp`] that the driver took from its clock (wall clock in the server,
//! a simulated one in tests). Milliseconds since the Unix epoch, so the same
//! value can be stored, shown to clients and compared across nodes.

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
