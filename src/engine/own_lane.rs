//! The real executor for preloaded runs where every account has a lane of its own
//! (`per-account`, or `pool`/`optimal` with at least as many lanes as accounts): the real-clock
//! twin of [`super::sim::unbounded`].
//!
//! With a lane for every account no policy ever makes an account wait, so nothing has to be
//! decided centrally: groups own disjoint sets of accounts and run each account's events back
//! to back, heaviest accounts first. There is no lock between groups (records are filled with
//! relaxed atomic stores, one slot per event), which is what lets zero-time events flow at the
//! speed of the two cores instead of the speed of one mutex.

use super::clock::Clock;
use super::handler::{Ctx, Handler, Job};
use super::record::{Execution, SharedRecords};
use super::ClockKind;
use crate::types::{AccountIdx, EventIdx, LaneId, Micros};
use crate::workload::Workload;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::watch;

/// Most handlers a group starts before letting the other groups start theirs.
const BATCH: usize = 256;

/// Each account's events in arrival order, all accounts in one array (CSR layout).
pub struct Chains {
    order: Vec<u32>,
    offsets: Vec<u32>,
    work: Vec<u64>,
}

impl Chains {
    pub fn new(w: &Workload) -> Self {
        let accounts = w.account_count();
        let mut offsets = vec![0u32; accounts + 1];
        let mut work = vec![0u64; accounts];
        for e in w.indexes() {
            let a = w.account_of(e).0 as usize;
            offsets[a + 1] += 1;
            work[a] += w.duration(e).0;
        }
        for a in 0..accounts {
            offsets[a + 1] += offsets[a];
        }
        let mut fill = offsets.clone();
        let mut order = vec![0u32; w.len()];
        for e in w.indexes() {
            let a = w.account_of(e).0 as usize;
            order[fill[a] as usize] = e.0;
            fill[a] += 1;
        }
        Chains {
            order,
            offsets,
            work,
        }
    }

    fn events(&self, a: usize) -> &[u32] {
        &self.order[self.offsets[a] as usize..self.offsets[a + 1] as usize]
    }
}

struct Shared<H, C> {
    workload: Workload,
    chains: Chains,
    records: SharedRecords,
    handler: H,
    clock: C,
    finished: AtomicU64,
    stopping: AtomicBool,
}

/// Outside [`Shared`], so that a group signals the end only after it has let go of the shared
/// state, and [`OwnLanes::finish`] can take it back whole.
struct Done {
    groups_left: AtomicUsize,
    tx: watch::Sender<bool>,
}

/// A running own-lane execution; the same batch controls as [`super::real::Engine`].
pub struct OwnLanes<H, C> {
    shared: Arc<Shared<H, C>>,
    done: Arc<Done>,
}

impl<H, C> Clone for OwnLanes<H, C> {
    fn clone(&self) -> Self {
        OwnLanes {
            shared: Arc::clone(&self.shared),
            done: Arc::clone(&self.done),
        }
    }
}

/// A workload laid out by account, ready for [`OwnLanes::launch`] (built before the clock
/// starts: laying out ten million events is loading, not processing).
pub struct Prepared {
    workload: Workload,
    chains: Chains,
    records: SharedRecords,
}

impl Prepared {
    pub fn new(workload: Workload) -> Self {
        let chains = Chains::new(&workload);
        let records = SharedRecords::new(workload.len());
        Prepared {
            workload,
            chains,
            records,
        }
    }
}

impl<H: Handler, C: Clock> OwnLanes<H, C> {
    /// Starts every account's chain; must be called inside a tokio runtime.
    pub fn launch(prepared: Prepared, handler: H, clock: C) -> Self {
        let groups = super::real::group_count();
        // Heaviest accounts first: in a wake-up storm they are the ones that cannot wait.
        let mut accounts: Vec<u32> = (0..prepared.workload.account_count() as u32).collect();
        accounts.sort_by_key(|&a| std::cmp::Reverse(prepared.chains.work[a as usize]));
        let mut shares: Vec<Vec<u32>> = vec![Vec::new(); groups];
        for (i, a) in accounts.into_iter().enumerate() {
            shares[i % groups].push(a);
        }
        let (tx, _) = watch::channel(false);
        let done = Arc::new(Done {
            groups_left: AtomicUsize::new(groups),
            tx,
        });
        let shared = Arc::new(Shared {
            workload: prepared.workload,
            chains: prepared.chains,
            records: prepared.records,
            handler,
            clock,
            finished: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        for share in shares {
            let (shared, done) = (Arc::clone(&shared), Arc::clone(&done));
            tokio::spawn(async move {
                group(&shared, share).await;
                drop(shared);
                if done.groups_left.fetch_sub(1, AcqRel) == 1 {
                    done.tx.send_replace(true);
                }
            });
        }
        OwnLanes { shared, done }
    }

    /// Events finished so far.
    pub fn finished(&self) -> u64 {
        self.shared.finished.load(Relaxed)
    }

    /// No more starts: the run ends once the events in flight have ended.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Relaxed);
    }

    pub async fn wait(&self) {
        let mut rx = self.done.tx.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// The workload and what happened; call after [`OwnLanes::wait`].
    pub fn finish(self) -> (Workload, Execution) {
        let shared = Arc::try_unwrap(self.shared)
            .unwrap_or_else(|_| panic!("finish is called once every group has ended"));
        // Every finished handler was recorded once: that count is the number of record calls.
        let finished = shared.finished.into_inner();
        let records = shared.records.into_records(finished);
        let wall = records.spans().map(|(_, e)| e).max().unwrap_or(0);
        let interrupted = (finished as usize) < shared.workload.len();
        let execution = Execution {
            records,
            wall: Micros(wall),
            clock: ClockKind::Real,
            interrupted,
        };
        (shared.workload, execution)
    }
}

/// A handler call that has returned, for the account at `slot` of its group.
struct Finished {
    slot: u32,
    event: u32,
    start: Micros,
    end: Micros,
}

/// Invokes the handler of event `e` now (see `real::run_one` for why not at first poll).
fn run_one<'a, H: Handler, C: Clock>(
    s: &'a Shared<H, C>,
    (slot, account): (u32, AccountIdx),
    e: u32,
    urgency: u64,
) -> impl std::future::Future<Output = Finished> + Send + 'a {
    let w = &s.workload;
    let idx = EventIdx(e);
    let job = Job {
        index: idx,
        event: w.event_id(idx),
        account: w.account_id(account),
        duration: w.duration(idx),
    };
    let start = s.clock.now();
    let ctx = Ctx {
        clock: &s.clock,
        start,
        urgency,
    };
    let call = std::panic::catch_unwind(AssertUnwindSafe(|| s.handler.handle(job, ctx)));
    async move {
        if let Ok(fut) = call {
            // A panicking handler still ends its event; the records show when.
            let _ = AssertUnwindSafe(fut).catch_unwind().await;
        }
        Finished {
            slot,
            event: e,
            start,
            end: s.clock.now(),
        }
    }
}

/// Runs the chains of a group's accounts (given heaviest first) to their ends.
async fn group<H: Handler, C: Clock>(s: &Shared<H, C>, accounts: Vec<u32>) {
    // Per owned account: position of its next event in its chain, and the work left.
    let mut next: Vec<usize> = vec![0; accounts.len()];
    let mut left: Vec<u64> = accounts
        .iter()
        .map(|&a| s.chains.work[a as usize])
        .collect();
    let mut running = FuturesUnordered::new();
    let mut started = 0usize;
    let mut done = 0u64;
    loop {
        // Start the accounts' first events a batch at a time, between completions.
        let stopping = s.stopping.load(Relaxed);
        while started < accounts.len() && !stopping {
            let slot = started;
            let e = s.chains.events(accounts[slot] as usize)[0];
            next[slot] = 1;
            let owner = (slot as u32, AccountIdx(accounts[slot]));
            running.push(run_one(s, owner, e, left[slot]));
            started += 1;
            if started % BATCH == 0 {
                break;
            }
        }
        let more = started < accounts.len() && !stopping;
        let Some(f) = (if more {
            running.next().now_or_never().flatten()
        } else {
            running.next().await
        }) else {
            if more {
                tokio::task::yield_now().await;
                continue;
            }
            break;
        };
        let slot = f.slot as usize;
        let a = accounts[slot] as usize;
        s.records
            .set(EventIdx(f.event), f.start, f.end, LaneId(a as u32));
        left[slot] -= s.workload.duration(EventIdx(f.event)).0;
        done += 1;
        if done % 64 == 0 {
            s.finished.fetch_add(64, Relaxed);
        }
        let chain = s.chains.events(a);
        if next[slot] < chain.len() && !s.stopping.load(Relaxed) {
            let e = chain[next[slot]];
            next[slot] += 1;
            running.push(run_one(s, (f.slot, AccountIdx(a as u32)), e, left[slot]));
        }
        // Zero-time handlers never return Pending; give the worker back now and then.
        tokio::task::consume_budget().await;
    }
    s.finished.fetch_add(done % 64, Relaxed);
}

#[cfg(test)]
mod tests;
