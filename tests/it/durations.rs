//! Per-event processing times (`duration_us`) end to end: generated workloads whose logs pass the
//! independent checker for every strategy, the generalised lower bound, clear exit-2 errors for
//! bad durations, and `compare` reports that say the durations were per event.
//! Every run here is on the virtual clock; no test asserts a wall-clock time.

use crate::common::{self, eventbench};
use assert_cmd::prelude::OutputAssertExt;
use predicates::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `generate --duration uniform:0ms..5ms --seed 1` (10,000 events over 1,000 accounts) into `dir`.
fn generated(dir: &Path) -> PathBuf {
    let path = dir.join("events.csv");
    eventbench()
        .args([
            "generate",
            "-q",
            "--duration",
            "uniform:0ms..5ms",
            "--seed",
            "1",
        ])
        .arg("--output")
        .arg(&path)
        .assert()
        .success();
    path
}

/// The events of a CSV with a `duration_us` column, as (event_id, account_id, duration_us).
fn read_events(path: &Path) -> Vec<(u64, u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("event_id,account_id,duration_us"));
    lines
        .map(|l| {
            let f: Vec<u64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

/// The lower bound computed here from the events: max(heaviest account, ceil(Σd / W)).
fn bound_us(events: &[(u64, u64, u64)], lanes: Option<u64>) -> u64 {
    let mut per_account: HashMap<u64, u64> = HashMap::new();
    for &(_, a, d) in events {
        *per_account.entry(a).or_default() += d;
    }
    let heaviest = per_account.values().copied().max().unwrap_or(0);
    let total: u64 = events.iter().map(|e| e.2).sum();
    lanes.map_or(heaviest, |w| heaviest.max(total.div_ceil(w)))
}

/// Runs `run --clock virtual` with a log and a JSON report; returns (log rows, report).
fn run_logged(
    dir: &Path,
    input: &Path,
    strategy: &str,
    workers: &str,
) -> (Vec<common::Row>, Value) {
    let log = dir.join(format!("log-{strategy}-{workers}.csv"));
    let json = dir.join(format!("report-{strategy}-{workers}.json"));
    eventbench()
        .args(["run", "-q", "--clock", "virtual", "--strategy", strategy])
        .args(["--workers", workers, "--input"])
        .arg(input)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (common::read_log(&log), report)
}

#[test]
fn generated_durations_pass_the_log_checker_for_every_strategy_and_worker_count() {
    let dir = TempDir::new().unwrap();
    let input = generated(dir.path());
    let events = read_events(&input);
    assert_eq!(events.len(), 10_000);
    assert!(events.iter().all(|e| e.2 <= 5_000));
    assert!(
        events.iter().any(|e| e.2 != events[0].2),
        "durations must actually differ"
    );
    let mut runs = vec![("per-account", "auto".to_owned(), None)];
    for strategy in ["sharded", "pool", "optimal"] {
        for w in [1u64, 7, 100] {
            runs.push((strategy, w.to_string(), Some(w)));
        }
    }
    for (strategy, workers, lanes) in runs {
        let (log, report) = run_logged(dir.path(), &input, strategy, &workers);
        let makespan = common::check_log(&events, &log, lanes);
        let what = format!("{strategy} with {workers} workers");
        assert_eq!(report["per_event_durations"], true, "{what}");
        assert_eq!(report["ordering_violations"], 0, "{what}");
        assert_eq!(
            report["wall_time_s"].as_f64().unwrap(),
            makespan as f64 / 1e6,
            "{what}"
        );
        let bound = bound_us(&events, lanes);
        assert_eq!(
            report["lower_bound_s"].as_f64().unwrap(),
            bound as f64 / 1e6,
            "{what}"
        );
        assert!(makespan >= bound, "{what} beat the lower bound");
        // On the virtual clock each handler takes exactly its own duration.
        let by_id: HashMap<u64, u64> = events.iter().map(|e| (e.0, e.2)).collect();
        for r in &log {
            assert_eq!(
                r.end - r.start,
                by_id[&r.event],
                "{what}: event {}",
                r.event
            );
        }
    }
}

#[test]
fn optimal_meets_the_bound_when_the_column_holds_equal_durations() {
    // Durations given per event but all equal: the equal-duration guarantee still applies.
    let dir = TempDir::new().unwrap();
    let accounts = common::accounts(400, 50, 9);
    let input = dir.path().join("equal.csv");
    common::write_events(&input, &accounts, Some(&vec![3_000; accounts.len()]));
    for w in ["1", "7", "100"] {
        let (_, report) = run_logged(dir.path(), &input, "optimal", w);
        assert_eq!(
            report["wall_time_s"], report["lower_bound_s"],
            "{w} workers"
        );
        assert_eq!(report["per_event_durations"], true);
    }
}

/// An events CSV with the given data rows after a `duration_us` header.
fn bad_input(dir: &Path, name: &str, rows: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("event_id,account_id,duration_us\n1,1,5\n{rows}\n"),
    )
    .unwrap();
    path
}

#[test]
fn bad_duration_values_exit_2_naming_file_line_and_problem() {
    let dir = TempDir::new().unwrap();
    let cases = [
        ("negative.csv", "2,1,-3", "duration_us \"-3\" is negative"),
        (
            "fraction.csv",
            "2,1,1.5",
            "duration_us \"1.5\" is not an unsigned integer (whole microseconds)",
        ),
        (
            "unit.csv",
            "2,1,5ms",
            "duration_us \"5ms\" is not an unsigned integer",
        ),
        (
            "overflow.csv",
            "2,1,18446744073709551616",
            "duration_us \"18446744073709551616\" is too large",
        ),
        ("empty.csv", "2,1,", "duration_us is empty"),
    ];
    for (name, row, message) in cases {
        let input = bad_input(dir.path(), name, row);
        let json = dir.path().join(format!("{name}.json"));
        for command in ["run", "compare"] {
            let mut cmd = eventbench();
            cmd.args([command, "-q", "--input"]).arg(&input);
            if command == "run" {
                cmd.args(["--clock", "virtual", "--json"]).arg(&json);
            } else {
                cmd.arg("--output-dir").arg(dir.path().join("cmp"));
            }
            cmd.assert()
                .code(2)
                .stderr(predicate::str::contains(format!("{name}:3: {message}")));
        }
        assert!(!json.exists(), "{name}: no report for bad input");
        assert!(!dir.path().join("cmp").exists(), "{name}: no sweep files");
    }
}

#[test]
fn durations_whose_sum_overflows_are_rejected_as_bad_input() {
    let dir = TempDir::new().unwrap();
    let input = bad_input(dir.path(), "sum.csv", "2,1,18446744073709551615");
    eventbench()
        .args(["run", "-q", "--clock", "virtual", "--input"])
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "sum.csv:3: duration_us 18446744073709551615",
        ));
    // The built-in workload: standard input /dev/null (assert_cmd's is an empty pipe, which
    // a command without --input refuses).
    common::command()
        .args([
            "run",
            "-q",
            "--clock",
            "virtual",
            "--process-time",
            "500000000y",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("more than 2^64"));
}

#[test]
fn malformed_duration_distributions_exit_2_and_write_nothing() {
    let dir = TempDir::new().unwrap();
    let cases = [
        (
            "uniform:5ms..1ms",
            "the lower bound is above the upper bound",
        ),
        ("exp:-1ms", "invalid duration '-1ms'"),
        ("gauss:1ms", "unknown duration distribution 'gauss:1ms'"),
        ("uniform:1ms", "two bounds separated by '..'"),
        ("exp", "'exp' has no ':'"),
        ("uniform:0ms..soon", "invalid duration 'soon'"),
    ];
    let out = dir.path().join("events.csv");
    for (dist, message) in cases {
        eventbench()
            .args([
                "generate",
                "-q",
                "--seed",
                "1",
                "--duration",
                dist,
                "--output",
            ])
            .arg(&out)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(message)
                    .and(predicate::str::contains("expected uniform:LO..HI")),
            );
        assert!(!out.exists(), "{dist}: no file written");
    }
}

#[test]
fn compare_with_durations_writes_its_files_and_flags_per_event_durations() {
    let dir = TempDir::new().unwrap();
    let input = generated(dir.path());
    let events = read_events(&input);
    let out = dir.path().join("sweep");
    eventbench()
        .args(["compare", "-q", "--input"])
        .arg(&input)
        .args([
            "--workers",
            "7,100,auto",
            "--strategies",
            "sharded,pool,optimal",
        ])
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .success();
    for file in ["compare.json", "compare.csv", "compare.md", "compare.svg"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let sweep: Value =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    let runs = sweep["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 9);
    for r in runs {
        assert_eq!(r["per_event_durations"], true);
        assert_eq!(r["clock"], "virtual");
        assert_eq!(r["ordering_violations"], 0);
        let lanes = r["workers"].as_u64().unwrap();
        assert_eq!(
            r["lower_bound_s"].as_f64().unwrap(),
            bound_us(&events, Some(lanes)) as f64 / 1e6
        );
    }
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "per_event_durations")
        .unwrap();
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.split(',').nth(col) == Some("true")));
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("per-event durations (mean"), "{md}");
}
