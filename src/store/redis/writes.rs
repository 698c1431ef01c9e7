//! The routing engine's writes as fenced Lua script calls, alone or many in
//! one pipelined round trip.
//!
//! Every write is one `EVALSHA` of a script that checks the fence first, so
//! a batch is as safe as its writes sent one by one: each is atomic, each
//! fails alone (a refused claim does not stop the writes after it), and
//! they run in the order sent. Redis keeps a script cache that a restart
//! empties: writes refused with NOSCRIPT are sent again, once, after the
//! scripts are loaded (a NOSCRIPT write did not run, so resending it is
//! safe).

use redis::{ErrorKind, RedisError, ScriptInvocation, ServerErrorKind};

use super::{encode, unavailable, RedisStore, CONTACTS_PER_CUSTOMER};
use crate::acd::{AgentRecord, CallRecord, CallStatus, ContactRecord};
use crate::callback::CallbackRecord;
use crate::store::{StoreError, Write};

impl RedisStore {
    pub(super) fn agent_write(
        &self,
        agent: &AgentRecord,
        fence: u64,
    ) -> Result<ScriptInvocation<'_>, StoreError> {
        let mut inv = self.put_agent.key(self.keys.epoch());
        inv.key(self.keys.agent(agent.id.as_str()))
            .key(self.keys.agents())
            .arg(fence)
            .arg(agent.id.as_str())
            .arg(encode(agent)?);
        Ok(inv)
    }

    pub(super) fn call_write(
        &self,
        call: &CallRecord,
        fence: u64,
    ) -> Result<ScriptInvocation<'_>, StoreError> {
        let ended = match (call.status, call.ended_at) {
            (CallStatus::Ended, Some(t)) => t.as_millis() as i64,
            (CallStatus::Ended, None) => call.enqueued_at.as_millis() as i64,
            _ => -1,
        };
        let mut inv = self.put_call.key(self.keys.epoch());
        inv.key(self.keys.call(call.id.as_str()))
            .key(self.keys.calls())
            .key(self.keys.ended())
            .arg(fence)
            .arg(call.id.as_str())
            .arg(encode(call)?)
            .arg(call.enqueued_at.as_millis())
            .arg(ended)
            .arg(self.max_ended_calls)
            .arg(self.keys.call_prefix());
        Ok(inv)
    }

    pub(super) fn reserve_write(
        &self,
        agent: &AgentRecord,
        call: &CallRecord,
        fence: u64,
    ) -> Result<ScriptInvocation<'_>, StoreError> {
        let mut inv = self.reserve.key(self.keys.epoch());
        inv.key(self.keys.agent(agent.id.as_str()))
            .key(self.keys.agents())
            .key(self.keys.call(call.id.as_str()))
            .key(self.keys.calls())
            .arg(fence)
            .arg(agent.id.as_str())
            .arg(encode(agent)?)
            .arg(call.id.as_str())
            .arg(encode(call)?)
            .arg(call.enqueued_at.as_millis());
        Ok(inv)
    }

    pub(super) fn contact_write(
        &self,
        contact: &ContactRecord,
        fence: u64,
    ) -> Result<ScriptInvocation<'_>, StoreError> {
        let mut inv = self.append_contact.key(self.keys.epoch());
        inv.key(self.keys.contacts(&contact.customer_key))
            .key(self.keys.contact_log())
            .arg(fence)
            .arg(encode(contact)?)
            .arg(CONTACTS_PER_CUSTOMER)
            .arg(contact.wrap_up_ended_at.as_millis());
        Ok(inv)
    }

    pub(super) fn callback_write(
        &self,
        cb: &CallbackRecord,
        fence: u64,
    ) -> Result<ScriptInvocation<'_>, StoreError> {
        let id = cb.id.as_str();
        let mut inv = self.put_callback.key(self.keys.epoch());
        inv.key(self.keys.callback(id))
            .key(self.keys.callbacks())
            .key(self.keys.live_callbacks())
            .arg(fence)
            .arg(id)
            .arg(encode(cb)?)
            .arg(cb.created_at.as_millis())
            .arg(if cb.is_live() { "1" } else { "0" });
        Ok(inv)
    }

    fn write(&self, w: &Write, fence: u64) -> Result<ScriptInvocation<'_>, StoreError> {
        match w {
            Write::Agent(a) => self.agent_write(a, fence),
            Write::Call(c) => self.call_write(c, fence),
            Write::Contact(c) => self.contact_write(c, fence),
            Write::Callback(c) => self.callback_write(c, fence),
            Write::Reserve { agent, call } => self.reserve_write(agent, call, fence),
        }
    }

    /// Runs one invocation (loading its script if Redis lost it).
    pub(super) async fn invoke(&self, inv: ScriptInvocation<'_>) -> Result<(), StoreError> {
        let _: i64 = inv.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    /// [`crate::store::Store::write_batch`] for Redis: one pipeline.
    pub(super) async fn pipelined(&self, writes: &[Write]) -> Vec<Result<(), StoreError>> {
        let fence = match self.fence_token() {
            Ok(f) => f,
            Err(e) => return writes.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(writes.len());
        let mut invocations = Vec::with_capacity(writes.len());
        for w in writes {
            match self.write(w, fence) {
                Ok(inv) => {
                    invocations.push(Some(inv));
                    results.push(Ok(()));
                }
                Err(e) => {
                    invocations.push(None);
                    results.push(Err(e));
                }
            }
        }
        let all: Vec<usize> = (0..writes.len()).filter(|&i| invocations[i].is_some()).collect();
        let missing = self.send(&invocations, &all, &mut results).await;
        if !missing.is_empty() {
            // Redis restarted and forgot the scripts: load them, resend those.
            let mut load = redis::pipe();
            for script in self.scripts() {
                load.load_script(script).ignore();
            }
            match load.query_async::<()>(&mut self.conn()).await {
                Ok(()) => {
                    self.send(&invocations, &missing, &mut results).await;
                }
                Err(e) => {
                    for i in missing {
                        results[i] = Err(unavailable(e.clone()));
                    }
                }
            }
        }
        results
    }

    /// Sends the invocations at `which` in one pipeline, recording each
    /// result; returns those refused for a missing script.
    async fn send(
        &self,
        invocations: &[Option<ScriptInvocation<'_>>],
        which: &[usize],
        results: &mut [Result<(), StoreError>],
    ) -> Vec<usize> {
        if which.is_empty() {
            return Vec::new();
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in which {
            if let Some(inv) = &invocations[i] {
                pipe.invoke_script(inv);
            }
        }
        match pipe
            .query_async::<Vec<Result<i64, RedisError>>>(&mut self.conn())
            .await
        {
            Ok(answers) if answers.len() == which.len() => {
                let mut missing = Vec::new();
                for (&i, answer) in which.iter().zip(answers) {
                    results[i] = match answer {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                            missing.push(i);
                            Err(unavailable(e))
                        }
                        Err(e) => Err(unavailable(e)),
                    };
                }
                missing
            }
            Ok(answers) => {
                let e = StoreError::Unavailable(format!(
                    "redis answered {} of {} pipelined writes",
                    answers.len(),
                    which.len()
                ));
                for &i in which {
                    results[i] = Err(e.clone());
                }
                Vec::new()
            }
            Err(e) => {
                for &i in which {
                    results[i] = Err(unavailable(e.clone()));
                }
                Vec::new()
            }
        }
    }
}
