//! One queue's consumer, and the engine's observer and skip check over the book they share
//! (see [`super::book`]).

use super::acks::{AckError, AckMsg, Finished, Session};
use super::amqp::Message;
pub(crate) use super::book::BrokerStats;
use super::book::{Book, Settled};
use super::logged::{Logged, Skip};
use crate::engine::clock::{Clock, PreciseClock};
use crate::engine::real::{Engine, Observer};
use crate::engine::work::Job;
use crate::live::Board;
use crate::sync::lock;
use crate::types::{AccountId, EventId, Micros};
use anyhow::anyhow;
use futures_util::StreamExt;
use lapin::options::BasicRejectOptions;
use lapin::Channel;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The engine that every queue's pump feeds.
pub(super) type Eng = Engine<Logged, PreciseClock>;

/// The board of a live dashboard, fed by the consumer: each delivered event is queued on it
/// (unless `preloaded`), started by the handler and ended by the ack observer, all from
/// counters and short locks; the page itself is served and sampled elsewhere.
#[derive(Clone)]
pub(crate) struct Live {
    pub board: Arc<Board>,
    /// The board already holds every event (a run's workload, queued at time 0): deliveries
    /// are not queued again.
    pub preloaded: bool,
}

/// What every pump shares.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) engine: Eng,
    pub(super) book: Arc<Mutex<Book>>,
    pub(super) acks: mpsc::UnboundedSender<AckMsg>,
    pub(super) errors: mpsc::UnboundedSender<AckError>,
    pub(super) last_delivery: Arc<AtomicU64>,
    pub(super) fixed: bool,
    pub(super) process_time: Micros,
    /// The live dashboard's board, if any.
    pub(super) live: Option<Live>,
}

/// Hands each finished event's acker to the ack loop, remembers in `finished` that the event
/// ran, and tells the dashboard's board (if any) that the event ended; runs in per-account
/// order (see [`crate::engine::real::Observer`]). `clock` is the engine's.
pub(super) fn ack_observer(
    (book, finished): (Arc<Mutex<Book>>, Arc<Finished>),
    acks: mpsc::UnboundedSender<AckMsg>,
    live: Option<Live>,
    clock: PreciseClock,
) -> Observer {
    Arc::new(move |job: &Job| {
        let settled = {
            let mut b = lock(&book);
            let (settled, message) = b.settle(job.index);
            // Before its message can be acked: a redelivery racing the ack is passed over.
            if let Settled::Ran(_) | Settled::RanUnbooked = settled {
                finished.insert(job.event.0);
                b.ran(job.event.0);
            }
            // Sent under the lock: once the book holds nothing of a queue, every ack of it is
            // on its way to the ack loop (a handover flushes them next).
            if let Some(p) = message {
                let _ = acks.send(AckMsg::Settled(super::acks::Settled {
                    session: p.session,
                    queue: p.queue,
                    tag: p.tag,
                    acker: Some(p.acker),
                    events: p.ids.len() as u64,
                    ids: p.ids,
                }));
            }
            settled
        };
        if let Some(live) = &live {
            let (account, work) = (job.account.0, job.duration.0);
            match settled {
                Settled::Ran(at) => {
                    let latency = clock.now().saturating_sub(at);
                    live.board.finish(account, work, latency.0);
                }
                // Not run here now: given up unstarted (it comes again, queued again), or a
                // redelivery of what already ran.
                Settled::PassedOver(_) => live.board.unqueue(account, work),
                // Running when the connection was lost: its booking (and arrival) is gone.
                Settled::RanUnbooked => live.board.finish_untimed(account, work),
            }
        }
    })
}

/// The handler's question at the start of each event: pass it over? Yes when its delivery was
/// given up after a lost connection, or when it already finished in this process (see
/// [`super::book::Book::start`]).
pub(super) fn skip_check(book: Arc<Mutex<Book>>, finished: Arc<Finished>) -> Skip {
    Arc::new(move |job: &Job| lock(&book).start(job.index, job.event.0, &finished))
}

/// One queue's consumer: parses deliveries and submits their events to the engine.
pub(super) struct Pump {
    pub(super) shared: Shared,
    pub(super) session: Session,
    pub(super) queue: u32,
    pub(super) name: String,
    /// The original design: a message's events run one after another, never side by side.
    pub(super) one_at_a_time: bool,
    /// Set before this worker cancels the consumer to hand the queue over: the end of the
    /// deliveries is then expected, not a loss.
    pub(super) released: Arc<std::sync::atomic::AtomicBool>,
}

impl Pump {
    pub(super) async fn run(self, _channel: Channel, mut consumer: lapin::Consumer) {
        let s = &self.shared;
        while let Some(item) = consumer.next().await {
            let delivery = match item {
                Ok(d) => d,
                Err(e) => {
                    let what = format!("lost RabbitMQ while consuming {}", self.name);
                    let _ = s.errors.send((self.session, anyhow!(e).context(what)));
                    return;
                }
            };
            s.last_delivery.store(s.engine.now().0, Relaxed);
            let Some(batch) = Message::decode_batch(&delivery.data) else {
                self.reject(delivery).await;
                continue;
            };
            let (tag, redelivered) = (delivery.delivery_tag, delivery.redelivered);
            let ids = batch.iter().map(|m| m.event_id).collect();
            let opened = lock(&s.book).open(self.session, self.queue, tag, delivery.acker, ids);
            let Some(key) = opened else {
                // The connection is lost: the broker hands this message back on the next one.
                return;
            };
            let submitted = if self.one_at_a_time {
                self.submit_one_by_one(key, &batch, redelivered).await
            } else {
                self.submit(key, &batch, redelivered, None)
            };
            if !submitted {
                // Closed, or the connection lost: the message stays unacknowledged and
                // returns to the queue when this process disconnects.
                return;
            }
        }
        if self.released.load(Relaxed) {
            return;
        }
        let what = format!("RabbitMQ cancelled the consumer of {}", self.name);
        let _ = s.errors.send((self.session, anyhow!(what)));
    }

    /// A body that is not an event nor a batch of events: rejected without requeue.
    async fn reject(&self, delivery: lapin::message::Delivery) {
        let s = &self.shared;
        eprintln!(
            "warning: {}: rejecting a message that is not an event or a JSON array of events: \
             {:?}",
            self.name,
            String::from_utf8_lossy(&delivery.data)
        );
        lock(&s.book).stats.malformed += 1;
        let reject = BasicRejectOptions { requeue: false };
        let _ = delivery.acker.reject(reject).await;
        let _ = s.acks.send(AckMsg::Settled(super::acks::Settled {
            session: self.session,
            queue: self.queue,
            tag: delivery.delivery_tag,
            acker: None,
            events: 0,
            ids: Vec::new(),
        }));
    }

    /// Submits the events of one message, each after the previous one finished.
    async fn submit_one_by_one(&self, key: u64, batch: &[Message], redelivered: bool) -> bool {
        for one in batch.chunks(1) {
            let (tx, rx) = oneshot::channel();
            if !self.submit(key, one, redelivered, Some(tx)) {
                return false;
            }
            // Dropped unanswered: the connection was lost and the book abandoned. The rest of
            // the message is not started here; the broker redelivers all of it.
            if rx.await.is_err() {
                break;
            }
        }
        true
    }

    /// Submits under the book's lock so the observer cannot settle an event before it is
    /// booked (the event may finish before `submit` returns). `done` is told when the last
    /// event of `batch` finished. False when the engine is closed or the connection lost.
    fn submit(
        &self,
        key: u64,
        batch: &[Message],
        redelivered: bool,
        mut done: Option<oneshot::Sender<()>>,
    ) -> bool {
        let s = &self.shared;
        let mut book = lock(&s.book);
        // Checked under the lock that `abandon` takes: nothing of a lost connection starts.
        if !book.is_live(self.session) {
            return false;
        }
        for (i, msg) in batch.iter().enumerate() {
            let duration = (!s.fixed).then(|| msg.duration_us.map_or(s.process_time, Micros));
            let id = EventId(msg.event_id);
            let arrived = s.engine.now();
            // On the board before the engine has it: it may finish before `submit` returns.
            let board = s.live.as_ref().filter(|l| !l.preloaded).map(|l| &l.board);
            let work = duration.unwrap_or(s.process_time).0;
            if let Some(b) = board {
                b.queue(msg.account_id, work);
            }
            let Ok(idx) = s.engine.submit(id, AccountId(msg.account_id), duration) else {
                if let Some(b) = board {
                    b.unqueue(msg.account_id, work);
                }
                return false;
            };
            let last = i + 1 == batch.len();
            let done = if last { done.take() } else { None };
            book.book(idx, (key, redelivered), arrived, done);
            book.stats.deliveries += 1;
            book.stats.redelivered += u64::from(redelivered);
            if book.note_delivery(msg.event_id) {
                book.stats.repeated += 1;
            }
        }
        true
    }
}
