//! Staffing an interval: from the demand (observed or forecast) and the
//! queue's target to the agents it needs and what the agents on duty will
//! deliver.
//!
//! Rules:
//! - the requirement is Erlang C's (callers wait as long as it takes) and,
//!   when the queue's callers are seen giving up, Erlang A's too;
//! - the recommendation is Erlang A's when patience was measured from at
//!   least `min_abandons` callers giving up (abandonment matters), else
//!   Erlang C's, and the outlook for the agents on duty uses the same model;
//! - a demand without a measured handle time uses the default handle time.

use std::time::Duration;

use super::erlang::{agents_needed, outlook_under, Demand, Model, Outlook, Target};

/// How a queue is staffed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanRules {
    pub target: Target,
    /// Handle time for a demand without one measured.
    pub default_handle: Duration,
    /// Callers giving up needed before their patience is trusted.
    pub min_abandons: u32,
}

/// The staffing of one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Staffing {
    pub demand: Demand,
    /// Measured patience, when trusted.
    pub patience: Option<Duration>,
    /// The fewest agents meeting the target under Erlang C.
    pub erlang_c: Outlook,
    /// The same under Erlang A, when patience is trusted.
    pub erlang_a: Option<Outlook>,
    /// The agents on duty and what they will deliver (same model as the
    /// recommendation), when known.
    pub on_duty: Option<Outlook>,
}

impl Staffing {
    /// The agents recommended: Erlang A's where callers give up, else
    /// Erlang C's.
    pub fn required(&self) -> &Outlook {
        self.erlang_a.as_ref().unwrap_or(&self.erlang_c)
    }

    /// The model the recommendation follows.
    pub fn model(&self) -> Model {
        match self.patience {
            Some(patience) => Model::Abandon { patience },
            None => Model::WaitForever,
        }
    }
}

/// Staffs `calls` arriving over `interval`, handled in `handle` (or the
/// default), with callers' `patience` measured from `abandons` callers who
/// gave up, and `on_duty` agents when known.
pub fn staff(
    rules: &PlanRules,
    calls: f64,
    interval: Duration,
    handle: Option<Duration>,
    patience: Option<(Duration, u32)>,
    on_duty: Option<u32>,
) -> Staffing {
    let demand = Demand {
        calls: calls.max(0.0),
        interval,
        handle: handle.filter(|h| !h.is_zero()).unwrap_or(rules.default_handle),
    };
    let patience = patience
        .filter(|&(p, abandons)| abandons >= rules.min_abandons.max(1) && !p.is_zero())
        .map(|(p, _)| p);
    let erlang_c = agents_needed(Model::WaitForever, &demand, &rules.target);
    let erlang_a =
        patience.map(|patience| agents_needed(Model::Abandon { patience }, &demand, &rules.target));
    let mut staffing = Staffing {
        demand,
        patience,
        erlang_c,
        erlang_a,
        on_duty: None,
    };
    staffing.on_duty = on_duty.map(|n| outlook_under(staffing.model(), n, &demand, rules.target.threshold));
    staffing
}
