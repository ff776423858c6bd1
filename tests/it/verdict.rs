//! The verdict lines at the end of `compare` (issue 27 item 2): the fastest configuration,
//! then "X ran r ± σ times faster than Y" within each worker count, in the terminal and in
//! compare.md / compare.html. The virtual-clock sweep is exact, so its ratios are checked
//! against compare.json; the real-clock one only for the shape of its lines.

use crate::common::{self, eventbench};
use serde_json::Value;
use std::path::Path;

fn read_runs(dir: &Path) -> Vec<Value> {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    doc["runs"].as_array().unwrap().clone()
}

fn wall(runs: &[Value], strategy: &str, workers: &str) -> f64 {
    runs.iter()
        .find(|r| r["strategy"] == strategy && r["workers_requested"] == workers)
        .unwrap_or_else(|| panic!("no {strategy} {workers}"))["wall_time_s"]
        .as_f64()
        .unwrap()
}

/// The indented lines under `summary` on stdout (the `conclusion:` line follows them).
fn summary(stdout: &str) -> Vec<String> {
    let at = stdout
        .lines()
        .position(|l| l == "summary")
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    stdout
        .lines()
        .skip(at + 1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn virtual_clock_verdict_lines_hold_the_exact_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(120, 12, 4), None);
    let out = dir.path().join("out");
    let done = eventbench()
        .args(["compare", "-q", "-w", "3,auto", "-s", "sharded,optimal"])
        .arg("--input")
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&done.get_output().stdout).to_string();
    let runs = read_runs(&out);
    let lines = summary(&stdout);
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("fastest: "), "{stdout}");
    // Workers 3: optimal is the faster; no σ on the virtual clock.
    let r = wall(&runs, "sharded", "3") / wall(&runs, "optimal", "3");
    assert!(r > 1.0, "{stdout}");
    let want = format!("optimal (3 workers) ran {r:.2} times faster than sharded (3 workers)");
    assert_eq!(lines[1], want, "{stdout}");
    assert!(!stdout.contains('±'), "{stdout}");
    // The same lines in the exports.
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains(&format!("- {want}\n")), "{md}");
    assert!(md.contains(&format!("- {}\n", lines[0])), "{md}");
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains(&want), "the page's data holds the line");
}

#[test]
fn repeated_real_runs_give_a_ratio_with_sigma() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    common::write_events(&input, &common::accounts(60, 6, 4), None);
    let out = dir.path().join("out");
    let done = eventbench()
        .args(["compare", "-q", "--clock", "real", "--process-time", "2ms"])
        .args(["-w", "2", "-s", "sharded,optimal", "--runs", "3"])
        .arg("--input")
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&done.get_output().stdout).to_string();
    let lines = summary(&stdout);
    assert_eq!(lines.len(), 2, "{stdout}");
    // `fastest: <strategy> (2 workers), 0.123 s ± 0.004 s`; two means that read the same to
    // the millisecond are named together (`…, tied at 0.123 s (σ …)`): no faster one to check.
    let fastest = lines[0].strip_prefix("fastest: ").expect("fastest line");
    if fastest.contains(", tied at ") {
        return;
    }
    let (who, time) = fastest.split_once(" (2 workers), ").expect(&stdout);
    assert!(who == "sharded" || who == "optimal", "{stdout}");
    assert!(time.ends_with(" s") && time.contains(" s ± "), "{stdout}");
    // `<who> (2 workers) ran 1.23 ± 0.04 times faster than <other> (2 workers)`, or `as fast
    // as` never (the runs have a spread).
    let other = if who == "sharded" {
        "optimal"
    } else {
        "sharded"
    };
    let rest = lines[1]
        .strip_prefix(&format!("{who} (2 workers) ran "))
        .expect(&stdout);
    let numbers = rest
        .strip_suffix(&format!(" times faster than {other} (2 workers)"))
        .expect(&stdout);
    let (ratio, sigma) = numbers.split_once(" ± ").expect(&stdout);
    let ratio: f64 = ratio.parse().expect(&stdout);
    let _: f64 = sigma.parse().expect(&stdout);
    assert!(ratio >= 1.0, "{stdout}");
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains(&format!("- {}\n", lines[1])), "{md}");
}
