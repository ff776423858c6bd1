//! The consumer's handler: any handler (the benchmark's sleep, or `--handler`) plus a row in
//! the live log written after it and before the engine acks, skipping events whose delivery
//! was given up after a lost connection or that already ran in this process.

use crate::engine::clock::Clock;
use crate::engine::work::{Ctx, Handler, Job};
use crate::handler::AnyHandler;
use crate::live::Board;
use crate::live_log::LiveLog;
use std::future::Future;
use std::sync::Arc;

/// Asked when an event's turn comes: true to skip it (its delivery was given up, or it is a
/// redelivery of an event that already ran here).
pub(crate) type Skip = Arc<dyn Fn(&Job) -> bool + Send + Sync>;

/// Wraps `inner` (any handler) for a consumer run: `worker` and `run --broker`.
#[derive(Clone)]
pub(crate) struct Logged {
    pub inner: AnyHandler,
    pub log: Option<Arc<LiveLog>>,
    /// The `worker` column: this process's id, so logs of several workers can be told apart.
    pub worker: u64,
    /// Set by the consumer when it reconnects after losses; skipped events are neither handled
    /// nor logged (and are left out of the report).
    pub skip: Option<Skip>,
    /// A live dashboard's board, told when each event starts (the consumer's observer tells
    /// it when the event ends).
    pub board: Option<Arc<Board>>,
}

impl Handler for Logged {
    fn handle<C: Clock>(&self, job: Job, ctx: Ctx<'_, C>) -> impl Future<Output = ()> + Send {
        let log = self.log.clone();
        let worker = self.worker;
        let clock = ctx.clock.clone();
        // Decided at the call, not at the first poll: the call is the event's start.
        let skipped = self.skip.as_ref().is_some_and(|skip| skip(&job));
        let start = clock.now();
        if let (Some(board), false) = (&self.board, skipped) {
            board.start(job.account.0, start.0, job.duration.0);
        }
        let call = (!skipped).then(|| self.inner.handle(job, ctx));
        let guarded = self.inner.guarded().cloned();
        async move {
            let Some(call) = call else {
                return;
            };
            call.await;
            // An event passed over without a try (its account was stopped) was not processed.
            let passed_over = guarded.is_some_and(|g| g.was_passed_over(job.index));
            if let (Some(log), false) = (log, passed_over) {
                let end = clock.now();
                log.append([job.account.0, job.event.0, worker, start.0, end.0]);
            }
        }
    }
}
