//! `eventbench` processes a test runs in the background: started with their output captured,
//! found at the address they print, and never left running by a test that failed half-way.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What `serve` prints on stderr once it listens, followed by its address.
pub const LISTENING: &str = "listening on http://";
/// What `run --dashboard` and `worker --dashboard` print once the page is served.
pub const DASHBOARD: &str = "live dashboard: http://";

/// A running process with its stdout and stderr read in the background, so it never blocks on
/// a full pipe; killed (and reaped) on drop if it is still running.
pub struct Spawned {
    child: Child,
    /// The `host:port` the process printed after the marker it was started with.
    pub addr: String,
    stdout: Captured,
    stderr: Captured,
}

/// How a process ended and everything it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// One output stream, collected by a thread until the process closes it.
struct Captured {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    /// Reads `from` line by line into the text, sending each line to `lines` as well.
    fn start(from: impl Read + Send + 'static, lines: Option<mpsc::Sender<String>>) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            let mut from = BufReader::new(from);
            let mut buf = Vec::new();
            while from.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                let line = String::from_utf8_lossy(&buf).into_owned();
                sink.lock().unwrap().push_str(&line);
                if let Some(lines) = &lines {
                    let _ = lines.send(line);
                }
                buf.clear();
            }
        });
        Captured {
            text,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// All of it: waits for the end of the stream (the process must have exited).
    fn whole(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.text()
    }
}

impl Spawned {
    /// Starts `command` with its stdout and stderr captured and waits until a line of its
    /// stderr contains `marker`; the word that follows (less a trailing `/`) is [`Self::addr`].
    /// Panics, showing the stderr so far, if the process closes stderr first.
    pub fn start(command: &mut Command, marker: &str) -> Spawned {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = Captured::start(child.stdout.take().unwrap(), None);
        let (lines, seen) = mpsc::channel();
        let stderr = Captured::start(child.stderr.take().unwrap(), Some(lines));
        let mut spawned = Spawned {
            child,
            addr: String::new(),
            stdout,
            stderr,
        };
        spawned.addr = loop {
            let Ok(line) = seen.recv() else {
                panic!(
                    "{command:?} ended its output before printing {marker:?}: {}",
                    spawned.stderr.text()
                );
            };
            if let Some(rest) = line.split(marker).nth(1) {
                let word = rest.split_whitespace().next().unwrap_or_default();
                break word.trim_end_matches('/').to_string();
            }
        };
        spawned
    }

    /// What the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Its exit status once it has exited, `None` while it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Sends `signal` to the process unless it has already exited (then its exit status, which
    /// the caller judges, says why).
    pub fn signal(&mut self, signal: libc::c_int) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        // SAFETY: kill(2) on a child of this process that has not been reaped, so its id
        // cannot have been reused.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "kill({}, {signal}) failed", self.child.id());
    }

    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// Waits for the process to exit by itself; its status and all it printed.
    pub fn finish(mut self) -> Finished {
        let status = self.wait();
        Finished {
            status,
            stdout: self.stdout.whole(),
            stderr: self.stderr.whole(),
        }
    }

    /// Sends `signal`, then [`Self::finish`]es.
    pub fn stop(mut self, signal: libc::c_int) -> Finished {
        self.signal(signal);
        self.finish()
    }

    /// SIGKILL, as a crash or a power cut would end it, and reaps it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
