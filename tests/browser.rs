//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver +
//! fantoccini). The live dashboard of a running `serve` fed by `send`, the dashboard of a
//! `run --dashboard`, that of a `worker --dashboard` fed by `publish` (needs RabbitMQ, as the
//! broker tests do), and `compare.html` / `report --html` opened from disk: numbers, charts,
//! and no console errors.
//!
//! Without Chromium and chromedriver each test prints "skipped: …" and passes, except under
//! CI=true, where a missing browser is a failure (CI installs one with .ci/browser.sh).
//! Screenshots go to `$EVENTBENCH_SCREENSHOTS` when set (results/2026-11-28-dashboard/run.sh).

mod common;

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_eventbench");
/// How long a page may take to reach an expected state before the test fails. A limit on
/// waiting, never a measured time.
const PATIENCE: Duration = Duration::from_secs(60);

/// A chromedriver process with one headless Chromium session; both end on drop.
struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn executable(var: &str, default: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    p.is_file().then_some(p)
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh Chromium profile, or `None` (after
    /// printing why) when no browser is installed.
    async fn start() -> Option<Browser> {
        let chromium = executable("EVENTBENCH_CHROMIUM", "/usr/bin/chromium");
        let driver = executable("EVENTBENCH_CHROMEDRIVER", "/usr/bin/chromedriver");
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "CI=true but no /usr/bin/chromium and /usr/bin/chromedriver (run .ci/browser.sh)"
            );
            println!(
                "skipped: no Chromium/chromedriver (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group, which the Chromium it starts joins: see `drop`.
        let driver = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Some(Browser {
            client: Some(client),
            driver,
            _profile: profile,
        })
    }

    fn page(&self) -> &Client {
        self.client.as_ref().expect("open until close")
    }

    async fn js(&self, script: &str) -> Value {
        self.page().execute(script, vec![]).await.unwrap()
    }

    /// Waits until `script` returns `true` (JavaScript truthiness), or fails with `what`.
    async fn until(&self, script: &str, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.js(script).await.as_bool() == Some(true) {
                return;
            }
            assert!(Instant::now() < deadline, "the page never showed {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The raw number behind a dashboard tile (its `data-value`).
    async fn value(&self, id: &str) -> Option<f64> {
        let v = self
            .js(&format!(
                "return document.getElementById('{id}').dataset.value"
            ))
            .await;
        v.as_str().and_then(|s| s.parse().ok())
    }

    /// Console messages at level SEVERE (uncaught errors, failed loads).
    async fn console_errors(&self) -> Vec<String> {
        let log = self.page().issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].to_string())
            .collect()
    }

    async fn assert_no_console_errors(&self) {
        assert_eq!(self.console_errors().await, Vec::<String>::new());
    }

    /// Opens a self-contained HTML report from disk and waits until its script has drawn it.
    async fn open_report(&self, path: &Path) {
        let url = format!("file://{}", path.display());
        self.page().goto(&url).await.unwrap();
        self.until(
            "return document.body.dataset.rendered === 'true'",
            "the report",
        )
        .await;
    }

    async fn screenshot(&self, name: &str, width: u32, height: u32) {
        let Some(dir) = std::env::var_os("EVENTBENCH_SCREENSHOTS") else {
            return;
        };
        self.page().set_window_size(width, height).await.unwrap();
        // Let the charts follow the resize before the picture is taken.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let png = self.page().screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
        self.page().set_window_size(1280, 1000).await.unwrap();
    }

    async fn close(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }
}

impl Drop for Browser {
    /// After `close` only chromedriver is left; after a failed test the session is still open,
    /// and killing chromedriver alone would leave its Chromium running, so the whole group
    /// goes.
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            // SAFETY: kill(2) on the process group this test created for chromedriver, whose
            // leader it has not reaped yet (so the group id cannot have been reused).
            unsafe {
                libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
            }
        }
        let _ = self.driver.wait();
    }
}

/// chromedriver's log endpoint (outside the W3C set, so fantoccini has no method for it).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// Starts `eventbench ARGS` and returns it with the first `http://…` address on its stderr.
fn spawn_with_address(args: &[&str], dir: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the address is printed")
            .expect("readable stderr");
        if let Some(at) = line.find("http://") {
            let addr: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ')' && *c != ';')
                .collect();
            break addr.trim_end_matches('/').to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// A browser on the live page of an `eventbench` process started for one test, in a temp dir
/// that holds the workload as `events.csv`. A process still running on drop (a test that
/// failed half-way) is killed rather than left behind.
struct Dashboard {
    browser: Browser,
    process: Child,
    base: String,
    tmp: tempfile::TempDir,
}

impl Dashboard {
    /// Writes one event per entry of `accounts` to `events.csv`, starts the browser, then
    /// `eventbench ARGS` inside the temp dir, and opens the page at the address it prints.
    /// `None`, with nothing started, when no browser is installed.
    async fn open(accounts: &[u64], args: &[&str]) -> Option<Dashboard> {
        let browser = Browser::start().await?;
        let tmp = tempfile::tempdir().unwrap();
        common::write_events(&tmp.path().join("events.csv"), accounts, None);
        let (process, base) = spawn_with_address(args, tmp.path());
        let dashboard = Dashboard {
            browser,
            process,
            base,
            tmp,
        };
        let page = dashboard.browser.page();
        page.goto(&format!("{}/", dashboard.base)).await.unwrap();
        Some(dashboard)
    }

    fn events(&self) -> PathBuf {
        self.tmp.path().join("events.csv")
    }

    /// Checks the page logged no console errors and closes the browser; the process is the
    /// test's to end and judge.
    async fn close_page(&mut self) {
        self.browser.assert_no_console_errors().await;
        self.browser.close().await;
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

fn interrupt(child: &Child) {
    // SAFETY: kill(2) on the id of a child this test started and has not reaped yet.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}

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

    let sent = Command::new(BIN)
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

    interrupt(&dashboard.process);
    let status = dashboard.process.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dashboard_shows_progress_against_the_bound() {
    // Chains of 6, 3 and 1 at 1 s: a bound of 6 s with one lane per account, long enough for
    // the page to connect before the run ends even on a loaded machine.
    let run = [
        "run",
        "--input",
        "events.csv",
        "--process-time",
        "1s",
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
        text.as_str().unwrap().contains(" of ≥ 6.00 s (done)"),
        "{text}"
    );
    let efficiency = browser.value("efficiency").await.unwrap();
    assert!(efficiency > 0.0 && efficiency <= 1.0, "{efficiency}");
    browser.screenshot("run-dashboard.png", 1280, 1000).await;
    dashboard.close_page().await;
    assert!(dashboard.process.wait().unwrap().success());
}

/// A broker test's queues, deleted on a thread of its own when dropped: their deletion runs a
/// runtime, which cannot start inside this test's.
struct OwnQueues(Option<common::broker::Queues>);

impl Drop for OwnQueues {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = std::thread::spawn(move || drop(q)).join();
        }
    }
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
    let published = Command::new(BIN)
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

    interrupt(&dashboard.process);
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
    let status = dashboard.process.wait().unwrap();
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
        let mut cmd = Command::new(BIN);
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
             document.getElementById('verdict').textContent]")
        .await;
    // 3 strategies × 4 worker counts (per-account is not in the default strategies).
    assert_eq!(shape[0], 3, "{shape}");
    assert_eq!(shape[1], 12, "{shape}");
    assert_eq!(shape[2], true, "{shape}");
    assert!(
        shape[3].as_str().unwrap().contains("No regression"),
        "{shape}"
    );
    browser.screenshot("compare.png", 1280, 1900).await;
    browser.screenshot("compare-phone.png", 390, 2600).await;
    browser.assert_no_console_errors().await;

    // A run's report through `report --html`.
    let json = tmp.path().join("run.json");
    let html = tmp.path().join("run.html");
    let ok = Command::new(BIN)
        .args(["run", "-q", "--clock", "virtual", "--input"])
        .arg(&events)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new(BIN)
        .args(["report", "-q"])
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .status()
        .unwrap();
    assert!(ok.success());
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
    browser.close().await;
}
