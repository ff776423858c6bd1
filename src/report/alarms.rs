//! What went wrong in a run, ready to lead its report: a failed ordering check with what was
//! lost, duplicated and reordered (with examples), a handler that failed or timed out, a run
//! that was interrupted. The terminal table and the HTML page both start with these, so a
//! good-looking efficiency further down can never stand alone.

use super::{BoundBasis, Report};
use serde::Serialize;

/// One thing that went wrong.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Alarm {
    /// The report line it belongs to: `ordering`, `handler` or `interrupted`.
    pub what: &'static str,
    /// True for a failure; false for a warning (an interrupted run is partial, not wrong).
    pub failed: bool,
    /// `FAILED: 1 lost, 1 duplicated, …`.
    pub headline: String,
    /// `(kind, example)`: `("lost", "event 5 of account 121")`.
    pub examples: Vec<(&'static str, String)>,
}

/// The alarms of a report, most serious first; empty for a clean run.
pub(crate) fn alarms(r: &Report) -> Vec<Alarm> {
    let mut out = Vec::new();
    if !r.passed() {
        out.push(ordering(r));
    }
    let h = &r.handling;
    if h.handler_failures > 0 || h.given_up > 0 || h.not_attempted > 0 {
        let timeouts = match h.handler_timeouts {
            0 => String::new(),
            n => format!(" ({n} timed out)"),
        };
        let basis = match h.bound_basis {
            BoundBasis::Declared => "declared",
            BoundBasis::Measured => "measured",
        };
        out.push(Alarm {
            what: "handler",
            failed: true,
            headline: format!(
                "FAILED {} of {} calls{timeouts}: {} events given up, {} not attempted \
                 (bound basis: {basis})",
                h.handler_failures, h.handler_calls, h.given_up, h.not_attempted
            ),
            examples: Vec::new(),
        });
    }
    if r.interrupted {
        out.push(Alarm {
            what: "interrupted",
            failed: false,
            headline: format!("{} events never started (partial report)", r.unprocessed),
            examples: Vec::new(),
        });
    }
    out
}

/// A failed ordering check: the counts, then the examples of each kind.
fn ordering(r: &Report) -> Alarm {
    let mut examples = Vec::new();
    let headline = match &r.external {
        Some(x) => {
            examples.extend(x.lost_examples.iter().map(|e| ("lost", e.clone())));
            examples.extend(
                x.duplicate_examples
                    .iter()
                    .map(|e| ("duplicate", e.clone())),
            );
            format!(
                "FAILED: {} lost, {} duplicated, {} reordered, {} overlapping, {} short handlers",
                x.lost, r.duplicates, x.reordered, x.overlaps, r.short_handlers
            )
        }
        None => format!(
            "FAILED: {} ordering violations, {} duplicates, {} short handlers, {} unprocessed",
            r.ordering_violations, r.duplicates, r.short_handlers, r.unprocessed
        ),
    };
    examples.extend(r.violations.iter().map(|v| ("violation", v.clone())));
    Alarm {
        what: "ordering",
        failed: true,
        headline,
        examples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Strategy;
    use crate::report::external::External;
    use crate::report::fixture::report;

    #[test]
    fn a_clean_run_has_none() {
        assert!(alarms(&report(Strategy::Optimal, "4", 8.0, 8.0)).is_empty());
    }

    #[test]
    fn a_failed_check_lists_what_was_lost_duplicated_and_reordered() {
        let mut r = report(Strategy::External, "4", 8.0, 8.0);
        r.duplicates = 1;
        r.ordering_violations = 1;
        r.violations = vec!["account 32: event 744 before event 1".into()];
        r.external = Some(External {
            lost: 1,
            reordered: 1,
            lost_examples: vec!["event 5 of account 121".into()],
            duplicate_examples: vec!["event 9 of account 73: lines 9 and 2001".into()],
            ..External::default()
        });
        let a = alarms(&r);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].headline,
            "FAILED: 1 lost, 1 duplicated, 1 reordered, 0 overlapping, 0 short handlers"
        );
        let kinds: Vec<&str> = a[0].examples.iter().map(|e| e.0).collect();
        assert_eq!(kinds, ["lost", "duplicate", "violation"]);
    }

    #[test]
    fn a_handler_that_timed_out_says_so_with_the_bound_basis() {
        let mut r = report(Strategy::Optimal, "4", 8.0, 8.0);
        r.handling.handler_calls = 40;
        r.handling.handler_failures = 1;
        r.handling.handler_timeouts = 1;
        r.handling.given_up = 1;
        r.handling.bound_basis = BoundBasis::Measured;
        let a = alarms(&r);
        assert_eq!(
            a[0].headline,
            "FAILED 1 of 40 calls (1 timed out): 1 events given up, 0 not attempted \
             (bound basis: measured)"
        );
    }
}
