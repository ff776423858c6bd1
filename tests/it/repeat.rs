//! `--runs N --warmup N` on `run` and `compare`: every measured wall time and its spread in
//! the report, efficiency from the mean, and a refusal on the virtual clock. The assertions
//! relate the reported figures to each other, never to a wall-clock value.

use crate::common::{self, eventbench};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn events(dir: &Path) -> PathBuf {
    let path = dir.join("events.csv");
    common::write_events(&path, &common::accounts(120, 12, 4), None);
    path
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The spread fields of one report agree with its `wall_times_s`.
fn assert_spread(r: &Value, runs: usize, warmup: u64) {
    let walls: Vec<f64> = r["wall_times_s"]
        .as_array()
        .unwrap_or_else(|| panic!("no wall_times_s: {r}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(walls.len(), runs, "{r}");
    assert_eq!(r["warmup_runs"], warmup);
    let n = walls.len() as f64;
    let mean = walls.iter().sum::<f64>() / n;
    let sd = (walls.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(r["wall_time_mean_s"].as_f64().unwrap(), mean), "{r}");
    assert!(close(r["wall_time_s"].as_f64().unwrap(), mean), "{r}");
    assert!(close(r["wall_time_stddev_s"].as_f64().unwrap(), sd), "{r}");
    let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let max = walls.iter().copied().fold(0.0, f64::max);
    assert_eq!(r["wall_time_min_s"].as_f64().unwrap(), min);
    assert_eq!(r["wall_time_max_s"].as_f64().unwrap(), max);
    // The sleep handler's bound is the same in every run: efficiency is bound / mean.
    let bound = r["lower_bound_s"].as_f64().unwrap();
    assert!(
        close(r["efficiency"].as_f64().unwrap(), bound / mean),
        "{r}"
    );
    let (lo, hi) = (
        r["efficiency_min"].as_f64().unwrap(),
        r["efficiency_max"].as_f64().unwrap(),
    );
    assert!(close(lo, bound / max) && close(hi, bound / min), "{r}");
    assert_eq!(r["ordering_violations"], 0);
}

#[test]
fn run_measures_each_run_and_reports_the_spread() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let json = dir.path().join("r.json");
    let out = eventbench()
        .args([
            "run",
            "--process-time",
            "1ms",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--input",
        ])
        .arg(&input)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let r = read(&json);
    assert_spread(&r, 3, 1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("warmup 1/1") && stderr.contains("measured run 3/3"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("(mean of 3 runs after 1 warmup"),
        "{stdout}"
    );
    // One run, as before: none of the new fields.
    let once = dir.path().join("once.json");
    eventbench()
        .args(["run", "-q", "--process-time", "1ms", "--input"])
        .arg(&input)
        .arg("--json")
        .arg(&once)
        .assert()
        .success();
    assert!(read(&once).get("wall_times_s").is_none());
}

#[test]
fn compare_repeats_every_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let out_dir = dir.path().join("cmp");
    let out = eventbench()
        .args(["compare", "-q", "--clock", "real", "--process-time", "1ms"])
        .args([
            "-w", "4,auto", "-s", "optimal", "--runs", "2", "--warmup", "1",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--output-dir")
        .arg(&out_dir)
        .assert()
        .success();
    let doc = read(&out_dir.join("compare.json"));
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_spread(r, 2, 1);
    }
    let table = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(table.contains(" s ± "), "{table}");
}

#[test]
fn repeats_are_refused_where_they_mean_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let input = input.to_str().unwrap();
    let virtual_clock = "on the virtual clock a run is exact";
    for args in [
        vec!["run", "--clock", "virtual", "--runs", "3"],
        vec!["run", "--clock", "virtual", "--warmup", "1"],
        vec!["compare", "--runs", "2"],
    ] {
        eventbench()
            .args(&args)
            .args(["--input", input])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(virtual_clock));
    }
    eventbench()
        .args([
            "run",
            "--runs",
            "2",
            "--dashboard",
            "127.0.0.1:0",
            "--input",
            input,
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--dashboard watches one run"));
    eventbench()
        .args(["run", "--runs", "0", "--input", input])
        .assert()
        .code(2);
}

/// A handler that sleeps a second only the first time it is ever called makes the first
/// measured run slow whatever the machine's load: the warning names it.
#[test]
fn a_slow_first_run_is_named_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(8, 2, 4), None);
    let marker = dir.path().join("warm");
    let handler = format!(
        "exec:sh -c 'test -e {m} || {{ touch {m}; sleep 1; }}'",
        m = marker.display()
    );
    let out = eventbench()
        .args(["run", "-q", "--clock", "real", "--runs", "3", "--handler"])
        .arg(&handler)
        .arg("--input")
        .arg(&input)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("warning: run 1 of "))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(
        line.contains("× the median of the others") && line.ends_with("a cold cache; try --warmup"),
        "{line}"
    );
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
}
