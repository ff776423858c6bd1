//! A fixed small sweep for exporter snapshots and regression tests: 20 events over 4 accounts,
//! longest chain 8, 1 s per event, on the virtual clock.

use crate::engine::{ClockKind, Strategy};
use crate::report::stats::Percentiles;
use crate::report::sweep::CompareDoc;
use crate::report::Report;

/// One run of the fixture workload with the given bound and wall time (seconds).
pub(crate) fn report(strategy: Strategy, workers: &str, bound: f64, wall: f64) -> Report {
    let lanes = workers.parse().unwrap_or(4);
    let us = |s: f64| (s * 1e6) as u64;
    Report {
        eventbench_version: "0.1.0".into(),
        // Snapshots stay the same from build to build.
        build: None,
        input: "events, small.csv".into(),
        workload_fingerprint: "00c0ffee00c0ffee".into(),
        events: 20,
        accounts: 4,
        strategy,
        workers: lanes,
        workers_requested: workers.into(),
        clock: ClockKind::Virtual,
        backend: Default::default(),
        process_time_s: 1.0,
        per_event_durations: false,
        longest_chain: 8,
        total_work_s: 20.0,
        lower_bound_s: bound,
        timing_basis: super::TimingBasis::Batch,
        wall_time_s: wall,
        efficiency: bound / wall,
        throughput_eps: 20.0 / wall,
        ordering_violations: 0,
        unprocessed: 0,
        duplicates: 0,
        short_handlers: 0,
        max_in_flight: lanes,
        interrupted: false,
        queue: None,
        latency_us: Percentiles {
            p50: us(wall / 2.0),
            p90: us(wall * 7.0 / 8.0),
            p99: us(wall),
            p999: us(wall),
            max: us(wall),
        },
        overshoot_us: Percentiles::default(),
        handling: Default::default(),
        timer: None,
        violations: Vec::new(),
        repeats: None,
        external: None,
        blast: None,
        latency_histogram: Vec::new(),
    }
}

/// Four runs: a poor sharded one, and three that reach their bound.
pub(crate) fn doc() -> CompareDoc {
    let mut d = CompareDoc::new(vec![
        report(Strategy::Sharded, "2", 10.0, 16.0),
        report(Strategy::Pool, "2", 10.0, 10.0),
        report(Strategy::Optimal, "auto", 8.0, 8.0),
        report(Strategy::PerAccount, "auto", 8.0, 8.0),
    ]);
    d.eventbench_version = "0.1.0".into();
    d.build = None;
    d
}
