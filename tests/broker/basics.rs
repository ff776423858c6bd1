//! `run --broker`, `publish` and `worker` through one RabbitMQ: every event once and in order,
//! a killed worker's standby, one message at a time per queue, the timers, the dashboards of a
//! worker and of a broker run, and the errors for an unreachable broker or a taken port.

use crate::common::broker::*;
use crate::common::{self, eventbench};
use assert_cmd::prelude::OutputAssertExt;

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
    // Needs no broker: port 1 refuses connections. Standard input /dev/null: publish's
    // workload is then the built-in one (assert_cmd's empty pipe would be refused first).
    for cmd in ["worker", "publish", "serve"] {
        common::command()
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

/// `worker --dashboard`: the page's counts follow what the worker consumes, open-ended (no
/// total, no bound), and once it is stopped the page ends on the verified result.
#[test]
fn a_worker_dashboard_follows_the_events_it_consumes() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "dash-worker");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 60, 6);
    let mut worker = with_dashboard("worker", &q, &[]);
    let addr = worker.addr.clone();
    let before = stats_until(&mut worker, "a first sample", |s| s["seq"] != 0);
    assert_eq!(before["mode"], "worker");
    assert_eq!(
        before["events_total"],
        serde_json::Value::Null,
        "open-ended"
    );
    assert_eq!(before["lower_bound_s"], serde_json::Value::Null);
    assert_eq!(before["accepted"], 0);
    assert_eq!(before["processed"], 0);
    assert!(before["broker"].as_str().unwrap().starts_with("amqp://"));
    publish(&q, &input, "20ms");
    let after = stats_until(&mut worker, "every event processed", |s| {
        s["processed"] == 60
    });
    assert_eq!(after["accepted"], 60, "{after}");
    assert_eq!(
        (&after["queued"], &after["in_flight"]),
        (&0.into(), &0.into())
    );
    assert_eq!(after["done"], false, "a worker runs until stopped");
    // Alone, it owns every queue, and its page says so.
    let input_line = after["input"].as_str().unwrap_or_default();
    assert!(input_line.contains("owns 3 (0, 1, 2)"), "{after}");
    let history = after["history"]["processed"].as_array().unwrap();
    let counts: Vec<u64> = history.iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    // Latency runs from delivery to the end, so every sample is at least one event's 20 ms.
    let p50: Vec<u64> = after["history"]["p50_us"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert!(
        !p50.is_empty() && p50.iter().all(|&v| v >= 20_000),
        "{p50:?}"
    );
    let (status, page) = http_get(&addr, "/");
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("content-type: text/html"));
    assert!(page.contains("api/stats") && page.contains("accepted-label"));
    worker.signal(libc::SIGINT);
    let end = stats_until(&mut worker, "the verified result", |s| s["done"] == true);
    assert_eq!(end["processed"], 60);
    assert_eq!(end["mode"], "worker (draining)", "stopped by the signal");
    assert_eq!(end["ordering_violations"], 0);
    assert!(end["wall_time_s"].as_f64().unwrap() > 0.0, "{end}");
    let efficiency = end["efficiency_so_far"].as_f64().unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{end}");
    assert!(
        end["lower_bound_s"].as_f64().unwrap() > 0.0,
        "the report's bound"
    );
    assert!(worker.wait().success());
}

/// `run --broker --dashboard`: a run with a known total and bound, through RabbitMQ.
#[test]
fn a_broker_run_serves_its_dashboard() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "dash-run");
    let dir = tempfile::tempdir().unwrap();
    // Chains of about 20 at 50 ms: a second or more, long enough for a first look.
    let input = write_events(dir.path(), 60, 3);
    let extra = [
        "--process-time".as_ref(),
        "50ms".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
    ];
    let mut run = with_dashboard("run", &q, &extra);
    let first = stats_until(&mut run, "a first sample", |s| s["seq"] != 0);
    assert_eq!(first["mode"], "run");
    assert_eq!(
        (&first["events_total"], &first["accepted"]),
        (&60.into(), &60.into())
    );
    assert!(first["broker"].as_str().unwrap().starts_with("amqp://"));
    let end = stats_until(&mut run, "the verified result", |s| s["done"] == true);
    assert_eq!(end["processed"], 60, "{end}");
    assert_eq!((&end["queued"], &end["in_flight"]), (&0.into(), &0.into()));
    assert_eq!(end["ordering_violations"], 0);
    assert!(run.wait().success());
}

#[test]
fn a_workers_taken_dashboard_port_fails_before_it_connects() {
    // Needs no broker: the port is checked first, so port 1's refusal is never reached.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    eventbench()
        .args([
            "worker",
            "--broker",
            "amqp://127.0.0.1:1/%2f",
            "--queues",
            "2",
        ])
        .args(["-q", "--dashboard", &addr])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("cannot listen on"))
        .stderr(predicates::str::contains("RabbitMQ").count(0));
}

#[test]
fn publish_writes_what_it_published_to_json() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 3, "publish-json");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 20);
    let report = dir.path().join("p.json");
    eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--batch", "10", "--input"])
        .arg(&input)
        .arg("--json")
        .arg(&report)
        .assert()
        .success();
    let r = json(&report);
    assert_eq!(
        (r["events"].as_u64(), r["accounts"].as_u64()),
        (Some(200), Some(20))
    );
    assert_eq!(r["messages"], r["confirmed"], "{r}");
    assert_eq!(r["queues"], 3);
    assert_eq!(
        ready_messages(&url, &q.topo),
        r["messages"].as_u64().unwrap()
    );
}
