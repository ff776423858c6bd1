//! Workers that share the queues (issue 25, item 3): three workers, the third joining late,
//! split the queues fairly through the broker, a queue changes hands only after its old owner
//! finished with it, and no event runs twice. Needs RabbitMQ like the rest of this binary.

use crate::common::broker::*;
use crate::common::{self, command};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Stdio};

fn start_worker(q: &Queues, dir: &Path, name: &str) -> Child {
    command()
        .arg("worker")
        .args(q.args())
        .args(["-q", "--workers", "4", "--exit-when-idle", "3s", "--log"])
        .arg(dir.join(format!("{name}.csv")))
        .arg("--json")
        .arg(dir.join(format!("{name}.json")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `(queue, from, to)` in ms on the machine's clock, from a worker report's `owned`.
fn owned(report: &Value) -> Vec<(u64, u64, u64)> {
    report["owned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let ms = |k: &str| o[k].as_u64().unwrap();
            (ms("queue"), ms("from_unix_ms"), ms("to_unix_ms"))
        })
        .collect()
}

#[test]
fn three_workers_share_the_queues_fairly_and_hand_them_over_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 12, "share");
    let dir = tempfile::tempdir().unwrap();
    // 4,800 events of 20 ms over 240 accounts: about 8 s for three workers of 4 lanes.
    let input = write_events(dir.path(), 4800, 240);
    publish(&q, &input, "20ms");
    let mut a = start_worker(&q, dir.path(), "a");
    let mut b = start_worker(&q, dir.path(), "b");
    wait_for_rows(&dir.path().join("a.csv"), 200, &mut a);
    let joined = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut c = start_worker(&q, dir.path(), "c");
    for (name, w) in [("a", &mut a), ("b", &mut b), ("c", &mut c)] {
        assert!(w.wait().unwrap().success(), "worker {name} failed");
    }
    let events = arrivals(&input);
    let position: HashMap<u64, usize> = events.iter().enumerate().map(|(i, e)| (e.1, i)).collect();
    let mut ran = HashSet::new();
    let mut spans: Vec<(u64, u64, u64, &str)> = Vec::new();
    let mut share_at = HashMap::new();
    let at = joined + 5000;
    for name in ["a", "b", "c"] {
        let rows = log_rows(&dir.path().join(format!("{name}.csv")));
        for r in &rows {
            assert!(ran.insert(r[1]), "event {} ran twice", r[1]);
        }
        // Within a worker, each account's events ran in arrival order.
        let mut last: HashMap<u64, usize> = HashMap::new();
        for r in &rows {
            let p = position[&r[1]];
            assert!(
                last.insert(r[0], p).is_none_or(|before| before < p),
                "{name}: {r:?}"
            );
        }
        let report = json(&dir.path().join(format!("{name}.json")));
        assert_eq!(report["ordering_violations"], 0);
        for (queue, from, to) in owned(&report) {
            spans.push((queue, from, to, name));
            if from <= at && at < to {
                *share_at.entry(name).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(ran.len(), 4800, "events missing");
    // Five seconds after the third joined, every worker owns its share: 4 queues each.
    let shares: Vec<u32> = ["a", "b", "c"]
        .iter()
        .map(|n| share_at.get(n).copied().unwrap_or(0))
        .collect();
    assert_eq!(
        shares,
        [4, 4, 4],
        "queues owned 5 s after the join: {spans:?}"
    );
    // A queue never had two owners at once: the next one took it after the last let go.
    spans.sort();
    for w in spans.windows(2) {
        let ((q1, _, to1, n1), (q2, from2, _, n2)) = (w[0], w[1]);
        if q1 == q2 {
            assert!(
                to1 <= from2,
                "queue {q1}: {n1} until {to1}, {n2} from {from2}"
            );
        }
    }
}

#[test]
fn a_vanished_workers_queues_are_taken_over_within_five_seconds() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 6, "vanish");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 1200, 60);
    publish(&q, &input, "20ms");
    let mut a = start_worker(&q, dir.path(), "a");
    let mut b = start_worker(&q, dir.path(), "b");
    // Both working on their shares, then a dies without a word.
    wait_for_rows(&dir.path().join("b.csv"), 50, &mut b);
    wait_for_rows(&dir.path().join("a.csv"), 100, &mut a);
    a.kill().unwrap();
    a.wait().unwrap();
    let killed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(b.wait().unwrap().success(), "worker b failed");
    let report = json(&dir.path().join("b.json"));
    let taken: Vec<u64> = owned(&report)
        .into_iter()
        .filter(|(_, from, _)| *from > killed)
        .map(|(_, from, _)| from - killed)
        .collect();
    assert_eq!(taken.len(), 3, "b took a's 3 queues: {}", report["owned"]);
    assert!(
        taken.iter().all(|ms| *ms <= 5000),
        "taken after {taken:?} ms"
    );
    let mut rows = log_rows(&dir.path().join("a.csv"));
    rows.extend(log_rows(&dir.path().join("b.csv")));
    let distinct: HashSet<u64> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(distinct.len(), 1200, "events missing");
    assert!(rows.len() - 1200 <= 8, "{} ran twice", rows.len() - 1200);
}
