//! A live server's figures count from the first arrival and against a bound that knows when
//! events arrived: a server that kept up with its traffic reads near 100%, however long it
//! waited before the first event.

use crate::common::{self, Spawned, LISTENING};
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the server sits idle before the first event.
const IDLE: Duration = Duration::from_millis(1500);

#[test]
fn an_idle_server_that_keeps_up_reads_near_full_efficiency_from_its_first_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    // 300 events over 30 accounts at 200/s: each account gets an event every 150 ms and takes
    // 100 ms for it, so a server that keeps up ends 100 ms after the last arrival.
    let accounts: Vec<u64> = (0..300).map(|i| i % 30 + 1).collect();
    common::write_events(&events, &accounts, None);
    let json = dir.path().join("serve.json");
    let started = Instant::now();
    let server = Spawned::start(
        common::command()
            .current_dir(dir.path())
            .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "100ms", "--json"])
            .arg(&json),
        LISTENING,
    );
    std::thread::sleep(IDLE);
    common::send_at_rate(dir.path(), &server.addr, &events, 200);
    // Every event was accepted; the drain runs what is still queued before the report.
    let finished = server.stop(libc::SIGINT);
    let uptime = started.elapsed().as_secs_f64();
    assert_eq!(finished.status.code(), Some(0), "{}", finished.stderr);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let num = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert_eq!(r["events"], 300, "{r}");
    assert_eq!(r["unprocessed"], 0, "{r}");
    assert_eq!(r["timing_basis"], "arrivals", "{r}");
    // The wall time leaves out the idle start (the server was up longer than that by far).
    assert!(
        num("wall_time_s") < uptime - IDLE.as_secs_f64(),
        "wall {} s, uptime {uptime} s: {r}",
        num("wall_time_s")
    );
    // The bound knows the arrivals: the last events arrived about 1.5 s after the first, so
    // the bound is well above one account's 1 s of work, and no run can beat it.
    assert!(num("lower_bound_s") > 1.0, "{r}");
    assert!(num("wall_time_s") >= num("lower_bound_s"), "{r}");
    assert!(num("efficiency") >= 0.9, "a server that kept up: {r}");
    assert!(
        finished.stdout.contains("from the first arrival"),
        "{}",
        finished.stdout
    );
}
