//! One queue's consumer and the book it shares with the engine's observer: which messages and
//! events are in the engine, which events were given up after a lost connection, and the
//! delivery counts.
//!
//! A message may carry a batch of events. It is acknowledged once every one of its events is
//! settled; each event keeps its own `started` mark, so after a lost connection the events of
//! a message that had not started are given up (the broker redelivers the whole message) while
//! those running finish and run again on redelivery.

use super::acks::{AckError, AckMsg, Session, Settled};
use super::amqp::Message;
use super::logged::{Logged, Skip};
use crate::engine::clock::{Clock, PreciseClock};
use crate::engine::real::{Engine, Observer};
use crate::engine::work::Job;
use crate::live::Board;
use crate::sync::lock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use anyhow::anyhow;
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::options::BasicRejectOptions;
use lapin::Channel;
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A message whose events are in the engine and not all settled yet.
pub(super) struct Pending {
    session: Session,
    queue: u32,
    tag: u64,
    acker: Acker,
    /// Events of the message, and how many of them have not finished yet.
    events: u32,
    left: u32,
}

/// An event of a pending message.
struct Slot {
    message: u64,
    started: bool,
    /// When it entered the engine's queue (for the dashboard's latency).
    arrived: Micros,
    /// Told when the event finished (one-at-a-time consumers wait for it).
    done: Option<oneshot::Sender<()>>,
}

/// The pending events by engine index. The engine numbers events in submit order and every
/// submit happens under the book's lock, so pending events are a window of nearly consecutive
/// indexes: a deque from `base`, `None` where an event settled. (A hash map here cost a sixth
/// of the worker's CPU at zero processing time: every event is looked up three times.)
#[derive(Default)]
struct Window {
    base: u32,
    slots: VecDeque<Option<Slot>>,
}

impl Window {
    fn insert(&mut self, idx: EventIdx, slot: Slot) {
        if self.slots.is_empty() {
            self.base = idx.0;
        }
        while idx.0 < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let at = (idx.0 - self.base) as usize;
        if at >= self.slots.len() {
            self.slots.resize_with(at + 1, || None);
        }
        self.slots[at] = Some(slot);
    }

    fn get_mut(&mut self, idx: EventIdx) -> Option<&mut Slot> {
        let at = usize::try_from(idx.0.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(at)?.as_mut()
    }

    fn remove(&mut self, idx: EventIdx) -> Option<Slot> {
        let at = usize::try_from(idx.0.checked_sub(self.base)?).ok()?;
        let taken = self.slots.get_mut(at)?.take()?;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(taken)
    }

    /// Empties the window; the pending events with their indexes.
    fn drain(&mut self) -> impl Iterator<Item = (EventIdx, Slot)> + '_ {
        let base = self.base;
        self.slots
            .drain(..)
            .enumerate()
            .filter_map(move |(i, s)| s.map(|s| (EventIdx(base + i as u32), s)))
    }
}

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

/// Delivery counts beside the engine's report.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(crate) struct BrokerStats {
    /// Events delivered (each event of a batched message counts).
    pub deliveries: u64,
    /// Messages delivered (one event each, or a batch).
    pub messages: u64,
    /// Events of messages the broker flagged as redelivered (a consumer died or disconnected
    /// before acknowledging them).
    pub redelivered: u64,
    /// Deliveries of an event id this process had already received (at-least-once duplicates).
    pub repeated: u64,
    /// Messages whose body was neither an event nor an array of events; rejected without
    /// requeue.
    pub malformed: u64,
    /// Events whose message was acknowledged.
    pub acked: u64,
    /// Messages acknowledged.
    pub acked_messages: u64,
    /// Connections re-established after a loss.
    pub reconnects: u64,
    /// Deliveries of a lost connection dropped before they started (the broker redelivers
    /// them); not in the report's events.
    pub abandoned: u64,
}

/// Pending messages and their events, and the counts.
#[derive(Default)]
pub(super) struct Book {
    messages: HashMap<u64, Pending>,
    events: Window,
    next_message: u64,
    pub(super) abandoned: HashSet<EventIdx>,
    seen: HashSet<u64>,
    pub(super) stats: BrokerStats,
}

impl Book {
    /// The connection is gone: no pending message can be acked any more. Unstarted events are
    /// skipped when their turn comes; started ones finish.
    pub(super) fn abandon(&mut self) {
        for (idx, slot) in self.events.drain() {
            if !slot.started {
                self.abandoned.insert(idx);
            }
        }
        self.messages.clear();
        self.stats.abandoned = self.abandoned.len() as u64;
    }

    /// Starts tracking a delivered message of `events` events; returns its key.
    fn open(&mut self, session: Session, queue: u32, tag: u64, acker: Acker, events: u32) -> u64 {
        let key = self.next_message;
        self.next_message += 1;
        let pending = Pending {
            session,
            queue,
            tag,
            acker,
            events,
            left: events,
        };
        self.messages.insert(key, pending);
        self.stats.messages += 1;
        key
    }

    /// An event finished; returns when it arrived (if it was still booked) and its message
    /// once that was the message's last event.
    fn settle(&mut self, idx: EventIdx) -> (Option<Micros>, Option<Pending>) {
        let Some(mut slot) = self.events.remove(idx) else {
            return (None, None);
        };
        if let Some(done) = slot.done.take() {
            let _ = done.send(());
        }
        let arrived = Some(slot.arrived);
        let Some(p) = self.messages.get_mut(&slot.message) else {
            return (arrived, None);
        };
        p.left -= 1;
        if p.left > 0 {
            return (arrived, None);
        }
        (arrived, self.messages.remove(&slot.message))
    }
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

/// Hands each finished event's acker to the ack loop, and tells the dashboard's board (if
/// any) that the event ended; runs in per-account order (see
/// [`crate::engine::real::Observer`]). `clock` is the engine's.
pub(super) fn ack_observer(
    book: Arc<Mutex<Book>>,
    acks: mpsc::UnboundedSender<AckMsg>,
    live: Option<Live>,
    clock: PreciseClock,
) -> Observer {
    Arc::new(move |job: &Job| {
        let (arrived, finished, skipped) = {
            let mut b = lock(&book);
            let (arrived, finished) = b.settle(job.index);
            let skipped = arrived.is_none() && b.abandoned.contains(&job.index);
            (arrived, finished, skipped)
        };
        if let Some(live) = &live {
            let (account, work) = (job.account.0, job.duration.0);
            match (arrived, skipped) {
                (Some(at), _) => {
                    let latency = clock.now().saturating_sub(at);
                    live.board.finish(account, work, latency.0);
                }
                // Given up unstarted after a lost connection: it comes again, queued again.
                (None, true) => live.board.unqueue(account, work),
                // Running when the connection was lost: its booking (and arrival) is gone.
                (None, false) => live.board.finish_untimed(account, work),
            }
        }
        if let Some(p) = finished {
            let _ = acks.send(AckMsg::Settled(Settled {
                session: p.session,
                queue: p.queue,
                tag: p.tag,
                acker: Some(p.acker),
                events: u64::from(p.events),
            }));
        }
    })
}

/// The handler's question at the start of each event: was its delivery given up? Marks the
/// delivery started otherwise, so a later loss lets it finish.
pub(super) fn skip_abandoned(book: Arc<Mutex<Book>>) -> Skip {
    Arc::new(move |idx: EventIdx| {
        let mut b = lock(&book);
        match b.events.get_mut(idx) {
            Some(slot) => {
                slot.started = true;
                false
            }
            None => b.abandoned.contains(&idx),
        }
    })
}

/// One queue's consumer: parses deliveries and submits their events to the engine.
pub(super) struct Pump {
    pub(super) shared: Shared,
    pub(super) session: Session,
    pub(super) queue: u32,
    pub(super) name: String,
    /// The original design: a message's events run one after another, never side by side.
    pub(super) one_at_a_time: bool,
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
            let key = lock(&s.book).open(
                self.session,
                self.queue,
                tag,
                delivery.acker,
                batch.len() as u32,
            );
            let submitted = if self.one_at_a_time {
                self.submit_one_by_one(key, &batch, redelivered).await
            } else {
                self.submit(key, &batch, redelivered, None)
            };
            if !submitted {
                // Closed: the message stays unacknowledged and returns to the queue when
                // this process disconnects.
                return;
            }
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
        let _ = s.acks.send(AckMsg::Settled(Settled {
            session: self.session,
            queue: self.queue,
            tag: delivery.delivery_tag,
            acker: None,
            events: 0,
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
    /// event of `batch` finished. False when the engine is closed.
    fn submit(
        &self,
        key: u64,
        batch: &[Message],
        redelivered: bool,
        mut done: Option<oneshot::Sender<()>>,
    ) -> bool {
        let s = &self.shared;
        let mut book = lock(&s.book);
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
            let slot = Slot {
                message: key,
                started: false,
                arrived,
                done: if i + 1 == batch.len() {
                    done.take()
                } else {
                    None
                },
            };
            book.events.insert(idx, slot);
            book.stats.deliveries += 1;
            book.stats.redelivered += u64::from(redelivered);
            if !book.seen.insert(msg.event_id) {
                book.stats.repeated += 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(message: u32) -> Slot {
        Slot {
            message: u64::from(message),
            started: false,
            arrived: Micros::ZERO,
            done: None,
        }
    }

    #[test]
    fn the_window_finds_settles_and_drains_events_in_any_order() {
        let mut w = Window::default();
        for i in [10, 11, 12, 14] {
            w.insert(EventIdx(i), slot(i));
        }
        assert!(w.get_mut(EventIdx(13)).is_none(), "a gap is not an event");
        assert!(w.get_mut(EventIdx(9)).is_none() && w.get_mut(EventIdx(15)).is_none());
        assert_eq!(w.remove(EventIdx(11)).map(|s| s.message), Some(11));
        assert!(w.remove(EventIdx(11)).is_none(), "settled once");
        assert_eq!(w.remove(EventIdx(10)).map(|s| s.message), Some(10));
        assert_eq!(w.base, 12, "the settled front is dropped");
        w.get_mut(EventIdx(12)).unwrap().started = true;
        w.insert(EventIdx(8), slot(8));
        let left: Vec<(u32, bool)> = w.drain().map(|(i, s)| (i.0, s.started)).collect();
        assert_eq!(left, [(8, false), (12, true), (14, false)]);
        assert!(w.remove(EventIdx(12)).is_none());
        w.insert(EventIdx(100), slot(100));
        assert_eq!(w.remove(EventIdx(100)).map(|s| s.message), Some(100));
    }

    proptest::proptest! {
        /// Against a map: events booked in rising index order (with gaps, as when another
        /// submitter took indexes) and settled in any order are found exactly while pending.
        #[test]
        fn the_window_behaves_like_a_map(
            steps in proptest::collection::vec((0u32..3, proptest::bool::ANY, 0usize..64), 1..200),
        ) {
            let mut w = Window::default();
            let mut model: HashMap<u32, u64> = HashMap::new();
            let mut next = 0u32;
            for (gap, settle, pick) in steps {
                if settle && !model.is_empty() {
                    let mut keys: Vec<u32> = model.keys().copied().collect();
                    keys.sort_unstable();
                    let k = keys[pick % keys.len()];
                    let got = w.remove(EventIdx(k)).map(|s| s.message);
                    proptest::prop_assert_eq!(got, model.remove(&k));
                } else {
                    next += gap;
                    w.insert(EventIdx(next), slot(next));
                    model.insert(next, u64::from(next));
                    next += 1;
                }
                for k in 0..next + 2 {
                    let found = w.get_mut(EventIdx(k)).map(|s| s.message);
                    proptest::prop_assert_eq!(found, model.get(&k).copied());
                }
            }
            let mut left: Vec<u32> = w.drain().map(|(i, _)| i.0).collect();
            let mut expected: Vec<u32> = model.into_keys().collect();
            expected.sort_unstable();
            left.sort_unstable();
            proptest::prop_assert_eq!(left, expected);
        }
    }
}
