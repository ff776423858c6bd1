//! `--fault`: the report's bystander count against one made from the processed logs of a
//! faulted and a fault-free run, the 10k/1k case of issue 26, the failure policies of a
//! `fail:` fault, and the usage errors.

use crate::common::{self, eventbench};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Each account's last end in a processed log.
fn last_ends(log: &Path) -> HashMap<u64, u64> {
    let mut last = HashMap::new();
    for r in common::read_log(log) {
        let e = last.entry(r.account).or_insert(0);
        *e = (*e).max(r.end);
    }
    last
}

/// Runs `run --clock virtual` (or `clock`) with `extra` flags; returns the JSON report.
fn run(dir: &Path, name: &str, input: &Path, clock: &str, extra: &[&str]) -> Value {
    let log = dir.join(format!("{name}.log.csv"));
    let json = dir.join(format!("{name}.json"));
    let mut cmd = eventbench();
    cmd.args(["run", "-q", "--clock", clock, "--format", "json"])
        .arg("--input")
        .arg(input)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&json)
        .args(extra);
    cmd.assert().success();
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// Bystanders delayed, counted from the two logs alone: accounts without a fault whose last
/// event ended later by more than half the mean event time `unit_us` (or never ended).
fn delayed_from_logs(faulted: &Path, reference: &Path, faulty: &[u64], unit_us: u64) -> u64 {
    let (after, before) = (last_ends(faulted), last_ends(reference));
    before
        .iter()
        .filter(|(a, _)| !faulty.contains(a))
        .filter(|(a, &end)| match after.get(a) {
            Some(&late) => late.saturating_sub(end) * 2 > unit_us,
            None => true,
        })
        .count() as u64
}

#[test]
fn bystanders_delayed_equals_the_count_from_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let uniform = dir.path().join("uniform.csv");
    common::write_events(&uniform, &common::accounts(600, 60, 7), None);
    // Per-event durations, and a skew: account 1 has a third of the events.
    let skewed = dir.path().join("skewed.csv");
    let accounts: Vec<u64> = common::accounts(400, 40, 11)
        .into_iter()
        .enumerate()
        .map(|(i, a)| if i % 3 == 0 { 1 } else { a })
        .collect();
    let durations: Vec<u64> = (0..400).map(|i| 2_000 + (i * 7_919) % 9_000).collect();
    common::write_events(&skewed, &accounts, Some(&durations));
    let skewed_unit = durations.iter().sum::<u64>() / 400;
    let cases: &[(&Path, u64, &str, &[&str], &str)] = &[
        (
            &uniform,
            10_000,
            "slow:7:10",
            &["-s", "sharded", "-w", "8"],
            "virtual",
        ),
        (
            &uniform,
            10_000,
            "stall:3:1s",
            &["-s", "pool", "-w", "8"],
            "virtual",
        ),
        (
            &uniform,
            10_000,
            "slow:7:10",
            &["-s", "optimal", "-w", "8"],
            "virtual",
        ),
        (
            &uniform,
            10_000,
            "slow:7:10",
            &["-s", "per-account"],
            "virtual",
        ),
        (
            &skewed,
            skewed_unit,
            "slow:1:5",
            &["-s", "sharded", "-w", "6"],
            "virtual",
        ),
        (
            &skewed,
            skewed_unit,
            "fail:1",
            &["-s", "optimal", "-w", "6"],
            "virtual",
        ),
        (
            &uniform,
            1_000,
            "slow:7:10",
            &["-s", "sharded", "-w", "8"],
            "real",
        ),
    ];
    for (i, &(input, unit, fault, plan, clock)) in cases.iter().enumerate() {
        let time = format!("{unit}us");
        let mut flags = plan.to_vec();
        flags.extend(["--process-time", &time]);
        let reference = run(dir.path(), &format!("ref{i}"), input, "virtual", &flags);
        assert!(reference.get("bystanders_delayed").is_none());
        let mut faulted_flags = flags.clone();
        faulted_flags.extend(["--fault", fault, "--allow-failures"]);
        if !fault.starts_with("fail:") {
            faulted_flags.pop();
        }
        let report = run(dir.path(), &format!("f{i}"), input, clock, &faulted_flags);
        let account: u64 = fault.split(':').nth(1).unwrap().parse().unwrap();
        let counted = delayed_from_logs(
            &dir.path().join(format!("f{i}.log.csv")),
            &dir.path().join(format!("ref{i}.log.csv")),
            &[account],
            unit,
        );
        assert_eq!(
            report["bystanders_delayed"], counted,
            "case {i}: {fault} {plan:?} on the {clock} clock"
        );
        assert_eq!(report["faulted_accounts"], 1, "case {i}");
        let label = report["faults"][0].as_str().unwrap();
        assert!(label.starts_with(&fault[..6]), "case {i}: {label}");
    }
}

/// The built-in workload (10,000 events over 1,000 accounts, 1 s each), its busiest account
/// slowed 20×: one lane per account delays no one; sharded delays exactly the accounts of
/// its shard; optimal delays none of them by more than a few events.
#[test]
fn the_busiest_account_slowed_twenty_times() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("w.csv");
    eventbench()
        .args(["generate", "-q", "--seed", "7", "--output"])
        .arg(&input)
        .assert()
        .success();
    let text = std::fs::read_to_string(&input).unwrap();
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for line in text.lines().skip(1) {
        let account: u64 = line.split(',').nth(1).unwrap().parse().unwrap();
        *counts.entry(account).or_default() += 1;
    }
    let busiest = *counts
        .iter()
        .max_by_key(|(a, n)| (**n, std::cmp::Reverse(**a)))
        .unwrap()
        .0;
    let fault = format!("slow:{busiest}:20");
    let report = |plan: &[&str]| {
        let mut flags = plan.to_vec();
        flags.extend(["--fault", &fault]);
        let out = eventbench()
            .args([
                "run", "-q", "--clock", "virtual", "--format", "json", "--input",
            ])
            .arg(&input)
            .args(&flags)
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let own = report(&["-s", "per-account"]);
    assert_eq!(own["bystanders"], 999);
    assert_eq!(own["bystanders_delayed"], 0);
    assert_eq!(own["blocked_s"], 0.0);
    let sharded = report(&["-s", "sharded", "-w", "100"]);
    let shard_mates = counts
        .keys()
        .filter(|&&a| a != busiest && a % 100 == busiest % 100)
        .count();
    assert!(shard_mates > 0);
    assert_eq!(sharded["bystanders_delayed"], shard_mates as u64);
    let optimal = report(&["-s", "optimal", "-w", "100"]);
    // Optimal gives the slow account one lane and spreads the rest over 99: many accounts
    // end a second or so later (the lane it lost), none by minutes as sharded's shard-mates.
    let max = |r: &Value| r["bystander_delay_s"]["max"].as_f64().unwrap();
    assert!(max(&optimal) * 50.0 < max(&sharded), "{optimal} {sharded}");
    assert!(optimal["blocked_s"].as_f64().unwrap() * 10.0 < sharded["blocked_s"].as_f64().unwrap());
}

/// A `fail:` fault with each failure policy, as the handler docs say: skip dead-letters each
/// failed event and goes on; stop-account passes the account's later events over; abort
/// starts nothing more and dead-letters everything not started.
#[test]
fn fail_with_each_on_failure_policy() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.csv");
    let accounts: Vec<u64> = (0..40).map(|i| i % 4 + 1).collect();
    common::write_events(&input, &accounts, None);
    let go = |policy: &str, allow: bool| {
        let dead = dir.path().join(format!("dead-{policy}.csv"));
        let mut cmd = eventbench();
        cmd.args([
            "run", "-q", "--clock", "virtual", "--format", "json", "-w", "2",
        ])
        .args([
            "--process-time",
            "10ms",
            "--fault",
            "fail:2",
            "--retries",
            "2",
        ])
        .args(["--on-failure", policy, "--input"])
        .arg(&input)
        .arg("--dead-letter")
        .arg(&dead);
        if allow {
            cmd.arg("--allow-failures");
        }
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = std::fs::read_to_string(&dead).unwrap();
        (out.status.code(), report, rows)
    };
    let (code, r, rows) = go("skip", false);
    assert_eq!(code, Some(1), "given-up events fail the run");
    assert_eq!(
        (r["given_up"].as_u64(), r["not_attempted"].as_u64()),
        (Some(10), Some(0))
    );
    assert_eq!(r["handler_failures"], 30);
    assert_eq!(r["retries"], 20);
    assert_eq!(r["unprocessed"], 0);
    assert_eq!(rows.lines().count(), 11);
    assert!(rows.contains("2,2,10000,injected fault: account 2 fails (after 3 tries)"));
    let (code, r, rows) = go("stop-account", true);
    assert_eq!(code, Some(0), "--allow-failures");
    assert_eq!(
        (r["given_up"].as_u64(), r["not_attempted"].as_u64()),
        (Some(1), Some(9))
    );
    assert_eq!(r["unprocessed"], 9);
    assert!(rows.contains("6,2,10000,not attempted: account 2 was stopped after event 2 failed"));
    let (code, r, rows) = go("abort", false);
    assert_eq!(code, Some(1));
    assert_eq!(r["given_up"], 1);
    // The failing event takes 3 tries and 2 waits (255 ms); the other lane ran 10 ms events
    // meanwhile, and nothing started after it gave up.
    let not = r["not_attempted"].as_u64().unwrap();
    assert_eq!(not, 13, "{r}");
    assert_eq!(r["wall_time_s"], 0.26);
    assert_eq!(r["unprocessed"], not);
    assert!(rows.contains("not started: the run was aborted after event 2 failed"));
    // The same on the real clock: the run stops when the failing event gives up.
    let out = eventbench()
        .args([
            "run", "-q", "--clock", "real", "--format", "json", "-w", "2",
        ])
        .args([
            "--process-time",
            "2ms",
            "--fault",
            "fail:2",
            "--retries",
            "1",
        ])
        .args(["--retry-backoff", "2ms", "--on-failure", "abort", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let real: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(real["given_up"], 1);
    assert!(real["not_attempted"].as_u64().unwrap() > 20, "{real}");
    assert_eq!(real["interrupted"], false);
}

#[test]
fn bad_faults_exit_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.csv");
    common::write_events(&input, &[1, 2, 1], None);
    for (flags, says) in [
        (&["--fault", "slow:1"][..], "expected slow:ACCOUNT:FACTOR"),
        (&["--fault", "slow:1:0.5"][..], "invalid factor"),
        (&["--fault", "stall:1:never"][..], "invalid duration"),
        (&["--fault", "fail:99"][..], "account 99 has no events"),
        (
            &["--fault", "slow:1:2", "--fault", "slow:1:3"][..],
            "slow twice",
        ),
        (
            &["--retries", "2"][..],
            "--retries applies to exec: and http:",
        ),
        (
            &["--fault", "slow:1:2", "--retries", "2"][..],
            "--retries applies",
        ),
        (
            &["--fault", "fail:1", "--handler-timeout", "1s"][..],
            "--handler-timeout",
        ),
        (
            &["--fault", "slow:1:2", "--ingest", "http"][..],
            "does not apply with --ingest",
        ),
    ] {
        let out = eventbench()
            .args(["run", "-q", "--input"])
            .arg(&input)
            .args(flags)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

#[test]
fn compare_puts_the_bystander_columns_in_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("e.csv");
    common::write_events(&input, &common::accounts(300, 30, 5), None);
    let out = dir.path().join("out");
    let printed = eventbench()
        .args(["compare", "-q", "-w", "3,10", "-s"])
        .args([
            "sharded,optimal,per-account",
            "--fault",
            "slow:5:10",
            "--input",
        ])
        .arg(&input)
        .arg("--output-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(printed.status.success());
    let table = String::from_utf8_lossy(&printed.stdout);
    assert!(table.contains("blast radius of slow:5:10"), "{table}");
    assert!(table.contains("  per-account (auto workers): 1 slow account delayed 0 of 29"));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r["bystanders_delayed"].is_u64()));
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with(",bystander_delay_max_s,blocked_s"));
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("**Blast radius** of `slow:5:10`"), "{md}");
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(html.contains("Accounts delayed vs workers"));
    assert!(html.contains("sharded (3 workers): 1 slow account delayed"));
}
