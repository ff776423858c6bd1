//! The one place a validated description of a run becomes a runner: in memory on either clock,
//! through an in-process HTTP intake, or through RabbitMQ; with the sleep handler or a real one;
//! watched by a dashboard or not. Every runner hands back one [`Outcome`] for
//! [`Report::from_outcome`](crate::report::Report::from_outcome); commands never match on the
//! kind of pipeline.
//!
//! [`run`] is the batch pipeline (`run`, `compare`): the whole workload is known up front.
//! [`live`] holds the open-ended ones (`serve`, `worker`): events arrive while the engine runs.

pub(crate) mod fault;
mod ingest;
pub(crate) mod live;
pub(crate) mod repeat;

use crate::broker::amqp::Topology;
use crate::engine::exec;
use crate::engine::timer::TimerMode;
use crate::engine::work::SleepHandler;
use crate::engine::{ClockKind, Plan, Workers};
use crate::handler::dead_letter::Row;
use crate::handler::settle::{self, Settled};
use crate::handler::HandlerArgs;
use crate::live::{observed::run_real_watched, Board};
use crate::report::usage::CpuTime;
use crate::report::{Backend, Design, Outcome, RunInfo};
use crate::workload::{Durations, Workload};
use anyhow::Result;
use std::net::SocketAddr;
use std::sync::Arc;

/// A run, validated: what runs, on which clock, and where its events are queued.
pub(crate) struct Spec<'a> {
    pub plan: Plan,
    pub clock: ClockKind,
    /// How real-clock sleeps end.
    pub timer: TimerMode,
    pub intake: Intake<'a>,
    /// No progress bars or notes on stderr.
    pub quiet: bool,
    /// `--fault`: only with the in-memory queue and the sleep handler (refused otherwise
    /// before a `Spec` is made).
    pub faults: Option<fault::FaultSpec<'a>>,
}

/// Where the events of a batch run are queued before the engine takes them. Only the
/// in-memory queue runs a real handler or the virtual clock: the flags that would ask for
/// more are refused before a `Spec` is made.
pub(crate) enum Intake<'a> {
    /// Loaded into memory and run by the engine; with `handler`, each event runs a real
    /// handler (real clock only) instead of sleeping; `board` watches the run live.
    Memory {
        handler: Option<&'a HandlerArgs>,
        board: Option<Arc<Board>>,
    },
    /// POSTed to an in-process `serve` over loopback HTTP (`run --ingest http`), listening on
    /// `dashboard` when given (its `GET /` then shows the run), else on a free port.
    Http { dashboard: Option<SocketAddr> },
    /// Published to the given RabbitMQ queues (purged first) and consumed in this process
    /// (`run --broker`), `batch` events per message.
    Broker {
        topology: Topology,
        batch: u32,
        board: Option<Arc<Board>>,
    },
    /// One consumer design on throwaway queues under the target's prefix, deleted afterwards
    /// (`compare --broker`): W workers are W queues.
    Design {
        target: crate::broker::design::Target,
        design: Design,
    },
}

/// A finished batch run: its outcome, and what only the command can still use.
pub(crate) struct Finished {
    pub outcome: Outcome,
    /// Events a real handler gave up (and, after an abort, those it never started), in
    /// arrival order: the dead-letter file's rows.
    pub dead_letters: Vec<Row>,
    /// The durations the workload declared before a real handler's measured ones replaced
    /// them; the next run of a sweep starts from these again.
    pub declared: Option<Durations>,
}

/// Runs `workload` as `spec` says and hands back what happened.
pub(crate) fn run(spec: Spec<'_>, mut workload: Workload) -> Result<Finished> {
    let Spec {
        plan,
        clock,
        timer,
        quiet,
        faults,
        ..
    } = spec;
    let faulted = match faults {
        Some(f) => Some(fault::prepare(f, &mut workload, plan)?),
        None => None,
    };
    let backend = match &spec.intake {
        Intake::Design { design, .. } => Backend::Broker(*design),
        _ => Backend::Memory,
    };
    let cpu = CpuTime::now();
    let mut settled: Option<Settled> = None;
    let mut declared = None;
    let (workload, execution) = match spec.intake {
        Intake::Memory {
            handler: Some(args),
            board,
        } => {
            declared = Some(workload.durations().clone());
            let (w, e, s) = settle::run_batch(workload, plan, timer, quiet, args, board)?;
            settled = Some(s);
            (w, e)
        }
        Intake::Memory {
            handler: None,
            board,
        } => match &faulted {
            Some(p) => fault::run_sleep(p, workload, (plan, clock, timer), quiet, board)?,
            None => run_sleep(workload, (plan, clock, timer), quiet, board)?,
        },
        Intake::Http { dashboard } => ingest::run_http(workload, plan, timer, quiet, dashboard)?,
        Intake::Broker {
            topology,
            batch,
            board,
        } => {
            let opts = crate::broker::Options {
                batch,
                timer,
                board,
                ..Default::default()
            };
            crate::broker::run_through(topology, workload, plan, opts, quiet)?
        }
        Intake::Design { target, design } => {
            let queues = match plan.workers() {
                Workers::Fixed(n) => n.get(),
                Workers::Auto => workload.account_count().max(1) as u32,
            };
            crate::broker::design::run_design(
                &target,
                queues,
                (design, timer),
                workload,
                plan,
                quiet,
            )?
        }
    };
    let (handling, fingerprint, mut dead_letters) = match settled {
        Some(s) => (Some(s.handling), Some(s.fingerprint), s.dead),
        None => (None, None, Vec::new()),
    };
    let mut execution = execution;
    // The fingerprint stays the faulted workload's: a faulted run is another workload, and
    // must never match a fault-free run of a `--baseline`.
    let faults = faulted.map(|p| {
        let (run, rows, own) = fault::settle(p, &workload, &mut execution);
        dead_letters = rows;
        declared = Some(own);
        run
    });
    Ok(Finished {
        outcome: Outcome {
            workload,
            execution,
            info: RunInfo { plan, clock },
            backend,
            handling,
            fingerprint,
            cpu: CpuTime::now().since(cpu),
            queue: None,
            faults,
        },
        dead_letters,
        declared,
    })
}

/// The sleep handler in memory, on either clock, watched by `board` if given.
fn run_sleep(
    workload: Workload,
    (plan, clock, timer): (Plan, ClockKind, TimerMode),
    quiet: bool,
    board: Option<Arc<Board>>,
) -> Result<(Workload, crate::engine::record::Execution)> {
    let Some(board) = board else {
        return exec::execute(workload, plan, clock, timer, quiet);
    };
    let never = Box::pin(std::future::pending());
    run_real_watched(
        workload,
        (plan, timer, quiet),
        SleepHandler,
        Some(board),
        never,
    )
}
