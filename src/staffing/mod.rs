//! Staffing as every node follows it: for each queue, the agents its
//! demand needs now and in the next intervals, against the agents on duty
//! (`hotline_core::workforce` does the arithmetic).
//!
//! Invariants:
//! - every node computes from the shared store (calls and contacts) and
//!   the routing core's live agent counts, so every node shows the same
//!   figures, give or take one refresh ([`StaffingConfig::refresh_secs`]);
//! - the history (the last `history_days`) is read once at start, then
//!   only the last intervals are read again each refresh: intervals older
//!   than [`SETTLED_INTERVALS`] are taken as final;
//! - the requirement now is the larger of the one for the demand observed
//!   over the last interval and the one for this interval's forecast: a
//!   surge above the forecast is staffed as it happens, and a quiet moment
//!   just before a forecast peak does not hide it;
//! - when the store cannot be read the node says so (a warning and
//!   `hotline_staffing_refresh_failures_total`) and shows the last figures
//!   it had, with the time they were taken.

pub mod plan;
pub mod source;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use crate::acd::{AgentState, QueueSettings};
use crate::admin::LiveCatalog;
use crate::cluster::RouterLink;
use crate::config::StaffingConfig;
use crate::engine::Command;
use crate::store::Store;
use crate::time::Timestamp;
use hotline_core::ids::QueueName;
use hotline_core::workforce::erlang::Target;
use hotline_core::workforce::forecast::{Expected, ForecastSettings, Forecaster};
use hotline_core::workforce::intervals::{
    interval_figures, window_figures, Grid, IntervalFigures, QueueIntervals,
};
use hotline_core::workforce::plan::{staff, PlanRules, Staffing};

/// Intervals read again each refresh: calls queued in them may still be
/// waiting, ringing or in wrap-up.
pub const SETTLED_INTERVALS: u64 = 2;

/// Coming intervals shown after the current one.
pub const AHEAD: u64 = 4;

/// Handled contacts needed in the last hour before its handle time is used
/// for the observed demand (fewer: the history's).
const MIN_HANDLED: u32 = 5;

/// One coming interval's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Ahead {
    pub start: Timestamp,
    pub expected: Expected,
    pub required: u32,
}

/// One queue's staffing at one refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStaffing {
    pub queue: QueueName,
    /// Calls over the last interval (to now).
    pub observed: IntervalFigures,
    /// This interval's forecast; none without history.
    pub forecast: Option<Expected>,
    /// The staffing the requirement follows, with the on-duty outlook.
    pub staffing: Staffing,
    /// The requirement follows the forecast (else the observed demand).
    pub from_forecast: bool,
    pub on_duty: u32,
    pub ahead: Vec<Ahead>,
    /// The target planned for.
    pub rules: PlanRules,
}

/// Every queue's staffing, and when it was computed.
#[derive(Clone, Debug, Default)]
pub struct Board {
    pub at: Option<Timestamp>,
    pub interval: Duration,
    pub queues: BTreeMap<QueueName, QueueStaffing>,
}

/// This node's staffing board. Cheap to clone (shared).
#[derive(Clone)]
pub struct LiveStaffing {
    board: Arc<RwLock<Arc<Board>>>,
    pub config: Arc<StaffingConfig>,
    /// Asks the follower to read the whole history again (records written
    /// into the past: an import, the demo's seeded week).
    reread: Arc<tokio::sync::Notify>,
}

impl LiveStaffing {
    pub fn new(config: &StaffingConfig) -> Self {
        LiveStaffing {
            board: Arc::new(RwLock::new(Arc::new(Board::default()))),
            config: Arc::new(config.clone()),
            reread: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Reads the whole history again at the next refresh, which comes at
    /// once.
    pub fn reread(&self) {
        self.reread.notify_one();
    }

    /// The board as of the last refresh.
    pub fn board(&self) -> Arc<Board> {
        self.board.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Follows the store until `shutdown`: reads the history, then
    /// refreshes every `refresh_secs`.
    pub fn spawn(
        &self,
        store: Arc<dyn Store>,
        engine: RouterLink,
        catalog: LiveCatalog,
        short_abandon: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let follower = Follower {
            store,
            engine,
            catalog,
            short_abandon,
            grid: self.config.grid(),
            forecast: self.config.forecast(),
            config: self.config.clone(),
            board: self.board.clone(),
            history: QueueIntervals::new(),
            since: None,
            read_at: None,
        };
        let reread = self.reread.clone();
        tokio::spawn(async move {
            let mut follower = follower;
            let mut tick = tokio::time::interval(follower.config.refresh());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = reread.notified() => follower.since = None,
                    _ = shutdown.changed() => return,
                }
                let now = Timestamp::now_wall();
                // Once a day the whole history is read again: the window
                // moves on, and records written into the past are seen.
                if follower
                    .read_at
                    .is_some_and(|at| now.as_millis().saturating_sub(at.as_millis()) > 86_400_000)
                {
                    follower.since = None;
                }
                follower.refresh(now).await;
            }
        });
    }
}

/// The task that keeps the board.
struct Follower {
    store: Arc<dyn Store>,
    /// Live agent counts per queue, from the routing core.
    engine: RouterLink,
    /// Queues and their service-level targets, as changed on any node.
    catalog: LiveCatalog,
    /// Abandons shorter than this are not counted (as in the reports).
    short_abandon: Duration,
    grid: Grid,
    forecast: ForecastSettings,
    config: Arc<StaffingConfig>,
    board: Arc<RwLock<Arc<Board>>>,
    /// Each queue's figures per interval, the history and today.
    history: QueueIntervals,
    /// Where the history begins (the first call read, or the first
    /// refresh): earlier days are unknown, not quiet. None until read.
    since: Option<Timestamp>,
    /// When the whole history was last read.
    read_at: Option<Timestamp>,
}

impl Follower {
    async fn refresh(&mut self, now: Timestamp) {
        let length = self.grid.length();
        let settled = Timestamp(
            self.grid
                .start_of(now)
                .as_millis()
                .saturating_sub(SETTLED_INTERVALS * length.as_millis() as u64),
        );
        // The history once, then the unsettled intervals (and the last
        // hour, for the handle time now).
        let hour_ago = Timestamp(now.as_millis().saturating_sub(3_600_000));
        let from = match self.since {
            None => Timestamp(
                now.as_millis()
                    .saturating_sub(u64::from(self.config.history_days) * 86_400_000),
            ),
            Some(_) => settled.min(hour_ago),
        };
        let (calls, contacts) = match source::load(self.store.as_ref(), from, now).await {
            Ok(read) => read,
            Err(e) => {
                warn!(error = %e, "staffing not refreshed: calls could not be read; showing the last figures");
                crate::metrics::staffing::refresh_failed();
                return;
            }
        };
        let first = self.since.is_none();
        if first {
            self.read_at = Some(now);
        }
        let since = *self
            .since
            .get_or_insert_with(|| source::history_begins(&calls, now));
        // What was read replaces the unsettled intervals (all of them the
        // first time); what fell out of the history window goes.
        let oldest = self.grid.start_of(Timestamp(
            now.as_millis()
                .saturating_sub(u64::from(self.config.history_days) * 86_400_000),
        ));
        if first {
            self.history.clear();
        }
        for slots in self.history.values_mut() {
            slots.retain(|&start, _| start >= oldest && start < settled);
        }
        for (queue, slots) in interval_figures(&self.grid, &calls, &contacts, self.short_abandon, now) {
            self.history
                .entry(queue)
                .or_default()
                .extend(slots.into_iter().filter(|&(start, _)| first || start >= settled));
        }
        let last = Timestamp(now.as_millis().saturating_sub(length.as_millis() as u64));
        let observed = window_figures(&calls, &contacts, last, now, self.short_abandon, now);
        let hour = window_figures(&calls, &contacts, hour_ago, now, self.short_abandon, now);
        let on_duty = match self
            .engine
            .execute(None, Command::QueueViews)
            .await
            .and_then(|r| r.queues())
        {
            Ok((_, views)) => views
                .into_iter()
                .map(|v| {
                    let n = v
                        .agents_by_state
                        .iter()
                        .filter(|(s, _)| !matches!(s, AgentState::LoggedOut | AgentState::NotReady))
                        .map(|(_, n)| n)
                        .sum::<u32>();
                    (v.name, n)
                })
                .collect::<BTreeMap<_, _>>(),
            Err(e) => {
                warn!(error = %e, "staffing without agents on duty: the routing core did not answer");
                crate::metrics::staffing::refresh_failed();
                BTreeMap::new()
            }
        };
        let queues: Vec<QueueSettings> = self
            .catalog
            .read()
            .list::<QueueSettings>()
            .map(|q| q.value.clone())
            .collect();
        let empty = BTreeMap::new();
        let mut board = Board {
            at: Some(now),
            interval: length,
            queues: BTreeMap::new(),
        };
        for settings in &queues {
            let Some(name) = settings.name.clone() else {
                continue;
            };
            let history = self.history.get(&name).unwrap_or(&empty);
            let rules = rules(&self.config, settings);
            let forecaster = Forecaster::new(self.grid, &self.forecast, history, since);
            let q = queue_staffing(QueueInputs {
                queue: name.clone(),
                rules: &rules,
                grid: self.grid,
                now,
                forecaster: &forecaster,
                pooled: pooled(history),
                observed: observed.get(&name).copied().unwrap_or_default(),
                hour: hour.get(&name).copied().unwrap_or_default(),
                on_duty: on_duty.get(&name).copied().unwrap_or(0),
            });
            crate::metrics::staffing::queue_staffed(&crate::metrics::staffing::QueueStaffed {
                queue: name.as_str(),
                required: q.staffing.required().agents,
                required_erlang_c: q.staffing.erlang_c.agents,
                on_duty: q.on_duty,
                observed_calls: q.observed.offered,
                forecast_calls: q.forecast.map(|f| f.calls),
                expected_service_level_on_duty: q.staffing.on_duty.map(|o| o.service_level).unwrap_or(0.0),
                expected_service_level_required: q.staffing.required().service_level,
            });
            board.queues.insert(name, q);
        }
        *self.board.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(board);
    }
}

/// A queue's planning rules: its own target, the center's occupancy cap.
pub fn rules(config: &StaffingConfig, q: &QueueSettings) -> PlanRules {
    PlanRules {
        target: Target {
            threshold: Duration::from_secs(q.service_level_secs),
            service_level: f64::from(q.service_level_target_percent.clamp(1, 100)) / 100.0,
            max_occupancy: f64::from(config.max_occupancy_percent.clamp(1, 100)) / 100.0,
        },
        default_handle: Duration::from_secs(config.default_handle_secs),
        min_abandons: config.min_abandons,
    }
}

/// Everything a queue's history holds, added up (handle time and patience
/// over the whole history).
pub fn pooled(history: &BTreeMap<Timestamp, IntervalFigures>) -> IntervalFigures {
    history.values().fold(IntervalFigures::default(), |mut all, f| {
        all.add(f);
        all
    })
}

/// What one queue's staffing is computed from.
struct QueueInputs<'a> {
    queue: QueueName,
    rules: &'a PlanRules,
    grid: Grid,
    now: Timestamp,
    forecaster: &'a Forecaster<'a>,
    pooled: IntervalFigures,
    observed: IntervalFigures,
    hour: IntervalFigures,
    on_duty: u32,
}

fn queue_staffing(i: QueueInputs<'_>) -> QueueStaffing {
    let length = i.grid.length();
    let patience = i.pooled.patience().map(|p| (p, i.pooled.abandoned));
    let handle_now = if i.hour.handled >= MIN_HANDLED {
        i.hour.average_handle()
    } else {
        i.pooled.average_handle().or(i.hour.average_handle())
    };
    let observed = staff(
        i.rules,
        f64::from(i.observed.offered),
        length,
        handle_now,
        patience,
        Some(i.on_duty),
    );
    let current = i.grid.start_of(i.now);
    let forecast = i.forecaster.forecast(current);
    let forecast_staffing = forecast.map(|e| {
        staff(
            i.rules,
            e.calls,
            length,
            e.handle.or(handle_now),
            patience,
            Some(i.on_duty),
        )
    });
    let (staffing, from_forecast) = match forecast_staffing {
        Some(f) if f.required().agents > observed.required().agents => (f, true),
        _ => (observed, false),
    };
    let ahead = (1..=AHEAD)
        .filter_map(|n| {
            let start = i.grid.after(current, n);
            let e = i.forecaster.forecast(start)?;
            let s = staff(i.rules, e.calls, length, e.handle.or(handle_now), patience, None);
            Some(Ahead {
                start,
                expected: e,
                required: s.required().agents,
            })
        })
        .collect();
    QueueStaffing {
        queue: i.queue,
        observed: i.observed,
        forecast,
        staffing,
        from_forecast,
        on_duty: i.on_duty,
        ahead,
        rules: *i.rules,
    }
}
