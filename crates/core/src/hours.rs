//! Opening hours in a time zone: when a queue takes calls, and deadlines
//! that count only open time ("within 4 business hours": a request at
//! Friday 16:00 with 09:00-18:00 Monday to Friday is due Monday 11:00).
//!
//! Local times are turned into instants in the calendar's zone (jiff), so a
//! day across a daylight-saving change is as long as it really is: a
//! deadline crossing the change lands on the right instant. A local time
//! that does not exist (the hour skipped in spring) is taken as the instant
//! the clock jumps to; one that happens twice (autumn), as the first.
//!
//! The zone is given, already looked up: nothing here reads a zone
//! database, so the core stays free of I/O.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use crate::time::Timestamp;

/// Minutes in a day; a span may close at 24:00.
pub const DAY_MINUTES: u16 = 24 * 60;

/// How far ahead an open time is looked for (a calendar closed longer is
/// treated as never open).
const HORIZON_DAYS: usize = 800;

/// Opening hours: spans per weekday (minutes from local midnight, Monday
/// first), and whole days closed (holidays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenHours {
    zone: TimeZone,
    /// For each weekday Monday..Sunday, open spans `[open, close)`, sorted,
    /// not overlapping.
    week: [Vec<(u16, u16)>; 7],
    closed: BTreeSet<Date>,
}

/// Why a set of hours cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("{day}: {open:02}:{open_m:02}-{close:02}:{close_m:02} closes before it opens", open = .open / 60, open_m = .open % 60, close = .close / 60, close_m = .close % 60)]
    Backwards {
        day: &'static str,
        open: u16,
        close: u16,
    },
    #[error("{day}: the spans overlap")]
    Overlapping { day: &'static str },
    #[error("{0} is not a time of day (HH:MM, 00:00..24:00)")]
    BadTime(String),
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// "HH:MM" as minutes from midnight; "24:00" is the day's end.
pub fn parse_time(s: &str) -> Result<u16, HoursError> {
    let bad = || HoursError::BadTime(crate::error::quote(s).into_owned());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn millis(ts: Timestamp) -> jiff::Timestamp {
    let ms = i64::try_from(ts.as_millis()).unwrap_or(i64::MAX);
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::MAX)
}

impl OpenHours {
    /// Hours in `zone`; spans are checked (each closes after it opens,
    /// none overlaps another of its day).
    pub fn new(
        zone: TimeZone,
        week: [Vec<(u16, u16)>; 7],
        closed: BTreeSet<Date>,
    ) -> Result<Self, HoursError> {
        let mut week = week;
        for (i, spans) in week.iter_mut().enumerate() {
            let day = WEEKDAYS[i];
            spans.sort_unstable();
            for &(open, close) in spans.iter() {
                if close <= open || close > DAY_MINUTES {
                    return Err(HoursError::Backwards { day, open, close });
                }
            }
            if spans.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(HoursError::Overlapping { day });
            }
        }
        Ok(OpenHours { zone, week, closed })
    }

    /// Monday to Friday, `open_hour`..`close_hour`, in `zone`.
    pub fn weekdays(zone: TimeZone, open_hour: u16, close_hour: u16) -> Self {
        let day = vec![(open_hour * 60, close_hour * 60)];
        OpenHours {
            zone,
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                vec![],
                vec![],
            ],
            closed: BTreeSet::new(),
        }
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    fn never_open(&self) -> bool {
        self.week.iter().all(Vec::is_empty)
    }

    /// The local date of `at` in the calendar's zone.
    fn date_of(&self, at: Timestamp) -> Date {
        millis(at).to_zoned(self.zone.clone()).date()
    }

    /// The instant of local `minute` on `day`.
    fn instant(&self, day: Date, minute: u16) -> u64 {
        let local = if minute >= DAY_MINUTES {
            day.tomorrow().map(|d| d.to_datetime(Time::midnight()))
        } else {
            Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).map(|t| day.to_datetime(t))
        };
        local
            .and_then(|dt| dt.to_zoned(self.zone.clone()))
            .map(|z| z.timestamp().as_millisecond().max(0) as u64)
            .unwrap_or(u64::MAX)
    }

    /// The open spans of `day` as instants (none on a closed day).
    fn spans(&self, day: Date) -> Vec<(u64, u64)> {
        if self.closed.contains(&day) {
            return Vec::new();
        }
        let weekday = day.weekday().to_monday_zero_offset() as usize;
        self.week[weekday]
            .iter()
            .map(|&(o, c)| (self.instant(day, o), self.instant(day, c)))
            .collect()
    }

    /// The days from `at`'s local date on, as far as is looked.
    fn days_from(&self, at: Timestamp) -> impl Iterator<Item = Date> {
        let first = self.date_of(at);
        std::iter::successors(Some(first), |d| d.tomorrow().ok()).take(HORIZON_DAYS)
    }

    pub fn is_open(&self, at: Timestamp) -> bool {
        let t = at.as_millis();
        self.spans(self.date_of(at)).iter().any(|&(o, c)| o <= t && t < c)
    }

    /// `at` if open then, else the next opening; none if never open.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        let t = at.as_millis();
        for day in self.days_from(at) {
            for (o, c) in self.spans(day) {
                if c > t {
                    return Some(Timestamp(o.max(t)));
                }
            }
        }
        None
    }

    /// `start` plus `work` of open time. Hours never open count every
    /// moment (the deadline is as given).
    pub fn add(&self, start: Timestamp, work: Duration) -> Timestamp {
        if self.never_open() {
            return start.plus(work);
        }
        let mut left = crate::time::duration_ms(work);
        let t = start.as_millis();
        for day in self.days_from(start) {
            for (o, c) in self.spans(day) {
                let from = o.max(t);
                if from < c {
                    if left <= c - from {
                        return Timestamp(from + left);
                    }
                    left -= c - from;
                }
            }
        }
        start.plus(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        // The zone as the server would hand it in: a fixed POSIX rule for
        // Central Europe (no database read in a core test).
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        let ts: jiff::Timestamp = s.parse().unwrap();
        Timestamp(ts.as_millisecond() as u64)
    }

    #[test]
    fn business_time_skips_nights_and_weekends() {
        let hours = OpenHours::weekdays(TimeZone::UTC, 9, 18);
        let four = Duration::from_secs(4 * 3600);
        // 2026-11-20 was a Friday.
        assert_eq!(
            hours.add(at("2026-11-20T10:00:00Z"), four),
            at("2026-11-20T14:00:00Z")
        );
        assert_eq!(
            hours.add(at("2026-11-20T16:00:00Z"), four),
            at("2026-11-23T11:00:00Z"),
            "Friday 16:00 -> Monday 11:00"
        );
        assert_eq!(
            hours.add(at("2026-11-21T12:00:00Z"), four),
            at("2026-11-23T13:00:00Z"),
            "from Saturday"
        );
        assert_eq!(
            hours.add(at("2026-11-20T07:30:00Z"), four),
            at("2026-11-20T13:00:00Z")
        );
        assert_eq!(
            hours.add(at("2026-11-20T18:00:00Z"), Duration::ZERO),
            at("2026-11-23T09:00:00Z")
        );
    }

    #[test]
    fn a_deadline_across_the_spring_change_lands_on_the_right_instant() {
        // Berlin moves from UTC+1 to UTC+2 on Sunday 2027-03-28. Friday
        // 16:00 CET plus four open hours: two on Friday, two on Monday, so
        // Monday 11:00 CEST, which is 09:00 UTC (a fixed +1 says 10:00).
        let hours = OpenHours::weekdays(berlin(), 9, 18);
        let due = hours.add(at("2027-03-26T15:00:00Z"), Duration::from_secs(4 * 3600));
        assert_eq!(due, at("2027-03-29T09:00:00Z"));
        assert!(hours.is_open(at("2027-03-29T07:00:00Z")), "09:00 CEST");
        assert!(!hours.is_open(at("2027-03-29T06:30:00Z")), "08:30 CEST");
    }

    #[test]
    fn a_day_across_the_change_is_as_long_as_it_really_is() {
        // Open all Sunday: 2027-03-28 has 23 hours in Berlin.
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        week[6] = vec![(0, DAY_MINUTES)];
        let hours = OpenHours::new(berlin(), week, BTreeSet::new()).unwrap();
        let start = at("2027-03-27T23:00:00Z"); // Sunday 00:00 CET
        assert_eq!(
            hours.add(start, Duration::from_secs(23 * 3600)),
            at("2027-03-28T22:00:00Z"),
            "its whole day"
        );
        assert_eq!(
            hours.add(start, Duration::from_secs(24 * 3600)),
            at("2027-04-03T23:00:00Z"),
            "one hour more is the next Sunday's first hour (00:00-01:00 CEST)"
        );
    }

    #[test]
    fn holidays_are_closed_and_the_next_opening_skips_them() {
        let mut hours = OpenHours::weekdays(berlin(), 9, 18);
        hours.closed.insert("2027-03-29".parse().unwrap());
        assert_eq!(
            hours.next_open(at("2027-03-26T20:00:00Z")),
            Some(at("2027-03-30T07:00:00Z"))
        );
        assert!(!hours.is_open(at("2027-03-29T10:00:00Z")));
        let never = OpenHours::new(TimeZone::UTC, Default::default(), BTreeSet::new()).unwrap();
        assert_eq!(never.next_open(at("2027-03-26T20:00:00Z")), None);
        assert_eq!(
            never.add(at("2027-03-26T20:00:00Z"), Duration::from_secs(60)),
            at("2027-03-26T20:01:00Z")
        );
    }

    #[test]
    fn impossible_or_overlapping_hours_are_refused() {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        week[0] = vec![(600, 540)];
        assert!(matches!(
            OpenHours::new(TimeZone::UTC, week.clone(), BTreeSet::new()),
            Err(HoursError::Backwards { day: "mon", .. })
        ));
        week[0] = vec![(540, 720), (700, 900)];
        assert!(matches!(
            OpenHours::new(TimeZone::UTC, week, BTreeSet::new()),
            Err(HoursError::Overlapping { day: "mon" })
        ));
        assert_eq!(parse_time("24:00"), Ok(DAY_MINUTES));
        assert!(parse_time("24:01").is_err());
        assert!(parse_time("9:00").is_err());
        assert!(parse_time("09:60").is_err());
    }
}
