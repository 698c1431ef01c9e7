//! A million pending callbacks in the deadline tracker.
//!
//! Figures printed: the cost of each insert (p50 / p99 / mean), the memory
//! the tracker holds per pending callback (bytes live after the inserts,
//! counted by a tracking allocator), and how late timers fire: the clock
//! is driven a second at a time over the whole span (as the server's driver
//! does), so a timer fires at most 1 s of simulated time after it is due; the
//! real time each `handle_timeout` takes (p99, max) bounds how much later it
//! can be on a real clock. Under `cargo test` (no `--bench`) it runs with
//! 20,000 callbacks, as a smoke test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hotline::acd::Tier;
use hotline::callback::{CallbackDetails, CallbackEvent, CallbackTracker, TrackerSettings};
use hotline::ids::{CallbackId, QueueName};
use hotline::time::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Counts live heap bytes, to measure the tracker's memory.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full { 1_000_000 } else { 20_000 };
    let start = Timestamp(1_795_392_000_000);
    let span = Duration::from_secs(8 * 3600);
    let mut rng = SmallRng::seed_from_u64(7);
    let queue = QueueName::new("repairs");
    let ids: Vec<CallbackId> = (0..n).map(|i| CallbackId::new(format!("cb-{i:07}"))).collect();

    let before = LIVE.load(Ordering::Relaxed);
    let mut t = CallbackTracker::new(TrackerSettings::default());
    let mut inserts = Vec::with_capacity(n);
    let began = Instant::now();
    for id in &ids {
        // Deadlines spread over 8 hours (4 h promises and booked windows);
        // every callback waits for a window, so all its timers are pending.
        let window = start.plus(Duration::from_secs(rng.random_range(60..4 * 3600)));
        let deadline = window.plus(Duration::from_secs(rng.random_range(3600..4 * 3600)));
        // With who to call, as real callbacks carry (number, customer key,
        // queue): the memory figure counts them.
        let number = format!("+86138{:08}", rng.random_range(0..100_000_000u32));
        let details = CallbackDetails {
            customer_key: number.clone(),
            number,
            tier: Some(Tier::Regular),
            queue: Some(queue.clone()),
            ..CallbackDetails::default()
        };
        let t0 = Instant::now();
        t.handle_created_with(start, id.clone(), Some(window), deadline, 3, details)
            .expect("insert");
        inserts.push(t0.elapsed());
        // The driver persists each change; here they are dropped.
        while t.poll_event().is_some() {}
    }
    let insert_total = began.elapsed();
    let bytes = LIVE
        .load(Ordering::Relaxed)
        .saturating_sub(before)
        .saturating_sub(inserts.capacity() * 16);
    inserts.sort();

    // Drive the clock a second at a time over the span.
    let mut steps = Vec::new();
    let (mut fired, mut late_ms_max) = (0u64, 0u64);
    let mut now = start;
    let end = start.plus(span);
    while now <= end {
        if t.poll_timeout().is_some_and(|due| due <= now) {
            let t0 = Instant::now();
            t.handle_timeout(now);
            steps.push(t0.elapsed());
            while let Some(e) = t.poll_event() {
                let due = match e {
                    CallbackEvent::CallbackDue { .. } | CallbackEvent::CallbackWarned { .. } => None,
                    CallbackEvent::CallbackBreached { deadline, .. } => Some(deadline),
                    _ => continue,
                };
                fired += 1;
                if let Some(due) = due {
                    late_ms_max = late_ms_max.max(now.as_millis() - due.as_millis());
                }
            }
        }
        now = now.plus(Duration::from_secs(1));
    }
    steps.sort();
    println!("callbacks: {n} pending in the tracker");
    println!(
        "  insert: {:.0} ns mean, p50 {:?}, p99 {:?}, max {:?} ({:.0} inserts/s)",
        insert_total.as_nanos() as f64 / n as f64,
        percentile(&inserts, 0.5),
        percentile(&inserts, 0.99),
        inserts[n - 1],
        n as f64 / insert_total.as_secs_f64()
    );
    println!(
        "  memory: {:.1} MB live, {} bytes per pending callback",
        bytes as f64 / 1e6,
        bytes / n
    );
    println!(
        "  firing: {fired} timers over {} h; breaches fired at most {late_ms_max} ms after due (simulated clock, 1 s steps); \
         handle_timeout per second p50 {:?}, p99 {:?}, max {:?}",
        span.as_secs() / 3600,
        percentile(&steps, 0.5),
        percentile(&steps, 0.99),
        steps[steps.len() - 1]
    );
    assert_eq!(
        t.counters().breached,
        n as u64,
        "every callback breached once (none reached)"
    );
}
