//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver +
//! fantoccini). The live dashboard of a running `serve` fed by `send`, the dashboard of a
//! `run --dashboard`, that of a `worker --dashboard` fed by `publish` (needs RabbitMQ, as the
//! broker tests do), and `compare.html` / `report --html` opened from disk: numbers, charts,
//! and no console errors.
//!
//! Without Chromium and chromedriver each test prints "skipped: …" and passes, except under
//! CI=true, where a missing browser is a failure (CI installs one with .ci/browser.sh).
//! Screenshots go to `$EVENTBENCH_SCREENSHOTS` when set (results/2026-11-28-dashboard/run.sh).
//!
//! A test binary of its own beside `tests/it` (see there why binaries are few), so that
//! `cargo test --test browser` runs just these.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use common::command;
use harness::*;
use std::path::Path;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_dashboard_follows_the_events_sent() {
    // Three accounts with chains of 4, 3 and 2: 9 events, 300 ms each, two lanes.
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--process-time",
        "300ms",
        "--workers",
        "2",
    ];
    let Some(mut dashboard) = Dashboard::open(&[1, 2, 3, 1, 2, 3, 1, 2, 1], &serve).await else {
        return;
    };
    let browser = &dashboard.browser;
    browser
        .until("return document.body.dataset.seq > 0", "a first sample")
        .await;
    assert_eq!(browser.value("accepted").await, Some(0.0));
    assert_eq!(browser.value("processed").await, Some(0.0));
    let meta = browser
        .js("return document.getElementById('meta').textContent")
        .await;
    assert!(
        meta.as_str()
            .unwrap()
            .contains("strategy optimal · workers 2"),
        "{meta}"
    );

    let sent = command()
        .args(["send", "-q", "--url", &format!("{}/api", dashboard.base)])
        .arg("--input")
        .arg(dashboard.events())
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}");
    browser
        .until(
            "return document.getElementById('accepted').dataset.value === '9'",
            "9 accepted",
        )
        .await;
    // Most likely mid-way (the chains take ≥ 1.2 s); only a picture, nothing asserted.
    browser
        .screenshot("serve-dashboard-busy.png", 1280, 1000)
        .await;
    browser
        .until(
            "return document.getElementById('processed').dataset.value === '9'",
            "9 processed",
        )
        .await;
    assert_eq!(browser.value("queued").await, Some(0.0));
    assert_eq!(browser.value("in-flight").await, Some(0.0));
    assert_eq!(browser.value("violations").await, Some(0.0));
    assert_eq!(browser.value("rejected").await, Some(0.0));
    // Idle now, so the tile keeps the latency of the last events that finished.
    assert!(browser.value("p99").await.is_some_and(|v| v > 0.0));
    let hottest = browser
        .js("return document.querySelector('#hottest tbody').textContent")
        .await;
    assert_eq!(hottest, "no work left");
    // Account 1's last event waited for its three predecessors: latency ≥ 4 × 300 ms.
    let worst = browser
        .js("return fetch('api/stats').then(r => r.json()).then(s => \
             Math.max(...s.history.p99_us.filter(v => v !== null)))")
        .await;
    assert!(worst.as_f64().unwrap() >= 1_200_000.0, "{worst}");
    let charts = browser
        .js("return document.querySelectorAll('.uplot canvas').length")
        .await;
    assert_eq!(charts, 2);
    browser.screenshot("serve-dashboard.png", 1280, 1000).await;
    browser
        .screenshot("serve-dashboard-phone.png", 390, 1500)
        .await;
    dashboard.close_page().await;

    dashboard.process.signal(libc::SIGINT);
    let status = dashboard.process.wait();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_opened_with_the_token_passes_it_on() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let token = tmp.path().join("token");
    std::fs::write(&token, "T0k-en\n").unwrap();
    common::write_events(&tmp.path().join("events.csv"), &[1, 2], None);
    let mut serve = common::Spawned::start(
        command()
            .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
            .args(["--process-time", "1ms", "--token-file"])
            .arg(&token),
        common::LISTENING,
    );
    let base = format!("http://{}", serve.addr);
    browser
        .page()
        .goto(&format!("{base}/?token=T0k-en"))
        .await
        .unwrap();
    // The page's own requests for its numbers carry the token, or no sample ever arrives.
    browser
        .until("return document.body.dataset.seq > 0", "a first sample")
        .await;
    let sent = command()
        .args([
            "send",
            "-q",
            "--url",
            &format!("{base}/api"),
            "--token-file",
        ])
        .arg(&token)
        .arg("--input")
        .arg(tmp.path().join("events.csv"))
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}");
    browser
        .until(
            "return document.getElementById('processed').dataset.value === '2'",
            "2 processed",
        )
        .await;
    browser.assert_no_console_errors().await;
    browser.close().await;
    serve.signal(libc::SIGINT);
    assert!(serve.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dashboard_shows_progress_against_the_bound() {
    // Chains of 6, 3 and 1 at 1 s, long enough for the page to connect before the run ends
    // even on a loaded machine. `sharded` on 2 workers puts accounts 1 and 3 on one lane:
    // 7 s, beyond the 6 s bound, and the bar counts towards the 7 s (issue 23).
    let run = [
        "run",
        "--input",
        "events.csv",
        "--process-time",
        "1s",
        "--strategy",
        "sharded",
        "--workers",
        "2",
        "--dashboard",
        "127.0.0.1:0",
    ];
    let accounts = [1, 1, 2, 1, 2, 3, 1, 2, 1, 1];
    let Some(mut dashboard) = Dashboard::open(&accounts, &run).await else {
        return;
    };
    let browser = &dashboard.browser;
    browser
        .until(
            "return document.getElementById('status').textContent === 'done'",
            "the run done",
        )
        .await;
    assert_eq!(browser.value("processed").await, Some(10.0));
    assert_eq!(browser.value("violations").await, Some(0.0));
    let text = browser
        .js("return document.getElementById('progress-text').textContent")
        .await;
    assert!(
        text.as_str()
            .unwrap()
            .contains(" of about 7.00 s (bound 6.00 s) (done)"),
        "{text}"
    );
    let efficiency = browser.value("efficiency").await.unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{efficiency}");
    browser.screenshot("run-dashboard.png", 1280, 1000).await;
    dashboard.close_page().await;
    assert!(dashboard.process.wait().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dashboard_shows_what_it_consumed_then_the_verified_result() {
    let Some(url) = common::broker_url() else {
        return;
    };
    let queues = OwnQueues(Some(common::broker::Queues::new(&url, 2, "browser-worker")));
    let q = queues.0.as_ref().unwrap().args();
    let mut worker: Vec<&str> = vec!["worker", "-q", "--dashboard", "127.0.0.1:0"];
    worker.extend(q.iter().map(String::as_str));
    // Chains of 3, 2 and 1 at 200 ms.
    let Some(mut dashboard) = Dashboard::open(&[1, 2, 3, 1, 2, 1], &worker).await else {
        return;
    };
    let browser = &dashboard.browser;
    browser
        .until("return document.body.dataset.seq > 0", "a first sample")
        .await;
    let label = browser
        .js("return document.getElementById('accepted-label').textContent")
        .await;
    assert_eq!(label, "consumed");
    assert_eq!(browser.value("accepted").await, Some(0.0));
    let hidden = "return document.getElementById('progress').hidden";
    assert_eq!(
        browser.js(hidden).await,
        true,
        "no bar: a worker has no total"
    );
    let published = command()
        .args(["publish", "-q", "--process-time", "200ms", "--input"])
        .arg(dashboard.events())
        .args(&q)
        .output()
        .unwrap();
    assert!(published.status.success(), "{published:?}");
    browser
        .until(
            "return document.getElementById('processed').dataset.value === '6'",
            "6 processed",
        )
        .await;
    assert_eq!(browser.value("accepted").await, Some(6.0));
    assert_eq!(browser.value("queued").await, Some(0.0));
    assert_eq!(browser.value("in-flight").await, Some(0.0));
    assert_eq!(browser.value("violations").await, Some(0.0));
    assert_eq!(browser.js(hidden).await, true);
    browser.screenshot("worker-dashboard.png", 1280, 1000).await;

    dashboard.process.signal(libc::SIGINT);
    browser
        .until(
            "return document.getElementById('status').textContent === 'done'",
            "the worker done",
        )
        .await;
    let text = browser
        .js("return document.getElementById('progress-text').textContent")
        .await;
    assert!(text.as_str().unwrap().ends_with("(done)"), "{text}");
    let efficiency = browser.value("efficiency").await.unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{efficiency}");
    dashboard.close_page().await;
    let status = dashboard.process.wait();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_report_pages_render_from_disk() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let events = tmp.path().join("events.csv");
    common::write_events(&events, &common::accounts(400, 40, 3), None);
    let sweep = |dir: &str, baseline: Option<&Path>| {
        let mut cmd = command();
        cmd.args([
            "compare",
            "-q",
            "-w",
            "1,4,16,auto",
            "--output-dir",
            dir,
            "--input",
        ])
        .arg(&events)
        .current_dir(tmp.path())
        .stdout(Stdio::null());
        if let Some(b) = baseline {
            cmd.arg("--baseline").arg(b);
        }
        assert!(cmd.status().unwrap().success());
    };
    sweep("first", None);
    sweep("second", Some(&tmp.path().join("first/compare.json")));

    browser
        .open_report(&tmp.path().join("second/compare.html"))
        .await;
    let shape = browser
        .js("return [document.querySelectorAll('.uplot').length, \
             document.querySelectorAll('#runs tbody tr').length, \
             !!document.getElementById('chart-efficiency').querySelector('canvas'), \
             document.getElementById('verdict').textContent, \
             [...document.querySelectorAll('#ranking li')].map((li) => li.textContent)]")
        .await;
    // Efficiency and wall time, then latency once per worker count (issue 23: on one axis
    // the slowest count's tail flattened the rest).
    assert_eq!(shape[0], 2 + 4, "{shape}");
    assert_eq!(shape[1], 12, "{shape}");
    assert_eq!(shape[2], true, "{shape}");
    assert!(
        shape[3].as_str().unwrap().contains("No regression"),
        "{shape}"
    );
    // The verdict lines: the fastest, then 2 per worker count (the fastest of 3 against the
    // other two), as in compare.md.
    let lines = shape[4].as_array().unwrap();
    assert_eq!(lines.len(), 1 + 4 * 2, "{shape}");
    assert!(
        lines[0].as_str().unwrap().starts_with("fastest: "),
        "{shape}"
    );
    let md = std::fs::read_to_string(tmp.path().join("second/compare.md")).unwrap();
    for line in lines {
        assert!(
            md.contains(&format!("- {}\n", line.as_str().unwrap())),
            "{md}"
        );
    }
    // The one-line conclusion, and a strategy's colour as in compare.svg.
    let conclusion = browser
        .js("return document.getElementById('conclusion').textContent")
        .await;
    assert!(
        conclusion.as_str().unwrap().contains("× faster than"),
        "{conclusion}"
    );
    let legends = browser
        .js("return [...document.querySelectorAll('.u-legend')].map((l) => l.textContent)")
        .await;
    assert!(!legends.to_string().contains("--"), "{legends}");
    browser.screenshot("compare.png", 1280, 1900).await;
    browser.screenshot("compare-phone.png", 390, 2600).await;
    browser.assert_no_console_errors().await;

    // A run's report through `report --html`.
    let json = tmp.path().join("run.json");
    let html = tmp.path().join("run.html");
    let ok = command()
        .args(["run", "-q", "--clock", "virtual", "--input"])
        .arg(&events)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    render_html(&json, &html);
    browser.open_report(&html).await;
    let shape = browser
        .js("return [document.querySelectorAll('.uplot').length, \
             document.querySelector('#fields').textContent.includes('lower_bound_s'), \
             document.getElementById('title').textContent]")
        .await;
    assert_eq!(shape[0], 1, "{shape}");
    assert_eq!(shape[1], true, "{shape}");
    assert!(
        shape[2].as_str().unwrap().contains("eventbench run"),
        "{shape}"
    );
    browser.screenshot("run-report.png", 1280, 1400).await;
    browser.assert_no_console_errors().await;

    // A failed verify: what was lost and reordered comes first, before the figures.
    let log = tmp.path().join("log.csv");
    std::fs::write(
        &log,
        "account_id,event_id,worker,start_us,end_us\n1,3,0,0,1000\n1,1,0,1000,2000\n",
    )
    .unwrap();
    let few = tmp.path().join("few.csv");
    common::write_events(&few, &[1, 2, 1], None);
    let json = tmp.path().join("v.json");
    let html = tmp.path().join("v.html");
    let judged = command()
        .args(["verify", "-q", "--process-time", "1ms", "--events"])
        .arg(&few)
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(judged.code(), Some(1));
    render_html(&json, &html);
    browser.open_report(&html).await;
    let order = browser
        .js("return [...document.getElementById('report').children].map((e) => e.id || e.tagName)")
        .await;
    let order: Vec<&str> = order
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let pos = |id: &str| order.iter().position(|x| *x == id).unwrap_or(usize::MAX);
    assert!(pos("alarms") < pos("headline"), "{order:?}");
    let alarms = browser
        .js("return document.getElementById('alarms').textContent")
        .await;
    let alarms = alarms.as_str().unwrap();
    assert!(alarms.contains("lost: event 2 of account 2"), "{alarms}");
    assert!(alarms.contains("violation: account 1"), "{alarms}");
    // No latency without --sent, and the log's times are exactly the declared 1 ms (no
    // overshoot): no empty chart at 0 µs.
    let charts = browser
        .js("return document.querySelectorAll('.uplot').length")
        .await;
    assert_eq!(charts, 0);
    browser.screenshot("verify-report.png", 1280, 1400).await;
    browser.assert_no_console_errors().await;
    browser.close().await;
}

/// `report JSON --html HTML`, which must succeed.
fn render_html(json: &std::path::Path, html: &std::path::Path) {
    let ok = command()
        .args(["report", "-q"])
        .arg(json)
        .arg("--html")
        .arg(html)
        .status()
        .unwrap();
    assert!(ok.success(), "report --html {} failed", json.display());
}
