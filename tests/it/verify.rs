//! `verify` judging systems that are not eventbench: two small Python systems (one correct,
//! one with the classic global-pool bug) driven by `send` over real HTTP, and hand-made logs
//! with lost, duplicated, reordered and unmatched lines.

use crate::common;
use assert_cmd::Command;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TEXT_PATTERN: &str = r"\[(?P<start>.+?) \.\. (?P<end>.+?)\] Executed event (?P<event_id>\d+) for account (?P<account_id>\d+)";
const TEXT_TIMES: &str = "%d.%m.%Y %H:%M:%S%.f %z";

/// The shared binary helper, quiet: stderr then holds only errors.
fn eventbench() -> Command {
    let mut c = common::eventbench();
    c.arg("--quiet");
    c
}

/// A hand-made case: events of `accounts` (ids 1, 2, …) and a log file `name` holding `text`.
struct Case {
    _dir: tempfile::TempDir,
    events: PathBuf,
    log: PathBuf,
}

impl Case {
    fn new(accounts: &[u64], name: &str, text: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.csv");
        common::write_events(&events, accounts, None);
        let log = dir.path().join(name);
        std::fs::write(&log, text).unwrap();
        Case {
            _dir: dir,
            events,
            log,
        }
    }

    /// `verify --events … --log …` with `extra` flags.
    fn verify(&self, extra: &[&str]) -> Command {
        let mut c = eventbench();
        c.args(["verify", "--events"])
            .arg(&self.events)
            .arg("--log")
            .arg(&self.log)
            .args(extra);
        c
    }
}

fn stdout(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A Python system on port 0; its port is read from its first line of output.
struct System {
    child: Child,
    port: u16,
}

impl System {
    /// Starts `script` with four workers of 10 ms each, logging to `log`, expecting `events`.
    fn start(script: &str, log: &Path, events: u64, extra: &[&str]) -> System {
        let mut child = std::process::Command::new("python3")
            .arg(fixture(script))
            .arg("--log")
            .arg(log)
            .args(["--workers", "4", "--process-ms", "10", "--expect"])
            .arg(events.to_string())
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for these tests (.ci installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"));
        System { child, port }
    }

    /// Waits until the system has processed everything and exited by itself. The limit only
    /// keeps a broken fixture from hanging the suite; nothing is measured by it.
    fn wait(mut self) {
        let limit = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the system failed: {status}");
                return;
            }
            if Instant::now() > limit {
                let _ = self.child.kill();
                panic!("the system did not finish its events");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn generate(dir: &Path, events: u64, accounts: u64) -> PathBuf {
    let path = dir.join("events.csv");
    eventbench()
        .args(["generate", "--seed", "11", "--events", &events.to_string()])
        .args(["--max-account-id", &accounts.to_string(), "--output"])
        .arg(&path)
        .assert()
        .success();
    path
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

#[test]
fn a_correct_system_passes_with_its_efficiency() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 240, 12);
    let log = dir.path().join("app.log");
    let sent = dir.path().join("sent.csv");
    let system = System::start("ordered_system.py", &log, 240, &["--token", "s3cret"]);
    let url = format!("http://127.0.0.1:{}/events", system.port);
    eventbench()
        .args([
            "send",
            "--url",
            &url,
            "--body",
            "form",
            "-H",
            "X-Token: s3cret",
        ])
        .args(["--rate", "2000", "--input"])
        .arg(&events)
        .arg("--sent")
        .arg(&sent)
        .assert()
        .success();
    system.wait();
    let sent_rows = std::fs::read_to_string(&sent).unwrap();
    assert_eq!(sent_rows.lines().count(), 241, "one row per event");
    assert!(sent_rows.lines().skip(1).all(|l| l.ends_with(",202")));

    let out = eventbench()
        .args(["verify", "--events"])
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .args(["--log-pattern", TEXT_PATTERN, "--time-format", TEXT_TIMES])
        .arg("--sent")
        .arg(&sent)
        .args([
            "--process-time",
            "10ms",
            "--workers",
            "4",
            "--format",
            "json",
        ])
        .assert()
        .success();
    let r = json(&out.get_output().stdout);
    assert_eq!(r["strategy"], "external");
    assert_eq!(r["events"], 240);
    assert_eq!(
        (r["lost"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["time_resolution_us"], 1000);
    assert_eq!(r["max_in_flight"].as_u64().map(|m| m <= 4), Some(true));
    // The log's own noise lines are counted, not silently skipped.
    assert!(r["unmatched_lines"].as_u64().unwrap() >= 1);
    // No schedule beats the bound: the measured wall time, widened by its uncertainty, is
    // at least the bound, and the efficiency is bound / wall.
    let (wall, bound) = (
        r["wall_time_s"].as_f64().unwrap(),
        r["lower_bound_s"].as_f64().unwrap(),
    );
    assert!(wall + r["wall_time_uncertainty_s"].as_f64().unwrap() >= bound);
    // With --sent the bound knows when each event was accepted (docs/REPORT.md).
    assert_eq!(r["timing_basis"], "arrivals");
    assert!((r["efficiency"].as_f64().unwrap() - bound / wall).abs() < 1e-9);
    assert!(
        r["latency_us"]["max"].as_u64().unwrap() > 0,
        "latency from acceptance"
    );
}

#[test]
fn a_global_pool_without_account_locks_fails_naming_violations() {
    let dir = tempfile::tempdir().unwrap();
    // Few accounts, many events each: consecutive events of an account sit in the queue
    // together, and a pool of four takes them at once.
    let events = generate(dir.path(), 160, 4);
    let log = dir.path().join("app.csv");
    let system = System::start("pooled_system.py", &log, 160, &[]);
    let url = format!("http://127.0.0.1:{}/api", system.port);
    eventbench()
        .args([
            "send",
            "--url",
            &url,
            "--body",
            r#"{"user": {account_id}, "id": {event_id}}"#,
        ])
        .arg("--input")
        .arg(&events)
        .assert()
        .success();
    system.wait();
    let out = eventbench()
        .args(["verify", "--events"])
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .args(["--process-time", "10ms"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("FAILED: 0 lost, 0 duplicated"), "{stdout}");
    assert!(stdout.contains("violation: account "), "{stdout}");
    assert!(stdout.contains("earlier in the queue"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("out of order"));
}

/// `run` on the virtual clock writes our own log; verify agrees with run's own checker.
#[test]
fn our_own_log_verifies_with_full_efficiency() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 500, 40);
    let log = dir.path().join("log.csv");
    eventbench()
        .args(["run", "--clock", "virtual", "--workers", "8", "--input"])
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .assert()
        .success();
    let out = eventbench()
        .args(["verify", "--workers", "8", "--events"])
        .arg(&events)
        .arg("--log")
        .arg(&log)
        .args(["--format", "json"])
        .assert()
        .success();
    let r = json(&out.get_output().stdout);
    assert_eq!(r["log_format"], "eventbench CSV");
    assert_eq!(r["time_resolution_us"], 1);
    assert_eq!(r["efficiency"], 1.0);
    assert_eq!(r["max_in_flight"], 8);
}

/// A log with a lost line, a duplicated line and two swapped lines (no times).
#[test]
fn lost_duplicated_and_reordered_lines_are_counted() {
    // Event 2 lost, event 3 twice, events 4 and 3 of account 1 swapped; a foreign event 9.
    let log = "account_id,event_id\n1,1\n1,4\n1,3\n2,5\n1,3\n7,9\n";
    let case = Case::new(&[1, 2, 1, 1, 2], "done.csv", log);
    let out = case.verify(&["--format", "json"]).assert().code(1);
    let r = json(&out.get_output().stdout);
    assert_eq!(r["lost"], 1);
    assert_eq!(r["duplicates"], 1);
    assert_eq!(r["unknown"], 1);
    assert_eq!(r["reordered"], 1);
    assert_eq!(r["times"], "none");
    assert_eq!(r["wall_time_s"], 0.0);
    assert_eq!(
        r["violations"][0],
        "account 1: event 4 (line 3) was processed before event 3 (line 4), which arrived earlier"
    );
    assert_eq!(r["lost_examples"][0], "event 2 of account 2");
    assert_eq!(
        r["duplicate_examples"][0],
        "event 3 of account 1: lines 4 and 6"
    );
}

#[test]
fn the_log_can_come_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    common::write_events(&events, &[1, 1], None);
    let out = eventbench()
        .args(["verify", "--events"])
        .arg(&events)
        .args(["--log", "-"])
        .write_stdin("event_id,account_id\n2,1\n1,1\n")
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("log          <stdin> (CSV): 3 lines"),
        "{stdout}"
    );
    assert!(stdout.contains("1 reordered"), "{stdout}");
}

/// A text log whose lines partly match, with whole-second times: counted, shown, and the
/// wall time is claimed to ± 1 s only.
#[test]
fn partly_matching_text_log_with_whole_seconds() {
    let case = Case::new(
        &[413, 413, 7],
        "app.log",
        "booting\n[28.11.2026 03:14:05] Executed event 1 for account 413\n\
         [28.11.2026 03:14:05] Executed event 3 for account 7\nGC pause 12ms\n\
         [28.11.2026 03:14:06] Executed event 2 for account 413\n",
    );
    let pattern =
        r"\[(?P<time>[^\]]+)\] Executed event (?P<event_id>\d+) for account (?P<account_id>\d+)";
    let out = case
        .verify(&["--process-time", "1s", "--log-pattern", pattern])
        .args(["--time-format", "%d.%m.%Y %H:%M:%S"])
        .assert()
        .success();
    let stdout = stdout(&out);
    assert!(stdout.contains("2 unmatched"), "{stdout}");
    assert!(stdout.contains("unmatched: line 1: booting"), "{stdout}");
    assert!(
        stdout.contains("unmatched: line 4: GC pause 12ms"),
        "{stdout}"
    );
    // Ends at :05 and :06 of 1 s events: 2 s from the estimated first start, ± 1 s.
    assert!(stdout.contains("wall time    2.000 s ± 1.000s"), "{stdout}");
    assert!(stdout.contains("resolution 1.000s"), "{stdout}");
}

#[test]
fn overlapping_events_in_our_csv_name_both_lines() {
    let log = "account_id,event_id,worker,start_us,end_us\n1,1,0,0,1000000\n1,2,1,400000,1400000\n";
    let out = Case::new(&[1, 1], "log.csv", log)
        .verify(&[])
        .assert()
        .code(1);
    let stdout = stdout(&out);
    assert!(
        stdout.contains("account 1: event 2 (line 3) started 600.000ms before event 1 (line 2"),
        "{stdout}"
    );
}

#[test]
fn bad_input_exits_2_naming_file_and_line() {
    let case = Case::new(
        &[1, 2],
        "log.csv",
        "event_id,account_id,end\n1,1,1764299645\n2,2,half past\n",
    );
    let log = &case.log;
    let run = |extra: &[&str]| {
        let out = case.verify(extra).assert().code(2);
        String::from_utf8_lossy(&out.get_output().stderr).to_string()
    };
    let e = run(&[]);
    assert!(e.contains("log.csv:3:") && e.contains("half past"), "{e}");
    assert!(run(&["--log-pattern", "(unclosed"]).contains("regular expression"));
    assert!(run(&["--log-pattern", r"event (?P<event_id>\d+)"]).contains("account_id"));
    assert!(run(&["--time-format", "dd.mm.yyyy"]).contains("strftime"));
    std::fs::write(log, "just words\n").unwrap();
    assert!(run(&[]).contains("--log-pattern"));
    std::fs::remove_file(log).unwrap();
    assert!(run(&[]).contains("log.csv"));
}

#[test]
fn send_refuses_bad_flags_before_sending() {
    for args in [
        &["--header", "no colon"][..],
        &["--body", "plain text"],
        &["--method", "P O S T"],
        &["--rate", "0"],
    ] {
        eventbench()
            .args(["send", "--url", "http://127.0.0.1:9/api"])
            .args(args)
            .assert()
            .code(2);
    }
}
