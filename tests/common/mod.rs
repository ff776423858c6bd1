//! Helpers shared by the integration test binaries (`tests/it`, `tests/broker`,
//! `tests/browser`, each of which includes this module): the binary under test, run to its end
//! or in the background, workload files and independent checkers of its logs.
// Each binary uses its own part of these helpers.
#![allow(dead_code)]

pub mod broker;
pub mod server;
mod spawn;

#[allow(unused_imports)] // as in `server`: not every binary names all of them
pub use spawn::{Finished, Spawned, DASHBOARD, LISTENING};

use std::collections::HashMap;
use std::path::Path;

/// The `eventbench` binary built for these tests: the one path every helper starts.
pub const BIN: &str = env!("CARGO_BIN_EXE_eventbench");

/// The binary as a command that runs to its end and is judged by its output.
pub fn eventbench() -> assert_cmd::Command {
    assert_cmd::Command::new(BIN)
}

/// The binary as a plain process, for one a test starts in the background (see [`Spawned`])
/// or signals while it runs. Its standard input is `/dev/null`, as `eventbench()`'s is: a
/// command without `--input` reads a piped standard input, and the test runner's own may be
/// one.
pub fn command() -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.stdin(std::process::Stdio::null());
    c
}

/// Writes an events CSV with ids 1..=N and the given accounts (and durations, if any).
pub fn write_events(path: &Path, accounts: &[u64], durations: Option<&[u64]>) {
    let mut s = String::from(if durations.is_some() {
        "event_id,account_id,duration_us\n"
    } else {
        "event_id,account_id\n"
    });
    for (i, a) in accounts.iter().enumerate() {
        match durations {
            Some(d) => s.push_str(&format!("{},{a},{}\n", i + 1, d[i])),
            None => s.push_str(&format!("{},{a}\n", i + 1)),
        }
    }
    std::fs::write(path, s).unwrap();
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with rcgen, written to
/// `dir/NAME.pem` and its key to `dir/NAME-key.pem`: (certificate, key).
pub fn self_signed(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}-key.pem")),
    );
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A deterministic pseudo-random account list (no RNG crate needed in tests).
pub fn accounts(n: usize, max: u64, seed: u64) -> Vec<u64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % max + 1
        })
        .collect()
}

/// One row of a processed log.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub account: u64,
    pub event: u64,
    pub worker: u64,
    pub start: u64,
    pub end: u64,
}

pub fn read_log(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("account_id,event_id,worker,start_us,end_us")
    );
    lines
        .map(|l| {
            let f: Vec<u64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            Row {
                account: f[0],
                event: f[1],
                worker: f[2],
                start: f[3],
                end: f[4],
            }
        })
        .collect()
}

/// The event ids of a processed log, sorted.
pub fn logged_ids(path: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = read_log(path).iter().map(|r| r.event).collect();
    ids.sort_unstable();
    ids
}

/// Checks a log against its input without trusting the engine: every event exactly once,
/// per-account arrival order with no overlap, each handler at least its duration, and at
/// most `max_workers` in flight. Returns the makespan (latest end).
pub fn check_log(events: &[(u64, u64, u64)], log: &[Row], max_workers: Option<u64>) -> u64 {
    let by_event: HashMap<u64, &Row> = log.iter().map(|r| (r.event, r)).collect();
    assert_eq!(
        by_event.len(),
        log.len(),
        "an event appears twice in the log"
    );
    assert_eq!(log.len(), events.len(), "not every event was processed");
    let mut last_end: HashMap<u64, u64> = HashMap::new();
    for &(id, account, duration) in events {
        let r = by_event
            .get(&id)
            .unwrap_or_else(|| panic!("event {id} missing"));
        assert_eq!(
            r.account, account,
            "event {id} logged under another account"
        );
        assert!(
            r.end - r.start >= duration,
            "event {id} ran {}us < {duration}us",
            r.end - r.start
        );
        let prev = last_end.insert(account, r.end).unwrap_or(0);
        assert!(
            r.start >= prev,
            "account {account}: event {id} started before its predecessor ended"
        );
    }
    if let Some(w) = max_workers {
        let mut points: Vec<(u64, i64)> = log
            .iter()
            .flat_map(|r| [(r.start, 1), (r.end, -1)])
            .collect();
        points.sort_by_key(|&(t, d)| (t, d));
        let mut cur = 0i64;
        for (_, d) in points {
            cur += d;
            assert!(cur <= w as i64, "{cur} events in flight with {w} workers");
        }
    }
    log.iter().map(|r| r.end).max().unwrap_or(0)
}

/// The RabbitMQ URL for broker tests (`EVENTBENCH_AMQP_URL`, default the local one), or `None`
/// after printing "skipped: …" when none is reachable. Under `CI=true` a missing broker fails.
pub fn broker_url() -> Option<String> {
    let url =
        std::env::var("EVENTBENCH_AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    if eventbench::internals::amqp::reachable(&url) {
        return Some(url);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true but no RabbitMQ at {url} (run .ci/rabbitmq.sh)"
    );
    println!("skipped: no RabbitMQ at {url}");
    None
}

/// Checks the processed logs of consecutive runs of one durable server (`runs[0]` first)
/// against the events as they were sent, without trusting the server: every event processed at
/// least once; only events counted as redelivered (`redelivered`, summed over the restarts)
/// processed a second time, and none more often; within each account, events ran in the order
/// they were sent, a rerun coming right where its first run was cut off, and no two overlapped
/// within a run. Returns the number of events processed twice.
pub fn check_runs(events: &[(u64, u64)], runs: &[Vec<Row>], redelivered: u64) -> u64 {
    let position: HashMap<u64, (u64, usize)> = {
        let mut next: HashMap<u64, usize> = HashMap::new();
        events
            .iter()
            .map(|&(id, account)| {
                let n = next.entry(account).or_insert(0);
                *n += 1;
                (id, (account, *n - 1))
            })
            .collect()
    };
    let mut times: HashMap<u64, u32> = HashMap::new();
    // Per account: the last position run and the end of the last row, per run.
    let mut last: HashMap<u64, (usize, usize, u64)> = HashMap::new();
    for (run, rows) in runs.iter().enumerate() {
        let mut rows = rows.clone();
        rows.sort_by_key(|r| (r.start, r.end));
        for r in &rows {
            let &(account, pos) = position
                .get(&r.event)
                .unwrap_or_else(|| panic!("run {run}: unknown event {}", r.event));
            assert_eq!(
                account, r.account,
                "event {} under another account",
                r.event
            );
            *times.entry(r.event).or_insert(0) += 1;
            if let Some(&(prev_run, prev_pos, prev_end)) = last.get(&account) {
                assert!(
                    pos >= prev_pos,
                    "account {account}: event {} (position {pos}) ran after position {prev_pos}",
                    r.event
                );
                assert!(
                    pos > prev_pos || run > prev_run,
                    "account {account}: event {} ran twice within run {run}",
                    r.event
                );
                if run == prev_run {
                    assert!(
                        r.start >= prev_end,
                        "account {account}: event {} overlapped its predecessor",
                        r.event
                    );
                }
            }
            last.insert(account, (run, pos, r.end));
        }
    }
    for &(id, _) in events {
        assert!(times.contains_key(&id), "event {id} was never processed");
    }
    let twice = times.values().filter(|&&n| n == 2).count() as u64;
    assert!(
        times.values().all(|&n| n <= 2),
        "an event ran more than twice"
    );
    assert!(
        twice <= redelivered,
        "{twice} events ran twice, but only {redelivered} were counted as redelivered"
    );
    twice
}

/// The accepted count of the mark file's last checkpoint line (`= COUNT LAST_SEQ`), 0 while
/// there is none.
pub fn marked(data: &Path) -> u64 {
    let text = std::fs::read_to_string(data.join("queue.mark")).unwrap_or_default();
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("= "))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// `send -q --rate RATE` of `events` to the server at `addr` (run in `dir`), which must succeed.
pub fn send_at_rate(dir: &Path, addr: &str, events: &Path, rate: u32) {
    eventbench()
        .current_dir(dir)
        .args(["send", "-q", "--rate", &rate.to_string(), "--url"])
        .arg(format!("http://{addr}/api"))
        .arg("--input")
        .arg(events)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
}
