//! Batched messages (`publish --batch N`): several events of one queue per AMQP message. Needs
//! RabbitMQ like the rest of this binary, except the usage checks.

use crate::common::broker::*;
use crate::common::{self, eventbench};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Publishes `input` with `--batch batch`, each message carrying `process_time`.
fn publish_batched(q: &Queues, input: &Path, process_time: &str, batch: u32) {
    eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--process-time", process_time, "-q", "--batch"])
        .arg(batch.to_string())
        .arg("--input")
        .arg(input)
        .assert()
        .success();
}

/// Messages a batched publish of `input` sends: per queue, its events in chunks of `batch`.
fn messages_for(input: &[(u64, u64)], queues: u64, batch: u64) -> u64 {
    let mut per_queue: HashMap<u64, u64> = HashMap::new();
    for &(account, _) in input {
        *per_queue.entry(account % queues).or_default() += 1;
    }
    per_queue.values().map(|n| n.div_ceil(batch)).sum()
}

fn drain(q: &Queues, log: &Path, report: &Path) {
    eventbench()
        .arg("worker")
        .args(q.args())
        .args(["--exit-when-idle", "1s", "-q", "--log"])
        .arg(log)
        .arg("--json")
        .arg(report)
        .assert()
        .success();
}

#[test]
fn batched_messages_keep_per_account_order_and_are_acked_whole() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "batch");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 1000, 30);
    publish_batched(&q, &input, "1ms", 16);
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    drain(&q, &log, &report);
    let events = arrivals(&input);
    let r = json(&report);
    assert_eq!(r["events"], 1000);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["duplicates"], 0);
    let b = &r["broker"];
    let messages = messages_for(&events, 3, 16);
    assert_eq!(b["messages"], messages, "{b}");
    assert_eq!(b["deliveries"], 1000);
    assert_eq!(b["acked"], 1000);
    assert_eq!(b["acked_messages"], messages);
    let mut rows = log_rows(&log);
    assert_eq!(rows.len(), 1000, "every event exactly once");
    rows.sort_by_key(|r| r[4]);
    assert_complete_and_in_order(&events, &rows);
}

#[test]
fn a_queue_of_single_and_batched_messages_is_consumed_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "mixed");
    let dir = tempfile::tempdir().unwrap();
    let all = write_events(dir.path(), 300, 12);
    // The first 100 events one per message (as `serve --broker` and older versions send),
    // then the rest in batches of 7, behind them in the same queues.
    let text = std::fs::read_to_string(&all).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (first, rest) = (dir.path().join("first.csv"), dir.path().join("rest.csv"));
    std::fs::write(&first, format!("{}\n", lines[..101].join("\n"))).unwrap();
    let tail = format!("{}\n{}\n", lines[0], lines[101..].join("\n"));
    std::fs::write(&rest, tail).unwrap();
    publish_batched(&q, &first, "2ms", 1);
    publish_batched(&q, &rest, "2ms", 7);
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    drain(&q, &log, &report);
    let events = arrivals(&all);
    let r = json(&report);
    assert_eq!(r["events"], 300);
    assert_eq!(r["ordering_violations"], 0);
    let expected = 100 + messages_for(&arrivals(&rest), 2, 7);
    assert_eq!(r["broker"]["messages"], expected);
    assert_eq!(r["broker"]["malformed"], 0);
    let mut rows = log_rows(&log);
    rows.sort_by_key(|r| r[4]);
    assert_complete_and_in_order(&events, &rows);
}

#[test]
fn a_worker_killed_mid_batch_hands_the_whole_message_back_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "killbatch");
    let dir = tempfile::tempdir().unwrap();
    // 400 events over 4 accounts at 20 ms, 50 per message: a message holds ~25 events of each
    // of its queue's two accounts, so a kill after 60 rows lands inside unfinished messages.
    let input = write_events(dir.path(), 400, 4);
    publish_batched(&q, &input, "20ms", 50);
    let Takeover {
        log_a,
        log_b,
        report,
    } = kill_and_take_over(&q, dir.path(), 10, 60);
    let (rows_a, rows_b) = (log_rows(&log_a), log_rows(&log_b));
    assert!(rows_a.len() < 400, "worker A finished before it was killed");
    let mut rows = rows_a.clone();
    rows.extend(rows_b.iter().copied());
    assert_complete_and_in_order(&arrivals(&input), &rows);
    // Events A ran whose message it had not acked ran again in B: at-least-once, counted.
    let in_a: HashSet<u64> = rows_a.iter().map(|r| r[1]).collect();
    let twice = rows_b.iter().filter(|r| in_a.contains(&r[1])).count() as u64;
    assert!(twice > 0, "the kill landed between messages");
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    let b = &r["broker"];
    assert!(
        b["redelivered"].as_u64().unwrap() >= twice,
        "{twice} events ran twice but only {} were redelivered: {b}",
        b["redelivered"]
    );
    assert_eq!(b["acked"], b["deliveries"]);
    assert_eq!(b["acked_messages"], b["messages"]);
    assert_eq!(
        rows_b.len() as u64 + rows_a.len() as u64 - twice,
        400,
        "every event ran, only redelivered ones twice"
    );
}

#[test]
fn batch_zero_is_bad_usage() {
    // Needs no broker: the flag is refused before anything connects.
    for cmd in [
        vec![
            "publish",
            "--broker",
            "amqp://127.0.0.1:1/%2f",
            "--queues",
            "2",
        ],
        vec!["run", "--broker", "amqp://127.0.0.1:1/%2f", "--queues", "2"],
    ] {
        eventbench()
            .args(&cmd)
            .args(["--batch", "0"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("--batch"));
    }
    eventbench()
        .args(["run", "--batch", "5", "--clock", "virtual"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--batch applies only with --broker",
        ));
}
