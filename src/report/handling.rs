//! The report's account of how events were processed: which handler, each call's time, its
//! failures, retries and given-up events, where the lower bound's durations come from, and the
//! CPU the run used (docs/REPORT.md).

use super::stats::Percentiles;
use serde::{Deserialize, Serialize};

/// Where the lower bound's durations come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoundBasis {
    /// The durations the workload declares (`--process-time`, `duration_us`): sleep handlers.
    #[default]
    Declared,
    /// The times the handler actually took per event (all tries and waits), since a command's
    /// or a service's time is only known by running it.
    Measured,
}

/// When the events were there to be processed, as the wall time and the bound count it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimingBasis {
    /// Every event was queued when the run began (time 0): `run` and `compare` on a loaded
    /// workload.
    #[default]
    Batch,
    /// Events arrived over time (live runs): the wall time runs from the first arrival and
    /// the bound lets no event start before its own arrival.
    Arrivals,
}

/// How events were processed, and how that went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handling {
    /// `sleep`, `exec:COMMAND` or `http:URL`.
    pub handler: String,
    /// Time of each handler call (every try), µs.
    pub handler_us: Percentiles,
    pub handler_calls: u64,
    pub handler_failures: u64,
    /// Of the failed calls, those that hit `--handler-timeout` (absent in older reports: 0).
    pub handler_timeouts: u64,
    pub retries: u64,
    /// Events that failed every try (dead-lettered).
    pub given_up: u64,
    /// Events dead-lettered without a try: account stopped, or run aborted.
    pub not_attempted: u64,
    pub bound_basis: BoundBasis,
    /// User + system CPU of this process during the run.
    pub cpu_time_s: f64,
    /// User + system CPU of the handler processes (exec:) that ended during the run.
    pub children_cpu_time_s: f64,
}

impl Handling {
    /// Records the CPU a run used (this process, and the handler processes it waited for).
    pub fn set_cpu(&mut self, used: super::usage::CpuTime) {
        self.cpu_time_s = used.own_s;
        self.children_cpu_time_s = used.children_s;
    }
}

impl Default for Handling {
    fn default() -> Self {
        Handling {
            handler: "sleep".into(),
            handler_us: Percentiles::default(),
            handler_calls: 0,
            handler_failures: 0,
            handler_timeouts: 0,
            retries: 0,
            given_up: 0,
            not_attempted: 0,
            bound_basis: BoundBasis::Declared,
            cpu_time_s: 0.0,
            children_cpu_time_s: 0.0,
        }
    }
}
