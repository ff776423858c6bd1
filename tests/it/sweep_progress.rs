//! Issue 23 item 7: a real-clock `compare` says how long it will take in words people use,
//! warns (without asking) before a sweep of more than ten minutes, and prints each run's row
//! on stderr as soon as it has finished, leaving stdout's final table as it was.

use crate::common::{self, command};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn each_real_clock_row_is_printed_as_it_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // Account 1 has a chain of 3 events of 20 ms: 60 ms with 2 lanes, 20 ms more on 1.
    common::write_events(&events, &[1, 1, 1, 2], None);
    let out = command()
        .args(["compare", "--clock", "real", "--process-time", "20ms"])
        .args(["-s", "optimal", "-w", "1,2", "--output-dir"])
        .arg(dir.path().join("out"))
        .arg("--input")
        .arg(&events)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle}: {stderr}"))
    };
    assert!(
        stderr.contains("expected duration: about 0.1 s (the real-clock runs' schedules"),
        "{stderr}"
    );
    // The first row is out before the second run starts.
    assert!(
        at("run 1/2 done: optimal, 1 workers: wall ") < at("run 2/2: "),
        "{stderr}"
    );
    assert!(
        at("run 2/2 done: optimal, 2 workers: wall ") > at("run 2/2: "),
        "{stderr}"
    );
    assert!(
        lines[at("run 1/2 done")].contains("ordering ok ("),
        "{stderr}"
    );
    // stdout is the final table alone.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("strategy "), "{stdout}");
    assert!(!stdout.contains("done:"), "{stdout}");
}

/// The stderr lines of `compare` (on `events`, with `flags`) up to the first that starts with
/// `until`; the process is killed then, before its long sleeps. Should that line never come,
/// a watchdog ends it after a minute.
fn stderr_until(events: &std::path::Path, flags: &[&str], until: &str) -> Vec<String> {
    let out = events.with_file_name("out");
    let mut child = command()
        .arg("compare")
        .args(flags)
        .arg("--output-dir")
        .arg(&out)
        .arg("--input")
        .arg(events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The lock keeps the watchdog from signalling a pid that was already reaped (and maybe
    // reused).
    let reaped = Arc::new(Mutex::new(false));
    let pid = child.id() as libc::pid_t;
    let watch = Arc::clone(&reaped);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        if !*watch.lock().unwrap() {
            // SAFETY: kill(2) with a pid of our own child that has not been reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let done = line.starts_with(until);
        seen.push(line);
        if done {
            break;
        }
    }
    let mut gate = reaped.lock().unwrap();
    let _ = child.kill();
    child.wait().unwrap();
    *gate = true;
    seen
}

#[test]
fn a_sweep_longer_than_ten_minutes_is_warned_about_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 7 events of one account at 100 s: 700 s on any number of workers.
    common::write_events(&events, &[1; 7], None);
    let flags = ["-q", "--clock", "real", "--process-time", "100s"];
    let seen = stderr_until(
        &events,
        &[&flags[..], &["-s", "optimal", "-w", "1"]].concat(),
        "warning: ",
    );
    let last = seen.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("warning: this real-clock sweep will take about 12 min;"),
        "{seen:?}"
    );
}

#[test]
fn the_expected_duration_counts_the_faults() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 7 events of one account at 10 s: 70 s, and ten times that with the account slowed.
    common::write_events(&events, &[1; 7], None);
    let flags = [
        "--clock",
        "real",
        "--process-time",
        "10s",
        "-s",
        "optimal",
        "-w",
        "1",
    ];
    let slowed = [&flags[..], &["--fault", "slow:1:10"]].concat();
    // Killed as its only run starts.
    let seen = stderr_until(&events, &slowed, "run 1/1: ");
    let starts = |p: &str| seen.iter().any(|l| l.starts_with(p));
    assert!(starts("expected duration: about 12 min ("), "{seen:?}");
    // Past ten minutes only with the fault: warned about.
    assert!(
        starts("warning: this real-clock sweep will take about 12 min;"),
        "{seen:?}"
    );
}
