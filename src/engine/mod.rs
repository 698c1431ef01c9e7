//! The driver of the routing core: one task owns the [`Router`] and everything
//! that must change with it (the callback desk and its deadline tracker,
//! agents' time in state, stream subscribers, the idempotency cache).
//!
//! Handlers never touch the router: they send a job through [`EngineHandle`]
//! and await its reply. The task applies the job with the wall-clock time,
//! then carries out every event the router produced (store writes, stream
//! notifications) *before* replying, so a client that reads after a reply
//! sees the change. Timers fire from the same loop at the sooner of
//! `Router::poll_timeout` and the callback tracker's.
//! Shutdown is passed in; when it fires the loop ends and every stream sender
//! is dropped, which ends client streams cleanly.

mod commit;
mod dirty;
mod events;
mod execute;
mod feed;
mod notify;

pub use hotline_core::desk as callbacks;
use hotline_core::idempotency;
pub use hotline_core::staffing;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::acd::Router;
use crate::callback::TrackerSettings;
use crate::error::Error;
use crate::store::{Store, StoreError};
use crate::time::{MonotonicClock, Now, Timestamp};
use callbacks::CallbackDesk;
use staffing::Staffing;

pub use feed::CatalogFeed;
pub use hotline_core::command::{Command, Reply};
use idempotency::IdempotencyCache;
pub use idempotency::IdempotencyKey;
pub use notify::{AgentEventStream, Device, Subscribers};

/// Everything the engine task owns.
pub struct Core {
    /// The routing state machine: the single writer of agent and call state.
    pub router: Router,
    /// Callbacks and their deadlines, joined to the router.
    pub desk: CallbackDesk,
    /// Agents' time in state per day, for occupancy.
    staffing: Staffing,
    /// Open agent event streams and call watchers.
    pub subscribers: Subscribers,
    /// Results of recent mutating requests, so retries have no second effect.
    idempotency: IdempotencyCache,
    /// Records the store failed to take, retried until it does.
    dirty: dirty::Dirty,
    /// Start of the UTC day the router's counters cover.
    day: Timestamp,
    /// This task's own job queue, weakly held (it must not keep the engine
    /// alive), for watchers that report closed streams back to the router.
    jobs: mpsc::WeakSender<Job>,
    /// What agents, callers and watchers are to be told once the store
    /// holds the records before it (see [`Core::tell`]), oldest first.
    held: std::collections::VecDeque<Note>,
    /// Claims the store refused whose notes are still held: those notes
    /// are never sent (the agent is held elsewhere).
    refused: std::collections::HashSet<(crate::ids::AgentId, crate::ids::CallId)>,
    /// Held notes dropped over the limit since the store last caught up
    /// (for the warning's rate).
    held_dropped: u64,
}

/// Something to tell subscribers, and the claim it depends on, if any.
struct Note {
    claim: Option<(crate::ids::AgentId, crate::ids::CallId)>,
    /// The number of the last write queued before it: it goes out once the
    /// store holds every write up to that one.
    mark: u64,
    tell: Box<dyn FnOnce(&mut Subscribers) + Send>,
}

/// Notes held while the store is behind, at most (then the oldest go,
/// counted and logged).
const HELD_NOTES: usize = 50_000;

impl Core {
    /// Tells subscribers of a change once every record written up to it is
    /// in the store: at the end of this drain if all its writes landed, or
    /// once the store has taken them. Nobody hears of a change the store
    /// does not hold, and the order of what each hears is kept. Events
    /// that write nothing themselves (an offer withdrawn, wrap-up started)
    /// wait too: a deposed engine learns it is fenced from the drain's
    /// first write, and must not have told anyone anything by then.
    fn tell(&mut self, note: impl FnOnce(&mut Subscribers) + Send + 'static) {
        self.hold(None, Box::new(note));
    }

    /// [`Core::tell`] for the notes of a claim: dropped if the store
    /// refuses the claim.
    fn tell_if_claimed(
        &mut self,
        claim: (crate::ids::AgentId, crate::ids::CallId),
        note: impl FnOnce(&mut Subscribers) + Send + 'static,
    ) {
        self.hold(Some(claim), Box::new(note));
    }

    fn hold(
        &mut self,
        claim: Option<(crate::ids::AgentId, crate::ids::CallId)>,
        tell: Box<dyn FnOnce(&mut Subscribers) + Send>,
    ) {
        if self.dirty.fenced {
            crate::metrics::events::notes_dropped(1);
            return;
        }
        if self.held.len() >= HELD_NOTES {
            self.held.pop_front();
            self.held_dropped += 1;
            crate::metrics::events::notes_dropped(1);
            // The first drop and every thousandth after it.
            if self.held_dropped % 1000 == 1 {
                warn!(
                    dropped = self.held_dropped,
                    "the store is down: the oldest held events are dropped"
                );
            }
        }
        let mark = self.dirty.mark();
        self.held.push_back(Note { claim, mark, tell });
    }

    /// After a batch: the held notes whose writes (and every write before
    /// them) the store holds go out, in order; fenced, they never do
    /// (another node routes, and what this one did is not on record).
    fn release_held(&mut self) {
        if self.dirty.fenced {
            if !self.held.is_empty() {
                warn!(
                    events = self.held.len(),
                    "fenced: events of unrecorded changes are not sent"
                );
                crate::metrics::events::notes_dropped(self.held.len() as u64);
            }
            self.held.clear();
            self.refused.clear();
            return;
        }
        while self.held.front().is_some_and(|n| self.dirty.landed(n.mark)) {
            let Some(note) = self.held.pop_front() else { break };
            if note.claim.as_ref().is_some_and(|c| self.refused.contains(c)) {
                continue;
            }
            (note.tell)(&mut self.subscribers);
        }
        if self.held.is_empty() {
            self.held_dropped = 0;
            self.refused.clear();
        }
    }
}

impl Core {
    /// Opens the event stream of agent `id`, which may not have logged in yet.
    pub fn open_agent_stream_for(
        &mut self,
        now: Now,
        id: &crate::ids::AgentId,
        display_name: String,
        device: notify::Device,
    ) -> notify::AgentEventStream {
        let record = self.router.agent(id).cloned().unwrap_or_else(|| {
            crate::acd::AgentRecord::logged_out(id.clone(), display_name, now.wall, "never logged in")
        });
        self.open_agent_stream(now, &record, device)
    }

    /// Opens an agent's event stream and tells the router the softphone is
    /// here; when the client goes away the router hears that too (presence).
    pub fn open_agent_stream(
        &mut self,
        now: Now,
        agent: &crate::acd::AgentRecord,
        device: notify::Device,
    ) -> notify::AgentEventStream {
        let (stream, closed) = self.subscribers.subscribe_agent(now.wall, agent, device);
        // And what the agent holds, unless its record still waits for the
        // store (then the held event shows it once recorded).
        if let Some(work) = self.router.agent_work(&agent.id) {
            let pending = match &work {
                crate::acd::AgentWork::Offered { call, .. } | crate::acd::AgentWork::Connected { call } => {
                    self.dirty.holds_call(&call.id)
                }
                crate::acd::AgentWork::WrappingUp { call, .. } => self.dirty.holds_call(call),
            };
            if !pending {
                self.subscribers.resend_work(now.wall, &agent.id, device, &work);
            }
        }
        if self.router.handle_agent_stream_opened(now, &agent.id).is_ok() {
            let jobs = self.jobs.clone();
            let id = agent.id.clone();
            tokio::spawn(async move {
                closed.await;
                if let Some(jobs) = jobs.upgrade() {
                    let job: Job = Box::new(move |core, now| {
                        let _ = core.router.handle_agent_stream_closed(now, &id);
                        Box::new(|_| {})
                    });
                    let _ = jobs.send(job).await;
                }
            });
        }
        stream
    }
}

/// Sends a job's result; told whether every store write it caused succeeded.
type Responder = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&mut Core, Now) -> Responder + Send>;

/// Jobs waiting for the engine; bounded so a flood of requests pushes back
/// on the handlers instead of growing memory.
const JOB_QUEUE: usize = 4096;

/// A cheap, cloneable way to run jobs on the engine task.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Job>,
    /// Where replies to requests with an idempotency key are kept, so a
    /// retry that reaches the next routing node has no second effect.
    store: Arc<dyn Store>,
}

/// How long a reply is kept for retries.
const REPLY_TTL: Duration = Duration::from_secs(600);

/// A kept reply: the method it answered, and the reply.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptReply {
    method: String,
    /// The first request's digest (empty in replies kept before digests).
    #[serde(default)]
    digest: String,
    reply: Reply,
}

impl EngineHandle {
    /// Runs `f` on the engine task with the current time; returns its result
    /// once the resulting events have been carried out.
    pub async fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Core, Now) -> R + Send + 'static,
    {
        self.run(false, f).await
    }

    /// With `durable`, a result whose store writes failed is not returned:
    /// the caller gets UNAVAILABLE, so nothing is acknowledged that the store
    /// does not hold (the writes are retried until the store is back).
    async fn run<R, F>(&self, durable: bool, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Core, Now) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let deadline = crate::deadline::current();
        let job: Job = Box::new(move |core, now| {
            // The client gave up while this waited in the queue: not done
            // late (a retry through another node may be on its way).
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                crate::metrics::events::expired_job();
                return Box::new(move |_| {
                    let _ = tx.send(Err(Error::DeadlineExceeded(
                        "the request's deadline passed before the routing core reached it; it was not carried out"
                            .into(),
                    )));
                });
            }
            let r = f(core, now);
            Box::new(move |written: bool| {
                let _ = tx.send(if durable && !written {
                    // No promise of a retry: this node retries while it
                    // routes, but if another takes over the change is gone.
                    Err(Error::Unavailable(
                        "the store did not confirm the change: read the current state before repeating"
                            .into(),
                    ))
                } else {
                    Ok(r)
                });
            })
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| Error::Unavailable("hotline is shutting down".into()))?;
        rx.await
            .map_err(|_| Error::Unavailable("hotline is shutting down".into()))?
    }

    /// Runs a command. With an idempotency key, a repeat of a successful
    /// command returns the first reply without running it again, and a
    /// different command or body under the same key is refused.
    pub async fn execute(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        if let Some(key) = &key {
            if let Some(reply) = kept(self.store.as_ref(), key, cmd.name()).await? {
                return Ok(reply);
            }
        }
        self.execute_unchecked(key, cmd).await
    }

    /// [`Self::execute`] for a caller that has already asked [`kept`].
    pub async fn execute_unchecked(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        let Some(key) = key else {
            return self.execute_once(None, cmd).await;
        };
        let method = cmd.name();
        let stored_key = key.stored();
        let digest = key.digest.clone();
        let reply = self.execute_once(Some(key), cmd).await?;
        let kept = KeptReply {
            method: method.to_string(),
            digest,
            reply,
        };
        match serde_json::to_string(&kept) {
            Ok(text) => {
                if let Err(e) = self.store.keep_reply(&stored_key, &text, REPLY_TTL).await {
                    // The change stands; only a retry through another
                    // routing node could repeat it.
                    warn!(key = %stored_key, error = %e, "cannot keep the reply for retries");
                }
            }
            Err(e) => warn!(key = %stored_key, error = %e, "cannot encode the reply for retries"),
        }
        Ok(kept.reply)
    }

    /// Runs a command once; the engine's own cache answers a retry that
    /// races the first request on this routing node.
    async fn execute_once(&self, key: Option<IdempotencyKey>, cmd: Command) -> Result<Reply, Error> {
        self.run(true, move |core, now| {
            let method = cmd.name();
            if let Some(key) = &key {
                if let Some(cached) = core.idempotency.get(key, method, now.wall)? {
                    return Ok(cached);
                }
            }
            let reply = core.execute(now, cmd)?;
            if let Some(key) = key {
                core.idempotency.insert(key, method, reply.clone(), now.wall);
            }
            Ok(reply)
        })
        .await?
    }
}

/// The reply kept by this or an earlier routing node for `key`, if any;
/// refused if `key` was first used for another method or body.
pub async fn kept(store: &dyn Store, key: &IdempotencyKey, method: &str) -> Result<Option<Reply>, Error> {
    let stored_key = key.stored();
    let Some(kept) = store.kept_reply(&stored_key).await? else {
        return Ok(None);
    };
    let kept: KeptReply = serde_json::from_str(&kept)
        .map_err(|e| Error::Internal(format!("kept reply of {stored_key}: {e}")))?;
    key.check_repeat(&kept.method, &kept.digest, method)?;
    Ok(Some(kept.reply))
}

/// Most jobs decided before one commit: bounds how long the first of them
/// waits for its answer behind the others' decisions.
const MAX_JOBS_PER_COMMIT: usize = 256;

/// How often the live gauges (queues, agents, callbacks) are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// How often agents' time in state is written.
const STAFFING_FLUSH: Duration = Duration::from_secs(60);
/// How often writes the store did not take are tried again. A deadline of
/// its own, not a sleep restarted each turn of the loop: requests arriving
/// more often than this must not put the probe off (while the store is
/// thought down, their writes wait for it).
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Restores what the engine owns besides the router from the store: the
/// callbacks that can still fire (each fires once: the records say what
/// already did) and today's agent time. Call after the router's restore.
pub async fn restore_desk(
    router: &mut Router,
    store: &dyn Store,
    settings: TrackerSettings,
    now: Now,
) -> Result<(CallbackDesk, Staffing), StoreError> {
    let mut desk = CallbackDesk::new(router, settings);
    let live = store.live_callbacks().await?;
    if !live.is_empty() {
        info!(callbacks = live.len(), "callbacks restored");
    }
    desk.restore(now, router, live);
    // Answered calls' records, for callbacks on open wrap-ups: the engine
    // reads nothing while it decides.
    for id in router.answered_calls() {
        if let Some(call) = store.get_call(&id).await? {
            desk.remember_answered(&call);
        }
    }
    let mut staffing = Staffing::default();
    let today = now.wall.utc_day_start();
    staffing.seed(
        store
            .agent_days_between(today, today.plus(Duration::from_secs(86_400)), 100_000)
            .await?,
    );
    Ok((desk, staffing))
}

/// Starts the engine task.
pub fn spawn(
    router: Router,
    (desk, staffing): (CallbackDesk, Staffing),
    store: Arc<dyn Store>,
    dialer: Option<crate::dialer::Dialer>,
    mut catalog: Option<CatalogFeed>,
    mut shutdown: watch::Receiver<bool>,
) -> (EngineHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Job>(JOB_QUEUE);
    let handle_store = store.clone();
    let now = Timestamp::now_wall();
    let mut core = Core {
        router,
        desk,
        staffing,
        subscribers: Subscribers::new(store.clone(), dialer),
        idempotency: IdempotencyCache::new(100_000, Duration::from_secs(600)),
        dirty: dirty::Dirty::default(),
        day: now.utc_day_start(),
        jobs: tx.downgrade(),
        held: std::collections::VecDeque::new(),
        refused: std::collections::HashSet::new(),
        held_dropped: 0,
    };
    let task = tokio::spawn(async move {
        // The router's ring timers run on this clock (see hotline-time).
        let clock = MonotonicClock::process();
        // Whatever the router did before the engine started (a restore).
        let now = clock.both();
        events::decide(&mut core, now);
        commit::commit_now(&mut core, &store, now, None, Vec::new()).await;
        // The batch on its way to the store, and the replies of jobs
        // decided since it left (they wait for the next one).
        let mut inflight: Option<commit::InFlight> = None;
        let mut waiting: commit::Waiting = Vec::new();
        // The last minute's agent-time writes, finished before the final ones.
        let mut staffing_write: Option<tokio::task::JoinHandle<()>> = None;
        let mut metrics_tick = tokio::time::interval(METRICS_EVERY);
        metrics_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let probe = tokio::time::sleep(PROBE_EVERY);
        tokio::pin!(probe);
        let mut staffing_tick = tokio::time::interval(STAFFING_FLUSH);
        staffing_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut next = core.router.poll_timeout();
            next.wall = match (next.wall, core.desk.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = next.wait(clock.both());
            let sleep = async move {
                match wait {
                    // One millisecond late rather than early: timers are in whole ms.
                    Some(wait) => tokio::time::sleep(wait + Duration::from_millis(1)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                job = rx.recv() => {
                    let Some(job) = job else { break };
                    // Group commit: every job already waiting is decided
                    // now, and all their writes go to the store in one
                    // round trip; each is answered by its own writes.
                    let mut jobs = vec![job];
                    while jobs.len() < MAX_JOBS_PER_COMMIT {
                        match rx.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    let now = clock.both();
                    roll_day(&mut core, now.wall);
                    for job in jobs {
                        let started = std::time::Instant::now();
                        let from = core.dirty.queued();
                        let reply = job(&mut core, now);
                        events::decide(&mut core, now);
                        crate::metrics::events::engine_job(started.elapsed().as_secs_f64());
                        waiting.push((reply, from..core.dirty.queued()));
                    }
                    if inflight.is_none() {
                        inflight = commit::start(&mut core, &store, now, false, std::mem::take(&mut waiting));
                    }
                }
                answer = commit::answered(&mut inflight) => {
                    let now = clock.both();
                    commit::finish(&mut core, now, &mut inflight, answer);
                    // What was decided meanwhile goes now.
                    if !core.dirty.fenced && (core.dirty.queued() > 0 || !waiting.is_empty()) {
                        inflight = commit::start(&mut core, &store, now, false, std::mem::take(&mut waiting));
                    }
                }
                _ = &mut probe, if !core.dirty.is_empty() && inflight.is_none() => {
                    // The probe: retries what the store has not taken.
                    inflight = commit::start(&mut core, &store, clock.both(), true, std::mem::take(&mut waiting));
                    probe.as_mut().reset(tokio::time::Instant::now() + PROBE_EVERY);
                }
                _ = CatalogFeed::changed(&mut catalog) => {
                    let now = clock.both();
                    if let Some(feed) = catalog.as_mut() {
                        feed.apply(&mut core, now);
                    }
                    events::decide(&mut core, now);
                    if inflight.is_none() {
                        inflight = commit::start(&mut core, &store, now, false, std::mem::take(&mut waiting));
                    }
                }
                _ = metrics_tick.tick() => {
                    let now = Timestamp::now_wall();
                    let queues = core.router.queue_views(now);
                    crate::metrics::events::snapshot(&crate::metrics::events::Snapshot {
                        queues: &queues,
                        agents: &core.router.agents_by_state(),
                        active_calls: core.router.active_calls(),
                        callbacks: core.desk.tracker.gauges(),
                        callbacks_created: core.desk.tracker.counters().created,
                    });
                }
                _ = staffing_tick.tick() => {
                    let days = core.staffing.take_changed(Timestamp::now_wall());
                    let store = store.clone();
                    // Off the loop: a slow store must not hold routing up.
                    staffing_write = Some(tokio::spawn(async move {
                        for day in days {
                            if let Err(e) = store.put_agent_day(&day).await {
                                debug!(agent = %day.agent, error = %e, "agent time not recorded; the next minute retries");
                            }
                        }
                    }));
                }
                _ = sleep => {
                    let now = clock.both();
                    roll_day(&mut core, now.wall);
                    core.router.handle_timeout(now);
                    core.desk.tracker.handle_timeout(now.wall);
                    events::decide(&mut core, now);
                    if inflight.is_none() {
                        inflight = commit::start(&mut core, &store, now, false, std::mem::take(&mut waiting));
                    }
                }
            }
            if core.dirty.fenced {
                break;
            }
        }
        // What is on its way, and what was decided since, is answered
        // (fenced, as not recorded).
        commit::commit_now(&mut core, &store, clock.both(), inflight, waiting).await;
        // This node no longer routes: its live figures drop to zero, so a
        // cluster's sums over nodes count the routing node alone.
        let idle: Vec<crate::acd::QueueView> = core
            .router
            .queue_views(Timestamp::now_wall())
            .into_iter()
            .map(|q| crate::acd::QueueView {
                waiting: 0,
                offering: 0,
                oldest_wait: Duration::ZERO,
                agents_by_state: Vec::new(),
                ..q
            })
            .collect();
        crate::metrics::events::snapshot(&crate::metrics::events::Snapshot {
            queues: &idle,
            agents: &[],
            active_calls: 0,
            callbacks: (0, 0, 0, 0),
            callbacks_created: core.desk.tracker.counters().created,
        });
        // The last minute of agent time, unless another node routes now.
        if let Some(previous) = staffing_write.take() {
            let _ = previous.await;
        }
        if !core.dirty.fenced {
            for day in core.staffing.take_changed(Timestamp::now_wall()) {
                let _ = store.put_agent_day(&day).await;
            }
        }
        info!("engine stopped");
    });
    (
        EngineHandle {
            tx,
            store: handle_store,
        },
        task,
    )
}

fn roll_day(core: &mut Core, now: Timestamp) {
    let day = now.utc_day_start();
    if day != core.day {
        core.day = day;
        core.router.reset_daily_counters();
    }
}

#[cfg(test)]
mod tests;
