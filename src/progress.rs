//! Progress bars on stderr, fed from the engine's counters by a ticker task (never by workers).
//!
//! No bar shows a linearly extrapolated ETA: a run's pace is not linear (the long chains finish
//! last), so a run bar shows the elapsed time against the lower bound instead.

use crate::types::Micros;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A progress bar that shows only when stderr is a terminal and `--quiet` was not given.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Set for a bar of time against the bound (see [`Progress::against_bound`]).
    bound: Option<(Micros, u64)>,
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

    /// A bar of elapsed time against the run's lower bound: `12.4 s of ≥ 21.0 s`, full (and
    /// still counting) once the bound has passed.
    pub fn against_bound(total: u64, bound: Micros, message: &str, quiet: bool) -> Self {
        let mut p = Progress::new(total, message, quiet);
        if let Some(bar) = &p.bar {
            bar.set_style(
                ProgressStyle::with_template("{msg} {wide_bar} {prefix}").expect("valid template"),
            );
            bar.set_length(bound.0.max(1));
            p.bound = Some((bound, total));
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
                    Some((b, total)) => {
                        let elapsed = Micros::from_duration(started.elapsed());
                        bar.set_position(elapsed.0.min(b.0.max(1)));
                        bar.set_prefix(against_bound(elapsed, b, n, total));
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

/// `12.4 s of ≥ 21.0 s · 5123/10000 events`: the bound is the floor, so it is marked `≥`.
fn against_bound(elapsed: Micros, bound: Micros, done: u64, total: u64) -> String {
    format!(
        "{:.1} s of ≥ {:.1} s · {done}/{total} events",
        elapsed.as_secs_f64(),
        bound.as_secs_f64()
    )
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
    fn time_is_shown_against_the_bound() {
        let text = against_bound(Micros(12_400_000), Micros(21_000_000), 5123, 10000);
        assert_eq!(text, "12.4 s of ≥ 21.0 s · 5123/10000 events");
    }
}
