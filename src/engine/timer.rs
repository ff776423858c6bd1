//! A precise timer: the pending deadlines in order, a *pump* task that wakes each sleeping task
//! at its deadline with microsecond precision, and one OS thread that waits in the kernel for
//! the far ones.
//!
//! tokio's timer wheel has 1 ms resolution, and even a kernel timed wait (timer slack 1 ns)
//! returns 50-100 µs late on a virtual machine; then the woken tokio worker needs as long again
//! to get up. Along a chain of 10,000 short events both costs land on the critical path, and
//! when 1,000 deadlines fall within a millisecond each one pays them. In [`TimerMode::Precise`]
//! the waiting near a deadline therefore happens *on the tokio worker* that runs the handlers:
//! while the earliest deadline is near ([`Tuning::horizon`]), the pump task stays runnable,
//! looking at the clock each time the worker has run its other tasks, and wakes the sleeps
//! that are due right there, on the same thread, with no hand-off between threads and no
//! parked worker to get up. Only when the next deadline is far does the pump let the worker
//! park; the thread then waits in the kernel and wakes the pump a horizon ahead. An idle
//! engine, or one whose next deadline is far, burns no core.
//!
//! Why not a spinning timer thread (the design before this one): this VM's scheduler packs
//! runnable threads onto as few vCPUs as it can, so the timer thread and the worker shared one
//! vCPU; each wake-up became a context switch, and while the thread spun the worker could not
//! run. The 1 s workload's overshoot p50 swung between 50 and 250 µs at normal priority.
//!
//! [`TimerMode::Sleep`] has no pump: the thread wakes each sleep at its deadline from a kernel
//! wait, and never spins.

use crate::types::Micros;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How sleeps end (`--timer`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TimerMode {
    /// A tokio worker stays up while a deadline is near and ends each sleep within microseconds,
    /// at the price of CPU time while deadlines are near.
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

/// The timer thread (and, inside a tokio runtime, its pump task); dropping it stops both.
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
    /// The earliest pending deadline (`u64::MAX`: none), kept beside the map so that the
    /// spinning pump looks at it without the lock.
    front: Padded<AtomicU64>,
    shutdown: AtomicBool,
}

/// A field on cache lines of its own. The pump reads `origin` and `front` on every look at
/// the clock while the workers bump the `Arc`'s count (a clone per sleep); on shared lines each
/// of those writes would cost a miss.
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
    /// How long before its deadline it is woken (non-zero only for critical sleeps).
    lead: u64,
    urgency: u64,
    waker: Waker,
}

/// Sleeps that are due, as (urgency, registration order, waker).
type Due = Vec<(u64, u64, Waker)>;

struct State {
    /// Pending sleeps by (deadline, registration order). A B-tree rather than a binary heap:
    /// deadlines arrive nearly sorted, so inserts touch the hot right edge and pops the hot
    /// left edge, where a million-entry heap pays a cache miss per level on every pop.
    timers: BTreeMap<(u64, u64), Entry>,
    /// The sleeps of the few accounts that may set the makespan, woken ahead by their lead
    /// (see [`State::is_critical`]).
    critical: BTreeMap<(u64, u64), Entry>,
    /// The most work left on an account that any sleep has been registered with.
    top_urgency: u64,
    seq: u64,
    /// A pump task exists: it fires the sleeps, and the thread only wakes it.
    pumped: bool,
    /// The pump's waker while it waits for the thread (`None` while it is up).
    pump: Option<Waker>,
    /// When the thread's kernel wait ends (`u64::MAX`: waiting for a registration; `AWAKE`:
    /// not in the kernel, so it looks again by itself).
    sleeping_until: u64,
}

const AWAKE: u64 = 0;
const NONE: u64 = u64::MAX;

/// At most this many sleeps are pending as critical at once.
const CRITICAL_MAX: usize = 8;

impl State {
    /// The earliest wake-up: the first deadline, or a critical sleep's deadline less its lead.
    fn front(&self) -> Option<u64> {
        let plain = self.timers.first_key_value().map(|(k, _)| k.0);
        let critical = self
            .critical
            .first_key_value()
            .map(|(k, e)| k.0.saturating_sub(e.lead));
        match (plain, critical) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A sleep whose account has at least half the work left that the heaviest account had is
    /// critical (the rule of `own_lane`'s accounts with a task of their own), up to
    /// [`CRITICAL_MAX`] at a time. On the 100 µs hot chain, 277 events on one account while 999
    /// others run 9,723 events in the first milliseconds, the worker is busy with the crowd
    /// when the chain's deadline comes; woken ahead, the chain's task is polled by then.
    fn is_critical(&mut self, urgency: u64, lead: u64) -> bool {
        self.top_urgency = self.top_urgency.max(urgency);
        lead > 0
            && urgency > 0
            && urgency.saturating_mul(2) >= self.top_urgency
            && self.critical.len() < CRITICAL_MAX
    }
}

impl TimerThread {
    /// Starts a [`TimerMode::Precise`] timer; times are measured from this moment.
    pub fn start() -> std::io::Result<Self> {
        Self::with_mode(TimerMode::Precise)
    }

    /// Starts the timer in `mode`; times are measured from this moment. In precise mode the
    /// pump is spawned on the current tokio runtime; outside one there is no pump, and the
    /// thread wakes every sleep itself, as in [`TimerMode::Sleep`].
    pub fn with_mode(mode: TimerMode) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(mode));
        if mode == TimerMode::Precise {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                shared.lock().pumped = true;
                rt.spawn(pump::run(Arc::clone(&shared)));
            }
        }
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
        self.shared.shutdown.store(true, Release);
        let pump = self.shared.lock().pump.take();
        self.shared.wake.notify_one();
        if let Some(p) = pump {
            p.wake();
        }
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
                seq: 0,
                pumped: false,
                pump: None,
                sleeping_until: AWAKE,
            })),
            wake: Condvar::new(),
            front: Padded(AtomicU64::new(NONE)),
            shutdown: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("timer lock")
    }

    fn now(&self) -> u64 {
        Micros::from_duration(self.origin.elapsed()).0
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Acquire)
    }

    /// When the thread has to act next: wake the idle pump a horizon before the front, or
    /// (without a pump) wake the front at its deadline; `None` while the pump is up.
    fn thread_due(&self, st: &State) -> Option<u64> {
        if !st.pumped {
            st.front()
        } else if st.pump.is_some() {
            st.front().map(|d| d.saturating_sub(self.tuning.horizon))
        } else {
            None
        }
    }

    /// Wakes the thread if it now has to act before its kernel wait ends (with the pump up it
    /// has nothing to do, so taking the pump's waker never nudges it).
    fn nudge_thread(&self, st: &State) {
        if self.thread_due(st).is_some_and(|t| t < st.sleeping_until) {
            self.wake.notify_one();
        }
    }

    /// Registers a sleep, polled at `now`; returns its lead (non-zero if it is critical).
    /// Sleeps that have come due meanwhile are woken from here: in a storm the worker registers
    /// a sleep for every event it starts, so due sleeps are found at once even while the pump
    /// waits its turn.
    fn register(&self, deadline: u64, now: u64, urgency: u64, waker: Waker) -> u64 {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let lead = self.tuning.lead(deadline.saturating_sub(now));
        let critical = st.is_critical(urgency, lead);
        let (map, lead) = if critical {
            (&mut st.critical, lead)
        } else {
            (&mut st.timers, 0)
        };
        map.insert(
            (deadline, seq),
            Entry {
                lead,
                urgency,
                waker,
            },
        );
        let front = self.front.load(Acquire);
        let mut due = Due::new();
        if front <= now {
            self.take_due(&mut st, now, &mut due);
        } else if deadline - lead < front {
            self.front.store(deadline - lead, Release);
        }
        // A near deadline while the pump waits for the thread: wake the pump from here (on a
        // worker, so it is queued locally) rather than through the thread.
        let near = (deadline - lead).saturating_sub(now) <= self.tuning.horizon;
        let pump = if near { st.pump.take() } else { None };
        self.nudge_thread(&st);
        drop(st);
        if let Some(p) = pump {
            p.wake();
        }
        wake_all(&mut due);
        lead
    }

    /// Moves the sleeps to wake at `now` (deadline passed, or within a critical sleep's lead)
    /// to `due`.
    fn take_due(&self, st: &mut State, now: u64, due: &mut Due) {
        while let Some(entry) = st.timers.first_entry() {
            if entry.key().0 > now {
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
        self.front.store(st.front().unwrap_or(NONE), Release);
    }
}

/// Wakes `due`, the sleeps with the most work left on their account first: when the workers
/// fall behind a storm, the critical chain is not served after a crowd that happened to be due
/// a few microseconds earlier.
fn wake_all(due: &mut Due) {
    due.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, waker) in due.drain(..) {
        waker.wake();
    }
}

/// Lets the kernel wake this thread within ~1 µs of the requested time instead of the default
/// 50 µs slack.
fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// The thread: waits in the kernel until the pump must be woken (or, without a pump, until the
/// front sleep is due).
fn run(shared: &Shared) {
    tighten_timer_slack();
    let mut due = Due::new();
    let mut st = shared.lock();
    loop {
        if shared.stopping() {
            return;
        }
        let next = shared.thread_due(&st);
        match Tuning::thread(shared.now(), next) {
            Step::Act => {
                let pump = st.pump.take();
                if !st.pumped {
                    shared.take_due(&mut st, shared.now(), &mut due);
                }
                drop(st);
                if let Some(p) = pump {
                    p.wake();
                }
                wake_all(&mut due);
                st = shared.lock();
            }
            Step::Wait(us) => {
                st.sleeping_until = next.unwrap_or(NONE);
                let wait = Duration::from_micros(us);
                st = shared.wake.wait_timeout(st, wait).expect("timer lock").0;
                st.sleeping_until = AWAKE;
            }
            Step::Park => {
                st.sleeping_until = NONE;
                st = shared.wake.wait(st).expect("timer lock");
                st.sleeping_until = AWAKE;
            }
        }
    }
}

impl TimerHandle {
    /// Microseconds since the timer started.
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
            lead: 0,
        }
    }
}

/// A sleep on the precise timer; see [`TimerHandle::sleep_until`].
pub struct Sleep {
    shared: Arc<Shared>,
    deadline: u64,
    urgency: u64,
    registered: bool,
    /// How long before the deadline the timer may wake it (critical sleeps only).
    lead: u64,
}

/// With this little left, a sleep spins in place: registering and being woken would take
/// longer.
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
            return Poll::Ready(());
        }
        let left = self.deadline - now;
        if !self.registered {
            if left <= SPIN_IN_PLACE && self.shared.tuning.horizon > 0 {
                return self.spin_out();
            }
            // A sleep is woken once, so one registration is enough. The waker of the first
            // pending poll is the one woken: a sleep must stay with the task (or executor
            // slot) that first polled it. Not keeping a clone to compare saves 16 bytes a
            // sleep, 16 MB at a million sleeping handlers.
            let (deadline, urgency) = (self.deadline, self.urgency);
            self.lead = self
                .shared
                .register(deadline, now, urgency, cx.waker().clone());
            self.registered = true;
            return Poll::Pending;
        }
        // Polled within its lead: a critical sleep woken ahead so that its task is up by the
        // deadline. Keep the task up by asking to be polled again at once (every other future
        // that is due meanwhile runs in between); only the last microseconds spin in place.
        // Any other early poll is spurious: the sleep is woken when its deadline has passed.
        if left <= self.lead {
            if left <= SPIN_IN_PLACE {
                return self.spin_out();
            }
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Sleep {
    fn spin_out(&self) -> Poll<()> {
        while self.shared.now() < self.deadline {
            std::hint::spin_loop();
        }
        Poll::Ready(())
    }
}

mod pump;
mod tuning;
use tuning::{Plan, Step, Tuning};

#[cfg(test)]
mod tests;
