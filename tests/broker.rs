//! Broker tests: need a RabbitMQ at EVENTBENCH_AMQP_URL (default amqp://127.0.0.1:5672/%2f).
//! Without one each test prints "skipped: no RabbitMQ at …" and passes, except under CI=true,
//! where a missing broker is a failure (CI installs one with .ci/rabbitmq.sh).

mod common;

use common::broker::*;
use common::eventbench;

#[test]
fn run_through_the_broker_processes_every_event_once_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 5, "run");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 500, 60);
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    eventbench()
        .arg("run")
        .args(q.args())
        .args(["--process-time", "10ms", "-q", "--input"])
        .arg(&input)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let r = json(&report);
    assert_eq!(r["events"], 500);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["duplicates"], 0);
    assert_eq!(r["unprocessed"], 0);
    let mut rows = log_rows(&log);
    assert_eq!(rows.len(), 500, "every event exactly once");
    rows.sort_by_key(|r| r[4]);
    assert_complete_and_in_order(&arrivals(&input), &rows);
}

#[test]
fn a_killed_worker_loses_nothing_and_the_standby_finishes_in_order() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "kill");
    let dir = tempfile::tempdir().unwrap();
    // 400 events over 4 accounts at 20 ms: about 2 s of chains, long enough to kill mid-run.
    let input = write_events(dir.path(), 400, 4);
    publish(&q, &input, "20ms");
    let Takeover {
        log_a,
        log_b,
        report,
    } = kill_and_take_over(&q, dir.path(), 20, 80);
    let killed_at = log_rows(&log_a).len();
    assert!(killed_at < 400, "worker A finished before it was killed");
    // Every account lives in one queue, and B consumed only after A died: A's rows come first.
    let mut rows = log_rows(&log_a);
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
    assert_eq!(r["broker"]["acked"], r["broker"]["deliveries"]);
}

#[test]
fn one_at_a_time_runs_one_message_per_queue() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "single");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 60, 9);
    publish(&q, &input, "5ms");
    let (log, report) = (dir.path().join("log.csv"), dir.path().join("r.json"));
    eventbench()
        .arg("worker")
        .args(q.args())
        .args(["--one-at-a-time", "--exit-when-idle", "1s", "-q", "--log"])
        .arg(&log)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let r = json(&report);
    assert_eq!(r["events"], 60);
    assert_eq!(r["mode"], "one-at-a-time");
    assert_eq!(r["ordering_violations"], 0);
    let rows = log_rows(&log);
    assert_eq!(rows.len(), 60);
    for queue in 0..3 {
        let mut spans: Vec<(u64, u64)> = rows
            .iter()
            .filter(|r| r[0] % 3 == queue)
            .map(|r| (r[3], r[4]))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "queue {queue}: two messages at once: {w:?}"
            );
        }
    }
}

#[test]
fn a_worker_ends_its_sleeps_as_timer_says_and_reports_it() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 40, 8);
    for timer in ["sleep", "precise"] {
        let q = Queues::new(&url, 2, &format!("timer-{timer}"));
        publish(&q, &input, "2ms");
        let report = dir.path().join(format!("{timer}.json"));
        eventbench()
            .arg("worker")
            .args(q.args())
            .args(["--timer", timer, "--exit-when-idle", "1s", "-q", "--json"])
            .arg(&report)
            .assert()
            .success();
        let r = json(&report);
        assert_eq!(r["events"], 40, "{r}");
        assert_eq!(r["ordering_violations"], 0);
        assert_eq!(r["short_handlers"], 0);
        assert_eq!(r["timer"], timer);
    }
}

#[test]
fn an_unreachable_broker_is_a_clear_error_with_exit_code_3() {
    // Needs no broker: port 1 refuses connections.
    for cmd in ["worker", "publish", "serve"] {
        eventbench()
            .args([
                cmd,
                "--broker",
                "amqp://127.0.0.1:1/%2f",
                "--queues",
                "2",
                "-q",
            ])
            .assert()
            .code(3)
            .stderr(predicates::str::contains(
                "cannot connect to RabbitMQ at amqp://127.0.0.1:1",
            ));
    }
}
