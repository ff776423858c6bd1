//! A batch run with `--fault`: the faults laid onto the workload before it runs, the
//! fault-free reference computed on the virtual clock, and afterwards the failure policy's
//! dead letters and counts, as a real handler's guard would give them.

use crate::engine::exec;
use crate::engine::fault::{AbortingSleep, AfterFail, FailModel, Faults, Injected};
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::{sim, ClockKind, Plan};
use crate::handler::dead_letter::Row;
use crate::live::{observed::run_real_watched, Board};
use crate::report::blast::{FailCounts, FaultRun};
use crate::types::{EventIdx, Micros};
use crate::workload::{Durations, Workload};
use anyhow::Result;
use std::sync::Arc;

/// The faults of a run and how a failing account's events are retried and given up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultSpec<'a> {
    pub faults: &'a Faults,
    pub model: FailModel,
}

/// Faults laid onto a workload, with everything measured before the run.
pub(crate) struct Prepared {
    injected: Injected,
    reference: Execution,
    unit: Micros,
    /// The workload's own durations, put back after the run.
    pub declared: Durations,
}

/// Lays `spec`'s faults onto `w` (a faulted account without events is bad usage) and runs the
/// fault-free reference of `plan` on the virtual clock.
pub(crate) fn prepare(spec: FaultSpec<'_>, w: &mut Workload, plan: Plan) -> Result<Prepared> {
    let injected = spec.faults.inject(w, spec.model)?;
    let accounts = w.account_count() as u64;
    let reference = sim::run(w, plan.strategy(), plan.lanes(accounts));
    let shape = w.shape();
    let unit = Micros(shape.total_work.0 / shape.events.max(1));
    let declared = w.replace_durations(injected.durations.clone());
    Ok(Prepared {
        injected,
        reference,
        unit,
        declared,
    })
}

/// A copy of `w` with `spec`'s faults laid on, as a run will process it: what an estimate of
/// the run's time must simulate (a slowed account's chain can outlast every other). A faulted
/// account without events is bad usage, as in the run itself.
pub(crate) fn faulted(spec: FaultSpec<'_>, w: &Workload) -> Result<Workload> {
    let injected = spec.faults.inject(w, spec.model)?;
    let mut w = w.clone();
    w.replace_durations(injected.durations);
    Ok(w)
}

/// Runs the faulted workload with the sleep handler on `clock`; a failing account that
/// aborts the run stops new starts on the real clock when its event gives up.
pub(crate) fn run_sleep(
    p: &Prepared,
    workload: Workload,
    (plan, clock, timer): (Plan, ClockKind, TimerMode),
    quiet: bool,
    board: Option<Arc<Board>>,
) -> Result<(Workload, Execution)> {
    let aborts = p.injected.model.after == AfterFail::Abort;
    let failing = p.injected.failing_ids(&workload);
    if clock == ClockKind::Virtual || (board.is_none() && (!aborts || failing.is_empty())) {
        return exec::execute(workload, plan, clock, timer, quiet);
    }
    let handler = AbortingSleep::new(if aborts { failing } else { Vec::new() });
    let abort = handler.aborted();
    let inner = handler.clone();
    let (w, mut exec) = run_real_watched(workload, (plan, timer, quiet), inner, board, abort)?;
    for e in handler.refused() {
        exec.records.clear(e);
    }
    Ok((w, exec))
}

/// After the run: the failure policy folded in, the dead letters (in arrival order) and the
/// reference the report measures the bystanders against.
pub(crate) fn settle(
    p: Prepared,
    w: &Workload,
    exec: &mut Execution,
) -> (FaultRun, Vec<Row>, Durations) {
    let t = p.injected.settle(w, exec);
    let declared = |e: EventIdx| match &p.declared {
        Durations::Fixed(d) => *d,
        Durations::PerEvent(v) => v[e.0 as usize],
    };
    let row = |e: EventIdx, error: String| Row {
        index: e,
        event: w.event_id(e),
        account: w.account_id(w.account_of(e)),
        duration: declared(e),
        error,
    };
    let retries = p.injected.model.retries;
    let mut rows = Vec::new();
    for &e in &t.given_up {
        let mut error = format!(
            "injected fault: account {} fails",
            w.account_id(w.account_of(e)).0
        );
        if retries > 0 {
            error.push_str(&format!(" (after {} tries)", retries + 1));
        }
        rows.push(row(e, error));
    }
    let mut first_failed = std::collections::HashMap::new();
    for &e in &t.given_up {
        first_failed.entry(w.account_of(e)).or_insert(w.event_id(e));
    }
    for &e in &t.passed_over {
        let a = w.account_of(e);
        let by = first_failed.get(&a).map_or(0, |id| id.0);
        let why = format!(
            "not attempted: account {} was stopped after event {by} failed",
            w.account_id(a).0
        );
        rows.push(row(e, why));
    }
    if let Some(by) = t.aborted_by {
        for &e in &t.not_started {
            let why = format!(
                "not started: the run was aborted after event {} failed",
                by.0
            );
            rows.push(row(e, why));
        }
    }
    rows.sort_by_key(|r| r.index);
    let failures = p.injected.failing_ids(w).first().map(|_| FailCounts {
        failures: t.tries,
        retries: t.given_up.len() as u64 * u64::from(retries),
        given_up: t.given_up.len() as u64,
        not_attempted: (t.passed_over.len() + t.not_started.len()) as u64,
    });
    let run = FaultRun {
        labels: p.injected.labels.clone(),
        faulted: p.injected.faulted.clone(),
        reference: p.reference,
        unit: p.unit,
        failures,
    };
    (run, rows, p.declared)
}

/// When a live run's events could first have started, for its fault-free reference.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LiveReference {
    /// When each event arrived (`serve`; `worker` with the engine, whose prefetch lets the
    /// broker deliver as fast as it can): the arrivals do not depend on the fault.
    AsArrived,
    /// When the first event of its queue (`account % queues`) arrived: the original design
    /// (`worker --one-at-a-time`) is delivered a message only after the previous one of its
    /// queue was acknowledged, so a delivery already waited behind the fault; its queue's
    /// backlog is taken as waiting from the queue's first delivery.
    QueueBacklog { queues: u32 },
}

/// `worker --fault`, `serve --fault`: folds the faults into a live run's outcome (the
/// faulted durations, and the reference: what arrived, run without the faults as `design` on
/// the virtual clock, each event starting no earlier than `when` says it could). A faulted
/// account that never arrived leaves the report without a blast radius, and says so.
pub(crate) fn fold_live(
    faults: &Faults,
    outcome: &mut crate::report::Outcome,
    design: Plan,
    when: LiveReference,
) {
    let w = &mut outcome.workload;
    let injected = match faults.inject(w, FailModel::default()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("note: {}; the report has no blast radius", e.0);
            return;
        }
    };
    let ready = ready_times(w, &outcome.execution, when);
    let lanes = design.lanes(w.account_count() as u64);
    let reference = sim::run_over_arrivals(w, design.strategy(), lanes, |e| ready[e.0 as usize]);
    let shape = w.shape();
    let unit = Micros(shape.total_work.0 / shape.events.max(1));
    w.replace_durations(injected.durations.clone());
    outcome.faults = Some(FaultRun {
        labels: injected.labels,
        faulted: injected.faulted,
        reference,
        unit,
        failures: None,
    });
}

/// Each event's earliest start in the reference, on the live run's clock.
fn ready_times(w: &Workload, exec: &Execution, when: LiveReference) -> Vec<Micros> {
    let arrived = |e: EventIdx| exec.records.arrival_of(e);
    match when {
        LiveReference::AsArrived => w.indexes().map(arrived).collect(),
        LiveReference::QueueBacklog { queues } => {
            let queue = |e: EventIdx| w.account_id(w.account_of(e)).0 % u64::from(queues.max(1));
            let mut first = std::collections::HashMap::new();
            for e in w.indexes() {
                let at = first.entry(queue(e)).or_insert(arrived(e));
                *at = (*at).min(arrived(e));
            }
            w.indexes().map(|e| first[&queue(e)]).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::Records;
    use crate::types::{AccountId, EventId};
    use crate::workload::Source;

    #[test]
    fn a_live_reference_starts_events_at_their_arrival_or_their_queue_s_first() {
        // Accounts 1, 2, 3 over 2 queues (1 and 3 share queue 1), arriving at 10, 20, 40, 50.
        let mut w = Workload::new(Source::Live("t".into()), Micros(5));
        let mut records = Records::live();
        for (i, (a, at)) in [(1, 10), (2, 20), (3, 40), (1, 50)].into_iter().enumerate() {
            w.push(EventId(i as u64 + 1), AccountId(a), None);
            records.push_arrival(Micros(at));
        }
        let exec = Execution {
            records,
            wall: Micros(0),
            clock: ClockKind::Real,
            interrupted: false,
            timer: None,
        };
        let at = |when| ready_times(&w, &exec, when);
        assert_eq!(at(LiveReference::AsArrived), [10, 20, 40, 50].map(Micros));
        let backlog = LiveReference::QueueBacklog { queues: 2 };
        assert_eq!(at(backlog), [10, 20, 10, 10].map(Micros));
    }
}
