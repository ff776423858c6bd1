//! One configuration run several times (`--runs N --warmup N`): each run verified on its
//! own, the warmups left out of the figures, the measured ones combined into one report
//! (`report::repeat`). A run that fails its checks, or is interrupted, ends the repetition
//! and stands alone as the result: a violation in any run fails the whole.

use super::{run, Spec};
use crate::handler::dead_letter::Row;
use crate::report::repeat::{combine, outlier_warnings, Repeat};
use crate::report::Report;
use crate::workload::Workload;
use anyhow::Result;
use std::path::Path;

/// The result of the repeated runs.
pub(crate) struct Repeated {
    pub report: Report,
    /// The workload back, with its declared durations (a real handler's measured ones are
    /// put back after each run), for the next configuration of a sweep.
    pub workload: Workload,
    /// The last run's dead letters.
    pub dead_letters: Vec<Row>,
}

/// Runs `spec()` `repeat.warmup + repeat.runs` times over `workload`; the processed log goes
/// to `log` from each measured run (so it is the last one's).
pub(crate) fn run_repeated<'a>(
    repeat: Repeat,
    mut workload: Workload,
    log: Option<&Path>,
    quiet: bool,
    mut spec: impl FnMut() -> Spec<'a>,
) -> Result<Repeated> {
    let mut measured = Vec::with_capacity(repeat.runs as usize);
    let mut dead_letters = Vec::new();
    for i in 0..repeat.warmup + repeat.runs {
        let warm = i < repeat.warmup;
        let finished = run(spec(), workload)?;
        dead_letters = finished.dead_letters;
        let (report, mut w) =
            Report::from_outcome(finished.outcome, (!warm).then_some(log).flatten())?;
        if let Some(declared) = finished.declared {
            w.replace_durations(declared);
        }
        workload = w;
        let stop = !report.passed() || report.interrupted;
        if repeat != Repeat::ONCE && !quiet {
            let (what, k, n) = match warm {
                true => ("warmup", i + 1, repeat.warmup),
                false => ("measured run", i + 1 - repeat.warmup, repeat.runs),
            };
            let verdict = if stop {
                ", failed its checks: stopping"
            } else {
                ""
            };
            eprintln!(
                "  {what} {k}/{n}: wall time {:.3} s{verdict}",
                report.wall_time_s
            );
        }
        if stop {
            return Ok(Repeated {
                report,
                workload,
                dead_letters,
            });
        }
        if !warm {
            measured.push(report);
        }
    }
    let report = if repeat == Repeat::ONCE {
        measured.pop().expect("one measured run")
    } else {
        combine(measured, repeat.warmup)
    };
    // A warning, not a note: printed with -q too.
    for warning in outlier_warnings(&report) {
        eprintln!("{warning}");
    }
    Ok(Repeated {
        report,
        workload,
        dead_letters,
    })
}
