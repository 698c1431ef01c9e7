//! Business hours: deadlines that count only the time a queue is staffed
//! ("within 4 business hours": a request at Friday 16:00 with a 09:00-18:00
//! Monday-to-Friday calendar is due Monday 11:00). Pure arithmetic on
//! [`Timestamp`]s; the calendar's time zone is a fixed UTC offset.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;

/// Opening hours per weekday (0 = Monday), minutes from local midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    /// Local time = UTC + this many minutes.
    pub utc_offset_minutes: i32,
    /// For each weekday Monday..Sunday: open and close minute, if open.
    pub days: [Option<(u32, u32)>; 7],
}

impl BusinessHours {
    /// Monday to Friday, `open`..`close` (hours), at `utc_offset_minutes`.
    pub fn weekdays(open_hour: u32, close_hour: u32, utc_offset_minutes: i32) -> Self {
        let day = Some((open_hour * 60, close_hour * 60));
        BusinessHours {
            utc_offset_minutes,
            days: [day, day, day, day, day, None, None],
        }
    }

    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * MINUTE_MS as i64
    }

    /// `start` plus `work` of open time.
    pub fn add(&self, start: Timestamp, work: Duration) -> Timestamp {
        if self.days.iter().all(|d| d.is_none_or(|(o, c)| c <= o)) {
            // Never open: nothing to count, the deadline is as given.
            return start.plus(work);
        }
        let mut left = crate::time::duration_ms(work);
        let mut local = (start.as_millis() as i64 + self.offset_ms()).max(0) as u64;
        loop {
            let day_start = local - local % DAY_MS;
            // 1970-01-01 was a Thursday: weekday 3 with Monday = 0.
            let weekday = ((day_start / DAY_MS + 3) % 7) as usize;
            if let Some((open, close)) = self.days[weekday] {
                let open = day_start + u64::from(open) * MINUTE_MS;
                let close = day_start + u64::from(close) * MINUTE_MS;
                let from = local.max(open);
                if from < close {
                    let here = close - from;
                    if left <= here {
                        let due = from + left;
                        return Timestamp((due as i64 - self.offset_ms()).max(0) as u64);
                    }
                    left -= here;
                }
            }
            local = day_start + DAY_MS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-20 was a Friday.
    fn at(day: u64, hour: u64, minute: u64) -> Timestamp {
        let friday = 1_795_132_800_000u64; // 2026-11-20T00:00:00Z
        Timestamp(friday + (day * 24 * 60 + hour * 60 + minute) * MINUTE_MS)
    }

    #[test]
    fn business_time_skips_nights_and_weekends() {
        let hours = BusinessHours::weekdays(9, 18, 0);
        let four = Duration::from_secs(4 * 3600);
        assert_eq!(hours.add(at(0, 10, 0), four), at(0, 14, 0), "within one day");
        assert_eq!(
            hours.add(at(0, 16, 0), four),
            at(3, 11, 0),
            "Friday 16:00 -> Monday 11:00"
        );
        assert_eq!(
            hours.add(at(1, 12, 0), four),
            at(3, 13, 0),
            "Saturday counts from Monday 09:00"
        );
        assert_eq!(
            hours.add(at(0, 7, 30), four),
            at(0, 13, 0),
            "before opening counts from opening"
        );
        assert_eq!(
            hours.add(at(0, 18, 0), Duration::ZERO),
            at(3, 9, 0),
            "at closing: next opening"
        );
    }

    #[test]
    fn the_calendar_keeps_local_time() {
        // UTC+8: local 09:00-18:00 is 01:00-10:00 UTC.
        let hours = BusinessHours::weekdays(9, 18, 8 * 60);
        assert_eq!(hours.add(at(0, 8, 0), Duration::from_secs(3 * 3600)), at(3, 2, 0));
    }
}
