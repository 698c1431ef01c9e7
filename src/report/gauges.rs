//! The quality gauges (declared and observed FCR, satisfaction, scorecard
//! per queue): every `every`, the report figures over the last `window`,
//! from the same loader and pure functions as `ReportService`, so the
//! dashboard and the reports agree.
//!
//! Every node may run this against the shared store; they compute the same
//! figures. A failed read keeps the last figures and is logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::debug;

use crate::metrics::events::QueueQuality;
use crate::report::{self, QueueStats, ReportRules};
use crate::store::Store;
use crate::time::Timestamp;

/// The gauges' rows for the queues' report figures.
pub fn quality_rows(stats: &[QueueStats]) -> Vec<QueueQuality> {
    stats
        .iter()
        .map(|q| {
            let fcr = &q.common.fcr;
            QueueQuality {
                queue: q.queue.to_string(),
                fcr_declared: (fcr.contacts > 0).then(|| fcr.declared_rate()),
                fcr_observed: (fcr.issues > 0).then(|| fcr.observed_rate()),
                satisfaction: q.common.satisfaction_average,
                quality_score: q.common.quality_average.map(|score| score / 100.0),
            }
        })
        .collect()
}

/// Refreshes the gauges until `shutdown`.
pub async fn run(
    store: Arc<dyn Store>,
    rules: ReportRules,
    every: Duration,
    window: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let now = Timestamp::now_wall();
        let from = Timestamp(now.as_millis().saturating_sub(crate::time::duration_ms(window)));
        match report::source::load(store.as_ref(), &rules, from, now).await {
            Ok(input) => {
                let stats = report::queue_stats(now, from, now, &rules, &input);
                crate::metrics::events::quality(&quality_rows(&stats));
            }
            Err(e) => debug!(error = %e, "quality gauges not refreshed"),
        }
    }
}
