//! The demo's final report, computed from the calls the server recorded
//! (SupervisorService.ListCalls), not from what the simulators believe.

use std::collections::BTreeMap;
use std::fmt;

use crate::client::Clients;
use crate::config::Config;
use crate::error::Error;
use crate::proto;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DemoReport {
    pub offered: u32,
    pub answered: u32,
    /// After at least the short-abandon time, as the server counts them.
    pub abandoned: u32,
    /// Hung up sooner (not in `abandoned` nor in service level).
    pub short_abandons: u32,
    pub overflowed: u32,
    pub rejected: u32,
    /// Calls still waiting (never answered) when the report was taken.
    pub still_open: u32,
    pub answered_within_threshold: u32,
    /// answered within threshold / (answered + abandoned).
    pub service_level: f64,
    /// Tier -> (answered calls, mean wait seconds).
    pub wait_by_tier: BTreeMap<String, (u32, f64)>,
    /// Agent -> answered calls.
    pub calls_per_agent: BTreeMap<String, u32>,
    /// Recordings the calls left, their total length, and where they are.
    pub recordings: u32,
    pub recorded_secs: f64,
    pub recordings_dir: String,
    /// Callbacks created during the demo (abandons, open wrap-ups).
    pub callbacks_created: u32,
    pub callbacks_met: u32,
    pub callbacks_missed: u32,
    pub callbacks_open: u32,
    /// Callback work items the agents dialled.
    pub callback_attempts: u32,
    /// First-call resolution over the demo, all queues: (contacts, declared
    /// resolved, issues, observed resolved so far, provisional).
    pub fcr: (u32, u32, u32, u32, bool),
    /// Cases the agents opened from open wrap-ups of known customers:
    /// (all, complaints, repair requests).
    pub cases: (u32, u32, u32),
    /// Per queue, at the moment most agents were on duty: (agents
    /// required, agents on duty), from the live staffing board.
    pub staffing: BTreeMap<String, (u32, u32)>,
}

/// Each queue's staffing at its busiest moment: (agents required, agents
/// on duty) when most agents were on duty.
pub(super) type Busiest = std::sync::Arc<std::sync::Mutex<BTreeMap<String, (u32, u32)>>>;

/// Follows the queue board (until aborted), keeping each queue's busiest
/// moment in `busiest`.
pub(super) async fn watch_staffing(mut sup: Clients, busiest: Busiest) {
    use tokio_stream::StreamExt;
    let Ok(stream) = sup
        .supervisor
        .watch_queues(proto::WatchQueuesRequest { interval_ms: 500 })
        .await
    else {
        return;
    };
    let mut stream = stream.into_inner();
    while let Some(Ok(snap)) = stream.next().await {
        let mut seen = busiest.lock().unwrap_or_else(|p| p.into_inner());
        for q in snap.queues {
            let Some(s) = q.staffing else { continue };
            let e = seen
                .entry(q.queue)
                .or_insert((s.required_agents, s.on_duty_agents));
            if s.on_duty_agents >= e.1 {
                *e = (s.required_agents, s.on_duty_agents);
            }
        }
    }
}

fn tier_name(t: i32) -> String {
    match proto::Tier::try_from(t) {
        Ok(proto::Tier::KeyAccount) => "key-account",
        Ok(proto::Tier::Potential) => "potential",
        Ok(proto::Tier::Regular) => "regular",
        Ok(proto::Tier::OneOff) => "one-off",
        _ => "unspecified",
    }
    .to_string()
}

/// The call counts of a demo, counted one way for the live status line and
/// the final report: every call the center took once (a callback's work
/// item is not a call), by how it ended; still-connected calls count as
/// answered, anything else not yet ended as still open.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Tally {
    pub offered: u32,
    pub answered: u32,
    pub abandoned: u32,
    pub short_abandons: u32,
    pub overflowed: u32,
    pub rejected: u32,
    pub still_open: u32,
    pub answered_within_threshold: u32,
    /// Callback work items the agents dialled.
    pub callback_attempts: u32,
    /// Tier -> (answered calls, summed wait seconds).
    pub waits: BTreeMap<String, (u32, f64)>,
    pub calls_per_agent: BTreeMap<String, u32>,
}

impl Tally {
    pub(super) fn of(calls: &[proto::Call], config: &Config) -> Tally {
        let mut t = Tally::default();
        let short_abandon_ms =
            i64::try_from(config.reports.short_abandon_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        // Answered within the queue's service-level threshold.
        let within = |c: &proto::Call| {
            let wait = (c.answered_at_unix_ms - c.enqueued_at_unix_ms) as f64 / 1000.0;
            let threshold = config
                .queues
                .get(&c.queue)
                .map(|q| q.service_level_secs)
                .unwrap_or(20);
            wait <= threshold as f64
        };
        for c in calls {
            if !c.callback_id.is_empty() {
                if c.answered_at_unix_ms > 0 {
                    t.callback_attempts += 1;
                }
                continue;
            }
            t.offered += 1;
            match proto::CallOutcome::try_from(c.outcome) {
                Ok(proto::CallOutcome::Answered) => {
                    t.answered += 1;
                    let wait = (c.answered_at_unix_ms - c.enqueued_at_unix_ms) as f64 / 1000.0;
                    if within(c) {
                        t.answered_within_threshold += 1;
                    }
                    let e = t.waits.entry(tier_name(c.tier)).or_default();
                    e.0 += 1;
                    e.1 += wait;
                    *t.calls_per_agent.entry(c.agent_id.clone()).or_default() += 1;
                }
                Ok(proto::CallOutcome::Abandoned) => {
                    // The server's definition: a shorter hang-up is a
                    // short abandon, not an abandoned call.
                    let waited = c.ended_at_unix_ms - c.enqueued_at_unix_ms;
                    if waited < short_abandon_ms {
                        t.short_abandons += 1;
                    } else {
                        t.abandoned += 1;
                    }
                }
                Ok(proto::CallOutcome::Overflowed) => t.overflowed += 1,
                Ok(proto::CallOutcome::Rejected) | Ok(proto::CallOutcome::Closed) => t.rejected += 1,
                _ => {
                    if c.answered_at_unix_ms > 0 {
                        t.answered += 1;
                        // Talking now: answered, and within the threshold
                        // or not, like an answered call that ended.
                        if within(c) {
                            t.answered_within_threshold += 1;
                        }
                        *t.calls_per_agent.entry(c.agent_id.clone()).or_default() += 1;
                    } else {
                        t.still_open += 1;
                    }
                }
            }
        }
        t
    }

    /// answered within threshold / (answered + abandoned), 0..=1.
    pub(super) fn service_level(&self) -> f64 {
        match self.answered + self.abandoned {
            0 => 1.0,
            n => f64::from(self.answered_within_threshold) / f64::from(n),
        }
    }
}

/// The demo's report over the calls queued since `since_ms` (the seeded
/// past week is history, not the demo's calls).
pub(super) async fn collect(mut sup: Clients, config: &Config, since_ms: i64) -> Result<DemoReport, Error> {
    let mut calls = sup.all_calls().await?;
    calls.retain(|c| c.enqueued_at_unix_ms >= since_ms);
    let t = Tally::of(&calls, config);
    let mut r = DemoReport {
        offered: t.offered,
        answered: t.answered,
        abandoned: t.abandoned,
        short_abandons: t.short_abandons,
        overflowed: t.overflowed,
        rejected: t.rejected,
        still_open: t.still_open,
        answered_within_threshold: t.answered_within_threshold,
        service_level: t.service_level(),
        callback_attempts: t.callback_attempts,
        calls_per_agent: t.calls_per_agent.clone(),
        ..DemoReport::default()
    };
    let waits = t.waits;
    let mut page_token = String::new();
    loop {
        let page = sup
            .supervisor
            .list_recordings(proto::ListRecordingsRequest {
                page_size: 500,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|s| crate::status::from_remote(&s))?
            .into_inner();
        for rec in &page.recordings {
            r.recordings += 1;
            r.recorded_secs += rec.duration_ms as f64 / 1000.0;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    r.recordings_dir = config.media.recordings_dir.display().to_string();
    let mut token = String::new();
    loop {
        let page = sup
            .callback
            .list_callbacks(proto::ListCallbacksRequest {
                page_size: 500,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .map_err(|s| crate::status::from_remote(&s))?
            .into_inner();
        for cb in &page.callbacks {
            r.callbacks_created += 1;
            match cb.met {
                Some(true) => r.callbacks_met += 1,
                Some(false) => r.callbacks_missed += 1,
                None if cb.status == proto::CallbackStatus::Cancelled as i32 => {}
                None => r.callbacks_open += 1,
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let now = crate::time::Timestamp::now_wall().as_millis() as i64;
    let fcr = sup
        .report
        .get_first_call_resolution(proto::FcrRequest {
            from_unix_ms: since_ms,
            to_unix_ms: now + 1,
            group_by: proto::FcrGroupBy::Queue as i32,
        })
        .await
        .map_err(|s| crate::status::from_remote(&s))?
        .into_inner();
    for row in &fcr.rows {
        r.fcr.0 += row.contacts;
        r.fcr.1 += row.declared_resolved;
        r.fcr.2 += row.issues;
        r.fcr.3 += row.observed_resolved;
        r.fcr.4 |= row.provisional;
    }
    let cases = sup
        .report
        .get_case_stats(proto::CaseStatsRequest {
            from_unix_ms: since_ms,
            to_unix_ms: now + 1,
            kind: proto::CaseKind::Unspecified as i32,
        })
        .await
        .map_err(|s| crate::status::from_remote(&s))?
        .into_inner();
    let of_kind = |k: &str| cases.by_kind.iter().find(|f| f.key == k).map_or(0, |f| f.opened);
    r.cases = (
        cases.total.map_or(0, |t| t.opened),
        of_kind("complaint"),
        of_kind("repair"),
    );
    r.wait_by_tier = waits
        .into_iter()
        .map(|(t, (n, sum))| (t, (n, if n == 0 { 0.0 } else { sum / f64::from(n) })))
        .collect();
    Ok(r)
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hotline demo report")?;
        writeln!(f, "  offered        {:>6}", self.offered)?;
        writeln!(f, "  answered       {:>6}", self.answered)?;
        writeln!(f, "  abandoned      {:>6}", self.abandoned)?;
        writeln!(f, "  short abandons {:>6}", self.short_abandons)?;
        writeln!(f, "  overflowed     {:>6}", self.overflowed)?;
        writeln!(f, "  rejected       {:>6}", self.rejected)?;
        writeln!(f, "  still waiting  {:>6}", self.still_open)?;
        writeln!(
            f,
            "  service level  {:>5.1}%  ({} answered within each queue's threshold / answered + abandoned)",
            self.service_level * 100.0,
            self.answered_within_threshold
        )?;
        writeln!(f, "  average wait by tier (answered calls):")?;
        for (tier, (n, wait)) in &self.wait_by_tier {
            writeln!(f, "    {tier:<12} {n:>5} calls  {wait:>6.1} s")?;
        }
        writeln!(f, "  calls answered per agent:")?;
        for (agent, n) in &self.calls_per_agent {
            writeln!(f, "    {agent:<12} {n:>5}")?;
        }
        writeln!(
            f,
            "  recordings     {:>6}  ({:.0} s of stereo audio in {}/YYYY/MM/DD/)",
            self.recordings, self.recorded_secs, self.recordings_dir
        )?;
        writeln!(
            f,
            "  callbacks      {:>6}  created (abandons and open wrap-ups); {} met, {} missed, {} open; {} dialled",
            self.callbacks_created, self.callbacks_met, self.callbacks_missed, self.callbacks_open, self.callback_attempts
        )?;
        let (contacts, declared, issues, observed, provisional) = self.fcr;
        let pct = |n: u32, d: u32| {
            if d == 0 {
                0.0
            } else {
                100.0 * f64::from(n) / f64::from(d)
            }
        };
        writeln!(
            f,
            "  first-call resolution: declared {:.1}% ({declared} of {contacts} contacts), observed {:.1}% ({observed} of {issues} issues){}",
            pct(declared, contacts),
            pct(observed, issues),
            if provisional { ", provisional until the repeat window closes" } else { "" }
        )?;
        let (cases, complaints, repairs) = self.cases;
        writeln!(
            f,
            "  cases          {cases:>6}  opened from open wrap-ups of known customers ({complaints} complaints, {repairs} repair requests)"
        )?;
        let staffing: Vec<String> = self
            .staffing
            .iter()
            .map(|(q, (required, on_duty))| format!("{q} {required} required / {on_duty} on duty"))
            .collect();
        writeln!(
            f,
            "  staffing (busiest moment): {}",
            if staffing.is_empty() {
                "-".to_string()
            } else {
                staffing.join(", ")
            }
        )?;
        Ok(())
    }
}
