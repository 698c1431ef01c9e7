//! Cases as this node follows them: every open case, kept current from the
//! store's change feed, and their due times on the deadline tracker
//! (`hotline_core::case::deadlines`).
//!
//! Invariants:
//! - [`LiveCases`] holds every case not closed, each at the newest version
//!   this node has seen: a change written through any node reaches it
//!   within a poll ([`POLL_EVERY`]), one written through this node at once
//!   ([`LiveCases::observe`]); an older version never replaces a newer one;
//! - every node runs the tracker over the cases it holds and marks what
//!   fires on the stored case (read, apply, write naming the version read):
//!   the record says what fired, so a due time is warned and breached once
//!   across all nodes and restarts, and only the node whose mark was
//!   written counts and logs it;
//! - when the feed or a mark cannot be read or written, the node says so
//!   (a warning and `hotline_case_feed_failures_total`) and tries again at
//!   the next poll: a mark that did not land fires again.

pub mod board;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::store::cases::{version, CaseFilter, CaseStore};
use crate::store::StoreError;
use crate::time::Timestamp;
use hotline_core::case::deadlines::{CaseDeadlineEvent, CaseDeadlines};
use hotline_core::case::{CaseCommand, CaseKind, CaseRecord};
use hotline_core::ids::{AgentId, CaseId, CustomerId};

/// How often a node reads the feed: the most a change made through
/// another node waits before this one shows it.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// Feed entries and open cases read per round trip.
const PAGE: usize = 500;

/// Tries at a mark that keeps losing to other changes before it waits for
/// the next round.
const MARK_ATTEMPTS: usize = 5;

/// Who the timeline names for the tracker's marks.
pub const TRACKER: &str = "deadline tracker";

/// This node's view of the open cases. Cheap to clone (shared).
#[derive(Clone)]
pub struct LiveCases {
    shared: Arc<Shared>,
}

struct Shared {
    /// A std lock: held only to read or apply, never across an await.
    open: RwLock<Open>,
    store: Arc<dyn CaseStore>,
}

/// The open cases, and an index by customer: routing looks a caller's up
/// on every call.
#[derive(Default)]
struct Open {
    cases: HashMap<CaseId, CaseRecord>,
    by_customer: HashMap<CustomerId, HashSet<CaseId>>,
}

/// Urgency order: higher priority first, then the earliest due time (a
/// case without one last), then the newest.
fn most_urgent(a: &CaseRecord, b: &CaseRecord) -> std::cmp::Ordering {
    let due = |c: &CaseRecord| c.due.unwrap_or(Timestamp(u64::MAX));
    b.priority
        .cmp(&a.priority)
        .then(due(a).cmp(&due(b)))
        .then(b.opened_at.cmp(&a.opened_at))
}

impl Open {
    /// The customer's open cases, in no order.
    fn of<'a>(&'a self, customer: &CustomerId) -> impl Iterator<Item = &'a CaseRecord> + 'a {
        self.by_customer
            .get(customer)
            .into_iter()
            .flatten()
            .filter_map(|id| self.cases.get(id))
    }

    fn insert(&mut self, case: &CaseRecord) {
        self.by_customer
            .entry(case.customer.clone())
            .or_default()
            .insert(case.id.clone());
        self.cases.insert(case.id.clone(), case.clone());
    }

    fn remove(&mut self, id: &CaseId) {
        let Some(case) = self.cases.remove(id) else { return };
        if let Some(ids) = self.by_customer.get_mut(&case.customer) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_customer.remove(&case.customer);
            }
        }
    }
}

impl LiveCases {
    pub fn new(store: Arc<dyn CaseStore>) -> Self {
        LiveCases {
            shared: Arc::new(Shared {
                open: RwLock::new(Open::default()),
                store,
            }),
        }
    }

    /// A case as written (here or elsewhere): held if open, dropped if
    /// closed; ignored when this node already holds a newer version.
    pub fn observe(&self, case: &CaseRecord) {
        let Ok(mut open) = self.shared.open.write() else {
            return;
        };
        if open
            .cases
            .get(&case.id)
            .is_some_and(|held| version(held) > version(case))
        {
            return;
        }
        if case.is_open() {
            open.insert(case);
        } else {
            open.remove(&case.id);
        }
    }

    /// Every open case, as of now.
    pub fn snapshot(&self) -> Vec<CaseRecord> {
        self.shared
            .open
            .read()
            .map(|open| open.cases.values().cloned().collect())
            .unwrap_or_default()
    }

    /// (kind, open, overdue at `now`) for every kind.
    pub fn counts(&self, now: Timestamp) -> Vec<(CaseKind, u32, u32)> {
        let mut out: Vec<(CaseKind, u32, u32)> = CaseKind::ALL.iter().map(|&k| (k, 0, 0)).collect();
        if let Ok(open) = self.shared.open.read() {
            for c in open.cases.values() {
                if let Some(row) = out.iter_mut().find(|r| r.0 == c.kind) {
                    row.1 += 1;
                    row.2 += u32::from(board::is_overdue(c, now));
                }
            }
        }
        out
    }

    /// A customer's open cases, most urgent first.
    pub fn of_customer(&self, customer: &CustomerId) -> Vec<CaseRecord> {
        let Ok(open) = self.shared.open.read() else {
            return Vec::new();
        };
        let mut cases: Vec<&CaseRecord> = open.of(customer).collect();
        cases.sort_by(|a, b| most_urgent(a, b));
        cases.into_iter().cloned().collect()
    }

    /// The owner of the customer's most urgent open case that has one:
    /// whom the customer's calls are offered to first. Read on every call,
    /// so nothing is copied.
    pub fn owner_for(&self, customer: &CustomerId) -> Option<AgentId> {
        let open = self.shared.open.read().ok()?;
        open.of(customer)
            .filter(|c| c.owner.is_some())
            .min_by(|a, b| most_urgent(a, b))
            .and_then(|c| c.owner.clone())
    }

    /// Reads the open cases (so the node serves with them known), then
    /// follows the store's feed and runs the due-time tracker until
    /// shutdown.
    pub async fn start(
        &self,
        warn_before: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let mut follower = Follower {
            live: self.clone(),
            tracker: CaseDeadlines::new(warn_before),
            position: None,
            failing: false,
            unmarked: Vec::new(),
        };
        follower.round().await;
        tokio::spawn(async move {
            loop {
                let wake = follower
                    .tracker
                    .poll_timeout()
                    .map(|at| at.since(Timestamp::now_wall()))
                    .map_or(POLL_EVERY, |d| d.min(POLL_EVERY));
                tokio::select! {
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                    _ = tokio::time::sleep(wake) => {}
                }
                follower.round().await;
            }
        })
    }
}

/// The task that keeps [`LiveCases`] current and fires due times.
struct Follower {
    live: LiveCases,
    tracker: CaseDeadlines,
    /// The feed position read up to; none until the open cases were loaded.
    position: Option<u64>,
    /// Whether the last round failed (a warning is logged once per streak).
    failing: bool,
    /// Cases whose mark could not be written, as stored.
    unmarked: Vec<CaseRecord>,
}

impl Follower {
    async fn round(&mut self) {
        let outcome = match self.catch_up().await {
            Ok(()) => self.fire().await,
            Err(e) => Err(e),
        };
        crate::metrics::cases::case_gauges(&self.live.counts(Timestamp::now_wall()));
        match outcome {
            Ok(()) if self.failing => {
                self.failing = false;
                info!("cases are read from the store again");
            }
            Ok(()) => {}
            Err(e) => {
                crate::metrics::cases::feed_failed();
                if !self.failing {
                    self.failing = true;
                    warn!(error = %e, "cannot follow case changes in the store; boards and due times wait for it");
                }
            }
        }
    }

    fn show(&mut self, case: &CaseRecord) {
        self.live.observe(case);
        self.tracker.handle_case(Timestamp::now_wall(), case);
    }

    /// Loads the open cases once, then reads the feed past the position.
    async fn catch_up(&mut self) -> Result<(), StoreError> {
        let store = self.live.shared.store.clone();
        let mut position = match self.position {
            Some(p) => p,
            None => {
                // The head first: a case changed while the open ones are
                // read is read again from the feed.
                let head = store.feed_head().await?;
                let filter = CaseFilter {
                    open_only: true,
                    ..Default::default()
                };
                let mut after = None;
                loop {
                    let page = store.list_cases(&filter, after.as_ref(), PAGE).await?;
                    for c in &page {
                        self.show(c);
                    }
                    match page.last() {
                        Some(last) if page.len() == PAGE => after = Some((last.opened_at, last.id.clone())),
                        _ => break,
                    }
                }
                self.position = Some(head);
                head
            }
        };
        loop {
            let page = store.changes_since(position, PAGE).await?;
            for (at, c) in &page {
                self.show(c);
                position = *at;
            }
            self.position = Some(position);
            if page.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// Fires the due times that came up, marking each on its case.
    async fn fire(&mut self) -> Result<(), StoreError> {
        for case in std::mem::take(&mut self.unmarked) {
            self.show(&case);
        }
        let now = Timestamp::now_wall();
        self.tracker.handle_timeout(now);
        let events: Vec<CaseDeadlineEvent> = std::iter::from_fn(|| self.tracker.poll_event()).collect();
        let mut result = Ok(());
        for event in events {
            let (id, due, breached) = match event {
                CaseDeadlineEvent::DueSoon { id, due } => (id, due, false),
                CaseDeadlineEvent::Overdue { id, due } => (id, due, true),
            };
            if let Err(e) = self.mark(&id, due, breached, now).await {
                result = Err(e);
            }
        }
        result
    }

    /// Marks a warning or breach on the stored case, unless another node
    /// did or the due time moved.
    async fn mark(
        &mut self,
        id: &CaseId,
        due: Timestamp,
        breached: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let store = self.live.shared.store.clone();
        let mut lost = None;
        for _ in 0..MARK_ATTEMPTS {
            let Some(case) = store.get_case(id).await? else {
                return Ok(());
            };
            let Ok((next, _)) = case.apply(CaseCommand::MarkDue { due, breached }, TRACKER, now) else {
                // Fired elsewhere, resolved, or given a new due time.
                self.show(&case);
                return Ok(());
            };
            match store.put_case(&next, Some(version(&case))).await {
                Ok(()) => {
                    crate::metrics::cases::due_alert(next.kind, breached);
                    let owner = next.owner.as_ref().map(|o| o.to_string()).unwrap_or_default();
                    if breached {
                        warn!(case = %id, %owner, due = %due, "a case is overdue");
                    } else {
                        info!(case = %id, %owner, due = %due, "a case is due soon");
                    }
                    self.show(&next);
                    return Ok(());
                }
                // Changed meanwhile: look again.
                Err(StoreError::Conflict(_)) => lost = Some(case),
                Err(e) => {
                    // Not marked: shown as stored next round, it fires again.
                    self.unmarked.push(case);
                    return Err(e);
                }
            }
        }
        // Changed under every try: shown as last read next round, it fires
        // again then.
        self.unmarked.extend(lost);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::cases::conformance::sample_case;
    use crate::store::cases::MemoryCases;

    #[test]
    fn a_newer_version_replaces_an_older_one_never_the_reverse_and_closed_cases_leave() {
        let live = LiveCases::new(Arc::new(MemoryCases::open(None).expect("memory")));
        let smallco = CustomerId::new("smallco");
        let first = sample_case("k1", "smallco", 1_000);
        let (noted, _) = first
            .apply(CaseCommand::AddNote { note: "n".into() }, "bob", Timestamp(2_000))
            .expect("noted");
        live.observe(&noted);
        live.observe(&first);
        assert_eq!(
            live.of_customer(&smallco),
            std::slice::from_ref(&noted),
            "the older read is ignored"
        );
        live.observe(&sample_case("k2", "bigco", 1_500));
        assert_eq!(live.snapshot().len(), 2);
        let (closed, _) = noted
            .apply(
                CaseCommand::Judge {
                    stands: false,
                    answer: "it was due".into(),
                },
                "sue",
                Timestamp(3_000),
            )
            .expect("closed");
        live.observe(&closed);
        assert!(live.of_customer(&smallco).is_empty(), "closed cases leave");
        assert_eq!(live.counts(Timestamp(4_000))[0], (CaseKind::Complaint, 1, 0));
    }

    #[test]
    fn a_customers_calls_go_to_the_owner_of_their_most_urgent_owned_case() {
        let live = LiveCases::new(Arc::new(MemoryCases::open(None).expect("memory")));
        let smallco = CustomerId::new("smallco");
        let assign = |id: &str, priority: u32, owner: &str, due: u64| {
            let mut c = sample_case(id, "smallco", 1_000);
            c.priority = priority;
            let cmd = CaseCommand::Assign {
                team: "billing".into(),
                owner: AgentId::new(owner),
                due: Timestamp(due),
            };
            let judged = c
                .apply(
                    CaseCommand::Judge {
                        stands: true,
                        answer: String::new(),
                    },
                    "sue",
                    Timestamp(1_000),
                )
                .expect("stands")
                .0;
            judged.apply(cmd, "sue", Timestamp(1_000)).expect("assigned").0
        };
        assert_eq!(live.owner_for(&smallco), None);
        // The most urgent case has no owner yet: the next one's owner.
        let mut unowned = sample_case("k0", "smallco", 2_000);
        unowned.priority = 9;
        live.observe(&unowned);
        live.observe(&assign("k1", 1, "bob", 90_000));
        live.observe(&assign("k2", 1, "carol", 50_000));
        assert_eq!(
            live.owner_for(&smallco),
            Some(AgentId::new("carol")),
            "the earlier due time"
        );
        live.observe(&assign("k3", 4, "dave", 99_000));
        assert_eq!(
            live.owner_for(&smallco),
            Some(AgentId::new("dave")),
            "the higher priority"
        );
        let ids: Vec<String> = live
            .of_customer(&smallco)
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        assert_eq!(ids, ["k0", "k3", "k2", "k1"]);
    }
}
