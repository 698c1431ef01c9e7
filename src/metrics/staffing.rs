//! Staffing metrics: per queue (bounded by the catalog's queues), the
//! agents the demand needs and the agents on duty, the demand observed and
//! forecast, and the service level each staffing is expected to give.
//! Every node computes the same figures from the shared store: read max
//! (or any one node) across nodes.

use metrics::{counter, describe_counter, describe_gauge, gauge};

/// One queue's figures at one refresh.
pub struct QueueStaffed<'a> {
    pub queue: &'a str,
    pub required: u32,
    pub required_erlang_c: u32,
    pub on_duty: u32,
    pub observed_calls: u32,
    /// None without history to forecast from.
    pub forecast_calls: Option<f64>,
    pub expected_service_level_on_duty: f64,
    pub expected_service_level_required: f64,
}

pub fn describe() {
    describe_gauge!(
        "hotline_staffing_required_agents",
        "Agents a queue needs now to meet its service-level target (Erlang A where callers are seen giving up, else Erlang C), for the larger of the demand observed over the last interval and the demand forecast for this one."
    );
    describe_gauge!(
        "hotline_staffing_required_agents_erlang_c",
        "Agents a queue needs now by Erlang C alone (callers who never give up)."
    );
    describe_gauge!(
        "hotline_staffing_on_duty_agents",
        "Agents logged in, able to serve the queue and not in not-ready."
    );
    describe_gauge!(
        "hotline_staffing_observed_calls",
        "Calls a queue was offered over the last planning interval (callbacks and calls refused at entry left out)."
    );
    describe_gauge!(
        "hotline_staffing_forecast_calls",
        "Calls forecast for the current planning interval from the same interval on earlier days and weeks (absent without history)."
    );
    describe_gauge!(
        "hotline_staffing_expected_service_level",
        "Share of calls expected to be answered within the queue's threshold, with the agents on duty (staffing=on_duty) and with the agents required (staffing=required)."
    );
    describe_counter!(
        "hotline_staffing_refresh_failures_total",
        "Staffing refreshes that could not read calls from the store (the figures shown are from the last refresh that could)."
    );
}

pub fn initialise() {
    counter!("hotline_staffing_refresh_failures_total").absolute(0);
}

/// A queue's staffing was computed.
pub fn queue_staffed(q: &QueueStaffed<'_>) {
    let queue = q.queue.to_string();
    gauge!("hotline_staffing_required_agents", "queue" => queue.clone()).set(f64::from(q.required));
    gauge!("hotline_staffing_required_agents_erlang_c", "queue" => queue.clone())
        .set(f64::from(q.required_erlang_c));
    gauge!("hotline_staffing_on_duty_agents", "queue" => queue.clone()).set(f64::from(q.on_duty));
    gauge!("hotline_staffing_observed_calls", "queue" => queue.clone()).set(f64::from(q.observed_calls));
    if let Some(f) = q.forecast_calls {
        gauge!("hotline_staffing_forecast_calls", "queue" => queue.clone()).set(f);
    }
    gauge!("hotline_staffing_expected_service_level", "queue" => queue.clone(), "staffing" => "on_duty")
        .set(q.expected_service_level_on_duty);
    gauge!("hotline_staffing_expected_service_level", "queue" => queue, "staffing" => "required")
        .set(q.expected_service_level_required);
}

/// A refresh could not read the store.
pub fn refresh_failed() {
    counter!("hotline_staffing_refresh_failures_total").increment(1);
}
