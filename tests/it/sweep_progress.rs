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

#[test]
fn a_sweep_longer_than_ten_minutes_is_warned_about_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 7 events of one account at 100 s: 700 s on any number of workers.
    common::write_events(&events, &[1; 7], None);
    let mut child = command()
        .args(["compare", "-q", "--clock", "real", "--process-time", "100s"])
        .args(["-s", "optimal", "-w", "1", "--output-dir"])
        .arg(dir.path().join("out"))
        .arg("--input")
        .arg(&events)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Should the warning never come, the run would sleep 700 s: a watchdog ends it. The lock
    // keeps it from signalling a pid that was already reaped (and maybe reused).
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
        let warned = line.starts_with("warning: ");
        seen.push(line);
        if warned {
            break;
        }
    }
    let mut gate = reaped.lock().unwrap();
    let _ = child.kill();
    child.wait().unwrap();
    *gate = true;
    drop(gate);
    let last = seen.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("warning: this real-clock sweep will take about 12 min;"),
        "{seen:?}"
    );
}
