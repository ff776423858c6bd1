//! Broker tests: need a RabbitMQ at EVENTBENCH_AMQP_URL (default amqp://127.0.0.1:5672/%2f).
//! Without one each test prints "skipped: no RabbitMQ at …" and passes, except under CI=true,
//! where a missing broker is a failure (CI installs one with .ci/rabbitmq.sh).

mod common;

use common::eventbench;
use eventbench::broker::amqp::{self, Topology};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues with a name unique to this test; deleted when dropped, even after a failed assert.
struct Queues {
    url: String,
    topo: Topology,
}

impl Queues {
    fn new(url: &str, n: u32, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("ebtest-{test}-{}-{nanos}", std::process::id());
        Queues {
            url: url.to_string(),
            topo: Topology::new(url, n, &prefix),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--broker".into(),
            self.url.clone(),
            "--queues".into(),
            self.topo.queues.to_string(),
            "--queue-prefix".into(),
            self.topo.prefix.clone(),
        ]
    }
}

impl Drop for Queues {
    fn drop(&mut self) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        if let Err(e) = rt.block_on(amqp::delete(&self.url, &self.topo)) {
            eprintln!("could not delete test queues {}.*: {e:#}", self.topo.prefix);
        }
    }
}

/// `events` events over `accounts` accounts from a fixed LCG, so every run sees the same file.
fn write_events(dir: &Path, events: u64, accounts: u64) -> PathBuf {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut csv = String::from("event_id,account_id\n");
    for id in 1..=events {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        csv.push_str(&format!("{id},{}\n", 1 + (x >> 33) % accounts));
    }
    let path = dir.join("events.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// `(account, event)` in arrival order.
fn arrivals(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (e, a) = l.split_once(',').unwrap();
            (a.parse().unwrap(), e.parse().unwrap())
        })
        .collect()
}

/// Log rows `(account, event, worker, start, end)`, in file order.
fn log_rows(path: &Path) -> Vec<[u64; 5]> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        assert_eq!(h, "account_id,event_id,worker,start_us,end_us");
    }
    lines
        .map(|l| {
            let v: Vec<u64> = l.split(',').map(|f| f.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3], v[4]]
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// For each account, the events ordered by their LAST completion in `rows` (which must be in
/// completion order per account) must be exactly the account's events in arrival order.
fn assert_complete_and_in_order(input: &[(u64, u64)], rows: &[[u64; 5]]) {
    let mut last: HashMap<u64, usize> = HashMap::new();
    for (pos, r) in rows.iter().enumerate() {
        last.insert(r[1], pos);
    }
    let mut expected: HashMap<u64, Vec<u64>> = HashMap::new();
    for &(a, e) in input {
        expected.entry(a).or_default().push(e);
    }
    for (account, events) in expected {
        for e in &events {
            assert!(
                last.contains_key(e),
                "event {e} of account {account} never completed"
            );
        }
        let mut by_last = events.clone();
        by_last.sort_by_key(|e| last[e]);
        assert_eq!(by_last, events, "account {account} completed out of order");
    }
}

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

fn wait_for_rows(log: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while log_rows(log).len() < n {
        assert!(child.try_wait().unwrap().is_none(), "worker exited early");
        assert!(
            Instant::now() < deadline,
            "worker logged fewer than {n} rows"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Publishes `input` to the test's queues, each message carrying `process_time`.
fn publish(q: &Queues, input: &Path, process_time: &str) {
    eventbench()
        .arg("publish")
        .args(q.args())
        .args(["--process-time", process_time, "--input"])
        .arg(input)
        .assert()
        .success();
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
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let report = dir.path().join("b.json");
    let worker = |log: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"));
        c.arg("worker")
            .args(q.args())
            .arg("-q")
            .arg("--log")
            .arg(log);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let mut a = worker(&log_a).spawn().unwrap();
    wait_for_rows(&log_a, 20, &mut a);
    // Registered second, so B is the standby consumer of every queue.
    let mut b = worker(&log_b)
        .args(["--exit-when-idle", "3s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    wait_for_rows(&log_a, 80, &mut a);
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let killed_at = log_rows(&log_a).len();
    assert!(killed_at < 400, "worker A finished before it was killed");
    let status = b.wait().unwrap();
    assert!(status.success(), "worker B failed: {status}");
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

/// A TCP forwarder to the broker that can cut every connection at once and refuse new ones
/// (a lost network, or a broker that is down).
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
    down: Arc<AtomicBool>,
}

impl Proxy {
    fn start(url: &str) -> Self {
        let uri: lapin::uri::AMQPUri = url.parse().unwrap();
        let target = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let (kept, refusing) = (Arc::clone(&conns), Arc::clone(&down));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if refusing.load(SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    return;
                };
                let mut k = kept.lock().unwrap();
                k.push(client.try_clone().unwrap());
                k.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, conns, down }
    }

    fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}/%2f", self.port)
    }

    /// Cuts every open connection; with `stay_down`, new ones are refused until [`Proxy::up`].
    fn cut(&self, stay_down: bool) {
        self.down.store(stay_down, SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn up(&self) {
        self.down.store(false, SeqCst);
    }
}

/// A worker on the proxy's address (the test's queues), logging to `log`.
fn proxied_worker(proxy: &Proxy, q: &Queues, log: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"));
    c.args(["worker", "--broker", &proxy.url(), "-q"])
        .args(["--queues", &q.topo.queues.to_string()])
        .args(["--queue-prefix", &q.topo.prefix, "--log"])
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_worker_reconnects_after_a_cut_and_loses_nothing() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "reconnect");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 4);
    publish(&q, &input, "20ms");
    let proxy = Proxy::start(&url);
    let (log, report) = (dir.path().join("a.csv"), dir.path().join("a.json"));
    let mut a = proxied_worker(&proxy, &q, &log)
        .args(["--exit-when-idle", "2s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    wait_for_rows(&log, 30, &mut a);
    // The network is gone for a second: the first reconnect attempts fail.
    proxy.cut(true);
    std::thread::sleep(Duration::from_secs(1));
    proxy.up();
    let out = a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "worker failed: {stderr}");
    assert!(stderr.contains("reconnecting"), "{stderr}");
    let rows = log_rows(&log);
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert_eq!(r["broker"]["reconnects"], 1);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
    // The report covers what ran: every delivery except those dropped unstarted at the cut;
    // re-runs are of events that were running or finished but not yet acked at the cut.
    let b = &r["broker"];
    let count = |k: &str| b[k].as_u64().unwrap();
    assert_eq!(r["events"].as_u64().unwrap(), rows.len() as u64);
    assert_eq!(rows.len() as u64, count("deliveries") - count("abandoned"));
    assert_eq!(count("deliveries"), 200 + count("repeated"));
}

#[test]
fn a_broker_gone_past_the_reconnect_timeout_exits_3_and_acks_nothing_unprocessed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "lost");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 200, 4);
    publish(&q, &input, "20ms");
    let proxy = Proxy::start(&url);
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let mut a = proxied_worker(&proxy, &q, &log_a)
        .args(["--reconnect-timeout", "1s"])
        .spawn()
        .unwrap();
    wait_for_rows(&log_a, 30, &mut a);
    proxy.cut(true);
    let out = a.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code after losing the broker"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could not reconnect within 1.000s"),
        "unclear error: {stderr}"
    );
    // Whatever A did not log must still be in the queues for B.
    eventbench()
        .arg("worker")
        .args(q.args())
        .args(["--exit-when-idle", "1s", "-q", "--log"])
        .arg(&log_b)
        .assert()
        .success();
    let mut rows = log_rows(&log_a);
    assert!(rows.len() < 200, "worker A finished before the cut");
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
}

/// One `POST /api` on a fresh connection; the status, or `None` when the server is not there.
fn post_event(addr: &str, account: u64, event: u64) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let body = format!("account_id={account}&event_id={event}");
    let req = format!(
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split(' ').nth(1)?.parse().ok()
}

/// `serve --broker` on port 0 of this test's queues at `url`; returns the child and its address.
fn serve_broker(url: &str, q: &Queues) -> (Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--broker", url])
        .args(["--queues", &q.topo.queues.to_string()])
        .args(["--queue-prefix", &q.topo.prefix])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn serve_broker_answers_503_while_the_broker_is_away_and_202_once_it_is_back() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 2, "relay503");
    let proxy = Proxy::start(&url);
    let (mut serve, addr) = serve_broker(&proxy.url(), &q);
    assert_eq!(post_event(&addr, 1, 1), Some(202));
    assert_eq!(post_event(&addr, 1, 1), Some(409), "a repeated id");
    proxy.cut(true);
    let refused = (2..200)
        .map(|e| post_event(&addr, 1, e))
        .find(|s| *s != Some(202));
    assert_eq!(refused, Some(Some(503)), "no 503 while the broker is away");
    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    while post_event(&addr, 1, 1000) != Some(202) {
        assert!(Instant::now() < deadline, "serve never got the broker back");
        std::thread::sleep(Duration::from_millis(100));
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
    // What was confirmed is in the queue: event 1, those before the cut, and 1000.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ready = rt.block_on(async {
        let conn = amqp::connect(&url).await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        amqp::ready_messages(&ch, &q.topo).await.unwrap()
    });
    assert!(ready >= 2, "{ready} messages queued");
}

#[test]
fn serve_broker_and_two_workers_lose_nothing_when_serve_and_a_worker_are_killed() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let q = Queues::new(&url, 4, "relay");
    let dir = tempfile::tempdir().unwrap();
    let input = write_events(dir.path(), 600, 6);
    let events = arrivals(&input);
    let (mut serve, addr) = serve_broker(&url, &q);
    let (log_a, log_b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let report = dir.path().join("b.json");
    let worker = |log: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_eventbench"));
        c.arg("worker")
            .args(q.args())
            .args(["-q", "--process-time", "20ms", "--log"])
            .arg(log)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut a = worker(&log_a).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Registered second: the standby consumer of every queue.
    let mut b = worker(&log_b)
        .args(["--exit-when-idle", "3s", "--json"])
        .arg(&report)
        .spawn()
        .unwrap();
    // The client: one event at a time in arrival order, each retried until it is accepted,
    // whichever server is up (so an account's order is the file's order).
    let target = Arc::new(Mutex::new(addr));
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sender = {
        let (target, accepted) = (Arc::clone(&target), Arc::clone(&accepted));
        std::thread::spawn(move || {
            for &(account, event) in &events {
                loop {
                    let addr = target.lock().unwrap().clone();
                    if let Some(202 | 409) = post_event(&addr, account, event) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                accepted.fetch_add(1, SeqCst);
            }
        })
    };
    let wait_accepted = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while accepted.load(SeqCst) < n {
            assert!(Instant::now() < deadline, "fewer than {n} events accepted");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_accepted(150);
    serve.kill().unwrap(); // SIGKILL, with requests in flight
    serve.wait().unwrap();
    let (mut serve2, addr2) = serve_broker(&url, &q);
    *target.lock().unwrap() = addr2;
    wait_accepted(300);
    wait_for_rows(&log_a, 50, &mut a);
    a.kill().unwrap();
    a.wait().unwrap();
    sender.join().unwrap();
    let status = b.wait().unwrap();
    assert!(status.success(), "worker B failed: {status}");
    serve2.kill().unwrap();
    serve2.wait().unwrap();
    let mut rows = log_rows(&log_a);
    assert!(rows.len() < 600, "worker A finished before it was killed");
    rows.extend(log_rows(&log_b));
    assert_complete_and_in_order(&arrivals(&input), &rows);
    let r = json(&report);
    assert_eq!(r["ordering_violations"], 0);
    assert!(r["broker"]["redelivered"].as_u64().unwrap() > 0);
}
