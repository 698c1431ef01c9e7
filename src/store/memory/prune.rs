//! Retention in the embedded store: the records of one kind older than a
//! time, found under the read lock, removed from the data file, then from
//! the maps (the same order as every write: nothing is visible that a
//! crash would bring back, and nothing comes back after a restart).

use super::{contact_key, day_key, Inner, MemoryStore};
use crate::acd::CallStatus;
use crate::ids::{AgentId, CallId, CallbackId};
use crate::store::journal::Table;
use crate::store::{RecordKind, StoreError};
use crate::time::Timestamp;

/// What one pass removes: the maps' keys and the data file's.
enum Victims {
    Contacts(Vec<(Timestamp, CallId, AgentId, String)>),
    Calls(Vec<CallId>),
    Callbacks(Vec<CallbackId>),
    Grades(Vec<(Timestamp, String)>),
    Surveys(Vec<CallId>),
    AgentDays(Vec<(Timestamp, AgentId)>),
    Monitors(Vec<String>),
    Recordings(Vec<CallId>),
}

impl Inner {
    fn victims(&self, kind: RecordKind, before: Timestamp, limit: usize) -> (Victims, Table, Vec<String>) {
        match kind {
            RecordKind::Contacts => {
                let found: Vec<_> = self
                    .contact_log
                    .iter()
                    .take_while(|((t, _, _), _)| *t < before)
                    .take(limit)
                    .map(|((t, call, agent), c)| (*t, call.clone(), agent.clone(), c.customer_key.clone()))
                    .collect();
                let keys = found
                    .iter()
                    .filter_map(|(t, call, agent, _)| {
                        self.contact_log.get(&(*t, call.clone(), agent.clone()))
                    })
                    .map(contact_key)
                    .collect();
                (Victims::Contacts(found), Table::Contacts, keys)
            }
            RecordKind::Calls => {
                let found: Vec<CallId> = self
                    .ended
                    .iter()
                    .filter(|id| {
                        self.calls.get(*id).is_some_and(|c| {
                            c.status == CallStatus::Ended && c.ended_at.is_some_and(|t| t < before)
                        })
                    })
                    .take(limit)
                    .cloned()
                    .collect();
                let keys = found.iter().map(|id| id.to_string()).collect();
                (Victims::Calls(found), Table::EndedCalls, keys)
            }
            RecordKind::Callbacks => {
                let found: Vec<CallbackId> = self
                    .callback_order
                    .iter()
                    .take_while(|(t, _)| *t < before)
                    .filter(|(_, id)| self.callbacks.get(id).is_some_and(|cb| !cb.is_live()))
                    .take(limit)
                    .map(|(_, id)| id.clone())
                    .collect();
                let keys = found.iter().map(|id| id.to_string()).collect();
                (Victims::Callbacks(found), Table::Callbacks, keys)
            }
            RecordKind::Grades => {
                let found: Vec<(Timestamp, String)> = self
                    .grades
                    .keys()
                    .take_while(|(t, _)| *t < before)
                    .take(limit)
                    .cloned()
                    .collect();
                let keys = found
                    .iter()
                    .map(|(t, id)| format!("{:020}:{id}", t.as_millis()))
                    .collect();
                (Victims::Grades(found), Table::Grades, keys)
            }
            RecordKind::Surveys => {
                let found: Vec<CallId> = self
                    .survey_order
                    .iter()
                    .take_while(|(t, _)| *t < before)
                    .take(limit)
                    .map(|(_, call)| call.clone())
                    .collect();
                let keys = found.iter().map(|id| id.to_string()).collect();
                (Victims::Surveys(found), Table::Surveys, keys)
            }
            RecordKind::AgentDays => {
                let found: Vec<(Timestamp, AgentId)> = self
                    .agent_days
                    .keys()
                    .take_while(|(t, _)| *t < before)
                    .take(limit)
                    .cloned()
                    .collect();
                let keys = found
                    .iter()
                    .filter_map(|k| self.agent_days.get(k))
                    .map(day_key)
                    .collect();
                (Victims::AgentDays(found), Table::AgentDays, keys)
            }
            RecordKind::MonitorSessions => {
                let found: Vec<String> = self
                    .monitor_order
                    .iter()
                    .take_while(|(t, _)| *t < before)
                    .filter(|(_, id)| {
                        self.monitor_sessions
                            .get(id)
                            .is_some_and(|s| s.ended_at.is_some())
                    })
                    .take(limit)
                    .map(|(_, id)| id.clone())
                    .collect();
                let keys = found.clone();
                (Victims::Monitors(found), Table::Monitors, keys)
            }
            RecordKind::Recordings => {
                let found: Vec<CallId> = self
                    .recording_order
                    .iter()
                    .take_while(|(t, _)| *t < before)
                    .filter(|(_, id)| self.recordings.get(id).is_some_and(|r| !r.live))
                    .take(limit)
                    .map(|(_, id)| id.clone())
                    .collect();
                let keys = found.iter().map(|id| id.to_string()).collect();
                (Victims::Recordings(found), Table::Recordings, keys)
            }
        }
    }

    fn remove(&mut self, victims: Victims) -> u64 {
        let mut n = 0;
        match victims {
            Victims::Contacts(found) => {
                for (t, call, agent, customer) in found {
                    self.contact_log.remove(&(t, call.clone(), agent.clone()));
                    if let Some(list) = self.contacts.get_mut(&customer) {
                        list.retain(|c| !(c.call == call && c.agent == agent));
                        if list.is_empty() {
                            self.contacts.remove(&customer);
                        }
                    }
                    n += 1;
                }
            }
            Victims::Calls(found) => {
                for id in found {
                    if let Some(old) = self.calls.remove(&id) {
                        self.call_order.remove(&(old.enqueued_at, old.id));
                        n += 1;
                    }
                    self.ended.retain(|e| *e != id);
                }
            }
            Victims::Callbacks(found) => {
                for id in found {
                    if let Some(old) = self.callbacks.remove(&id) {
                        self.callback_order.remove(&(old.created_at, old.id));
                        n += 1;
                    }
                }
            }
            Victims::Grades(found) => {
                for k in found {
                    n += u64::from(self.grades.remove(&k).is_some());
                }
            }
            Victims::Surveys(found) => {
                for call in found {
                    if let Some(old) = self.surveys.remove(&call) {
                        self.survey_order.remove(&(old.at, old.call));
                        n += 1;
                    }
                }
            }
            Victims::AgentDays(found) => {
                for k in found {
                    n += u64::from(self.agent_days.remove(&k).is_some());
                }
            }
            Victims::Monitors(found) => {
                for id in found {
                    if let Some(old) = self.monitor_sessions.remove(&id) {
                        self.monitor_order.remove(&(old.started_at, old.id));
                        n += 1;
                    }
                }
            }
            Victims::Recordings(found) => {
                for id in found {
                    if let Some(old) = self.recordings.remove(&id) {
                        self.recording_order.remove(&(old.started_at, old.call));
                        n += 1;
                    }
                }
            }
        }
        n
    }
}

impl MemoryStore {
    pub(super) async fn prune_kind(
        &self,
        kind: RecordKind,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let (victims, table, keys) = self.read()?.victims(kind, before, limit);
        if let Some(journal) = &self.journal {
            journal.remove(table, keys).await?;
        }
        Ok(self.write()?.remove(victims))
    }
}
