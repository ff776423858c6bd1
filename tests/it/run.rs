//! `eventbench run` end to end: exact virtual-clock makespans, the report contract, logs that
//! pass an independent check, and clear failures for bad usage.

use crate::common::{self, eventbench};
use assert_cmd::prelude::OutputAssertExt;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn fixture(dir: &TempDir, accounts: &[u64]) -> std::path::PathBuf {
    let path = dir.path().join("events.csv");
    common::write_events(&path, accounts, None);
    path
}

fn json_report(args: &[&str]) -> Value {
    let out = eventbench()
        .args(args)
        .args(["--format", "json", "-q"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn builtin_workload_on_the_virtual_clock_meets_the_bound() {
    let dir = TempDir::new().unwrap();
    // Standard input /dev/null: nothing piped in, so the default applies.
    common::command()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual"])
        .assert()
        .success()
        .stdout(predicate::str::contains("built-in workload"))
        .stdout(predicate::str::contains("efficiency 100.00%"))
        .stdout(predicate::str::contains("ordering     ok"));
}

#[test]
fn report_has_every_contract_field() {
    let dir = TempDir::new().unwrap();
    let input = fixture(&dir, &common::accounts(300, 40, 1));
    let r = json_report(&[
        "run",
        "--clock",
        "virtual",
        "--input",
        input.to_str().unwrap(),
    ]);
    for field in [
        "eventbench_version",
        "events",
        "accounts",
        "strategy",
        "workers",
        "clock",
        "process_time_s",
        "longest_chain",
        "lower_bound_s",
        "wall_time_s",
        "efficiency",
        "throughput_eps",
        "ordering_violations",
        "latency_us",
        "overshoot_us",
    ] {
        assert!(r.get(field).is_some(), "missing {field}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(r["latency_us"][p].is_u64() && r["overshoot_us"][p].is_u64());
    }
    assert_eq!(r["events"], 300);
    assert_eq!(r["strategy"], "optimal");
    assert_eq!(r["wall_time_s"], r["lower_bound_s"]);
    assert_eq!(r["efficiency"], 1.0);
}

#[test]
fn virtual_makespans_are_exact_for_every_strategy() {
    let dir = TempDir::new().unwrap();
    let accounts = common::accounts(500, 60, 2);
    let input = fixture(&dir, &accounts);
    let input = input.to_str().unwrap();
    let longest = {
        let mut c = std::collections::HashMap::new();
        accounts
            .iter()
            .for_each(|a| *c.entry(*a).or_insert(0u64) += 1);
        *c.values().max().unwrap()
    };
    let auto = json_report(&[
        "run",
        "--clock",
        "virtual",
        "-i",
        input,
        "-s",
        "per-account",
    ]);
    assert_eq!(auto["wall_time_s"].as_f64().unwrap(), longest as f64);
    for w in [1u64, 7, 100] {
        let r = json_report(&[
            "run",
            "--clock",
            "virtual",
            "-i",
            input,
            "-w",
            &w.to_string(),
        ]);
        let bound = (longest as f64).max((500f64 / w as f64).ceil());
        assert_eq!(
            r["wall_time_s"].as_f64().unwrap(),
            bound,
            "optimal, {w} workers"
        );
        let mut shard = vec![0u64; w as usize];
        accounts.iter().for_each(|a| shard[(a % w) as usize] += 1);
        let r = json_report(&[
            "run",
            "--clock",
            "virtual",
            "-i",
            input,
            "-w",
            &w.to_string(),
            "-s",
            "sharded",
        ]);
        assert_eq!(
            r["wall_time_s"].as_f64().unwrap(),
            *shard.iter().max().unwrap() as f64
        );
    }
}

#[test]
fn log_passes_an_independent_check_on_both_clocks() {
    let dir = TempDir::new().unwrap();
    let accounts = common::accounts(200, 30, 3);
    let input = fixture(&dir, &accounts);
    let events: Vec<(u64, u64, u64)> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u64 + 1, *a, 2_000))
        .collect();
    // 8 workers: the shared-lock engine; auto: the lock-free one-lane-per-account executor.
    for (clock, workers) in [
        ("virtual", "8"),
        ("real", "8"),
        ("virtual", "auto"),
        ("real", "auto"),
    ] {
        let log = dir.path().join(format!("log-{clock}-{workers}.csv"));
        let json = dir.path().join(format!("report-{clock}-{workers}.json"));
        eventbench()
            .args(["run", "-q", "--clock", clock, "--process-time", "2ms"])
            .args(["--workers", workers, "--input", input.to_str().unwrap()])
            .args([
                "--log",
                log.to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
            ])
            .assert()
            .success();
        let limit = (workers == "8").then_some(8);
        let makespan = common::check_log(&events, &common::read_log(&log), limit);
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(report["clock"], clock);
        assert_eq!(
            report["wall_time_s"].as_f64().unwrap(),
            makespan as f64 / 1e6
        );
    }
}

#[test]
fn events_csv_in_the_working_folder_is_the_default_input() {
    let dir = TempDir::new().unwrap();
    fixture(&dir, &[1, 2, 1]);
    common::command()
        .current_dir(dir.path())
        .args(["run", "--clock", "virtual"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "input        events.csv: 3 events",
        ));
}

#[test]
fn bad_flags_exit_2_with_valid_values() {
    eventbench()
        .args(["run", "--workers", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least 1"));
    eventbench()
        .args(["run", "--strategy", "fastest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("optimal"));
    eventbench()
        .args([
            "run",
            "--strategy",
            "per-account",
            "--workers",
            "5",
            "--clock",
            "virtual",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("one lane per account"));
    eventbench()
        .args(["run", "--process-time", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid duration"));
}

#[test]
fn bad_input_writes_no_output_files() {
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(&input, "event_id,account_id\n1,2\nx,3\n").unwrap();
    let json = dir.path().join("r.json");
    let log = dir.path().join("l.csv");
    eventbench()
        .args([
            "run",
            "--clock",
            "virtual",
            "--input",
            input.to_str().unwrap(),
        ])
        .args([
            "--json",
            json.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.csv:3"));
    assert!(!json.exists() && !log.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "only the input remains");
}

#[test]
fn missing_output_folder_is_rejected_before_running() {
    eventbench()
        .args([
            "run",
            "--clock",
            "virtual",
            "--json",
            "/nonexistent-folder/r.json",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
}

#[test]
fn ctrl_c_stops_cleanly_with_a_partial_report() {
    let dir = TempDir::new().unwrap();
    let input = fixture(&dir, &[1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    let child = common::command()
        .args(["run", "-q", "--process-time", "1s", "--format", "json"])
        .args(["--input", input.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt while the first events run; the exact moment does not matter.
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill with a valid pid and signal number has no memory effects.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["ordering_violations"], 0);
    assert!(report["unprocessed"].as_u64().unwrap() > 0);
    // Measured against what it ran, never the whole workload's bound (that gave ~500%).
    let efficiency = report["efficiency"].as_f64().unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
}

#[test]
fn optimal_on_the_virtual_clock_keeps_the_shorter_order_for_unequal_durations() {
    // Most-work-first alone would finish at 9 µs; ready order meets the bound of 7 µs.
    let dir = TempDir::new().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &[3, 3, 4, 1], Some(&[2, 2, 5, 5]));
    let r = json_report(&[
        "run",
        "--clock",
        "virtual",
        "-w",
        "2",
        "-i",
        input.to_str().unwrap(),
    ]);
    assert_eq!(r["wall_time_s"].as_f64().unwrap(), 7e-6);
    assert_eq!(r["lower_bound_s"].as_f64().unwrap(), 7e-6);
}

#[test]
fn both_timers_run_short_events_to_their_full_length_and_report_cpu_time() {
    let dir = TempDir::new().unwrap();
    let accounts = common::accounts(300, 20, 5);
    // 0-300 µs: within the precise timer's lead, its in-place spin, and its kernel wait.
    let durations: Vec<u64> = (0..accounts.len() as u64).map(|i| i * 37 % 301).collect();
    let input = dir.path().join("short.csv");
    common::write_events(&input, &accounts, Some(&durations));
    let events: Vec<(u64, u64, u64)> = accounts
        .iter()
        .zip(&durations)
        .enumerate()
        .map(|(i, (a, d))| (i as u64 + 1, *a, *d))
        .collect();
    for (timer, workers) in [("precise", "auto"), ("precise", "4"), ("sleep", "4")] {
        let log = dir.path().join(format!("log-{timer}-{workers}.csv"));
        let report = json_report(&[
            "run",
            "--input",
            input.to_str().unwrap(),
            "--workers",
            workers,
            "--timer",
            timer,
            "--log",
            log.to_str().unwrap(),
        ]);
        let limit = (workers == "4").then_some(4);
        common::check_log(&events, &common::read_log(&log), limit);
        assert_eq!(report["timer"], timer);
        assert_eq!(report["short_handlers"], 0);
        assert!(report["cpu_time_s"].as_f64().unwrap() > 0.0, "{report}");
    }
    let virtual_run = json_report(&[
        "run",
        "--clock",
        "virtual",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(virtual_run.get("timer").is_none());
    assert!(virtual_run["cpu_time_s"].as_f64().is_some());
    eventbench()
        .args(["run", "--timer", "spin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("precise"));
}
