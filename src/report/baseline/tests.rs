//! The gate's decisions on hand-made reports.

use super::*;
use crate::report::fixture::{doc, report};
use crate::report::summary::workers_cell;
use crate::report::Design;

#[test]
fn tolerance_parses_percentages_and_fractions() {
    assert_eq!("2%".parse::<Tolerance>().unwrap().fraction(), 0.02);
    assert_eq!("0.5%".parse::<Tolerance>().unwrap().fraction(), 0.005);
    assert_eq!("10%".parse::<Tolerance>().unwrap().fraction(), 0.1);
    assert_eq!("0.02".parse::<Tolerance>().unwrap().fraction(), 0.02);
    assert_eq!("0".parse::<Tolerance>().unwrap().fraction(), 0.0);
    for bad in ["-1%", "101%", "x%", "", "nan%", "1.5", "inf"] {
        assert!(bad.parse::<Tolerance>().is_err(), "{bad}");
    }
    // A bare 2 is 200%: refused, with the percentage it probably meant.
    let err = "2".parse::<Tolerance>().unwrap_err();
    assert!(err.contains("did you mean 2%?"), "{err}");
}

#[test]
fn slower_runs_regress_and_faster_ones_improve() {
    let base = doc();
    let mut runs = base.runs.clone();
    runs[0].wall_time_s *= 1.05;
    runs[0].efficiency /= 1.05;
    runs[1].wall_time_s *= 0.5;
    runs[2].wall_time_s *= 1.01;
    let c = Comparison::of(&base, &runs, "2%".parse().unwrap());
    assert_eq!(c.regressed.len(), 1, "{c:?}");
    assert_eq!(c.improved.len(), 1);
    assert_eq!(c.unchanged, 2);
    let msg = c.failures(false).join("\n");
    assert!(msg.contains(&run_label(&runs[0])), "{msg}");
}

#[test]
fn interrupted_runs_are_never_compared_on_either_side() {
    let mut base = doc();
    // A baseline row that was interrupted would make any complete run look faster.
    base.runs[0].interrupted = true;
    base.runs[0].wall_time_s = 1.0;
    let mut runs = doc().runs;
    // And an interrupted run now would look like a regression (or an improvement).
    runs[1].interrupted = true;
    runs[1].wall_time_s *= 10.0;
    let c = Comparison::of(&base, &runs, Tolerance::default());
    assert!(c.failures(true).is_empty(), "{c:?}");
    assert_eq!(c.interrupted, vec![run_label(&runs[1])]);
    assert_eq!(c.unmatched, vec![run_label(&runs[0])]);
    assert_eq!(c.unchanged, runs.len() - 2);
    assert!(c.render().contains("interrupted"), "{}", c.render());
}

#[test]
fn a_baseline_of_another_workload_fails_and_says_why() {
    let base = doc();
    let mut other = report(Strategy::Optimal, "10", 5.0, 5.0);
    other.workload_fingerprint = "ffffffffffffffff".into();
    let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
    // A gate that compared nothing has not passed, --allow-missing or not.
    let failed = c.failures(true);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("matched none of the 1 runs"),
        "{failed:?}"
    );
    assert!(
        failed[0].contains("fingerprint is ffffffffffffffff"),
        "{failed:?}"
    );
    assert_eq!(c.unmatched.len(), 1);
    assert!(c.render().contains("nothing matched"));
}

#[test]
fn runs_without_a_match_fail_unless_allowed() {
    let base = doc();
    let mut runs = base.runs.clone();
    let mut extra = runs[0].clone();
    extra.workers_requested = "7".into();
    runs.push(extra.clone());
    let c = Comparison::of(&base, &runs, Tolerance::default());
    let failed = c.failures(false);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("1 of 5 runs have no match"),
        "{failed:?}"
    );
    assert!(failed[0].contains(&run_label(&extra)), "{failed:?}");
    assert!(failed[0].contains("--allow-missing"), "{failed:?}");
    assert!(c.failures(true).is_empty());
}

#[test]
fn the_same_workload_with_other_runs_is_not_blamed_on_the_input() {
    let base = doc();
    let mut other = base.runs[0].clone();
    other.strategy = Strategy::Optimal;
    other.workers_requested = "7".into();
    let c = Comparison::of(&base, &[other.clone()], Tolerance::default());
    assert_eq!(c.unmatched.len(), 1, "{c:?}");
    let text = c.render();
    assert!(text.contains("the baseline ran this workload"), "{text}");
    assert!(c.failures(true)[0].contains("the baseline ran this workload"));
    assert!(!text.contains("another input"), "{text}");
}

#[test]
fn broker_runs_never_match_memory_runs() {
    let base = doc();
    let mut runs = base.runs.clone();
    runs[0].backend = Backend::Broker(Design::Original);
    runs[0].wall_time_s *= 10.0;
    let c = Comparison::of(&base, &runs, Tolerance::default());
    assert!(c.failures(true).is_empty(), "{c:?}");
    assert_eq!(c.unmatched, vec![run_label(&runs[0])]);
    assert!(c.unmatched[0].ends_with("broker-original"), "{c:?}");
    assert_eq!(workers_cell(&runs[0]), "2 (RabbitMQ, original)");
    let json = serde_json::to_value(&runs[0]).unwrap();
    assert_eq!(json["backend"], "broker-original");
    assert!(serde_json::to_value(&runs[1])
        .unwrap()
        .get("backend")
        .is_none());
}

/// A baseline and a sweep of one optimal run each, repeated with these wall times.
fn repeated(base: &[f64], now: &[f64]) -> (CompareDoc, Vec<Report>) {
    let runs = |walls: &[f64]| {
        let reports = walls
            .iter()
            .map(|&w| report(Strategy::Optimal, "100", 1.0, w))
            .collect();
        crate::report::repeat::combine(reports, 1)
    };
    let mut d = doc();
    d.runs = vec![runs(base)];
    (d, vec![runs(now)])
}

#[test]
fn with_a_spread_a_move_beyond_the_tolerance_but_within_two_sigma_is_noise() {
    // Mean 1.00 s ± 0.05 → 1.05 s ± 0.05: +5% (beyond 2%), but 2 σ = 2·√2·0.05 = 0.141 s.
    let (base, now) = repeated(&[0.95, 1.0, 1.05], &[1.0, 1.05, 1.1]);
    let c = Comparison::of(&base, &now, Tolerance::default());
    assert!(c.regressed.is_empty() && c.improved.is_empty(), "{c:?}");
    assert_eq!((c.noisy.len(), c.unchanged, c.matched()), (1, 0, 1));
    assert!(c.failures(false).is_empty());
    let text = c.render();
    assert!(text.contains("1 within the noise (2 σ)"), "{text}");
    assert!(
        text.contains("wall time 1.000 s ± 0.050 → 1.050 s ± 0.050 (+5.00%, 2 σ = 0.141 s)"),
        "{text}"
    );
    // The same means as single runs: today's rule, a regression.
    let mut single = now.clone();
    single[0].repeats = None;
    let c = Comparison::of(&base, &single, Tolerance::default());
    assert_eq!(c.regressed.len(), 1, "{c:?}");
}

#[test]
fn with_a_spread_a_move_beyond_both_regresses_or_improves() {
    // +20% with σ 0.01 on each side: 2 σ = 0.028 s, far below the 0.2 s moved.
    let (base, now) = repeated(&[0.99, 1.0, 1.01], &[1.19, 1.2, 1.21]);
    let c = Comparison::of(&base, &now, Tolerance::default());
    assert_eq!(c.regressed.len(), 1, "{c:?}");
    assert_eq!(c.failures(false).len(), 1);
    // And back: an improvement.
    let (base, now) = repeated(&[1.19, 1.2, 1.21], &[0.99, 1.0, 1.01]);
    let c = Comparison::of(&base, &now, Tolerance::default());
    assert_eq!(c.improved.len(), 1, "{c:?}");
    // Beyond 2 σ but within the tolerance is unchanged: the threshold still holds.
    let (base, now) = repeated(&[0.9999, 1.0, 1.0001], &[1.0099, 1.01, 1.0101]);
    let c = Comparison::of(&base, &now, Tolerance::default());
    assert_eq!((c.unchanged, c.noisy.len()), (1, 0), "{c:?}");
    assert!(!c.render().contains("noise"));
}

#[test]
fn a_spread_on_one_side_only_keeps_the_single_run_rule() {
    let (base, now) = repeated(&[0.95, 1.0, 1.05], &[1.0, 1.05, 1.1]);
    let mut old = base.clone();
    old.runs[0].repeats = None;
    let c = Comparison::of(&old, &now, Tolerance::default());
    assert_eq!(c.regressed.len(), 1, "{c:?}");
    assert_eq!(c.regressed[0].spread, None);
}
