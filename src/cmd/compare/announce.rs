//! What `compare` says on stderr around the work: the sweep before it starts with how long its
//! real-clock runs will take (and a warning when that is long), and each real-clock run's row
//! as soon as it has finished.

use super::SweepRun;
use crate::engine::exec::expected_total;
use crate::engine::ClockKind;
use crate::handler::HandlerArgs;
use crate::pipeline::fault::{faulted, FaultSpec};
use crate::report::repeat::Repeat;
use crate::report::summary::{efficiency_cell, ordering_cell, workers_cell};
use crate::report::{Backend, Design, Report};
use crate::types::{seconds, Micros};
use crate::workload::Workload;
use anyhow::Result;
use std::time::Duration;

/// A real-clock sweep longer than this gets a warning before it starts.
const LONG_SWEEP: Micros = Micros(10 * 60 * 1_000_000);

/// How long the real-clock runs of a sweep take together.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Expected {
    /// The sum of each run's schedule on the virtual clock (of its bound where the workload
    /// is too large to simulate), times its repetitions.
    pub total: Micros,
    /// The sum of the lower bounds: no sweep can be faster.
    pub bound: Micros,
    /// Every run's schedule was simulated (else `total` is only a floor).
    pub exact: bool,
}

/// The real-clock runs' expected duration, with `faults` laid on the workload as each run
/// will (a `slow` account's longer chain, a stall); `None` when there are no real-clock runs,
/// or when a real handler runs (its times are only known by running it).
pub(crate) fn expected(
    w: &Workload,
    runs: &[SweepRun],
    handlers: &HandlerArgs,
    repeat: Repeat,
    faults: Option<FaultSpec<'_>>,
) -> Result<Option<Expected>> {
    if !handlers.handler.is_sleep() || runs.iter().all(|r| r.clock != ClockKind::Real) {
        return Ok(None);
    }
    let faulted = faults.map(|f| faulted(f, w)).transpose()?;
    let w = faulted.as_ref().unwrap_or(w);
    let times = u64::from(repeat.warmup + repeat.runs);
    let mut e = Expected {
        total: Micros::ZERO,
        bound: Micros::ZERO,
        exact: true,
    };
    for r in runs.iter().filter(|r| r.clock == ClockKind::Real) {
        let (total, bound, exact) = expected_total(w, r.plan);
        e.total = e
            .total
            .saturating_add(Micros(total.0.saturating_mul(times)));
        e.bound = e
            .bound
            .saturating_add(Micros(bound.0.saturating_mul(times)));
        e.exact &= exact;
    }
    Ok(Some(e))
}

/// Stderr lines before the work: the input, the sweep (which runs on which clock and queue),
/// notes on skipped broker runs, and how long the real-clock runs will take.
pub(crate) fn announce(w: &Workload, runs: &[SweepRun], notes: &[String], e: Option<Expected>) {
    let shape = w.shape();
    let count = |f: &dyn Fn(&SweepRun) -> bool| runs.iter().filter(|j| f(j)).count();
    let memory = count(&|j| j.backend == Backend::Memory);
    let clock = runs.first().map_or(ClockKind::Virtual, |j| j.clock);
    eprintln!(
        "input: {}: {} events, {} accounts, longest chain {}; {memory} runs in memory on the \
         {clock} clock",
        w.source(),
        shape.events,
        shape.accounts,
        shape.longest_chain,
    );
    let brokered = runs.len() - memory;
    if brokered > 0 {
        let original = count(&|j| j.backend == Backend::Broker(Design::Original));
        eprintln!(
            "broker: {brokered} runs through RabbitMQ on the real clock ({original} of the \
             original design, {} of ours), one set of fresh queues per run",
            brokered - original
        );
    }
    for note in notes {
        eprintln!("broker: {note}");
    }
    if let Some(e) = e {
        eprintln!("expected duration: {}", describe(e));
    }
}

/// `about 58 min (the runs' schedules on the virtual clock; at least 52 min, the sum of their
/// lower bounds)`.
fn describe(e: Expected) -> String {
    if e.exact {
        format!(
            "about {} (the real-clock runs' schedules on the virtual clock; at least {}, the \
             sum of their lower bounds)",
            e.total.spelled(),
            e.bound.spelled()
        )
    } else {
        format!(
            "at least {} (the sum of the real-clock runs' lower bounds)",
            e.bound.spelled()
        )
    }
}

/// A warning on stderr (even with --quiet: it is not a progress note) before a real-clock
/// sweep that will take longer than ten minutes; nothing is asked, Ctrl-C keeps the runs so
/// far.
pub(crate) fn warn_if_long(e: Option<Expected>) {
    if let Some(line) = e.and_then(long_warning) {
        eprintln!("{line}");
    }
}

fn long_warning(e: Expected) -> Option<String> {
    (e.total > LONG_SWEEP).then(|| {
        format!(
            "warning: this real-clock sweep will take {}; Ctrl-C stops it and keeps the runs \
             finished so far (--clock virtual computes the same schedules instantly)",
            if e.exact {
                format!("about {}", e.total.spelled())
            } else {
                format!("at least {}", e.bound.spelled())
            }
        )
    })
}

/// `run 3/9 done: sharded, 100 workers: wall 0.340 s, bound 0.210 s, efficiency 61.76%,
/// ordering ok (12.4 s of about 58 min)`: a long sweep shows its rows as they finish.
pub(crate) fn row_done(r: &Report, at: (usize, usize, Duration), e: Option<Expected>) {
    eprintln!("{}", row_line(r, at, e));
}

fn row_line(r: &Report, (i, n, elapsed): (usize, usize, Duration), e: Option<Expected>) -> String {
    let so_far = Micros::from_duration(elapsed).spelled();
    let of = match e {
        Some(e) if e.exact => format!("{so_far} of about {}", e.total.spelled()),
        Some(e) => format!("{so_far} of ≥ {}", e.bound.spelled()),
        None => format!("{so_far} so far"),
    };
    format!(
        "run {i}/{n} done: {}, {} workers: wall {}, bound {}, efficiency {}, ordering {} ({of})",
        r.strategy,
        workers_cell(r),
        seconds(r.wall_time_s),
        seconds(r.lower_bound_s),
        efficiency_cell(r),
        ordering_cell(r)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Strategy;
    use crate::report::fixture::report;

    fn e(total_s: u64, bound_s: u64, exact: bool) -> Expected {
        Expected {
            total: Micros(total_s * 1_000_000),
            bound: Micros(bound_s * 1_000_000),
            exact,
        }
    }

    #[test]
    fn a_slow_fault_lengthens_the_expected_duration() {
        use crate::engine::fault::{FailModel, Faults};
        use crate::engine::{timer::TimerMode, Plan, Workers};
        use crate::types::{AccountId, EventId};
        use crate::workload::Source;
        // 4 accounts of 5 events at 10 ms on 2 workers: 100 ms on the virtual clock; account
        // 1 twenty times slower makes its chain alone 1 s.
        let mut w = Workload::new(Source::Live("t".into()), Micros(10_000));
        for i in 0..20u64 {
            w.push(EventId(i + 1), AccountId(i % 4 + 1), None);
        }
        let run = |clock| SweepRun {
            plan: Plan::new(Strategy::Pool, Workers::Fixed(2.try_into().unwrap())).unwrap(),
            clock,
            timer: TimerMode::Precise,
            backend: Backend::Memory,
        };
        let sleep = HandlerArgs::default_for_sleep();
        let faults = Faults::new(vec!["slow:1:20".parse().unwrap()]).unwrap();
        let spec = FaultSpec {
            faults: &faults,
            model: FailModel::default(),
        };
        let runs = [run(ClockKind::Real)];
        let plain = expected(&w, &runs, &sleep, Repeat::ONCE, None)
            .unwrap()
            .unwrap();
        let slow = expected(&w, &runs, &sleep, Repeat::ONCE, Some(spec))
            .unwrap()
            .unwrap();
        assert_eq!(plain.total, Micros(100_000));
        assert!(slow.total >= Micros(1_000_000), "{slow:?}");
        assert!(slow.bound >= Micros(1_000_000), "{slow:?}");
        assert!(slow.exact);
        // A virtual-clock sweep has nothing to wait for; a fault on an absent account is bad
        // usage before any work.
        let virt = [run(ClockKind::Virtual)];
        assert_eq!(
            expected(&w, &virt, &sleep, Repeat::ONCE, Some(spec)).unwrap(),
            None
        );
        let absent = Faults::new(vec!["slow:9:2".parse().unwrap()]).unwrap();
        let bad = FaultSpec {
            faults: &absent,
            ..spec
        };
        assert!(expected(&w, &runs, &sleep, Repeat::ONCE, Some(bad)).is_err());
    }

    #[test]
    fn the_expected_duration_is_spelled_out() {
        assert_eq!(
            describe(e(3489, 3100, true)),
            "about 58 min (the real-clock runs' schedules on the virtual clock; at least 52 \
             min, the sum of their lower bounds)"
        );
        assert_eq!(
            describe(e(3789, 3789, false)),
            "at least 1 h 3 min (the sum of the real-clock runs' lower bounds)"
        );
    }

    #[test]
    fn only_a_sweep_over_ten_minutes_is_warned_about() {
        assert_eq!(long_warning(e(600, 500, true)), None);
        let w = long_warning(e(3489, 3100, true)).unwrap();
        assert!(
            w.starts_with("warning: this real-clock sweep will take about 58 min;"),
            "{w}"
        );
    }

    #[test]
    fn a_finished_row_says_where_the_sweep_is() {
        let r = report(Strategy::Sharded, "2", 10.0, 16.0);
        let line = row_line(
            &r,
            (3, 9, Duration::from_secs(75)),
            Some(e(3489, 3100, true)),
        );
        assert_eq!(
            line,
            "run 3/9 done: sharded, 2 workers: wall 16.000 s, bound 10.000 s, efficiency \
             62.50%, ordering ok (1 min 15 s of about 58 min)"
        );
    }
}
