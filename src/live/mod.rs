//! Live statistics of a run or a server in progress: the [`Board`] that executors and the
//! server feed while events flow, sampled a few times a second into the [`Snapshot`] that the
//! dashboard page and `GET /api/stats` show.
//!
//! Feeding is a few atomics and two short locks per event, so it is only switched on when a
//! dashboard is asked for (`serve` always has one; `run` and `worker` with `--dashboard`).

pub(crate) mod observed;

use crate::engine::bound::lower_bound;
use crate::engine::{Plan, Workers};
use crate::sync::lock;
use crate::workload::Workload;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the board is sampled: the page polls at the same pace, so ≥ 2 updates/s.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Most points a history keeps; past it every other point is dropped (the chart of a 20-minute
/// run then has 0.5 s steps instead of growing without end).
const MAX_POINTS: usize = 1200;
/// The window of the throughput and of the recent latency, in seconds. Events of 1 s finish
/// in bursts about once a second: over one second the rate fell to 0 between bursts, and the
/// last latency stood on the page long after traffic had stopped.
const RECENT_S: f64 = 5.0;
/// Accounts listed as the hottest.
const HOTTEST: usize = 10;

/// What the page shows about how the events are processed; fixed once work starts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Info {
    /// `run`, `serve` or `worker`.
    pub mode: String,
    pub strategy: String,
    pub workers: String,
    pub handler: String,
    /// Where the events come from (file, built-in workload, `http://…/api`).
    pub input: String,
    pub data_dir: Option<String>,
    pub broker: Option<String>,
    /// Events of a preloaded run (`None` for a server: they keep coming).
    pub events_total: Option<u64>,
    /// The run's lower bound in seconds (`None` for a server).
    pub lower_bound_s: Option<f64>,
    /// What the run should take: its schedule on the virtual clock, computed before it
    /// started (`None` for a server, a real handler, or a workload too large to simulate).
    pub expected_s: Option<f64>,
    /// Lanes, for the bound of the remaining work (`None`: one per account).
    #[serde(skip)]
    pub lanes: Option<u64>,
}

/// Gauges read at a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub accepted: u64,
    pub queued: u64,
    pub in_flight: u64,
    pub processed: u64,
    pub rejected: Option<u64>,
}

/// Where the gauges come from when the board's own counters are not the truth (a server reads
/// its engine's counters, which also see events no handler has started yet).
pub(crate) type CountsFn = Box<dyn Fn() -> Counts + Send + Sync>;

/// Work left on one account.
#[derive(Clone, Copy, Debug, Default)]
struct Left {
    events: u64,
    work_us: u64,
    /// The event running now: its start on the run's clock and its duration.
    running: Option<(u64, u64)>,
}

/// One account in the "hottest" list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hot {
    pub account_id: u64,
    pub events_left: u64,
    pub work_left_s: f64,
}

/// Time series for the charts; parallel arrays (what uPlot takes).
#[derive(Clone, Debug, Default, Serialize)]
pub struct History {
    pub t_s: Vec<f64>,
    pub processed: Vec<u64>,
    pub throughput_eps: Vec<f64>,
    pub p50_us: Vec<Option<u64>>,
    pub p99_us: Vec<Option<u64>>,
}

impl History {
    fn push(&mut self, s: &Snapshot) {
        self.t_s.push(s.elapsed_s);
        self.processed.push(s.processed);
        self.throughput_eps.push(s.throughput_eps);
        self.p50_us.push(s.latency_p50_us);
        self.p99_us.push(s.latency_p99_us);
        if self.t_s.len() > MAX_POINTS {
            fn thin<T>(v: &mut Vec<T>) {
                let mut i = 0;
                v.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
            }
            thin(&mut self.t_s);
            thin(&mut self.processed);
            thin(&mut self.throughput_eps);
            thin(&mut self.p50_us);
            thin(&mut self.p99_us);
        }
    }
}

/// The body of `GET /api/stats` (fields documented in docs/REPORT.md).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    pub eventbench_version: &'static str,
    /// The git commit of the build (`unknown` outside a checkout).
    pub eventbench_commit: &'static str,
    #[serde(flatten)]
    pub info: Info,
    /// Increases with every sample.
    pub seq: u64,
    /// The run has ended (for a server: shutdown has begun).
    pub done: bool,
    pub elapsed_s: f64,
    pub accepted: u64,
    pub queued: u64,
    pub in_flight: u64,
    pub processed: u64,
    pub rejected: Option<u64>,
    /// Live order holds by construction; the full proof runs over the log at the end, and
    /// its result replaces this count then.
    pub ordering_violations: u64,
    /// Events finished per second over the last [`RECENT_S`] seconds (since the start, before).
    pub throughput_eps: f64,
    /// Latency (queue entry to end of processing) of the events finished since the previous
    /// sample; `None` when none finished.
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    /// The latest sample's latency within the last [`RECENT_S`] seconds; `None` when nothing
    /// finished that recently (idle).
    pub latency_recent_p50_us: Option<u64>,
    pub latency_recent_p99_us: Option<u64>,
    /// For a run: now + the lower bound of the work left = the earliest possible finish.
    pub best_finish_s: Option<f64>,
    /// For a run: lower bound / earliest possible finish: the efficiency the run can still
    /// reach (1.0 until time is lost; the final efficiency once done).
    pub efficiency_so_far: Option<f64>,
    /// The run's final wall time, once done.
    pub wall_time_s: Option<f64>,
    /// Accounts with the most work left, most first.
    pub hottest: Vec<Hot>,
    pub history: History,
}

/// Shared live state; see the module docs.
pub struct Board {
    info: Mutex<Info>,
    origin: Mutex<Instant>,
    /// Events queued and not taken back: a run's whole workload, or what a consumer received.
    accepted: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    accounts: Mutex<HashMap<u64, Left>>,
    window: Mutex<Histogram<u64>>,
    source: Mutex<Option<CountsFn>>,
    latest: Mutex<Snapshot>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            info: Mutex::new(Info::default()),
            origin: Mutex::new(Instant::now()),
            accepted: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            accounts: Mutex::new(HashMap::new()),
            window: Mutex::new(Histogram::new(3).expect("3 significant figures is valid")),
            source: Mutex::new(None),
            latest: Mutex::new(Snapshot::default()),
        }
    }
}

impl Board {
    pub fn describe(&self, info: Info) {
        *lock(&self.info) = info;
    }

    /// Changes part of the description (before work starts).
    pub fn amend(&self, change: impl FnOnce(&mut Info)) {
        change(&mut lock(&self.info));
    }

    /// Reads the gauges from `f` instead of the board's own start/finish counters.
    pub fn count_with(&self, f: CountsFn) {
        *lock(&self.source) = Some(f);
    }

    /// Time 0 of the elapsed time shown: call when the run's clock starts.
    pub fn begin(&self) {
        *lock(&self.origin) = Instant::now();
    }

    /// An event entered the queue of `account`.
    pub fn queue(&self, account: u64, duration_us: u64) {
        self.accepted.fetch_add(1, Relaxed);
        let mut a = lock(&self.accounts);
        let left = a.entry(account).or_default();
        left.events += 1;
        left.work_us += duration_us;
    }

    /// A handler started (at `start_us` on the run's clock).
    pub fn start(&self, account: u64, start_us: u64, duration_us: u64) {
        self.started.fetch_add(1, Relaxed);
        if let Some(left) = lock(&self.accounts).get_mut(&account) {
            left.running = Some((start_us, duration_us));
        }
    }

    /// A handler returned; `latency_us` from queue entry to now.
    pub fn finish(&self, account: u64, duration_us: u64, latency_us: u64) {
        self.leave(account, duration_us);
        let _ = lock(&self.window).record(latency_us);
        self.finished.fetch_add(1, Relaxed);
    }

    /// A handler returned, but when its event entered the queue is no longer known (a broker
    /// consumer forgets that of the events running when its connection was lost): it counts
    /// as processed without a latency sample.
    pub fn finish_untimed(&self, account: u64, duration_us: u64) {
        self.leave(account, duration_us);
        self.finished.fetch_add(1, Relaxed);
    }

    /// Takes back a [`Board::queue`] of an event that was refused or given up after all.
    pub fn unqueue(&self, account: u64, duration_us: u64) {
        self.leave(account, duration_us);
        let _ = self
            .accepted
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
    }

    /// The event no longer waits or runs: its work leaves its account.
    fn leave(&self, account: u64, duration_us: u64) {
        let mut a = lock(&self.accounts);
        if let Some(left) = a.get_mut(&account) {
            left.events = left.events.saturating_sub(1);
            left.work_us = left.work_us.saturating_sub(duration_us);
            left.running = None;
            if left.events == 0 {
                a.remove(&account);
            }
        }
    }

    fn counts(&self) -> Counts {
        if let Some(f) = lock(&self.source).as_ref() {
            return f();
        }
        let accepted = self.accepted.load(Relaxed);
        let started = self.started.load(Relaxed);
        let processed = self.finished.load(Relaxed);
        Counts {
            accepted,
            queued: accepted.saturating_sub(started),
            in_flight: started.saturating_sub(processed),
            processed,
            rejected: None,
        }
    }

    /// Takes one sample: gauges, the rate over the last second, the latency window.
    pub fn sample(&self) {
        let now = lock(&self.origin).elapsed();
        self.sample_at(now);
    }

    /// [`Board::sample`] at `now` since [`Board::begin`].
    pub fn sample_at(&self, now: Duration) {
        let info = lock(&self.info).clone();
        let now_s = now.as_secs_f64();
        let c = self.counts();
        let (p50, p99) = {
            let mut w = lock(&self.window);
            let q = (!w.is_empty()).then(|| (w.value_at_quantile(0.5), w.value_at_quantile(0.99)));
            w.reset();
            q.unzip()
        };
        let (hottest, remaining_bound_s) = self.hottest(&info, now.as_micros() as u64);
        let mut s = lock(&self.latest);
        if s.done {
            return;
        }
        let rate = rate_over_window(&s.history, now_s, c.processed);
        let (recent_p50, recent_p99) = match p50 {
            Some(_) => (p50, p99),
            None => recent_latency(&s.history, now_s),
        };
        let best_finish = remaining_bound_s.map(|r| now_s + r);
        let efficiency =
            info.lower_bound_s
                .zip(best_finish)
                .map(|(b, f)| if f > 0.0 { (b / f).min(1.0) } else { 1.0 });
        let history = std::mem::take(&mut s.history);
        *s = Snapshot {
            eventbench_version: env!("CARGO_PKG_VERSION"),
            eventbench_commit: crate::build_info::COMMIT,
            info,
            seq: s.seq + 1,
            done: false,
            elapsed_s: now_s,
            accepted: c.accepted,
            queued: c.queued,
            in_flight: c.in_flight,
            processed: c.processed,
            rejected: c.rejected,
            ordering_violations: 0,
            throughput_eps: rate,
            latency_p50_us: p50,
            latency_p99_us: p99,
            latency_recent_p50_us: recent_p50,
            latency_recent_p99_us: recent_p99,
            best_finish_s: best_finish,
            efficiency_so_far: efficiency,
            wall_time_s: None,
            hottest,
            history,
        };
        let point = s.clone();
        s.history.push(&point);
    }

    /// The accounts with the most work left, and (for a run) the lower bound of the work left
    /// in seconds: max(heaviest remaining chain, remaining work / lanes).
    fn hottest(&self, info: &Info, now_us: u64) -> (Vec<Hot>, Option<f64>) {
        let a = lock(&self.accounts);
        let chain_left = |l: &Left| {
            let done = l
                .running
                .map_or(0, |(s, d)| now_us.saturating_sub(s).min(d));
            l.work_us.saturating_sub(done)
        };
        let mut hot: Vec<(u64, Left, u64)> = Vec::with_capacity(HOTTEST + 1);
        let (mut heaviest, mut total) = (0u64, 0u64);
        for (&id, l) in a.iter() {
            let left = chain_left(l);
            heaviest = heaviest.max(left);
            total += left;
            let pos = hot.partition_point(|h| {
                (h.2, std::cmp::Reverse(h.0)) >= (left, std::cmp::Reverse(id))
            });
            if pos < HOTTEST {
                hot.insert(pos, (id, *l, left));
                hot.truncate(HOTTEST);
            }
        }
        let lanes = info.lanes.unwrap_or(a.len() as u64).max(1);
        let bound = info
            .lower_bound_s
            .map(|_| heaviest.max(total.div_ceil(lanes)) as f64 / 1e6);
        let hot = hot
            .into_iter()
            .map(|(id, l, left)| Hot {
                account_id: id,
                events_left: l.events,
                work_left_s: left as f64 / 1e6,
            })
            .collect();
        (hot, bound)
    }

    /// The run is over: the verified numbers replace the live estimates, and sampling stops.
    /// `lower_bound_s` is the report's bound: for a real handler the board had none until the
    /// handler times were measured.
    pub fn complete(
        &self,
        ordering_violations: u64,
        wall_time_s: f64,
        efficiency: f64,
        lower_bound_s: f64,
    ) {
        lock(&self.info).lower_bound_s = Some(lower_bound_s);
        self.sample_at(Duration::from_secs_f64(wall_time_s));
        let mut s = lock(&self.latest);
        s.done = true;
        s.seq += 1;
        s.ordering_violations = ordering_violations;
        s.wall_time_s = Some(wall_time_s);
        s.efficiency_so_far = Some(efficiency);
        s.in_flight = 0;
    }

    /// A server or a worker began its shutdown: the page says so (`serve (draining)`),
    /// samples go on while it drains.
    pub fn draining(&self) {
        let mut info = lock(&self.info);
        if !info.mode.ends_with(" (draining)") {
            info.mode.push_str(" (draining)");
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        lock(&self.latest).clone()
    }
}

/// A board for a preloaded run: its configuration, its bound, and every event queued at
/// time 0. `real_handler` names a command or service handler: its time is not the declared
/// one, so the board shows no bound (the report computes it from the measured times).
pub(crate) fn run_board(w: &Workload, plan: Plan, real_handler: Option<String>) -> Arc<Board> {
    let shape = w.shape();
    let lanes = plan.lanes(shape.accounts);
    let board = Board::default();
    let (lower_bound_s, expected_s) = match real_handler {
        None => {
            let (total, _, exact) = crate::engine::exec::expected_total(w, plan);
            let bound = lower_bound(&shape, lanes).as_secs_f64();
            (Some(bound), exact.then(|| total.as_secs_f64()))
        }
        Some(_) => (None, None),
    };
    board.describe(Info {
        mode: "run".into(),
        strategy: plan.strategy().to_string(),
        workers: match plan.workers() {
            Workers::Auto => format!("auto ({})", lanes.unwrap_or(shape.accounts)),
            n => n.to_string(),
        },
        handler: match (real_handler, shape.uniform) {
            (Some(h), _) => h,
            (None, Some(d)) => format!("sleep {d}"),
            (None, None) => "sleep (per-event durations)".to_string(),
        },
        input: w.source().to_string(),
        events_total: Some(shape.events),
        lower_bound_s,
        expected_s,
        lanes,
        ..Info::default()
    });
    for e in w.indexes() {
        board.queue(w.account_id(w.account_of(e)).0, w.duration(e).0);
    }
    Arc::new(board)
}

/// Events per second since the last sample at least [`RECENT_S`] seconds ago (since the
/// start while the run is younger): never a window so short that it falls between bursts.
fn rate_over_window(h: &History, now_s: f64, processed: u64) -> f64 {
    let i = h.t_s.partition_point(|&t| t <= now_s - RECENT_S);
    let (t0, p0) = match i.checked_sub(1) {
        Some(j) => (h.t_s[j], h.processed[j]),
        None => (0.0, 0),
    };
    let dt = now_s - t0;
    if dt > 0.0 {
        processed.saturating_sub(p0) as f64 / dt
    } else {
        0.0
    }
}

/// The latency of the latest sample within the last [`RECENT_S`] seconds that had finished
/// events.
fn recent_latency(h: &History, now_s: f64) -> (Option<u64>, Option<u64>) {
    let since = h.t_s.partition_point(|&t| t < now_s - RECENT_S);
    (since..h.t_s.len())
        .rev()
        .find(|&i| h.p50_us[i].is_some())
        .map_or((None, None), |i| (h.p50_us[i], h.p99_us[i]))
}

/// Samples `board` every [`SAMPLE_EVERY`] until the task is dropped.
pub(crate) async fn sample_forever(board: Arc<Board>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        board.sample();
    }
}

#[cfg(test)]
mod tests;
