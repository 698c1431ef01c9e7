//! `[staffing]`: how the live staffing and the staffing plan read demand
//! and what they plan for. Each queue's service-level target (answered
//! within `service_level_secs`, `service_level_target_percent` of calls)
//! is a queue setting, changed through the admin API on any node.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use hotline_core::workforce::forecast::ForecastSettings;
use hotline_core::workforce::intervals::{Grid, LENGTHS_MINUTES};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StaffingConfig {
    /// Planning interval: 15, 20, 30 or 60 minutes.
    pub interval_minutes: u64,
    /// The center's IANA zone: "the same interval on an earlier day" is
    /// the same local time, and `report staffing --date` days are local.
    pub time_zone: String,
    /// Agents are planned to be busy at most this share of the time.
    pub max_occupancy_percent: u32,
    /// Handle time assumed for a queue with none measured yet.
    pub default_handle_secs: u64,
    /// Callers giving up needed before their patience is trusted (and
    /// Erlang A used).
    pub min_abandons: u32,
    /// How often each node reads new calls and recomputes.
    pub refresh_secs: u64,
    /// Days of history the forecast reads: the last 7 days for the daily
    /// shape, and the same weekday on each earlier week within it.
    pub history_days: u32,
}

impl Default for StaffingConfig {
    fn default() -> Self {
        StaffingConfig {
            interval_minutes: 15,
            time_zone: "UTC".into(),
            max_occupancy_percent: 85,
            default_handle_secs: 300,
            min_abandons: 20,
            refresh_secs: 15,
            history_days: 28,
        }
    }
}

impl StaffingConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if Grid::minutes(self.interval_minutes).is_none() {
            return Err(invalid(
                "staffing.interval_minutes",
                format!("must be one of {LENGTHS_MINUTES:?}"),
            ));
        }
        if jiff::tz::db().get(&self.time_zone).is_err() {
            let prefix: String = self.time_zone.chars().take(40).collect();
            return Err(invalid(
                "staffing.time_zone",
                format!("{prefix:?} is not a known IANA time zone"),
            ));
        }
        if !(1..=100).contains(&self.max_occupancy_percent) {
            return Err(invalid("staffing.max_occupancy_percent", "must be 1 to 100"));
        }
        if !(1..=86_400).contains(&self.default_handle_secs) {
            return Err(invalid("staffing.default_handle_secs", "must be 1 to 86400"));
        }
        if !(1..=1_000_000).contains(&self.min_abandons) {
            return Err(invalid("staffing.min_abandons", "must be 1 to 1000000"));
        }
        if !(1..=3_600).contains(&self.refresh_secs) {
            return Err(invalid("staffing.refresh_secs", "must be 1 to 3600"));
        }
        if !(7..=91).contains(&self.history_days) {
            return Err(invalid("staffing.history_days", "must be 7 to 91"));
        }
        Ok(())
    }

    /// The planning grid (checked at load).
    pub fn grid(&self) -> Grid {
        Grid::minutes(self.interval_minutes).unwrap_or(Grid::QUARTER_HOUR)
    }

    /// How the forecast reads history, in the configured zone (checked at
    /// load; UTC if the zone database lost it since).
    pub fn forecast(&self) -> ForecastSettings {
        ForecastSettings {
            zone: jiff::tz::db()
                .get(&self.time_zone)
                .unwrap_or(jiff::tz::TimeZone::UTC),
            days: 7,
            decay: 0.8,
            weeks: self.history_days / 7,
        }
    }

    pub fn refresh(&self) -> Duration {
        Duration::from_secs(self.refresh_secs)
    }
}
