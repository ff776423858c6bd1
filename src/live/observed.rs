//! A handler wrapper that tells a [`Board`] when each event starts and ends, so any executor
//! feeds the dashboard without knowing about it.

use super::Board;
use crate::engine::clock::Clock;
use crate::engine::exec::{self, Abort};
use crate::engine::record::Execution;
use crate::engine::timer::TimerMode;
use crate::engine::work::{Ctx, Handler, Job};
use crate::engine::Plan;
use crate::workload::Workload;
use std::future::Future;
use std::sync::Arc;

/// Runs `handler` on the real clock ([`exec::run_real_with`]), watched by `board` if given:
/// the board's clock starts with the engine's.
pub(crate) fn run_real_watched<H: Handler>(
    workload: Workload,
    (plan, timer, quiet): (Plan, TimerMode, bool),
    handler: H,
    board: Option<Arc<Board>>,
    abort: Abort,
) -> anyhow::Result<(Workload, Execution)> {
    let Some(board) = board else {
        return exec::run_real_with(workload, plan, timer, quiet, handler, || {}, abort);
    };
    let begin = Arc::clone(&board);
    let observed = Observed {
        inner: handler,
        board,
    };
    let started = move || begin.begin();
    exec::run_real_with(workload, plan, timer, quiet, observed, started, abort)
}

/// Runs `inner` and reports to the board. For a preloaded run every event entered the queue
/// at time 0, so an event's latency is its end time on the run's clock.
pub(crate) struct Observed<H> {
    pub inner: H,
    pub board: Arc<Board>,
}

impl<H: Handler> Handler for Observed<H> {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let clock = ctx.clock;
        self.board.start(job.account.0, ctx.start.0, job.duration.0);
        let call = self.inner.handle(job, ctx);
        async move {
            call.await;
            let end = clock.now().0;
            self.board.finish(job.account.0, job.duration.0, end);
        }
    }

    fn takes_declared_time(&self) -> bool {
        self.inner.takes_declared_time()
    }
}
