//! The pump: the task that fires the precise timer's sleeps from a tokio worker while a
//! deadline is near, and otherwise hands the wait to the timer thread.

use super::{wake_all, Due, Plan, Shared, NONE};
use std::sync::atomic::Ordering::Acquire;
use std::sync::Arc;
use std::task::Poll;

/// Runs until the timer is dropped.
pub(super) async fn run(shared: Arc<Shared>) {
    let mut due = Due::new();
    loop {
        if shared.stopping() {
            return;
        }
        let now = shared.now();
        let front = Some(shared.front.load(Acquire)).filter(|&f| f != NONE);
        // The common turn of a spin: nothing due yet and no reason to take the lock.
        if shared.tuning.pump(now, front) == Plan::Spin {
            spin().await;
            continue;
        }
        let plan = {
            let mut st = shared.lock();
            shared.take_due(&mut st, now, &mut due);
            shared.tuning.pump(now, st.front())
        };
        wake_all(&mut due);
        match plan {
            Plan::Fire | Plan::Spin => spin().await,
            Plan::Idle(_) => idle(&shared).await,
        }
    }
}

/// Gives the worker back to its other tasks and comes back after them. tokio's `yield_now`
/// defers the wake-up until the worker has run what is queued and polled its I/O driver, so a
/// spinning pump never crowds out the handlers it wakes, and never wakes an idle worker to
/// steal it (a plain self-wake would, on every turn).
async fn spin() {
    tokio::task::yield_now().await;
}

/// Waits until the thread (a horizon before the front), a registration of a near deadline or
/// the timer's end wakes the pump.
async fn idle(shared: &Shared) {
    let mut parked = false;
    std::future::poll_fn(|cx| {
        let mut st = shared.lock();
        // Whoever wakes the pump takes its waker first: still there means a spurious poll.
        if parked && st.pump.is_none() || shared.stopping() {
            return Poll::Ready(());
        }
        // A near deadline may have been registered since the pump looked, while it was up.
        if !matches!(shared.tuning.pump(shared.now(), st.front()), Plan::Idle(_)) {
            st.pump = None;
            return Poll::Ready(());
        }
        st.pump = Some(cx.waker().clone());
        parked = true;
        shared.nudge_thread(&st);
        Poll::Pending
    })
    .await;
}
