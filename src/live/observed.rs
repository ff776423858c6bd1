//! A handler wrapper that tells a [`Board`] when each event starts and ends, so any executor
//! feeds the dashboard without knowing about it.

use super::Board;
use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job};
use std::future::Future;
use std::sync::Arc;

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
