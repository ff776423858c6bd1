//! `eventbench compare` end to end: the sweep's files, the baseline gate, and bad input.
//! No test asserts a wall-clock time: every sweep here runs on the virtual clock.

use crate::common::eventbench;
use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use std::path::{Path, PathBuf};

/// A small fixed workload: 300 events over 30 accounts, uneven chains.
fn workload(dir: &Path) -> PathBuf {
    let path = dir.join("events.csv");
    let mut text = String::from("event_id,account_id\n");
    let mut x: u64 = 12345;
    for id in 1..=300u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push_str(&format!("{id},{}\n", (x >> 33) % 30 + 1));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// `compare` on `input` into `out`, with no sweep flags yet.
fn bare(input: &Path, out: &Path) -> Command {
    let mut cmd = eventbench();
    cmd.args(["compare", "-q", "--input"])
        .arg(input)
        .arg("--output-dir")
        .arg(out);
    cmd
}

/// The issue's sweep: 3 worker counts × 3 strategies.
fn compare(input: &Path, out: &Path) -> Command {
    let mut cmd = bare(input, out);
    cmd.args([
        "--workers",
        "10,100,auto",
        "--strategies",
        "sharded,pool,optimal",
    ]);
    cmd
}

fn runs(json: &Path) -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    doc["runs"].as_array().unwrap().clone()
}

#[test]
fn sweep_writes_every_export_with_nine_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let out = tmp.path().join("out");
    compare(&input, &out).assert().success().stdout(
        contains("efficiency")
            .and(contains("optimal"))
            .and(contains("[worst]")),
    );
    let runs = runs(&out.join("compare.json"));
    assert_eq!(runs.len(), 9);
    assert!(runs.iter().all(|r| r["ordering_violations"] == 0));
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 10);
    assert!(csv.starts_with("eventbench_version,"));
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 10);
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("lower bound"));
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("\"kind\":\"compare\""));
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(left.len(), 5, "no temporary files remain");
}

#[test]
fn baseline_gate_passes_on_itself_and_fails_on_a_faster_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let first = tmp.path().join("first");
    compare(&input, &first).assert().success();
    let baseline = first.join("compare.json");
    compare(&input, &tmp.path().join("again"))
        .arg("--baseline")
        .arg(&baseline)
        .args(["--max-regression", "2%"])
        .assert()
        .success()
        .stdout(contains("0 regressed"));

    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    for r in doc["runs"].as_array_mut().unwrap() {
        let wall = r["wall_time_s"].as_f64().unwrap();
        r["wall_time_s"] = (wall * 0.9).into();
        let eff = r["efficiency"].as_f64().unwrap();
        r["efficiency"] = (eff / 0.9).into();
    }
    let faster = tmp.path().join("faster.json");
    std::fs::write(&faster, serde_json::to_string(&doc).unwrap()).unwrap();
    compare(&input, &tmp.path().join("slow"))
        .arg("--baseline")
        .arg(&faster)
        .args(["--max-regression", "2%"])
        .assert()
        .code(1)
        .stdout(contains("9 regressed"))
        .stderr(contains("9 run(s) regressed").and(contains("pool, 100 workers, virtual clock")));
    compare(&input, &tmp.path().join("tolerant"))
        .arg("--baseline")
        .arg(&faster)
        .args(["--max-regression", "15%"])
        .assert()
        .success();
}

#[test]
fn efficiency_floor_fails_runs_below_it() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    // A fraction or a percentage, the same floor.
    for floor in ["1", "100%"] {
        compare(&input, &tmp.path().join("o"))
            .args(["--min-efficiency", floor])
            .assert()
            .code(1)
            .stderr(contains("efficiency below 100.00%").and(contains("sharded")));
    }
}

#[test]
fn both_flags_take_a_fraction_or_a_percentage() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let first = tmp.path().join("first");
    bare(&input, &first)
        .args(["-w", "10", "-s", "optimal"])
        .assert()
        .success();
    bare(&input, &tmp.path().join("again"))
        .args(["-w", "10", "-s", "optimal", "--min-efficiency", "50%"])
        .arg("--baseline")
        .arg(first.join("compare.json"))
        .args(["--max-regression", "0.02"])
        .assert()
        .success()
        .stdout(contains("within ±2%"));
}

#[test]
fn per_account_runs_once_and_json_goes_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let out = eventbench()
        .args(["compare", "-q", "--format", "json", "--input"])
        .arg(&input)
        .args(["--workers", "5,auto", "--strategies", "per-account,optimal"])
        .arg("--output-dir")
        .arg(tmp.path().join("o"))
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["strategy"], "per-account");
    assert_eq!(runs[0]["workers_requested"], "auto");
}

#[test]
fn bad_input_exits_2_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let not_compare = tmp.path().join("report.json");
    std::fs::write(
        &not_compare,
        r#"{"eventbench_version": "0.1.0", "events": 3}"#,
    )
    .unwrap();
    let not_json = tmp.path().join("garbage.json");
    std::fs::write(&not_json, "strategy,workers\n").unwrap();
    let missing = tmp.path().join("missing.csv");
    let cases: Vec<(Vec<&str>, Option<&Path>, &str)> = vec![
        (vec!["--workers", "0"], None, "at least 1"),
        (vec!["--workers", ""], None, "empty"),
        (vec!["--workers", "10,x"], None, "invalid workers"),
        (
            vec!["--strategies", "pool,fastest"],
            None,
            "per-account, sharded, pool, optimal",
        ),
        (vec!["--max-regression", "2"], None, "did you mean 2%?"),
        (vec!["--max-regression", "2%"], None, "--baseline"),
        (vec!["--min-efficiency", "2"], None, "invalid fraction"),
        (vec!["--min-efficiency", "90"], None, "did you mean 90%?"),
        (
            vec!["--baseline"],
            Some(&not_compare),
            "not a compare output",
        ),
        (vec!["--baseline"], Some(&not_json), "not JSON"),
        (vec!["--baseline"], Some(&missing), "cannot read"),
    ];
    for (i, (args, path, message)) in cases.into_iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut cmd = bare(&input, &out);
        cmd.args(&args);
        if let Some(p) = path {
            cmd.arg(p);
        }
        cmd.assert().code(2).stderr(contains(message));
        assert!(
            !out.exists(),
            "case {i} ({args:?}) created {}",
            out.display()
        );
    }
    let out = tmp.path().join("nofile");
    compare(&missing, &out).assert().code(2);
    assert!(!out.exists());
    let malformed = tmp.path().join("malformed.csv");
    std::fs::write(&malformed, "event_id,account_id\n1,x\n").unwrap();
    let out = tmp.path().join("malformed");
    compare(&malformed, &out)
        .assert()
        .code(2)
        .stderr(contains("malformed.csv:2"));
    assert!(!out.exists());
}

#[test]
fn default_output_is_a_new_dated_folder_under_results() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    for _ in 0..2 {
        eventbench()
            .current_dir(tmp.path())
            .args(["compare", "-q", "-w", "10", "-s", "pool", "--input"])
            .arg(&input)
            .assert()
            .success();
    }
    let mut dirs: Vec<String> = std::fs::read_dir(tmp.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2, "each sweep gets its own folder: {dirs:?}");
    let name = &dirs[0];
    // <YYYY-MM-DD>-compare-<HHMMSS>
    assert_eq!(name.len(), 25, "{name}");
    assert_eq!(&name[10..19], "-compare-", "{name}");
    assert!(tmp
        .path()
        .join("results")
        .join(name)
        .join("compare.svg")
        .is_file());
}

#[test]
fn a_baseline_that_matches_nothing_fails_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let first = tmp.path().join("first");
    compare(&input, &first).assert().success();
    // Another workload: the same sweep over the first 200 events only.
    let text = std::fs::read_to_string(&input).unwrap();
    let other = tmp.path().join("other.csv");
    let head: Vec<&str> = text.lines().take(201).collect();
    std::fs::write(&other, head.join("\n") + "\n").unwrap();
    for extra in [&[][..], &["--allow-missing"][..]] {
        compare(&other, &tmp.path().join("other-out"))
            .arg("--baseline")
            .arg(first.join("compare.json"))
            .args(extra)
            .assert()
            .code(1)
            .stdout(contains("nothing matched"))
            .stderr(
                contains("the baseline matched none of the 9 runs")
                    .and(contains("another input or --process-time")),
            );
    }
}

#[test]
fn runs_the_baseline_lacks_fail_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let input = workload(tmp.path());
    let first = tmp.path().join("first");
    bare(&input, &first)
        .args(["-w", "10", "-s", "pool"])
        .assert()
        .success();
    let baseline = first.join("compare.json");
    let wider = |out: &str| {
        let mut cmd = bare(&input, &tmp.path().join(out));
        cmd.args(["-w", "10,20", "-s", "pool", "--baseline"])
            .arg(&baseline);
        cmd
    };
    wider("strict")
        .assert()
        .code(1)
        .stdout(contains("no match   pool, 20 workers, virtual clock"))
        .stderr(
            contains("1 of 2 runs have no match in the baseline")
                .and(contains("pool, 20 workers, virtual clock"))
                .and(contains("--allow-missing")),
        );
    wider("allowed")
        .arg("--allow-missing")
        .assert()
        .success()
        .stdout(contains("1 within"));
}
