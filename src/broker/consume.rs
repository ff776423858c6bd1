//! Consuming: one consumer per queue feeding the live engine, acks in per-account order from
//! the engine's observer, and the conditions that end a consumer run.
//!
//! An ack goes out only after the event's handler returned (the observer runs then), so a
//! worker that dies leaves every unfinished event unacknowledged for the broker to redeliver.
//! Acks are single, by delivery tag: accounts of one queue finish out of order, so a
//! `multiple` ack could cover events that are still running.

use super::amqp::{self, Message, Topology};
use super::livelog::LoggedSleep;
use crate::engine::clock::PreciseClock;
use crate::engine::handler::Job;
use crate::engine::real::{Engine, Observer};
use crate::engine::record::Execution;
use crate::engine::timer::TimerThread;
use crate::engine::{ClockKind, Strategy};
use crate::sync::lock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use crate::workload::Workload;
use anyhow::{anyhow, Context, Result};
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

type Eng = Engine<LoggedSleep, PreciseClock>;

/// How a consumer run decides it is done.
#[derive(Clone, Copy, Debug)]
pub enum StopWhen {
    /// After this many events were processed (`run --broker`: everything published).
    Processed(u64),
    /// After the queues were empty and nothing was in flight for this long.
    Idle(Duration),
    /// Only on Ctrl-C / SIGTERM.
    Signal,
}

/// How to consume.
pub struct Config {
    pub topology: Topology,
    pub strategy: Strategy,
    /// `None`: one lane per account.
    pub lanes: Option<u64>,
    /// Unacknowledged messages per queue (basic.qos on each queue's channel).
    pub prefetch: u16,
    /// Empty; its duration kind decides whether messages' durations are used.
    pub workload: Workload,
    /// For messages without `duration_us`.
    pub process_time: Micros,
    pub handler: LoggedSleep,
}

/// Delivery counts beside the engine's report.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct BrokerStats {
    pub deliveries: u64,
    /// Deliveries the broker flagged as redelivered (a consumer died or disconnected before
    /// acknowledging them).
    pub redelivered: u64,
    /// Deliveries of an event id this process had already received (at-least-once duplicates).
    pub repeated: u64,
    /// Bodies that were not a valid event; rejected without requeue.
    pub malformed: u64,
    pub acked: u64,
}

/// What a finished consumer run hands back.
pub struct Consumed {
    pub workload: Workload,
    pub execution: Execution,
    pub stats: BrokerStats,
}

/// Deliveries that were submitted and not acknowledged yet, by engine index.
#[derive(Default)]
struct Book {
    ackers: HashMap<EventIdx, Acker>,
    seen: HashSet<u64>,
    stats: BrokerStats,
}

enum AckMsg {
    Ack(Acker),
    /// Answered once every ack queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// A consumer run in progress: the engine, the per-queue consumers and the acker.
pub struct Running {
    engine: Eng,
    book: Arc<Mutex<Book>>,
    acks: mpsc::UnboundedSender<AckMsg>,
    acked: Arc<AtomicU64>,
    errors: mpsc::UnboundedReceiver<anyhow::Error>,
    pumps: Vec<JoinHandle<()>>,
    probe: Channel,
    last_delivery: Arc<AtomicU64>,
    topology: Topology,
    _timer: TimerThread,
}

/// Starts the engine, the acker and one consumer per queue on `conn`.
pub async fn start(conn: &Connection, cfg: Config) -> Result<Running> {
    let timer = TimerThread::start().context("cannot start the timer thread")?;
    let book = Arc::new(Mutex::new(Book::default()));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let (err_tx, err_rx) = mpsc::unbounded_channel();
    let acked = Arc::new(AtomicU64::new(0));
    tokio::spawn(ack_loop(ack_rx, err_tx.clone(), Arc::clone(&acked)));
    let observer = ack_observer(Arc::clone(&book), ack_tx.clone());
    let fixed = !cfg.workload.has_per_event_durations();
    let engine = Engine::start(
        cfg.workload,
        cfg.strategy,
        cfg.lanes,
        cfg.handler,
        PreciseClock::new(timer.handle()),
        Some(observer),
    );
    let last_delivery = Arc::new(AtomicU64::new(0));
    let mut pumps = Vec::with_capacity(cfg.topology.queues as usize);
    for (i, name) in cfg.topology.queue_names().into_iter().enumerate() {
        let ch = conn.create_channel().await?;
        ch.basic_qos(cfg.prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("eventbench-{}-{i}", std::process::id());
        let consumer = ch
            .basic_consume(
                &name,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot consume queue {name}"))?;
        let pump = Pump {
            engine: engine.clone(),
            book: Arc::clone(&book),
            errors: err_tx.clone(),
            last_delivery: Arc::clone(&last_delivery),
            fixed,
            process_time: cfg.process_time,
            queue: name,
        };
        // The channel must outlive the consumer; the task owns both.
        pumps.push(tokio::spawn(pump.run(ch, consumer)));
    }
    Ok(Running {
        engine,
        book,
        acks: ack_tx,
        acked,
        errors: err_rx,
        pumps,
        probe: conn.create_channel().await?,
        last_delivery,
        topology: cfg.topology,
        _timer: timer,
    })
}

/// Hands each finished event's acker to the ack loop; runs in per-account order (see
/// [`crate::engine::real::Observer`]).
fn ack_observer(book: Arc<Mutex<Book>>, acks: mpsc::UnboundedSender<AckMsg>) -> Observer {
    Arc::new(move |job: &Job| {
        let acker = lock(&book).ackers.remove(&job.index);
        if let Some(a) = acker {
            let _ = acks.send(AckMsg::Ack(a));
        }
    })
}

async fn ack_loop(
    mut rx: mpsc::UnboundedReceiver<AckMsg>,
    errors: mpsc::UnboundedSender<anyhow::Error>,
    acked: Arc<AtomicU64>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            AckMsg::Ack(a) => {
                if let Err(e) = a.ack(BasicAckOptions::default()).await {
                    let _ = errors.send(anyhow!(e).context("lost RabbitMQ while acknowledging"));
                    return;
                }
                acked.fetch_add(1, Relaxed);
            }
            AckMsg::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// One queue's consumer: parses deliveries and submits them to the engine.
struct Pump {
    engine: Eng,
    book: Arc<Mutex<Book>>,
    errors: mpsc::UnboundedSender<anyhow::Error>,
    last_delivery: Arc<AtomicU64>,
    fixed: bool,
    process_time: Micros,
    queue: String,
}

impl Pump {
    async fn run(self, _channel: Channel, mut consumer: lapin::Consumer) {
        while let Some(item) = consumer.next().await {
            let delivery = match item {
                Ok(d) => d,
                Err(e) => {
                    let what = format!("lost RabbitMQ while consuming {}", self.queue);
                    let _ = self.errors.send(anyhow!(e).context(what));
                    return;
                }
            };
            self.last_delivery.store(self.engine.now().0, Relaxed);
            let Ok(msg) = serde_json::from_slice::<Message>(&delivery.data) else {
                eprintln!(
                    "warning: {}: rejecting a message that is not an event: {:?}",
                    self.queue,
                    String::from_utf8_lossy(&delivery.data)
                );
                lock(&self.book).stats.malformed += 1;
                let reject = BasicRejectOptions { requeue: false };
                let _ = delivery.acker.reject(reject).await;
                continue;
            };
            if !self.submit(msg, delivery.redelivered, delivery.acker) {
                // Closed: the delivery stays unacknowledged and returns to the queue when
                // this process disconnects.
                return;
            }
        }
        let what = format!("RabbitMQ cancelled the consumer of {}", self.queue);
        let _ = self.errors.send(anyhow!(what));
    }

    /// Submits under the book's lock so the observer cannot look up the acker before it is
    /// stored (the event may finish before `submit` returns).
    fn submit(&self, msg: Message, redelivered: bool, acker: Acker) -> bool {
        let duration = (!self.fixed).then(|| msg.duration_us.map_or(self.process_time, Micros));
        let mut book = lock(&self.book);
        let id = EventId(msg.event_id);
        let Ok(idx) = self.engine.submit(id, AccountId(msg.account_id), duration) else {
            return false;
        };
        book.ackers.insert(idx, acker);
        book.stats.deliveries += 1;
        book.stats.redelivered += u64::from(redelivered);
        if !book.seen.insert(msg.event_id) {
            book.stats.repeated += 1;
        }
        true
    }
}

impl Running {
    pub fn engine(&self) -> &Eng {
        &self.engine
    }

    /// Runs until `stop` says so (or a signal), lets accepted events finish, sends their acks
    /// and closes `conn`. A lost connection is an error; nothing unprocessed was acked.
    pub async fn finish(mut self, conn: &Connection, stop: StopWhen) -> Result<Consumed> {
        let outcome = self.until(stop).await;
        match &outcome {
            Ok(()) => self.engine.close(),
            Err(_) => self.engine.stop(),
        }
        self.engine.wait().await;
        // Every ack goes out before the consumers (which own the channels) are dropped: a
        // dropped channel closes, and an ack still queued for it would fail.
        let flushed = match outcome {
            Ok(()) => self.flush_acks().await,
            Err(e) => Err(e),
        };
        for p in &self.pumps {
            p.abort();
        }
        flushed?;
        let _ = conn.close(200, "done").await;
        let mut stats = lock(&self.book).stats;
        stats.acked = self.acked.load(Relaxed);
        let (workload, execution) = self.engine.finish(ClockKind::Real);
        Ok(Consumed {
            workload,
            execution,
            stats,
        })
    }

    async fn flush_acks(&mut self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let sent = self.acks.send(AckMsg::Flush(tx)).is_ok();
        if sent && rx.await.is_ok() {
            return Ok(());
        }
        Err(self
            .errors
            .try_recv()
            .unwrap_or_else(|_| anyhow!("lost RabbitMQ while acknowledging")))
    }

    async fn until(&mut self, stop: StopWhen) -> Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let signal = crate::shutdown::signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                Some(err) = self.errors.recv() => return Err(err),
                _ = &mut signal => {
                    eprintln!("interrupted: letting the events in flight finish");
                    self.engine.stop();
                    return Ok(());
                }
                _ = tick.tick() => {
                    if self.done(stop).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn done(&self, stop: StopWhen) -> Result<bool> {
        let c = self.engine.counters();
        let finished = c.finished.load(Relaxed);
        match stop {
            StopWhen::Processed(n) => Ok(finished >= n),
            StopWhen::Signal => Ok(false),
            StopWhen::Idle(idle) => {
                let settled = c.arrived.load(Relaxed) == finished;
                let now = self.engine.now().0;
                let quiet_for = now.saturating_sub(self.last_delivery.load(Relaxed));
                if !settled || quiet_for < idle.as_micros() as u64 {
                    return Ok(false);
                }
                // Messages ready but not delivered here: another worker is the active
                // consumer of some queue. Wait another idle period before asking again.
                if amqp::ready_messages(&self.probe, &self.topology).await? > 0 {
                    self.last_delivery.store(now, Relaxed);
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }
}
