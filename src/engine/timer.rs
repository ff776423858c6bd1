//! A precise timer: one OS thread that keeps the pending deadlines in order and wakes each
//! sleeping task at its deadline with microsecond precision.
//!
//! tokio's timer wheel has 1 ms resolution, and even a kernel timed wait (timer slack 1 ns)
//! returns 50-100 µs late on a virtual machine; then the woken tokio worker needs as long again
//! to get up. Along a chain of 10,000 short events both costs land on the critical path. In
//! [`TimerMode::Precise`] the thread therefore sleeps in the kernel only until shortly before
//! the next deadline, finishes the wait by spinning (yielding the core while the deadline is
//! still some way off), and wakes the task a little *ahead* of its deadline, so that the
//! worker is up by then; the sleep future spins out the last microseconds itself
//! ([`Sleep::poll`]). Nothing spins while no deadline is near: an idle engine, or one whose
//! next deadline is far, waits in the kernel. [`TimerMode::Sleep`] never spins.
//!
//! The lead is needed only while no worker is up. When thousands of deadlines fall within a
//! millisecond (1,000 accounts started together, each second), the workers are busy with the
//! sleeps woken before, so each sleep is woken at its own deadline, in deadline order: waking
//! them early made hundreds of sleeps go round the run queue until their deadlines, in front
//! of the ones already due. Of the sleeps that are due together, those with the most work left
//! on their account go first, so that a critical chain is not served after a crowd.

use crate::types::Micros;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How sleeps end (`--timer`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TimerMode {
    /// Kernel wait until shortly before the deadline, then spin: ends within microseconds, at
    /// the price of CPU time while deadlines are near.
    #[default]
    Precise,
    /// Kernel wait only: no spinning, each sleep ends some 50-100 µs late.
    Sleep,
}

impl TimerMode {
    pub fn name(self) -> &'static str {
        match self {
            TimerMode::Precise => "precise",
            TimerMode::Sleep => "sleep",
        }
    }
}

impl std::fmt::Display for TimerMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The timer thread; dropping it stops the thread.
pub struct TimerThread {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A cheap handle for reading the time and creating sleeps on a [`TimerThread`].
#[derive(Clone)]
pub struct TimerHandle {
    shared: Arc<Shared>,
}

struct Shared {
    origin: Padded<Instant>,
    tuning: Tuning,
    state: Padded<Mutex<State>>,
    wake: Condvar,
    /// Sleeps the thread has woken, and registered sleeps that have since ended (or were
    /// dropped). While more were woken than ended, a tokio worker is up with a woken sleep to
    /// poll, so the next wake-up needs no lead: it is fired at its deadline, in deadline
    /// order, and the busy worker takes it next. Waking early then would only make sleeps go
    /// round the run queue until their deadline, in front of sleeps that are already due.
    woken: Padded<AtomicU64>,
    ended: Padded<AtomicU64>,
    /// Set when a registration became the earliest pending sleep, so that the spinning thread
    /// (which watches the earliest one without holding the lock) looks again.
    front_moved: Padded<AtomicBool>,
}

/// A field on cache lines of its own. The timer thread reads `origin` on every look at the
/// clock while the workers bump the `Arc`'s count (a clone per sleep) and the counters; on
/// shared lines each of those writes cost the other core a miss.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A pending sleep, keyed by (deadline, registration order).
struct Entry {
    /// How long before its deadline it may be woken ([`Tuning::lead`]).
    lead: u64,
    urgency: u64,
    waker: Waker,
}

struct State {
    /// Pending sleeps by (deadline, registration order). A B-tree rather than a binary heap:
    /// deadlines arrive nearly sorted, so inserts touch the hot right edge and pops the hot
    /// left edge, where a million-entry heap pays a cache miss per level on every pop.
    timers: BTreeMap<(u64, u64), Entry>,
    /// The sleeps of the few accounts that may set the makespan: woken ahead by their lead
    /// even while the workers are busy (see [`State::is_critical`]).
    critical: BTreeMap<(u64, u64), Entry>,
    /// The most work left on an account that any sleep has been registered with.
    top_urgency: u64,
    /// Wake-up the thread waits for in the kernel (`u64::MAX`: waiting for any timer;
    /// `AWAKE`: not in the kernel, so it looks at the timers again by itself).
    sleeping_until: u64,
    seq: u64,
    shutdown: bool,
}

const AWAKE: u64 = 0;

/// At most this many sleeps are pending as critical at once.
const CRITICAL_MAX: usize = 8;

impl State {
    /// A sleep whose account has at least half the work left that the heaviest account had is
    /// critical (the rule of `own_lane`'s accounts with a task of their own), up to
    /// [`CRITICAL_MAX`] at a time. In a storm of wake-ups its task then waits in the run queue
    /// while its lead runs out instead of after its deadline: on the 100 µs hot chain, 277
    /// events on one account while 999 others run 9,723 events in the first milliseconds,
    /// that is what a lead is for even when the workers are busy.
    fn is_critical(&mut self, urgency: u64, lead: u64) -> bool {
        self.top_urgency = self.top_urgency.max(urgency);
        lead > 0
            && urgency > 0
            && urgency.saturating_mul(2) >= self.top_urgency
            && self.critical.len() < CRITICAL_MAX
    }

    /// The earliest wake-up among the critical sleeps (they always take their lead).
    fn critical_wake(&self) -> Option<u64> {
        let (k, e) = self.critical.first_key_value()?;
        Some(k.0.saturating_sub(e.lead))
    }
}

impl TimerThread {
    /// Starts a [`TimerMode::Precise`] thread; times are measured from this moment.
    pub fn start() -> std::io::Result<Self> {
        Self::with_mode(TimerMode::Precise)
    }

    /// Starts the thread in `mode`; times are measured from this moment.
    pub fn with_mode(mode: TimerMode) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(mode));
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("eventbench-timer".into())
            .spawn(move || run(&s))?;
        Ok(TimerThread {
            shared,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> TimerHandle {
        TimerHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.shared.state.lock().expect("timer lock").shutdown = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    /// No timers yet; times are measured from now.
    fn new(mode: TimerMode) -> Self {
        Shared {
            origin: Padded(Instant::now()),
            tuning: Tuning::of(mode),
            state: Padded(Mutex::new(State {
                timers: BTreeMap::new(),
                critical: BTreeMap::new(),
                top_urgency: 0,
                sleeping_until: AWAKE,
                seq: 0,
                shutdown: false,
            })),
            wake: Condvar::new(),
            woken: Padded(AtomicU64::new(0)),
            ended: Padded(AtomicU64::new(0)),
            front_moved: Padded(AtomicBool::new(false)),
        }
    }

    fn now(&self) -> u64 {
        Micros::from_duration(self.origin.elapsed()).0
    }

    /// A woken sleep is still waiting for a worker to poll it to its end.
    fn workers_busy(&self) -> bool {
        // `ended` may run ahead of `woken` for a moment (a sleep polled to its end before the
        // thread got round to waking it): that counts as not busy, which only costs a lead.
        let ended = self.ended.load(Acquire);
        self.woken.load(Acquire) > ended
    }

    /// When the sleep at the front (deadline, lead) should be woken now.
    fn wake_time(&self, (deadline, lead): (u64, u64)) -> u64 {
        if self.workers_busy() {
            deadline
        } else {
            deadline.saturating_sub(lead)
        }
    }

    fn register(&self, deadline: u64, lead: u64, urgency: u64, waker: Waker) {
        let mut st = self.state.lock().expect("timer lock");
        st.seq += 1;
        let seq = st.seq;
        let critical = st.is_critical(urgency, lead);
        let map = if critical {
            &mut st.critical
        } else {
            &mut st.timers
        };
        let front = map.first_key_value().is_none_or(|(k, _)| deadline < k.0);
        let entry = Entry {
            lead,
            urgency,
            waker,
        };
        map.insert((deadline, seq), entry);
        if front {
            self.front_moved.store(true, Release);
        }
        if st.sleeping_until != AWAKE && deadline.saturating_sub(lead) < st.sleeping_until {
            self.wake.notify_one();
        }
    }
}

/// Lets the kernel wake this thread within ~1 µs of the requested time instead of the default
/// 50 µs slack. (Real-time priority was tried too and measured no better on two cores.)
fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

fn run(shared: &Shared) {
    tighten_timer_slack();
    // Due timers as (urgency, registration order, waker).
    let mut due: Vec<(u64, u64, Waker)> = Vec::new();
    let mut st = shared.state.lock().expect("timer lock");
    loop {
        if st.shutdown {
            return;
        }
        shared.front_moved.store(false, Relaxed);
        let front = st.timers.first_key_value().map(|(k, e)| (k.0, e.lead));
        let critical = st.critical_wake();
        let next = earliest(front.map(|f| shared.wake_time(f)), critical);
        match shared.tuning.step(shared.now(), next) {
            Step::Fire => {
                take_due(shared, &mut st, &mut due);
                drop(st);
                // Of what is due, the sleeps with the most work left on their account first:
                // when the workers fall behind a storm, the critical chain is not served after
                // a crowd that happened to be due a few microseconds earlier.
                due.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                for (_, _, waker) in due.drain(..) {
                    waker.wake();
                }
                st = shared.state.lock().expect("timer lock");
            }
            Step::Spin => {
                drop(st);
                spin_until_due(shared, front, critical);
                st = shared.state.lock().expect("timer lock");
            }
            Step::Wait(us) => {
                // Out of the kernel `margin` before the earliest the front may be woken.
                let cold = front.map(|(d, lead)| d.saturating_sub(lead));
                st.sleeping_until = earliest(cold, critical).unwrap_or(u64::MAX);
                let wait = Duration::from_micros(us);
                st = shared.wake.wait_timeout(st, wait).expect("timer lock").0;
                st.sleeping_until = AWAKE;
            }
            Step::Park => {
                st.sleeping_until = u64::MAX;
                st = shared.wake.wait(st).expect("timer lock");
                st.sleeping_until = AWAKE;
            }
        }
    }
}

/// Moves the sleeps to wake now from the front of `st` to `due`, and counts them as woken.
fn take_due(shared: &Shared, st: &mut State, due: &mut Vec<(u64, u64, Waker)>) {
    let now = shared.now();
    let busy = shared.workers_busy();
    while let Some(entry) = st.timers.first_entry() {
        let deadline = entry.key().0;
        let lead = if busy { 0 } else { entry.get().lead };
        if deadline.saturating_sub(lead) > now {
            break;
        }
        let ((_, seq), e) = entry.remove_entry();
        due.push((e.urgency, seq, e.waker));
    }
    while let Some(entry) = st.critical.first_entry() {
        if entry.key().0.saturating_sub(entry.get().lead) > now {
            break;
        }
        let ((_, seq), e) = entry.remove_entry();
        due.push((e.urgency, seq, e.waker));
    }
    // Before the wakes: from here on the workers count as busy with them.
    shared.woken.fetch_add(due.len() as u64, Release);
}

/// Watches the clock until the front sleep is due, without the lock: registrations go on
/// meanwhile, and one that becomes the front ends the watch early.
fn spin_until_due(shared: &Shared, front: Option<(u64, u64)>, critical: Option<u64>) {
    loop {
        if shared.front_moved.load(Acquire) {
            return;
        }
        let now = shared.now();
        let Some(wake_at) = earliest(front.map(|f| shared.wake_time(f)), critical) else {
            return;
        };
        if now >= wake_at {
            return;
        }
        if wake_at - now > shared.tuning.yield_above {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The earlier of two optional times.
fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl TimerHandle {
    /// Microseconds since the timer thread started.
    pub fn now(&self) -> Micros {
        Micros(self.shared.now())
    }

    /// A future that completes once `now() >= deadline`.
    pub fn sleep_until(&self, deadline: Micros, urgency: u64) -> Sleep {
        Sleep {
            shared: Arc::clone(&self.shared),
            deadline: deadline.0,
            urgency,
            registered: false,
        }
    }
}

/// A sleep on the precise timer; see [`TimerHandle::sleep_until`].
pub struct Sleep {
    shared: Arc<Shared>,
    deadline: u64,
    urgency: u64,
    /// Registered with the thread and not ended yet (see [`Shared::woken`]).
    registered: bool,
}

/// With this little left, a sleep spins in place: registering, or going round the executor
/// again, would take longer.
const SPIN_IN_PLACE: u64 = 10;

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Deadline 0 is always past: zero-length sleeps end without reading the clock.
        if self.deadline == 0 {
            return Poll::Ready(());
        }
        let now = self.shared.now();
        if now >= self.deadline {
            self.end();
            return Poll::Ready(());
        }
        let left = self.deadline - now;
        let tuning = self.shared.tuning;
        if !self.registered {
            if left <= SPIN_IN_PLACE && tuning.lead_max > 0 {
                return self.spin_out();
            }
            // The thread wakes a sleep once, so one registration is enough. The waker of the
            // first pending poll is the one woken: a sleep must stay with the task (or
            // executor slot) that first polled it. Not keeping a clone to compare saves 16
            // bytes a sleep, 16 MB at a million sleeping handlers.
            let lead = tuning.lead(left);
            self.shared
                .register(self.deadline, lead, self.urgency, cx.waker().clone());
            self.registered = true;
            return Poll::Pending;
        }
        // Polled within the lead: woken ahead of the deadline because no worker was up. The
        // worker is up now, so keep it up until the deadline by asking to be polled again at
        // once. Going round the executor instead of spinning here lets every other future
        // that is due meanwhile run in between; only the last microseconds spin in place.
        if left <= tuning.lead_max {
            if left <= SPIN_IN_PLACE {
                return self.spin_out();
            }
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Sleep {
    fn spin_out(&mut self) -> Poll<()> {
        while self.shared.now() < self.deadline {
            std::hint::spin_loop();
        }
        self.end();
        Poll::Ready(())
    }

    /// Counts a registered sleep as ended (see [`Shared::woken`]).
    fn end(&mut self) {
        if std::mem::take(&mut self.registered) {
            self.shared.ended.fetch_add(1, Release);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.end();
    }
}

mod tuning;
use tuning::{Step, Tuning};

#[cfg(test)]
mod tests;
