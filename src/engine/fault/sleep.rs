//! The sleep handlers faults need on the real clock: one whose failing account aborts the
//! run when its event gives up (`run`), and one that slows or stalls accounts as their events
//! arrive (`worker`, whose workload is not known before it runs).

use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job};
use crate::types::{AccountId, EventId, EventIdx, Micros};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The sleep handler of a real-clock run whose failing accounts abort it (`--on-failure
/// abort`): a failing account's event ends after all its tries, and its end stops new starts
/// as the guard's give-up does for a real handler.
#[derive(Clone)]
pub struct AbortingSleep {
    failing: Arc<[AccountId]>,
    first: Arc<tokio::sync::watch::Sender<Option<EventId>>>,
    /// Events handed over after the abort (the executor's stop races with the next start):
    /// passed over without a try, as the guard refuses them.
    refused: Arc<Mutex<Vec<EventIdx>>>,
}

impl AbortingSleep {
    /// `failing`: the failing accounts' ids, sorted.
    pub fn new(failing: Vec<AccountId>) -> Self {
        AbortingSleep {
            failing: failing.into(),
            first: Arc::new(tokio::sync::watch::channel(None).0),
            refused: Arc::default(),
        }
    }

    /// The events passed over after the abort: they did not run (clear their records).
    pub fn refused(&self) -> Vec<EventIdx> {
        crate::sync::lock(&self.refused).clone()
    }

    /// Completes when a failing event gave up, with that event.
    pub fn aborted(&self) -> crate::engine::exec::Abort {
        let mut rx = self.first.subscribe();
        Box::pin(async move {
            loop {
                if let Some(e) = *rx.borrow_and_update() {
                    return e;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

impl Handler for AbortingSleep {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let fails = self.failing.binary_search(&job.account).is_ok();
        let aborted = self.first.borrow().is_some();
        if aborted {
            crate::sync::lock(&self.refused).push(job.index);
        }
        let sleep = (!aborted).then(|| ctx.finish_after(job.duration));
        let first = Arc::clone(&self.first);
        async move {
            let Some(sleep) = sleep else { return };
            sleep.await;
            if fails {
                first.send_if_modified(|a| a.replace(a.unwrap_or(job.event)).is_none());
            }
        }
    }
}

/// The sleep handler of a live run (`worker`, `serve --fault`): a slow account's events sleep FACTOR×
/// their time, a stalled account's first event (the first one handed over) its stall longer.
pub struct FaultedSleep {
    slow: HashMap<AccountId, f64>,
    stall: HashMap<AccountId, Micros>,
    stalled: Mutex<HashSet<AccountId>>,
}

impl FaultedSleep {
    /// Refuses `fail:`: a live run has no guard model for the sleep handler yet.
    pub fn new(faults: &super::Faults) -> Result<Self, crate::error::UsageError> {
        let mut slow = HashMap::new();
        let mut stall = HashMap::new();
        for f in faults.list() {
            match f.kind {
                super::FaultKind::Slow(x) => {
                    slow.insert(f.account, x.get());
                }
                super::FaultKind::Stall(d) => {
                    stall.insert(f.account, d);
                }
                super::FaultKind::Fail => {
                    return Err(crate::error::UsageError(format!(
                    "--fault {f}: a live run (worker, serve) takes slow: and stall: faults; for \
                         a failing account use `run --fault fail:…`, or a --handler that fails"
                )))
                }
            }
        }
        Ok(FaultedSleep {
            slow,
            stall,
            stalled: Mutex::default(),
        })
    }

    /// How long `job` sleeps with the faults in (a stall counts once per account).
    pub fn duration(&self, job: &Job) -> Micros {
        let mut d = job.duration;
        if let Some(x) = self.slow.get(&job.account) {
            d = Micros((d.0 as f64 * x).round() as u64);
        }
        if let Some(extra) = self.stall.get(&job.account) {
            if crate::sync::lock(&self.stalled).insert(job.account) {
                d = d.saturating_add(*extra);
            }
        }
        d
    }
}
