//! Progress bars on stderr, fed from the engine's counters by a ticker task (never by workers).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// A progress bar that shows only when stderr is a terminal and `--quiet` was not given.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(total: u64, message: &str, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} events (ETA {eta})",
            )
            .expect("valid template"),
        );
        bar.set_message(message.to_string());
        Progress { bar: Some(bar) }
    }

    /// Follows `done` every 100 ms until the returned handle is dropped or finished.
    pub fn follow(&self, done: impl Fn() -> u64 + Send + 'static) -> Option<Ticker> {
        let bar = self.bar.clone()?;
        let stop = Arc::new(AtomicU64::new(0));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            while flag.load(Relaxed) == 0 {
                bar.set_position(done());
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
