//! Re-runs after a lost connection (issue 25): a worker that loses the broker gets back every
//! unacknowledged message, and must not run again an event it already finished, nor an older
//! event of an account after a newer one. Needs RabbitMQ like the rest of this binary.

use crate::common;
use crate::common::broker::*;
use std::collections::HashMap;

/// Publishes `input` in messages of `batch` events of `process_time` each.
fn publish_batched(q: &Queues, input: &std::path::Path, process_time: &str, batch: u32) {
    common::eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--process-time", process_time, "-q", "--batch"])
        .arg(batch.to_string())
        .arg("--input")
        .arg(input)
        .assert()
        .success();
}

/// Rows of `log` whose event had already completed earlier in the log, and rows that completed
/// after a later event (in arrival order) of their account had.
fn reruns_and_older_after_newer(input: &[(u64, u64)], rows: &[[u64; 5]]) -> (usize, usize) {
    let pos: HashMap<u64, usize> = input
        .iter()
        .enumerate()
        .map(|(i, &(_, e))| (e, i))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut newest: HashMap<u64, usize> = HashMap::new();
    let (mut again, mut older) = (0, 0);
    for r in rows {
        let (account, p) = (r[0], pos[&r[1]]);
        again += usize::from(!seen.insert(r[1]));
        let n = newest.entry(account).or_insert(p);
        older += usize::from(p < *n);
        *n = (*n).max(p);
    }
    (again, older)
}

#[test]
fn a_worker_cut_off_mid_batch_runs_no_event_twice_nor_an_older_one_after_a_newer() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 4, "rerun");
    let dir = tempfile::tempdir().unwrap();
    // 2,000 events over 40 accounts at 5 ms, 100 per message, 4 lanes: about 2.5 s of work, and
    // at the cut most finished events sit in messages not acked yet (one unfinished event
    // holds back its message's ack).
    let input = write_events(dir.path(), 2000, 40);
    publish_batched(&q, &input, "5ms", 100);
    let proxy = Proxy::start(&url);
    let (log, report) = (dir.path().join("w.csv"), dir.path().join("w.json"));
    let mut w = proxied_worker(&proxy, &q, &log)
        .args(["--workers", "4", "--exit-when-idle", "2s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    wait_for_rows(&log, 400, &mut w);
    proxy.cut(false);
    let out = w.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worker failed: {stderr}");
    let rows = log_rows(&log);
    let events = arrivals(&input);
    assert!(rows.len() >= 2000, "{} rows", rows.len());
    assert_eq!(
        reruns_and_older_after_newer(&events, &rows),
        (0, 0),
        "events ran again, or older after newer"
    );
    assert_complete_and_in_order(&events, &rows);
    let r = json(&report);
    let b = &r["broker"];
    assert_eq!(
        (r["events"].as_u64(), r["duplicates"].as_u64()),
        (Some(2000), Some(0))
    );
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(b["reconnects"], 1, "{b}");
    let count = |k: &str| b[k].as_u64().unwrap();
    assert!(
        count("skipped_finished") > 0,
        "the cut came after every ack: {b}"
    );
    // Every delivery either ran once, was dropped unstarted at the cut, or was passed over.
    assert_eq!(
        count("deliveries"),
        2000 + count("abandoned") + count("skipped_finished"),
        "{b}"
    );
    // Each message acked once, on the new connection or before the cut.
    assert_eq!(count("acked"), 2000, "{b}");
}

#[test]
fn a_killed_worker_hands_back_little_more_than_it_had_in_flight_with_default_settings() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 4, "killdefault");
    let dir = tempfile::tempdir().unwrap();
    // 8 accounts, so worker A has at most 8 events in flight; published with the defaults.
    let input = write_events(dir.path(), 400, 8);
    publish(&q, &input, "20ms");
    let t = kill_and_take_over(&q, dir.path(), 10, 120);
    let (rows_a, rows_b) = (log_rows(&t.log_a), log_rows(&t.log_b));
    assert!(rows_a.len() < 400, "worker A finished before it was killed");
    let mut rows = rows_a.clone();
    rows.extend(rows_b.iter().copied());
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let in_a: std::collections::HashSet<u64> = rows_a.iter().map(|r| r[1]).collect();
    let twice = rows_b.iter().filter(|r| in_a.contains(&r[1])).count();
    // In flight (8) plus what finished between its last ack and the kill (acks go out as
    // events finish, so next to nothing at 20 ms per event).
    assert!(twice <= 10, "{twice} events ran again after the kill");
}
