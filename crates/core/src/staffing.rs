//! Agents' time in each state per UTC day, for occupancy in reports. The
//! engine sees every state change; this adds up the time spent in the state
//! left, splitting at midnight UTC, and hands out the days that changed so
//! they are written about once a minute (not on every change).

use std::collections::{HashMap, HashSet};

use crate::acd::{AgentRecord, AgentState};
use crate::ids::AgentId;
use crate::report::AgentDayRecord;
use crate::time::Timestamp;

const DAY_MS: u64 = 86_400_000;

#[derive(Default)]
pub struct Staffing {
    /// Each agent's current state and since when it is counted.
    current: HashMap<AgentId, (AgentState, Timestamp)>,
    days: HashMap<(Timestamp, AgentId), AgentDayRecord>,
    /// Days changed since the last `take_changed`.
    changed: HashSet<(Timestamp, AgentId)>,
}

impl Staffing {
    fn add(&mut self, agent: &AgentId, state: AgentState, mut from: Timestamp, to: Timestamp) {
        if state == AgentState::LoggedOut {
            return;
        }
        while from < to {
            let day = from.utc_day_start();
            let end = Timestamp(day.as_millis() + DAY_MS).min(to);
            let key = (day, agent.clone());
            let rec = self.days.entry(key.clone()).or_insert_with(|| AgentDayRecord {
                day,
                agent: agent.clone(),
                ms_by_state: Default::default(),
            });
            *rec.ms_by_state.entry(state.as_str().to_string()).or_default() +=
                end.as_millis() - from.as_millis();
            self.changed.insert(key);
            from = end;
        }
    }

    /// An agent's state changed at `now`.
    pub fn on_state(&mut self, now: Timestamp, agent: &AgentRecord) {
        if let Some((state, since)) = self.current.insert(agent.id.clone(), (agent.state, now)) {
            self.add(&agent.id, state, since, now);
        }
        if agent.state == AgentState::LoggedOut {
            self.current.remove(&agent.id);
        }
    }

    /// Counts time up to `now` and returns the days that changed; days
    /// before today are dropped from memory once returned.
    pub fn take_changed(&mut self, now: Timestamp) -> Vec<AgentDayRecord> {
        let running: Vec<(AgentId, AgentState, Timestamp)> = self
            .current
            .iter()
            .map(|(a, (s, t))| (a.clone(), *s, *t))
            .collect();
        for (agent, state, since) in running {
            self.add(&agent, state, since, now);
            self.current.insert(agent, (state, now));
        }
        let today = now.utc_day_start();
        let mut out = Vec::new();
        for key in std::mem::take(&mut self.changed) {
            if let Some(rec) = self.days.get(&key) {
                out.push(rec.clone());
            }
            if key.0 < today {
                self.days.remove(&key);
            }
        }
        out
    }
}

impl Staffing {
    /// Starts from days already stored (a restart keeps today's time).
    pub fn seed(&mut self, days: Vec<AgentDayRecord>) {
        for d in days {
            self.days.insert((d.day, d.agent.clone()), d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(state: AgentState) -> AgentRecord {
        let mut a = AgentRecord::logged_out(AgentId::new("ann"), "Ann".into(), Timestamp(0), "test");
        a.state = state;
        a
    }

    #[test]
    fn time_in_state_is_split_at_midnight_and_logged_out_time_is_not_counted() {
        let day = 86_400_000;
        let mut s = Staffing::default();
        // Available from 23:00, on a call from 23:30 to 00:30, then logged out.
        s.on_state(Timestamp(day - 3_600_000), &agent(AgentState::Available));
        s.on_state(Timestamp(day - 1_800_000), &agent(AgentState::OnCall));
        s.on_state(Timestamp(day + 1_800_000), &agent(AgentState::LoggedOut));
        let mut days = s.take_changed(Timestamp(day + 7_200_000));
        days.sort_by_key(|d| d.day);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].ms(AgentState::Available), 1_800_000);
        assert_eq!(days[0].ms(AgentState::OnCall), 1_800_000);
        assert_eq!(days[1].day, Timestamp(day));
        assert_eq!(days[1].ms(AgentState::OnCall), 1_800_000);
        assert_eq!(days[1].ms(AgentState::LoggedOut), 0);
        assert!(
            s.take_changed(Timestamp(day + 9_000_000)).is_empty(),
            "nothing new"
        );
    }
}
