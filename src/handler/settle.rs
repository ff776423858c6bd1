//! Folds what a guarded handler saw into a finished run: events passed over count as
//! unprocessed, an abort dead-letters what never started, and the workload's durations become
//! the measured ones so the lower bound is that of the work actually done.

use super::dead_letter::Row;
use super::guarded::Guarded;
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::report::{BoundBasis, Handling};
use crate::types::EventIdx;
use crate::workload::{Durations, Workload};

/// What [`settle`] found.
pub(crate) struct Settled {
    /// The report's handler fields (CPU time is the caller's to fill).
    pub handling: Handling,
    /// The workload's fingerprint before its durations were replaced (the input's identity).
    pub fingerprint: String,
    /// Every dead-lettered event in arrival order (empty for live runs, which appended them).
    pub dead: Vec<Row>,
}

/// See the module docs. Call after the run ended, before verifying it. `live` runs (`serve`,
/// `worker`) leave events they never started to their source (the leftover file, the broker's
/// redelivery) instead of dead-lettering them after an abort.
pub(crate) fn settle(
    g: &Guarded,
    handler: &str,
    live: bool,
    w: &mut Workload,
    exec: &mut Execution,
) -> Settled {
    let fingerprint = w.fingerprint();
    let passed_over = g.passed_over();
    for &i in &passed_over {
        exec.records.clear(EventIdx(i));
    }
    let mut dead = g.dead_letters().take();
    let mut tally = g.tally();
    if let Some(by) = g.aborted_by().filter(|_| !live) {
        let before = dead.len();
        for e in w.indexes() {
            if exec.records.get(e).is_none() && passed_over.binary_search(&e.0).is_err() {
                dead.push(Row {
                    index: e,
                    event: w.event_id(e),
                    account: w.account_id(w.account_of(e)),
                    duration: w.duration(e),
                    error: format!(
                        "not started: the run was aborted after event {} failed",
                        by.0
                    ),
                });
            }
        }
        tally.not_attempted += (dead.len() - before) as u64;
        // Stopping early was the policy's decision, not an interruption.
        exec.interrupted = false;
        dead.sort_by_key(|r| r.index);
    }
    w.replace_durations(Durations::PerEvent(g.measured(w.len())));
    Settled {
        handling: Handling {
            handler: handler.to_string(),
            handler_us: tally.handler_us,
            handler_calls: tally.calls,
            handler_failures: tally.failures,
            handler_timeouts: tally.timeouts,
            retries: tally.retries,
            given_up: tally.given_up,
            not_attempted: tally.not_attempted,
            bound_basis: BoundBasis::Measured,
            cpu_time_s: 0.0,
            children_cpu_time_s: 0.0,
        },
        fingerprint,
        dead,
    }
}

/// Runs a preloaded workload through the real handler `args` names (`run`, `compare`): the
/// guard, the real clock, an abort that stops new starts, then [`settle`].
pub(crate) fn run_batch(
    workload: Workload,
    plan: crate::engine::Plan,
    timer: TimerMode,
    quiet: bool,
    args: &super::HandlerArgs,
    board: Option<std::sync::Arc<crate::live::Board>>,
) -> anyhow::Result<(Workload, Execution, Settled)> {
    use super::guarded::Shared;
    use crate::live::observed::run_real_watched;
    use std::sync::Arc;
    let g = Arc::new(Guarded::new(args, false)?);
    let abort = Box::pin(g.aborted());
    let handler = Shared(Arc::clone(&g));
    // A live dashboard watches the run through the same handler.
    let (mut w, mut exec) =
        run_real_watched(workload, (plan, timer, quiet), handler, board, abort)?;
    let settled = settle(&g, &args.handler.to_string(), false, &mut w, &mut exec);
    Ok((w, exec, settled))
}
