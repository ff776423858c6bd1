//! Progress bars on stderr, fed from the engine's counters by a ticker task (never by workers).
//!
//! No bar shows a linearly extrapolated ETA: a run's pace is not linear (the long chains finish
//! last), so a run bar shows the elapsed time against the schedule the virtual clock computed
//! for it before it started (or, for a huge workload, against the lower bound).

use crate::types::Micros;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A progress bar that shows only when stderr is a terminal and `--quiet` was not given.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Set for a bar of time against the schedule (see [`Progress::against_schedule`]).
    bound: Option<Target>,
}

/// What a bar of time counts towards.
#[derive(Clone, Copy, Debug)]
struct Target {
    /// The time the run is expected to take (its simulated schedule, or its bound).
    total: Micros,
    bound: Micros,
    /// `total` is the schedule, not just the bound.
    exact: bool,
    events: u64,
}

impl Progress {
    pub fn new(total: u64, message: &str, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                bound: None,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({per_sec})",
            )
            .expect("valid template"),
        );
        bar.set_message(message.to_string());
        Progress {
            bar: Some(bar),
            bound: None,
        }
    }

    /// Whether a bar would be drawn: stderr is a terminal and `--quiet` was not given (what
    /// a bar costs to set up is then worth paying).
    pub fn shown(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    /// A bar of elapsed time against what the run will take: `12.4 s of about 35.0 s`, or,
    /// when only the bound is known (`exact` false), `12.4 s of ≥ 21.0 s`; full (and still
    /// counting) once that time has passed.
    pub fn against_schedule(
        total_events: u64,
        total: Micros,
        bound: Micros,
        exact: bool,
        message: &str,
        quiet: bool,
    ) -> Self {
        let mut p = Progress::new(total_events, message, quiet);
        if let Some(bar) = &p.bar {
            bar.set_style(
                ProgressStyle::with_template("{msg} {wide_bar} {prefix}").expect("valid template"),
            );
            bar.set_length(total.0.max(1));
            p.bound = Some(Target {
                total,
                bound,
                exact,
                events: total_events,
            });
        }
        p
    }

    /// Follows `done` every 100 ms until the returned handle is dropped or finished.
    pub fn follow(&self, done: impl Fn() -> u64 + Send + 'static) -> Option<Ticker> {
        let bar = self.bar.clone()?;
        let stop = Arc::new(AtomicU64::new(0));
        let flag = Arc::clone(&stop);
        let bound = self.bound;
        let started = std::time::Instant::now();
        let task = tokio::spawn(async move {
            while flag.load(Relaxed) == 0 {
                let n = done();
                match bound {
                    None => bar.set_position(n),
                    Some(t) => {
                        let elapsed = Micros::from_duration(started.elapsed());
                        bar.set_position(elapsed.0.min(t.total.0.max(1)));
                        bar.set_prefix(against(elapsed, t, n));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(Ticker { stop, task })
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `12.4 s of about 35.0 s (bound 21.0 s) · 5123/10000 events`; with the bound only,
/// `12.4 s of ≥ 21.0 s · …` (the bound is the floor, so it is marked `≥`).
fn against(elapsed: Micros, t: Target, done: u64) -> String {
    let of = if !t.exact {
        format!("≥ {}", t.bound.spelled())
    } else if t.total == t.bound {
        format!("about {} (the bound)", t.total.spelled())
    } else {
        format!("about {} (bound {})", t.total.spelled(), t.bound.spelled())
    };
    format!("{} of {of} · {done}/{} events", elapsed.spelled(), t.events)
}

/// The task that moves a progress bar; stopped by [`Ticker::stop`].
pub struct Ticker {
    stop: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    pub async fn stop(self) {
        self.stop.store(1, Relaxed);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_shown_against_the_schedule() {
        let t = Target {
            total: Micros(35_000_000),
            bound: Micros(21_000_000),
            exact: true,
            events: 10000,
        };
        let text = against(Micros(12_400_000), t, 5123);
        assert_eq!(
            text,
            "12.4 s of about 35.0 s (bound 21.0 s) · 5123/10000 events"
        );
        let long = Target {
            total: Micros(3_489_000_000),
            bound: Micros(3_489_000_000),
            ..t
        };
        assert_eq!(
            against(Micros(600_000_000), long, 1),
            "10 min of about 58 min (the bound) · 1/10000 events"
        );
        let floor = Target { exact: false, ..t };
        assert_eq!(
            against(Micros(12_400_000), floor, 5123),
            "12.4 s of ≥ 21.0 s · 5123/10000 events"
        );
    }
}
