//! Hours calendars: when queues are open, in an IANA time zone, with
//! holiday closures. The zone's name is checked at the edge (which has the
//! zone database); the spans and days here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Catalog, Kind, Object, Versioned};
use crate::acd::QueueSettings;
use crate::hours::{parse_time, OpenHours, WEEKDAYS};
use crate::Error;

/// Open `from`..`to` (HH:MM local, `to` up to 24:00) on each of `days`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenSpan {
    /// "mon" .. "sun".
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

/// A whole day closed (a public holiday).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    pub date: jiff::civil::Date,
    #[serde(default)]
    pub label: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HoursCalendar {
    pub id: String,
    pub description: String,
    /// IANA name, e.g. "Europe/Berlin".
    pub time_zone: String,
    pub open: Vec<OpenSpan>,
    pub closed: Vec<Closure>,
}

impl HoursCalendar {
    /// The hours in `zone` (the calendar's, looked up), or what is wrong,
    /// naming the field.
    pub fn hours(&self, zone: jiff::tz::TimeZone) -> Result<OpenHours, Error> {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, span) in self.open.iter().enumerate() {
            let field = |f: &str| format!("open[{i}].{f}");
            let from = parse_time(&span.from).map_err(|e| Error::invalid(field("from"), e.to_string()))?;
            let to = parse_time(&span.to).map_err(|e| Error::invalid(field("to"), e.to_string()))?;
            if span.days.is_empty() {
                return Err(Error::invalid(field("days"), "names no day"));
            }
            for d in &span.days {
                let day = WEEKDAYS
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case(d))
                    .ok_or_else(|| {
                        Error::invalid(
                            field("days"),
                            format!("{} is not one of mon..sun", crate::error::quote(d)),
                        )
                    })?;
                week[day].push((from, to));
            }
        }
        let closed: BTreeSet<_> = self.closed.iter().map(|c| c.date).collect();
        if closed.len() != self.closed.len() {
            return Err(Error::invalid("closed", "a date is listed twice"));
        }
        OpenHours::new(zone, week, closed).map_err(|e| Error::invalid("open", e.to_string()))
    }
}

impl Object for HoursCalendar {
    const ID_FIELD: &'static str = "id";
    const KIND: Kind = Kind::Calendar;
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self, _: &Catalog) -> Result<(), Error> {
        self.hours(jiff::tz::TimeZone::UTC).map(|_| ())
    }
    fn used_by(c: &Catalog, id: &str) -> Option<String> {
        c.list::<QueueSettings>()
            .find(|q| q.value.hours == id || q.value.callback_hours == id)
            .map(|q| format!("queue {}", super::queue_id(&q.value)))
    }
    fn table(c: &Catalog) -> &BTreeMap<String, Versioned<Self>> {
        &c.calendars
    }
    fn table_mut(c: &mut Catalog) -> &mut BTreeMap<String, Versioned<Self>> {
        &mut c.calendars
    }
}
