//! `--handler exec:` with real processes failing on purpose: retries keep the per-account
//! order, each failure policy, timeouts, dead letters replayed with `run --input`. The HTTP
//! handler and what is refused are in `handler_io.rs`.

use crate::common::{self, eventbench};
use assert_cmd::Command;
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Appends `account,event` to `out.txt` beside it; fails (without appending) the first try of
/// every event whose id is a multiple of $FAIL_EVERY, and every try of account $FAIL_ACCOUNT.
const SCRIPT: &str = r#"#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = "${FAIL_ACCOUNT:-none}" ]; then echo "account $1 refused" >&2; exit 1; fi
if [ $(( $2 % ${FAIL_EVERY:-1000000007} )) -eq 0 ] && [ ! -e "$dir/tried.$2" ]; then
  : > "$dir/tried.$2"
  echo "first try of $2 fails" >&2
  exit 1
fi
echo "$1,$2" >> "$dir/out.txt"
"#;

struct Setup {
    dir: tempfile::TempDir,
    /// (event, account) in arrival order.
    events: Vec<(u64, u64)>,
}

impl Setup {
    fn new(n: usize, max_account: u64, seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let accounts = common::accounts(n, max_account, seed);
        common::write_events(&dir.path().join("events.csv"), &accounts, None);
        let script = dir.path().join("handler.sh");
        std::fs::write(&script, SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let events = (1..).zip(accounts).collect();
        Setup { dir, events }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn handler(&self) -> String {
        format!(
            "exec:{} {{account_id}} {{event_id}}",
            self.path("handler.sh").display()
        )
    }

    fn run(&self, extra: &[&str]) -> Command {
        let mut c = eventbench();
        c.current_dir(self.dir.path())
            .args([
                "run",
                "--quiet",
                "--input",
                "events.csv",
                "--json",
                "report.json",
            ])
            .args(["--handler", &self.handler()])
            .args(extra);
        c
    }

    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("report.json")).unwrap()).unwrap()
    }

    /// (account, event) lines the handler appended, in the order it appended them.
    fn processed(&self) -> Vec<(u64, u64)> {
        read_pairs(&self.path("out.txt"))
    }

    /// Each account's events in arrival order, leaving out `skip`.
    fn chains(&self, skip: &HashSet<u64>) -> BTreeMap<u64, Vec<u64>> {
        let mut m: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for &(e, a) in &self.events {
            if !skip.contains(&e) {
                m.entry(a).or_default().push(e);
            }
        }
        m
    }

    fn events_of(&self, account: u64) -> Vec<u64> {
        self.events
            .iter()
            .filter(|x| x.1 == account)
            .map(|x| x.0)
            .collect()
    }
}

fn read_pairs(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let (a, e) = l.split_once(',').unwrap();
            (a.parse().unwrap(), e.parse().unwrap())
        })
        .collect()
}

/// Each account's events in the order they were processed.
pub(crate) fn by_account(pairs: &[(u64, u64)]) -> BTreeMap<u64, Vec<u64>> {
    let mut m: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(a, e) in pairs {
        m.entry(a).or_default().push(e);
    }
    m
}

/// Dead-letter rows: (event, account, error).
pub(crate) fn dead_letters(path: &Path) -> Vec<(u64, u64, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["event_id", "account_id", "duration_us", "error"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].parse().unwrap(),
                rec[1].parse().unwrap(),
                rec[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn retried_events_stay_in_their_place_in_the_account_order() {
    // Both executors: pool with fewer lanes than accounts, and one lane per account.
    for (i, lanes) in [
        ["--workers", "3", "--strategy", "pool"],
        ["--workers", "auto", "--strategy", "optimal"],
    ]
    .iter()
    .enumerate()
    {
        let s = Setup::new(90, 8, 11 + i as u64);
        s.run(lanes)
            .args([
                "--retries",
                "2",
                "--retry-backoff",
                "1ms",
                "--log",
                "log.csv",
            ])
            .env("FAIL_EVERY", "4")
            .assert()
            .success();
        let processed = s.processed();
        assert_eq!(processed.len(), 90, "every event appended exactly once");
        assert_eq!(by_account(&processed), s.chains(&HashSet::new()));
        let r = s.report();
        let failing = s.events.iter().filter(|x| x.0 % 4 == 0).count() as u64;
        assert_eq!(r["retries"], failing);
        assert_eq!(r["handler_failures"], failing);
        assert_eq!(r["handler_calls"], 90 + failing);
        assert_eq!(r["given_up"], 0);
        assert_eq!(r["bound_basis"], "measured");
        assert_eq!(r["ordering_violations"], 0);
        assert_eq!(r["short_handlers"], 0);
        assert!(r["handler_us"]["p50"].as_u64().unwrap() > 0);
        let log = common::read_log(&s.path("log.csv"));
        let events: Vec<_> = s.events.iter().map(|&(e, a)| (e, a, 0)).collect();
        common::check_log(&events, &log, Some(if i == 0 { 3 } else { 8 }));
    }
}

#[test]
fn skip_dead_letters_every_failed_event_and_the_rest_run() {
    let s = Setup::new(80, 6, 5);
    let bad = 2;
    let out = s
        .run(&[
            "--workers",
            "2",
            "--dead-letter",
            "dead.csv",
            "--retries",
            "1",
        ])
        .args(["--retry-backoff", "1ms"])
        .env("FAIL_ACCOUNT", bad.to_string())
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("given up") && stderr.contains("dead.csv"),
        "{stderr}"
    );
    let bad_events = s.events_of(bad);
    let dead = dead_letters(&s.path("dead.csv"));
    assert_eq!(dead.iter().map(|d| d.0).collect::<Vec<_>>(), bad_events);
    assert!(dead
        .iter()
        .all(|d| d.1 == bad && d.2 == "exit status 1 (after 2 tries)"));
    let skip: HashSet<u64> = bad_events.iter().copied().collect();
    assert_eq!(by_account(&s.processed()), s.chains(&skip));
    let r = s.report();
    assert_eq!(r["given_up"], bad_events.len());
    assert_eq!(r["not_attempted"], 0);
    assert_eq!(r["unprocessed"], 0, "given-up events did run (and fail)");

    // Accepted failures exit 0; the dead letters replay through `run --input`.
    s.run(&["--workers", "2", "--allow-failures"])
        .env("FAIL_ACCOUNT", bad.to_string())
        .assert()
        .success();
    std::fs::remove_file(s.path("out.txt")).unwrap();
    eventbench()
        .current_dir(s.dir.path())
        .args(["run", "--quiet", "--input", "dead.csv", "--workers", "2"])
        .args(["--handler", &s.handler(), "--format", "json"])
        .assert()
        .success();
    assert_eq!(
        by_account(&s.processed()),
        BTreeMap::from([(bad, bad_events)])
    );
}

#[test]
fn stop_account_leaves_the_rest_of_that_account_unprocessed_and_listed() {
    let s = Setup::new(80, 6, 6);
    let bad = 4;
    s.run(&[
        "--workers",
        "3",
        "--on-failure",
        "stop-account",
        "--dead-letter",
        "dead.csv",
    ])
    .env("FAIL_ACCOUNT", bad.to_string())
    .assert()
    .code(1);
    let bad_events = s.events_of(bad);
    let dead = dead_letters(&s.path("dead.csv"));
    assert_eq!(dead.iter().map(|d| d.0).collect::<Vec<_>>(), bad_events);
    assert_eq!(dead[0].2, "exit status 1");
    let stopped = format!(
        "account {bad} was stopped after event {} failed",
        bad_events[0]
    );
    assert!(dead[1..].iter().all(|d| d.2.contains(&stopped)), "{dead:?}");
    let skip: HashSet<u64> = bad_events.iter().copied().collect();
    assert_eq!(by_account(&s.processed()), s.chains(&skip));
    let r = s.report();
    assert_eq!(r["given_up"], 1);
    assert_eq!(r["not_attempted"], bad_events.len() - 1);
    assert_eq!(r["unprocessed"], bad_events.len() - 1);
    assert_eq!(r["handler_calls"], 80 - (bad_events.len() - 1));
}

#[test]
fn abort_starts_nothing_more_and_lists_everything_not_done() {
    let s = Setup::new(120, 10, 7);
    let bad = 5;
    let out = s
        .run(&[
            "--workers",
            "2",
            "--on-failure",
            "abort",
            "--dead-letter",
            "dead.csv",
        ])
        .env("FAIL_ACCOUNT", bad.to_string())
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborting"));
    let processed: HashSet<u64> = s.processed().iter().map(|p| p.1).collect();
    let dead = dead_letters(&s.path("dead.csv"));
    let first_bad = s.events_of(bad)[0];
    assert_eq!(dead.iter().filter(|d| d.2 == "exit status 1").count(), 1);
    assert!(dead
        .iter()
        .any(|d| d.0 == first_bad && d.2 == "exit status 1"));
    // Every event is either processed or dead-lettered, never both, and nothing is lost.
    let listed: HashSet<u64> = dead.iter().map(|d| d.0).collect();
    assert!(processed.is_disjoint(&listed));
    assert_eq!(processed.len() + listed.len(), 120);
    assert!(!listed.is_empty() && dead.len() == listed.len());
    let r = s.report();
    assert_eq!(r["given_up"], 1);
    assert_eq!(r["interrupted"], false);
    assert_eq!(r["not_attempted"], dead.len() - 1);
    // The dead letters of an abort are a complete workload for the rest of the job.
    std::fs::remove_file(s.path("out.txt")).unwrap();
    eventbench()
        .current_dir(s.dir.path())
        .args([
            "run",
            "--quiet",
            "--input",
            "dead.csv",
            "--handler",
            &s.handler(),
        ])
        .assert()
        .success();
    let replayed: HashSet<u64> = s.processed().iter().map(|p| p.1).collect();
    assert_eq!(replayed, listed);
}

#[test]
fn a_call_past_the_timeout_is_killed_and_counts_as_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    common::write_events(&dir.path().join("events.csv"), &[1, 2, 1], None);
    eventbench()
        .current_dir(dir.path())
        .args([
            "run",
            "--quiet",
            "--input",
            "events.csv",
            "--json",
            "r.json",
        ])
        .args(["--handler", "exec:sleep 30", "--handler-timeout", "50ms"])
        .args(["--dead-letter", "dead.csv"])
        .assert()
        .code(1);
    let dead = dead_letters(&dir.path().join("dead.csv"));
    assert_eq!(dead.len(), 3);
    assert!(
        dead.iter()
            .all(|d| d.2 == "timed out after 50.000ms (killed)"),
        "{dead:?}"
    );
}
