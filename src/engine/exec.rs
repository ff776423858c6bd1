//! Running a plan: picks the executor for a workload (virtual clock, own lanes, or the
//! shared-lock engine), drives it to the end on the real clock, and watches for Ctrl-C.

use super::clock::{Clock, PreciseClock};
use super::own_lane::{self, OwnLanes};
use super::real::{Backlog, Engine};
use super::record::Execution;
use super::timer::{TimerMode, TimerThread};
use super::work::{Handler, SleepHandler};
use super::{sim, ClockKind, Plan};
use crate::progress::Progress;
use crate::types::EventId;
use crate::workload::Workload;
use anyhow::{Context, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;

/// Runs a loaded workload in memory on either clock (`timer` matters on the real one only).
pub fn execute(
    workload: Workload,
    plan: Plan,
    clock: ClockKind,
    timer: TimerMode,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    match clock {
        ClockKind::Virtual => {
            let lanes = plan.lanes(workload.account_count() as u64);
            let exec = sim::run(&workload, plan.strategy(), lanes);
            Ok((workload, exec))
        }
        ClockKind::Real => run_real(workload, plan, timer, quiet),
    }
}

/// Runs on the real clock: tokio workers for the handlers, the timer in `mode` for the sleeps. Ctrl-C stops new starts, lets the events in flight end, and reports what ran.
pub fn run_real(
    workload: Workload,
    plan: Plan,
    mode: TimerMode,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    let never = Box::pin(std::future::pending());
    run_real_with(workload, plan, mode, quiet, SleepHandler, || {}, never)
}

/// Completes when a run must stop early: a failure under `--on-failure abort`, with the event
/// that was given up.
pub type Abort = Pin<Box<dyn Future<Output = EventId> + Send>>;

/// [`run_real`] with another handler; `started` is called right when the run's clock starts
/// (a live dashboard takes its time 0 there); when `abort` completes, nothing new starts and
/// the events in flight end.
pub fn run_real_with<H: Handler>(
    workload: Workload,
    plan: Plan,
    mode: TimerMode,
    quiet: bool,
    handler: H,
    started: impl FnOnce() + Send,
    abort: Abort,
) -> Result<(Workload, Execution)> {
    // A handler that takes the declared time only sleeps on the timer (see
    // [`super::sleep_runtime`]); a command or a service does work of its own on the workers.
    let rt = if handler.takes_declared_time() {
        let zero_time = workload.shape().total_work == crate::types::Micros::ZERO;
        super::sleep_runtime(mode, zero_time)?
    } else {
        super::runtime()?
    };
    let outcome = rt.block_on(async move {
        let timer = TimerThread::with_mode(mode).context("cannot start the timer thread")?;
        let events = workload.len() as u64;
        let progress = if handler.takes_declared_time() && Progress::shown(quiet) {
            let (total, bound, exact) = expected_total(&workload, plan);
            Progress::against_schedule(events, total, bound, exact, "processing", quiet)
        } else {
            Progress::new(events, "processing", quiet)
        };
        // Laid out (and, for `optimal` with durations, both orders simulated) before the
        // clock's time 0: that is loading, not processing.
        let laid_out = LaidOut::new(workload, plan);
        let clock = PreciseClock::new(timer.handle());
        started();
        let run = Launched::launch(laid_out, handler, clock);
        until_done(&run, &progress, abort).await;
        let (workload, mut exec) = run.finish();
        exec.timer = Some(mode);
        Ok((workload, exec))
    });
    drop(rt);
    release_freed_memory();
    outcome
}

/// Workloads up to this many events have their schedule simulated for the progress bar (a
/// fraction of a second); larger ones count towards the bound instead.
const SIMULATE_UP_TO: usize = 2_000_000;

/// What a run's progress bar counts towards: `(total, bound, exact)`. The total is the
/// schedule the virtual clock computes for this plan (the real run takes that plus its
/// overheads): `sharded` on 500 workers ends at 35 s, not at the 21 s bound. With one lane
/// per account the bound is the schedule; a workload too large to simulate quickly counts
/// towards the bound, which the run can only exceed (`exact` false).
pub fn expected_total(
    w: &Workload,
    plan: Plan,
) -> (crate::types::Micros, crate::types::Micros, bool) {
    let shape = w.shape();
    let lanes = plan.lanes(shape.accounts);
    let bound = super::bound::lower_bound(&shape, lanes);
    if plan.own_lanes(shape.accounts) {
        return (bound, bound, true);
    }
    if w.len() > SIMULATE_UP_TO {
        return (bound, bound, false);
    }
    (sim::run(w, plan.strategy(), lanes).wall, bound, true)
}

/// A preloaded real-clock run on the executor its plan calls for.
pub enum Launched<H, C> {
    /// Every account has a lane of its own: no policy decides anything, so the lock-free
    /// executor runs each account's chain (see [`super::own_lane`]).
    OwnLanes(OwnLanes<H, C>),
    /// Lanes are shared: the scheduler decides under one lock (see [`super::real`]).
    Shared(Engine<H, C>),
}

/// A workload laid out for the executor its plan calls for, not started yet.
pub enum LaidOut {
    OwnLanes(own_lane::Prepared),
    Shared(Backlog),
}

impl LaidOut {
    /// Lays `workload` out for the executor `plan` calls for (the one place that choice is
    /// made). Create the run's clock after this: a million-event layout, or the two simulated
    /// orders of `optimal` with durations, is loading, not processing.
    pub fn new(workload: Workload, plan: Plan) -> Self {
        let accounts = workload.account_count() as u64;
        if plan.own_lanes(accounts) {
            return LaidOut::OwnLanes(own_lane::Prepared::new(workload));
        }
        LaidOut::Shared(Backlog::new(
            workload,
            plan.strategy(),
            plan.lanes(accounts),
        ))
    }
}

impl<H: Handler, C: Clock> Launched<H, C> {
    /// Starts a laid-out workload; must be called inside a tokio runtime.
    pub fn launch(laid_out: LaidOut, handler: H, clock: C) -> Self {
        match laid_out {
            LaidOut::OwnLanes(prepared) => {
                Launched::OwnLanes(OwnLanes::launch(prepared, handler, clock))
            }
            LaidOut::Shared(backlog) => {
                let engine = Engine::launch(backlog, handler, clock, None);
                engine.close();
                Launched::Shared(engine)
            }
        }
    }

    /// The workload and what happened; call after [`Executor::wait`].
    pub fn finish(self) -> (Workload, Execution) {
        match self {
            Launched::OwnLanes(run) => run.finish(),
            Launched::Shared(engine) => engine.finish(ClockKind::Real),
        }
    }
}

impl<H, C> Clone for Launched<H, C> {
    fn clone(&self) -> Self {
        match self {
            Launched::OwnLanes(run) => Launched::OwnLanes(run.clone()),
            Launched::Shared(engine) => Launched::Shared(engine.clone()),
        }
    }
}

impl<H: Handler, C: Clock> Executor for Launched<H, C> {
    fn finished(&self) -> u64 {
        match self {
            Launched::OwnLanes(run) => Executor::finished(run),
            Launched::Shared(engine) => Executor::finished(engine),
        }
    }
    fn stop(&self) {
        match self {
            Launched::OwnLanes(run) => Executor::stop(run),
            Launched::Shared(engine) => Executor::stop(engine),
        }
    }
    async fn wait(&self) {
        match self {
            Launched::OwnLanes(run) => OwnLanes::wait(run).await,
            Launched::Shared(engine) => Engine::wait(engine).await,
        }
    }
}

/// A real-clock execution in progress, as the code that waits for it sees it.
pub trait Executor: Clone + Send + Sync + 'static {
    /// Events finished so far (for the progress line).
    fn finished(&self) -> u64;
    /// Starts nothing new; the events in flight still end.
    fn stop(&self);
    /// Resolves when nothing is left to start or in flight.
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send;
}

impl<H: Handler, C: Clock> Executor for Engine<H, C> {
    fn finished(&self) -> u64 {
        self.counters().finished.load(Relaxed)
    }
    fn stop(&self) {
        Engine::stop(self);
    }
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send {
        Engine::wait(self)
    }
}

impl<H: Handler, C: Clock> Executor for OwnLanes<H, C> {
    fn finished(&self) -> u64 {
        OwnLanes::finished(self)
    }
    fn stop(&self) {
        OwnLanes::stop(self);
    }
    fn wait(&self) -> impl std::future::Future<Output = ()> + Send {
        OwnLanes::wait(self)
    }
}

/// Shows progress until the run ends. Ctrl-C (or `abort`) stops new starts and lets the events
/// in flight finish; a second Ctrl-C aborts at once.
pub async fn until_done<R: Executor>(run: &R, progress: &Progress, abort: Abort) {
    let watcher = run.clone();
    let ticker = progress.follow(move || watcher.finished());
    tokio::select! {
        _ = run.wait() => {}
        // The handler that aborted has said so; the events in flight still end.
        _ = abort => {
            run.stop();
            run.wait().await;
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: letting the events in flight finish (Ctrl-C again to abort)");
            run.stop();
            tokio::spawn(async {
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            });
            run.wait().await;
        }
    }
    if let Some(t) = ticker {
        t.stop().await;
    }
    progress.finish();
}

/// Hands the heap freed by a run (a million in-flight handler states) back to the OS before
/// the verifier allocates its own buffers, so the peak is the run's, not the sum of both.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Strategy, Workers};
    use crate::types::Micros;
    use crate::workload::generate::{build, builtin_spec};

    /// The bar of `--strategy sharded --workers 500` on the built-in workload was full at the
    /// 21 s bound while the run went on to 35 s: it now counts towards the 35 s schedule.
    #[test]
    fn the_progress_total_is_the_simulated_schedule() {
        let w = build(&builtin_spec(), Micros(1_000_000));
        let plan = |s, n: u32| Plan::new(s, Workers::Fixed(n.try_into().unwrap())).unwrap();
        let (total, bound, exact) = expected_total(&w, plan(Strategy::Sharded, 500));
        assert_eq!(
            (total, bound, exact),
            (Micros(35_000_000), Micros(21_000_000), true)
        );
        let (total, _, _) = expected_total(&w, plan(Strategy::Pool, 500));
        assert_eq!(total, Micros(28_000_000));
        // One lane per account: the bound is the schedule, nothing to simulate.
        let auto = Plan::new(Strategy::Optimal, Workers::Auto).unwrap();
        assert_eq!(expected_total(&w, auto).0, Micros(21_000_000));
    }
}
