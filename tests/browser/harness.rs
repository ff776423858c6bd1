//! The browser tests' harness: a headless Chromium over WebDriver, the live page of an
//! `eventbench` process started for one test, and broker queues a browser test may own.

use crate::common::{self, Spawned};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to reach an expected state before the test fails. A limit on
/// waiting, never a measured time.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A chromedriver process with one headless Chromium session; both end on drop.
pub struct Browser {
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
    pub async fn start() -> Option<Browser> {
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

    pub fn page(&self) -> &Client {
        self.client.as_ref().expect("open until close")
    }

    pub async fn js(&self, script: &str) -> Value {
        self.page().execute(script, vec![]).await.unwrap()
    }

    /// Waits until `script` returns `true` (JavaScript truthiness), or fails with `what`.
    pub async fn until(&self, script: &str, what: &str) {
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
    pub async fn value(&self, id: &str) -> Option<f64> {
        let v = self
            .js(&format!(
                "return document.getElementById('{id}').dataset.value"
            ))
            .await;
        v.as_str().and_then(|s| s.parse().ok())
    }

    /// Console messages at level SEVERE (uncaught errors, failed loads).
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.page().issue_cmd(BrowserLog).await.unwrap();
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].to_string())
            .collect()
    }

    pub async fn assert_no_console_errors(&self) {
        assert_eq!(self.console_errors().await, Vec::<String>::new());
    }

    /// Opens a self-contained HTML report from disk and waits until its script has drawn it.
    pub async fn open_report(&self, path: &Path) {
        let url = format!("file://{}", path.display());
        self.page().goto(&url).await.unwrap();
        self.until(
            "return document.body.dataset.rendered === 'true'",
            "the report",
        )
        .await;
    }

    pub async fn screenshot(&self, name: &str, width: u32, height: u32) {
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

    pub async fn close(&mut self) {
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

/// A browser on the live page of an `eventbench` process started for one test, in a temp dir
/// that holds the workload as `events.csv`. A process still running on drop (a test that
/// failed half-way) is killed rather than left behind.
pub struct Dashboard {
    pub browser: Browser,
    pub process: Spawned,
    /// `http://host:port`, the first address the process printed on stderr.
    pub base: String,
    tmp: tempfile::TempDir,
}

impl Dashboard {
    /// Writes one event per entry of `accounts` to `events.csv`, starts the browser, then
    /// `eventbench ARGS` inside the temp dir, and opens the page at the address it prints.
    /// `None`, with nothing started, when no browser is installed.
    pub async fn open(accounts: &[u64], args: &[&str]) -> Option<Dashboard> {
        let browser = Browser::start().await?;
        let tmp = tempfile::tempdir().unwrap();
        common::write_events(&tmp.path().join("events.csv"), accounts, None);
        // Whichever page the command serves: `serve`'s own address or a `--dashboard`'s.
        let process = Spawned::start(
            common::command().args(args).current_dir(tmp.path()),
            "http://",
        );
        let base = format!("http://{}", process.addr);
        let mut dashboard = Dashboard {
            browser,
            process,
            base,
            tmp,
        };
        let url = format!("{}/", dashboard.base);
        if let Err(e) = dashboard.browser.page().goto(&url).await {
            // Say whether the process was still there: a page refused by a live process and
            // one whose process has gone are different failures.
            let exited = dashboard.process.try_wait();
            let stderr = dashboard.process.stderr();
            panic!("cannot open {url}: {e}; eventbench {args:?} exited: {exited:?}; {stderr}");
        }
        Some(dashboard)
    }

    pub fn events(&self) -> PathBuf {
        self.tmp.path().join("events.csv")
    }

    /// Checks the page logged no console errors and closes the browser; the process is the
    /// test's to end and judge.
    pub async fn close_page(&mut self) {
        self.browser.assert_no_console_errors().await;
        self.browser.close().await;
    }
}

/// A broker test's queues, deleted on a thread of its own when dropped: their deletion runs a
/// runtime, which cannot start inside this test's.
pub struct OwnQueues(pub Option<common::broker::Queues>);

impl Drop for OwnQueues {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = std::thread::spawn(move || drop(q)).join();
        }
    }
}
