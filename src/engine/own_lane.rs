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
use super::group::{self, DoneSignal, BATCH};
use super::record::{Execution, SharedRecords};
use super::work::{Handler, Job};
use super::ClockKind;
use crate::sync::lock;
use crate::types::{AccountId, AccountIdx, EventIdx, LaneId};
use crate::workload::Workload;
use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll, Wake, Waker};

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
    signal: DoneSignal,
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
        // Heaviest accounts first: in a wake-up storm they are the ones that cannot wait.
        let mut accounts: Vec<u32> = (0..prepared.workload.account_count() as u32).collect();
        accounts.sort_by_key(|&a| std::cmp::Reverse(prepared.chains.work[a as usize]));
        let shares = shares(&accounts, &prepared.chains.work, group::group_count());
        let groups = shares.len();
        let done = Arc::new(Done {
            groups_left: AtomicUsize::new(groups),
            signal: DoneSignal::new(),
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
                    done.signal.fire();
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
        self.done.signal.wait().await;
    }

    /// The workload and what happened; call after [`OwnLanes::wait`].
    pub fn finish(self) -> (Workload, Execution) {
        let shared = Arc::try_unwrap(self.shared)
            .unwrap_or_else(|_| panic!("finish is called once every group has ended"));
        // Every finished handler was recorded once: that count is the number of record calls.
        let finished = shared.finished.into_inner();
        let records = shared
            .records
            .into_records_by(&shared.chains.order, finished);
        let execution = group::execution(records, finished, shared.workload.len(), ClockKind::Real);
        (shared.workload, execution)
    }
}

/// Accounts that may set the makespan run in a task of their own: at most this many.
const CRITICAL_MAX: usize = 8;

/// Splits accounts (heaviest first) into the groups' shares. The few accounts with at least
/// half the heaviest account's work each get a group of their own: their wake-up then goes
/// straight to the runtime (the timer wakes the most urgent first) instead of waiting behind a
/// big group's turn through a storm of other accounts' wake-ups. The rest are dealt round
/// robin over `groups` groups.
fn shares(accounts: &[u32], work: &[u64], groups: usize) -> Vec<Vec<u32>> {
    let heaviest = accounts.first().map_or(0, |&a| work[a as usize]);
    let critical = accounts
        .iter()
        .take(CRITICAL_MAX)
        .take_while(|&&a| heaviest > 0 && work[a as usize] * 2 >= heaviest)
        .count();
    // With no more accounts than groups, every account has a group to itself anyway.
    let critical = if accounts.len() <= groups {
        0
    } else {
        critical
    };
    let (alone, rest) = accounts.split_at(critical);
    let mut shares: Vec<Vec<u32>> = alone.iter().map(|&a| vec![a]).collect();
    let mut dealt: Vec<Vec<u32>> = vec![Vec::new(); groups];
    for (i, &a) in rest.iter().enumerate() {
        dealt[i % groups].push(a);
    }
    shares.extend(dealt);
    shares
}

/// Where a finished event belongs.
struct Place {
    account: u32,
    event: u32,
    /// Where the event sits in `Chains::order`: its record slot during the run.
    position: u32,
}

/// A handler call that has returned.
type Finished = group::Finished<Place>;

/// Runs the handler of event `e` (see [`super::work::invoke`]).
fn run_one<'a, H: Handler, C: Clock>(
    s: &'a Shared<H, C>,
    (account, id): (AccountIdx, AccountId),
    (e, position): (u32, u32),
    urgency: u64,
) -> impl std::future::Future<Output = Finished> + Send + 'a {
    let w = &s.workload;
    let idx = EventIdx(e);
    let job = Job {
        index: idx,
        event: w.event_id(idx),
        account: id,
        duration: w.duration(idx),
    };
    let place = Place {
        account: account.0,
        event: e,
        position,
    };
    group::run_one(&s.handler, &s.clock, job, urgency, account.0, place)
}

/// Slots woken since the group last looked, and the group task's waker.
#[derive(Default)]
struct Woken {
    slots: Mutex<Vec<u32>>,
    group: AtomicWaker,
}

/// The waker of one account slot: made once per account and reused for all its events, so a
/// wake-up costs no allocation.
struct SlotWaker {
    slot: u32,
    woken: Arc<Woken>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.woken.slots).push(self.slot);
        self.woken.group.wake();
    }
}

/// Per owned account: where its chain stands.
struct Chain {
    account: u32,
    /// The account's id, kept here because the group touches this entry anyway.
    id: AccountId,
    /// Position of the next event in `Chains::order`, and the end of this account's range.
    next: u32,
    end: u32,
    left: u64,
}

/// Slots a group polls in one turn.
const TURN: usize = 32;

/// Runs the chains of a group's accounts (given heaviest first) to their ends.
///
/// Each account has one slot holding its running handler future in place, polled with the
/// slot's own waker: at most one event per account runs at a time, so a slot per account is
/// all the storage ever needed, and a handler that finishes at once (zero time) is followed by
/// the account's next event without any allocation or queueing.
async fn group<H: Handler, C: Clock>(s: &Shared<H, C>, accounts: Vec<u32>) {
    let n = accounts.len();
    let woken = Arc::new(Woken::default());
    let wakers: Vec<Waker> = (0..n as u32)
        .map(|slot| {
            let woken = Arc::clone(&woken);
            Waker::from(Arc::new(SlotWaker { slot, woken }))
        })
        .collect();
    let mut chains: Vec<Chain> = accounts
        .iter()
        .map(|&account| Chain {
            account,
            id: s.workload.account_id(AccountIdx(account)),
            next: s.chains.offsets[account as usize],
            end: s.chains.offsets[account as usize + 1],
            left: s.chains.work[account as usize],
        })
        .collect();
    // Never grows after this, so a future in it never moves once polled.
    let mut slots = Vec::with_capacity(n);
    slots.resize_with(n, || None);
    let (mut started, mut running, mut done) = (0usize, 0usize, 0u64);
    let mut ready: Vec<u32> = Vec::new();
    loop {
        let stopping = s.stopping.load(Relaxed);
        // Start the accounts' first events a batch at a time, between completions.
        let batch_end = (started + BATCH).min(n);
        while started < batch_end && !stopping {
            slots[started] = start_next(s, &mut chains[started]);
            running += usize::from(slots[started].is_some());
            ready.push(started as u32);
            started += 1;
        }
        ready.append(&mut lock(&woken.slots));
        if ready.is_empty() {
            let more = started < n && !stopping;
            if more {
                tokio::task::yield_now().await;
            } else if running == 0 {
                break;
            } else {
                wait_for_wake(&woken).await;
            }
            continue;
        }
        // A bounded turn: the other groups (and the critical accounts' own tasks) get the
        // worker back after at most this many slots, not after a whole storm.
        let turn = ready.len().min(TURN);
        for slot in ready.drain(..turn) {
            let i = slot as usize;
            let mut cx = Context::from_waker(&wakers[i]);
            let (ended, started) = drive(s, &mut slots[i], &mut chains[i], &mut cx, |chain| {
                start_next(s, chain)
            });
            running = running + started - ended;
            done += ended as u64;
        }
        s.finished.fetch_add(std::mem::take(&mut done), Relaxed);
        if ready.is_empty() {
            // Zero-time handlers never return Pending; give the worker back now and then.
            tokio::task::consume_budget().await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// Polls an account's running handler and, each time one finishes, records it and starts the
/// account's next (`next`), until one is pending or the chain has ended or the run stops.
/// Returns how many handlers ended and how many were started.
fn drive<H: Handler, C: Clock, F: Future<Output = Finished>>(
    s: &Shared<H, C>,
    slot: &mut Option<F>,
    chain: &mut Chain,
    cx: &mut Context<'_>,
    mut next: impl FnMut(&mut Chain) -> Option<F>,
) -> (usize, usize) {
    let (mut ended, mut started) = (0, 0);
    while let Some(fut) = slot.as_mut() {
        // SAFETY: the group's `slots` never reallocates (its length is fixed) and a future in
        // it is only ever dropped in place (by assigning the slot), never moved, so it stays
        // pinned from its first poll to its drop.
        let fut = unsafe { Pin::new_unchecked(fut) };
        let Poll::Ready(f) = fut.poll(cx) else {
            break;
        };
        // By position: an account's events fill neighbouring slots.
        s.records.set(
            EventIdx(f.at.position),
            f.start,
            f.end,
            LaneId(f.at.account),
        );
        ended += 1;
        chain.left -= s.workload.duration(EventIdx(f.at.event)).0;
        *slot = None;
        if !s.stopping.load(Relaxed) {
            *slot = next(chain);
            started += usize::from(slot.is_some());
        }
    }
    (ended, started)
}

/// Invokes the next handler of a chain, if it has one left.
fn start_next<'a, H: Handler, C: Clock>(
    s: &'a Shared<H, C>,
    chain: &mut Chain,
) -> Option<impl std::future::Future<Output = Finished> + Send + 'a> {
    if chain.next == chain.end {
        return None;
    }
    let position = chain.next;
    let e = s.chains.order[position as usize];
    chain.next += 1;
    let account = (AccountIdx(chain.account), chain.id);
    Some(run_one(s, account, (e, position), chain.left))
}

/// Waits until some slot has been woken.
async fn wait_for_wake(woken: &Woken) {
    std::future::poll_fn(|cx| {
        woken.group.register(cx.waker());
        if lock(&woken.slots).is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
