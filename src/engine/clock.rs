//! Clocks for the real executor: the precise timer, or tokio's clock (which tests pause
//! so that real-executor runs become exact and instant).

use super::timer::{Sleep, TimerHandle};
use crate::types::Micros;
use std::future::Future;

/// A time source with sleeps. Times are microseconds since the clock's origin (the run's start).
pub trait Clock: Clone + Send + Sync + 'static {
    type Sleep: Future<Output = ()> + Send + 'static;

    fn now(&self) -> Micros;

    /// Completes at `deadline` or later. Among sleeps due at the same instant, a higher
    /// `urgency` may be woken first.
    fn sleep_until(&self, deadline: Micros, urgency: u64) -> Self::Sleep;
}

/// The precise timer ([`super::timer`]); the default for real-clock runs.
#[derive(Clone)]
pub struct PreciseClock {
    timer: TimerHandle,
    origin: Micros,
}

impl PreciseClock {
    /// A clock whose time 0 is now.
    pub fn new(timer: TimerHandle) -> Self {
        let origin = timer.now();
        PreciseClock { timer, origin }
    }
}

impl Clock for PreciseClock {
    type Sleep = Sleep;

    fn now(&self) -> Micros {
        self.timer.now().saturating_sub(self.origin)
    }

    fn sleep_until(&self, deadline: Micros, urgency: u64) -> Sleep {
        // Time 0 of this clock is past for sure; the timer treats its own 0 as "ready now".
        let absolute = match deadline {
            Micros::ZERO => Micros::ZERO,
            d => d.saturating_add(self.origin),
        };
        self.timer.sleep_until(absolute, urgency)
    }
}

/// tokio's own clock: 1 ms resolution in real time, but exact under `tokio::time::pause`.
#[derive(Clone)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose time 0 is now (must be called inside a tokio runtime).
    pub fn new() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Sleep = tokio::time::Sleep;

    fn now(&self) -> Micros {
        Micros::from_duration(self.origin.elapsed())
    }

    fn sleep_until(&self, deadline: Micros, _urgency: u64) -> tokio::time::Sleep {
        tokio::time::sleep_until(self.origin + deadline.as_duration())
    }
}
