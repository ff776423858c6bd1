//! Consuming: one consumer per queue feeding the live engine, acks in per-account order from
//! the engine's observer, reconnection after a lost connection, and the conditions that end a
//! consumer run.
//!
//! A message (one event, or a batch of them) is acked only after the handlers of all its
//! events returned (the observer runs then), so a worker that dies leaves every message with an
//! unfinished event unacknowledged for the broker to redeliver.
//! When the connection drops, the broker requeues every unacknowledged delivery; the
//! deliveries of the lost connection that had not started yet are given up here (they come
//! again, in queue order, on the new connection), those already running finish. Every event
//! that finished here is remembered until the broker has taken its message's ack
//! ([`acks::Finished`]); a redelivered copy is passed over at its turn instead of running
//! again, so an account never sees an older event again after a newer one.

use super::acks::{self, AckError, AckMsg, Acked, Finished};
use super::amqp::{self, Topology};
use super::assign::{self, View};
use super::book::Book;
use super::link::Link;
use super::logged::Logged;
pub(crate) use super::ownership::Ownership;
use super::pump::{ack_observer, skip_check, Eng, Shared};
pub(crate) use super::pump::{BrokerStats, Live};
use crate::engine::clock::PreciseClock;
use crate::engine::exec::Abort;
use crate::engine::real::Engine;
use crate::engine::record::Execution;
use crate::engine::timer::{TimerMode, TimerThread};
use crate::engine::{ClockKind, Strategy};
use crate::sync::lock;
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{anyhow, Context, Result};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// First wait before reconnecting; doubled per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How a consumer run decides it is done.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StopWhen {
    /// After this many events were processed (`run --broker`: everything published).
    Processed(u64),
    /// After the queues were empty and nothing was in flight for this long.
    Idle(Duration),
    /// Only on Ctrl-C / SIGTERM.
    Signal,
}

/// How to consume.
pub(crate) struct Config {
    pub topology: Topology,
    pub strategy: Strategy,
    /// `None`: one lane per account.
    pub lanes: Option<u64>,
    /// Unacknowledged messages per queue (basic.qos on each queue's channel); a message may
    /// carry many events.
    pub prefetch: u16,
    /// The original design: the events of a message also run one after another.
    pub one_at_a_time: bool,
    /// Empty; its duration kind decides whether messages' durations are used.
    pub workload: Workload,
    /// For messages without `duration_us`.
    pub process_time: Micros,
    pub handler: Logged,
    /// How long to keep reconnecting after the connection is lost; `None`: a lost connection
    /// ends the run with an error at once.
    pub reconnect_timeout: Option<Duration>,
    /// Completes when a failure aborts the run (`--on-failure abort`): consuming stops like on
    /// a signal, and what was not started stays unacknowledged.
    pub abort: Option<Abort>,
    /// How the engine's sleeps end (`--timer`).
    pub timer: TimerMode,
    /// A live dashboard to feed (`--dashboard`).
    pub live: Option<Live>,
    /// Share the queues with the other workers through the broker ([`super::assign`]);
    /// otherwise register on every queue (single-active-consumer picks the active one).
    pub cooperative: bool,
}

/// What a finished consumer run hands back.
pub(crate) struct Consumed {
    pub workload: Workload,
    pub execution: Execution,
    pub stats: BrokerStats,
    /// The queues this worker owned, and when (cooperative workers only).
    pub owned: Vec<Ownership>,
}

/// A consumer run in progress: the engine, the connection with its consumers, the acker.
pub(crate) struct Running {
    pub(super) shared: Shared,
    acked: Arc<Acked>,
    errors: mpsc::UnboundedReceiver<AckError>,
    pub(super) session: Arc<AtomicU64>,
    pub(super) link: Option<Link>,
    pub(super) topology: Topology,
    /// Who else consumes these queues (cooperative workers).
    pub(super) view: Option<Arc<Mutex<View>>>,
    pub(super) owned: Vec<Ownership>,
    pub(super) prefetch: u16,
    pub(super) one_at_a_time: bool,
    reconnect: Option<Reconnect>,
    abort: Abort,
    _timer: TimerThread,
    timer: TimerMode,
    live: Option<Live>,
}

/// Reconnection state: the limit, and when the current outage began.
struct Reconnect {
    limit: Duration,
    lost_since: Option<Instant>,
    next_attempt: Instant,
    backoff: Duration,
}

/// Connects, declares the queues and starts the engine, the acker and one consumer per queue.
pub(crate) async fn start(cfg: Config) -> Result<Running> {
    let timer = TimerThread::with_mode(cfg.timer).context("cannot start the timer thread")?;
    let book = Arc::new(Mutex::new(Book::default()));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let (err_tx, err_rx) = mpsc::unbounded_channel();
    let acked = Arc::new(Acked::default());
    let finished = Arc::new(Finished::default());
    let session = Arc::new(AtomicU64::new(0));
    tokio::spawn(acks::ack_loop(
        ack_rx,
        err_tx.clone(),
        (Arc::clone(&acked), Arc::clone(&finished)),
        Arc::clone(&session),
    ));
    let clock = PreciseClock::new(timer.handle());
    if let Some(live) = &cfg.live {
        // The dashboard's time 0 is the engine's.
        live.board.begin();
    }
    let observer = ack_observer(
        (Arc::clone(&book), Arc::clone(&finished)),
        ack_tx.clone(),
        cfg.live.clone(),
        clock.clone(),
    );
    let fixed = !cfg.workload.has_per_event_durations();
    let mut handler = cfg.handler;
    if cfg.reconnect_timeout.is_some() {
        handler.skip = Some(skip_check(Arc::clone(&book), finished));
    }
    handler.board = cfg.live.as_ref().map(|l| Arc::clone(&l.board));
    let engine = Engine::start(
        cfg.workload,
        cfg.strategy,
        cfg.lanes,
        handler,
        clock,
        Some(observer),
    );
    let mut running = Running {
        shared: Shared {
            engine,
            book,
            acks: ack_tx,
            errors: err_tx,
            last_delivery: Arc::new(AtomicU64::new(0)),
            fixed,
            process_time: cfg.process_time,
            live: cfg.live.clone(),
        },
        acked,
        errors: err_rx,
        session,
        link: None,
        topology: cfg.topology,
        prefetch: cfg.prefetch,
        one_at_a_time: cfg.one_at_a_time,
        reconnect: cfg.reconnect_timeout.map(|limit| Reconnect {
            limit,
            lost_since: None,
            next_attempt: Instant::now(),
            backoff: FIRST_BACKOFF,
        }),
        abort: cfg
            .abort
            .unwrap_or_else(|| Box::pin(std::future::pending())),
        _timer: timer,
        timer: cfg.timer,
        live: cfg.live,
        view: cfg
            .cooperative
            .then(|| Arc::new(Mutex::new(View::new(assign::member_id())))),
        owned: Vec::new(),
    };
    // No node answering at all is an error at once (exit 3); a node lost while the worker
    // sets up its connection is a loss like any later one, and the next URL is tried.
    let conn = amqp::connect(&running.topology.url).await?;
    match running.set_up_link(conn).await {
        Ok(link) => running.link = Some(link),
        Err(e) if running.reconnect.is_none() || is_usage(&e) => return Err(e),
        Err(e) => running.lost(e.context("lost RabbitMQ while starting"))?,
    }
    Ok(running)
}

/// A refusal that reconnecting cannot mend (a queue of another type).
fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<crate::error::UsageError>())
}

impl Running {
    pub(crate) fn engine(&self) -> &Eng {
        &self.shared.engine
    }

    /// Runs until `stop` says so (or a signal), lets accepted events finish, sends their acks
    /// and closes the connection. A connection lost for longer than the reconnect timeout is
    /// an error; nothing unprocessed was acked.
    pub(crate) async fn finish(mut self, stop: StopWhen) -> Result<Consumed> {
        let outcome = self.until(stop).await;
        let engine = self.shared.engine.clone();
        match &outcome {
            Ok(()) => engine.close(),
            Err(_) => engine.stop(),
        }
        engine.wait().await;
        // Every ack goes out before the consumers (which own the channels) are dropped: a
        // dropped channel closes, and an ack still queued for it would fail.
        let flushed = match outcome {
            Ok(()) if self.link.is_some() => self.flush_acks().await,
            other => other,
        };
        self.leave().await;
        if let Some(link) = self.link.take() {
            link.drop_consumers();
            flushed?;
            let _ = link.conn.close(200, "done").await;
        } else {
            flushed?;
        }
        self.close_records();
        let book = std::mem::take(&mut *lock(&self.shared.book));
        let mut stats = book.stats;
        stats.acked = self.acked.events.load(Relaxed);
        stats.acked_messages = self.acked.messages.load(Relaxed);
        drop(self.shared);
        let (workload, mut execution) = engine.finish(ClockKind::Real);
        execution.timer = Some(self.timer);
        let mut passed_over = book.abandoned;
        passed_over.extend(book.skipped);
        let (workload, execution) = super::forget(workload, execution, &passed_over);
        let (workload, execution) = super::fold_reruns(workload, execution);
        Ok(Consumed {
            workload,
            execution,
            stats,
            owned: self.owned,
        })
    }

    async fn flush_acks(&mut self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let sent = self.shared.acks.send(AckMsg::Flush(tx)).is_ok();
        let done = sent && rx.await.is_ok();
        let live = self.session.load(Relaxed);
        while let Ok((session, err)) = self.errors.try_recv() {
            if session == live {
                return Err(err);
            }
        }
        if done {
            return Ok(());
        }
        Err(anyhow!("lost RabbitMQ while acknowledging"))
    }

    async fn until(&mut self, stop: StopWhen) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let signal = crate::shutdown::signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                Some((session, err)) = self.errors.recv() => {
                    if session == self.session.load(Relaxed) {
                        self.lost(err)?;
                    }
                }
                _ = &mut signal => {
                    eprintln!("interrupted: letting the events in flight finish");
                    if let Some(live) = &self.live {
                        live.board.draining();
                    }
                    self.shared.engine.stop();
                    return Ok(());
                }
                // What has not started stays unacknowledged, for redelivery.
                _ = &mut self.abort => {
                    self.shared.engine.stop();
                    return Ok(());
                }
                _ = tick.tick() => {
                    if self.link.is_none() {
                        self.try_reconnect().await?;
                        continue;
                    }
                    if let Err(e) = self.rebalance().await {
                        self.lost(e)?;
                        continue;
                    }
                    match self.done(stop).await {
                        Ok(true) => return Ok(()),
                        Ok(false) => {}
                        Err(e) => self.lost(e)?,
                    }
                }
            }
        }
    }

    /// The connection is gone: an error without reconnection, else drop it and start over.
    fn lost(&mut self, err: anyhow::Error) -> Result<()> {
        if self.reconnect.is_none() {
            return Err(err);
        }
        if let Some(link) = self.link.take() {
            link.drop_consumers();
        }
        self.close_records();
        let r = self.reconnect.as_mut().expect("checked above");
        // From here on, acks and errors of the old session are ignored.
        let next = self.session.fetch_add(1, Relaxed) + 1;
        lock(&self.shared.book).abandon(next);
        let now = Instant::now();
        r.lost_since.get_or_insert(now);
        r.next_attempt = now;
        eprintln!(
            "warning: {err:#}; reconnecting (giving up after {})",
            Micros::from_duration(r.limit)
        );
        Ok(())
    }

    async fn try_reconnect(&mut self) -> Result<()> {
        let Some(r) = self.reconnect.as_ref() else {
            return Ok(());
        };
        let now = Instant::now();
        if now < r.next_attempt {
            return Ok(());
        }
        let since = r.lost_since.unwrap_or(now);
        let Some(left) = r.limit.checked_sub(now - since) else {
            return Err(anyhow!(
                "lost RabbitMQ at {} and could not reconnect within {}",
                self.topology.display_url(),
                Micros::from_duration(r.limit)
            ));
        };
        let attempt = tokio::time::timeout(left.min(MAX_BACKOFF * 2), self.open_link()).await;
        let r = self.reconnect.as_mut().expect("checked above");
        match attempt {
            Ok(Ok(link)) => {
                self.link = Some(link);
                if let Some(view) = &self.view {
                    lock(view).grace(Instant::now());
                }
                r.lost_since = None;
                r.backoff = FIRST_BACKOFF;
                lock(&self.shared.book).stats.reconnects += 1;
                eprintln!("reconnected to RabbitMQ at {}", self.topology.url.current());
            }
            _ => {
                r.next_attempt = Instant::now() + r.backoff;
                r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
            }
        }
        Ok(())
    }

    async fn done(&self, stop: StopWhen) -> Result<bool> {
        let engine = &self.shared.engine;
        let c = engine.counters();
        let finished = c.finished.load(Relaxed);
        match stop {
            StopWhen::Processed(n) => Ok(finished >= n),
            StopWhen::Signal => Ok(false),
            StopWhen::Idle(idle) => {
                let settled = c.arrived.load(Relaxed) == finished;
                let now = engine.now().0;
                let last = &self.shared.last_delivery;
                let quiet_for = now.saturating_sub(last.load(Relaxed));
                if !settled || quiet_for < idle.as_micros() as u64 {
                    return Ok(false);
                }
                let Some(link) = &self.link else {
                    return Ok(false);
                };
                // Messages ready but not delivered here: another worker is the active
                // consumer of some queue. Wait another idle period before asking again.
                if amqp::ready_messages(&link.probe, &self.topology).await? > 0 {
                    last.store(now, Relaxed);
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }
}
