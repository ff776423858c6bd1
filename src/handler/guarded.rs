//! The wrapper that turns a user's command or service into an engine handler: a timeout per
//! call, retries with exponential backoff and jitter, the failure policy, dead letters, and the
//! measurements the report needs (each call's time, each event's total time).
//!
//! Retries happen *inside* the event's handler call. The executors start an account's next
//! event only after this call returned, so while an event is retried its account waits and
//! the order holds by construction; a retry never goes back to a queue.

use super::dead_letter::{DeadLetters, Row};
use super::exec::ExecHandler;
use super::http::HttpHandler;
use super::{HandlerArgs, HandlerSpec, OnFailure, Policy};
use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job};
use crate::report::stats::{Distribution, Percentiles};
use crate::sync::lock;
use crate::types::{AccountId, EventId, Micros};
use anyhow::Result;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The user's work for one event.
pub enum Work {
    Exec(ExecHandler),
    Http(HttpHandler),
}

/// What the work is, as `--handler` names it (passwords masked).
impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Exec(h) => write!(f, "exec:{}", h.template()),
            Work::Http(h) => write!(f, "http:{}", h.target()),
        }
    }
}

impl Work {
    async fn call(&self, job: &Job) -> Result<(), String> {
        match self {
            Work::Exec(h) => h.call(job).await,
            Work::Http(h) => h.call(job).await,
        }
    }
}

/// Counts of a run with a real handler (what the report shows beside the times).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Per call (every try), in µs.
    pub handler_us: Percentiles,
    pub calls: u64,
    pub failures: u64,
    /// Failed calls that hit the timeout.
    pub timeouts: u64,
    pub retries: u64,
    /// Events that failed every try.
    pub given_up: u64,
    /// Events dead-lettered without a try (their account was stopped, or the run aborted).
    pub not_attempted: u64,
}

#[derive(Default)]
struct State {
    calls: Mutex<Distribution>,
    failures: AtomicU64,
    timeouts: AtomicU64,
    retries: AtomicU64,
    given_up: AtomicU64,
    not_attempted: AtomicU64,
    /// Each event's whole time in its handler (all tries and waits), by event index.
    measured: Mutex<Vec<u64>>,
    /// Accounts stopped by `--on-failure stop-account`, with the event that stopped them.
    stopped: Mutex<HashMap<AccountId, EventId>>,
    /// Events that were passed over without a try (their records must not count as runs).
    passed_over: Mutex<Vec<u32>>,
}

/// A real handler with its failure handling; share it with [`Shared`].
pub struct Guarded {
    work: Work,
    policy: Policy,
    dead: DeadLetters,
    state: State,
    /// The event that aborted the run (`--on-failure abort`), once one did.
    abort: watch::Sender<Option<EventId>>,
}

impl Guarded {
    /// Builds the handler `args` names (not `sleep`); `live` runs append dead letters to the
    /// file as they happen instead of writing it at the end.
    pub fn new(args: &HandlerArgs, live: bool) -> Result<Self> {
        let work = match &args.handler {
            HandlerSpec::Exec(t) => {
                Work::Exec(ExecHandler::new(t.clone(), args.handler_output.as_deref())?)
            }
            HandlerSpec::Http(t) => Work::Http(HttpHandler::new(t.clone())),
            HandlerSpec::Sleep => anyhow::bail!("the sleep handler needs no guard"),
        };
        let dead = match (&args.dead_letter, live) {
            (Some(path), true) => DeadLetters::append(path)?,
            _ => DeadLetters::collect(),
        };
        Ok(Self::with(work, args.policy(), dead))
    }

    pub fn with(work: Work, policy: Policy, dead: DeadLetters) -> Self {
        Guarded {
            work,
            policy,
            dead,
            state: State::default(),
            abort: watch::channel(None).0,
        }
    }

    /// Completes when a failure aborted the run, with the event that did.
    pub fn aborted(&self) -> impl Future<Output = EventId> + Send + 'static {
        let mut rx = self.abort.subscribe();
        async move {
            loop {
                if let Some(e) = *rx.borrow_and_update() {
                    return e;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// What the handler runs, as `--handler` names it (passwords masked).
    pub fn describe(&self) -> String {
        self.work.to_string()
    }

    pub fn aborted_by(&self) -> Option<EventId> {
        *self.abort.borrow()
    }

    pub fn dead_letters(&self) -> &DeadLetters {
        &self.dead
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        let s = &self.state;
        let calls = lock(&s.calls);
        Tally {
            handler_us: calls.percentiles(),
            calls: calls.len(),
            failures: s.failures.load(Relaxed),
            timeouts: s.timeouts.load(Relaxed),
            retries: s.retries.load(Relaxed),
            given_up: s.given_up.load(Relaxed),
            not_attempted: s.not_attempted.load(Relaxed),
        }
    }

    /// Each event's measured time in its handler by event index (0 for events never handled).
    pub fn measured(&self, events: usize) -> Vec<Micros> {
        let m = lock(&self.state.measured);
        (0..events)
            .map(|i| Micros(m.get(i).copied().unwrap_or(0)))
            .collect()
    }

    /// Events handed to the handler but passed over without a try (stopped account, abort).
    pub fn passed_over(&self) -> Vec<u32> {
        let mut v = lock(&self.state.passed_over).clone();
        v.sort_unstable();
        v
    }

    /// True when event `index` was passed over without a try.
    pub fn was_passed_over(&self, index: crate::types::EventIdx) -> bool {
        self.lock_passed_over().contains(&index.0)
    }

    /// Why `job` must not run at all, if it must not.
    fn refusal(&self, job: &Job) -> Option<String> {
        if let Some(e) = self.aborted_by() {
            return Some(format!(
                "not attempted: the run was aborted after event {} failed",
                e.0
            ));
        }
        let stopped = lock(&self.state.stopped);
        stopped.get(&job.account).map(|e| {
            format!(
                "not attempted: account {} was stopped after event {} failed",
                job.account.0, e.0
            )
        })
    }

    /// The whole life of one event: tries until success or until the policy gives it up.
    pub async fn process(&self, job: Job) {
        if let Some(why) = self.refusal(&job) {
            self.state.not_attempted.fetch_add(1, Relaxed);
            self.lock_passed_over().push(job.index.0);
            self.dead_letter(&job, why);
            return;
        }
        let began = Instant::now();
        let mut tries = 0u32;
        let error = loop {
            let started = Instant::now();
            let result = match tokio::time::timeout(self.policy.timeout, self.work.call(&job)).await
            {
                Ok(r) => r,
                Err(_) => {
                    self.state.timeouts.fetch_add(1, Relaxed);
                    Err(format!(
                        "timed out after {} (killed)",
                        Micros::from_duration(self.policy.timeout)
                    ))
                }
            };
            let took = Micros::from_duration(started.elapsed());
            lock(&self.state.calls).record(took.0);
            let Err(e) = result else { break None };
            self.state.failures.fetch_add(1, Relaxed);
            if tries >= self.policy.retries {
                break Some(if tries == 0 {
                    e
                } else {
                    format!("{e} (after {} tries)", tries + 1)
                });
            }
            tokio::time::sleep(backoff(self.policy.backoff, tries)).await;
            tries += 1;
            self.state.retries.fetch_add(1, Relaxed);
        };
        self.measure(&job, began.elapsed());
        if let Some(e) = error {
            self.give_up(&job, e);
        }
    }

    fn lock_passed_over(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        lock(&self.state.passed_over)
    }

    fn measure(&self, job: &Job, took: Duration) {
        let i = job.index.0 as usize;
        let mut m = lock(&self.state.measured);
        if m.len() <= i {
            m.resize(i + 1, 0);
        }
        m[i] = Micros::from_duration(took).0;
    }

    fn give_up(&self, job: &Job, error: String) {
        self.state.given_up.fetch_add(1, Relaxed);
        match self.policy.on_failure {
            OnFailure::Skip => {}
            OnFailure::StopAccount => {
                // Before this call returns, so the account's next event already sees it.
                lock(&self.state.stopped).insert(job.account, job.event);
            }
            OnFailure::Abort => {
                let first = self.abort.send_if_modified(|a| {
                    let first = a.is_none();
                    a.get_or_insert(job.event);
                    first
                });
                if first {
                    eprintln!(
                        "aborting (--on-failure abort): event {} was given up ({error}); \
                         nothing more starts, the events in flight end",
                        job.event.0
                    );
                }
            }
        }
        self.dead_letter(job, error);
    }

    fn dead_letter(&self, job: &Job, error: String) {
        let row = Row {
            index: job.index,
            event: job.event,
            account: job.account,
            duration: job.duration,
            error,
        };
        if let Err(e) = self.dead.push(row) {
            // The event cannot be finished (and, for a broker, acknowledged) without its dead
            // letter: stop here, so it is delivered again instead of lost.
            eprintln!(
                "error: {e:#}; exiting without finishing event {}",
                job.event.0
            );
            std::process::exit(i32::from(crate::error::EXIT_RUNTIME));
        }
    }
}

/// The wait before retry `n` (0-based): `base × 2^n`, of which a random half is jittered away
/// so that accounts failing together do not retry in lockstep.
pub(crate) fn backoff(base: Duration, n: u32) -> Duration {
    let full = base.saturating_mul(1u32 << n.min(20));
    let half = full / 2;
    let jitter = rand::random_range(0..=half.as_micros().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_micros(jitter)
}

/// A shared [`Guarded`] as an engine handler.
#[derive(Clone)]
pub struct Shared(pub Arc<Guarded>);

impl Handler for Shared {
    fn handle<C: Clock>(&self, job: Job, _ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let g = Arc::clone(&self.0);
        async move { g.process(job).await }
    }

    fn takes_declared_time(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EventIdx;

    fn job(i: u32, account: u64) -> Job {
        Job {
            index: EventIdx(i),
            event: EventId(u64::from(i) + 1),
            account: AccountId(account),
            duration: Micros(0),
        }
    }

    /// Fails for account 1, succeeds for the others.
    fn guard(on_failure: OnFailure, retries: u32) -> Guarded {
        let cmd = "sh -c 'test {account_id} != 1'".parse().unwrap();
        let policy = Policy {
            timeout: Duration::from_secs(10),
            retries,
            backoff: Duration::from_millis(1),
            on_failure,
        };
        let work = Work::Exec(ExecHandler::new(cmd, None).unwrap());
        Guarded::with(work, policy, DeadLetters::collect())
    }

    #[tokio::test]
    async fn a_stopped_account_passes_its_later_events_over_and_others_go_on() {
        let g = guard(OnFailure::StopAccount, 2);
        for (i, account) in [(0, 1), (1, 2), (2, 1), (3, 2)] {
            g.process(job(i, account)).await;
        }
        let t = g.tally();
        assert_eq!((t.calls, t.failures, t.retries), (5, 3, 2));
        assert_eq!((t.given_up, t.not_attempted), (1, 1));
        assert_eq!(g.passed_over(), [2]);
        let dead = g.dead_letters().take();
        assert_eq!(dead.iter().map(|r| r.index.0).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(dead[0].error, "exit status 1 (after 3 tries)");
        assert!(dead[1]
            .error
            .contains("account 1 was stopped after event 1 failed"));
        assert!(g.measured(4)[1] > Micros(0) && g.measured(4)[2] == Micros(0));
    }

    #[tokio::test]
    async fn an_abort_is_announced_once_and_refuses_everything_after_it() {
        let g = guard(OnFailure::Abort, 0);
        let aborted = g.aborted();
        g.process(job(0, 2)).await;
        g.process(job(1, 1)).await;
        g.process(job(2, 2)).await;
        assert_eq!(aborted.await, EventId(2));
        assert_eq!(g.aborted_by(), Some(EventId(2)));
        assert_eq!(g.passed_over(), [2]);
        let t = g.tally();
        assert_eq!((t.calls, t.given_up, t.not_attempted), (2, 1, 1));
    }

    #[test]
    fn backoff_doubles_and_jitters_within_the_upper_half() {
        let base = Duration::from_millis(100);
        for n in 0..5 {
            let full = base * (1 << n);
            for _ in 0..50 {
                let d = backoff(base, n);
                assert!(d >= full / 2 && d <= full, "{d:?} for retry {n}");
            }
        }
        assert!(backoff(Duration::from_secs(1), 99) <= Duration::from_secs(1 << 20));
    }
}
