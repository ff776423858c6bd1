//! One queue's consumer and the book it shares with the engine's observer: which deliveries
//! are in the engine, which were given up after a lost connection, and the delivery counts.

use super::acks::{AckError, AckMsg, Session, Settled};
use super::amqp::Message;
use super::consume::{BrokerStats, Eng};
use super::livelog::Skip;
use crate::engine::handler::Job;
use crate::engine::real::Observer;
use crate::sync::lock;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use anyhow::anyhow;
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::options::BasicRejectOptions;
use lapin::Channel;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A delivery submitted to the engine and not settled yet.
pub(super) struct Pending {
    pub(super) session: Session,
    pub(super) queue: u32,
    pub(super) tag: u64,
    pub(super) acker: Acker,
    pub(super) started: bool,
}

/// Deliveries in the engine, by engine index, and the counts.
#[derive(Default)]
pub(super) struct Book {
    pub(super) pending: HashMap<EventIdx, Pending>,
    pub(super) abandoned: HashSet<EventIdx>,
    seen: HashSet<u64>,
    pub(super) stats: BrokerStats,
}

impl Book {
    /// The connection is gone: nothing pending can be acked any more. Unstarted events are
    /// skipped when their turn comes; started ones finish.
    pub(super) fn abandon(&mut self) {
        for (idx, p) in self.pending.drain() {
            if !p.started {
                self.abandoned.insert(idx);
            }
        }
        self.stats.abandoned = self.abandoned.len() as u64;
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
}

/// Hands each finished event's acker to the ack loop; runs in per-account order (see
/// [`crate::engine::real::Observer`]).
pub(super) fn ack_observer(
    book: Arc<Mutex<Book>>,
    acks: mpsc::UnboundedSender<AckMsg>,
) -> Observer {
    Arc::new(move |job: &Job| {
        let pending = lock(&book).pending.remove(&job.index);
        if let Some(p) = pending {
            let _ = acks.send(AckMsg::Settled(Settled {
                session: p.session,
                queue: p.queue,
                tag: p.tag,
                acker: Some(p.acker),
            }));
        }
    })
}

/// The handler's question at the start of each event: was its delivery given up? Marks the
/// delivery started otherwise, so a later loss lets it finish.
pub(super) fn skip_abandoned(book: Arc<Mutex<Book>>) -> Skip {
    Arc::new(move |idx: EventIdx| {
        let mut b = lock(&book);
        match b.pending.get_mut(&idx) {
            Some(p) => {
                p.started = true;
                false
            }
            None => b.abandoned.contains(&idx),
        }
    })
}

/// One queue's consumer: parses deliveries and submits them to the engine.
pub(super) struct Pump {
    pub(super) shared: Shared,
    pub(super) session: Session,
    pub(super) queue: u32,
    pub(super) name: String,
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
            let Some(msg) = Message::decode(&delivery.data) else {
                eprintln!(
                    "warning: {}: rejecting a message that is not an event: {:?}",
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
                }));
                continue;
            };
            let pending = Pending {
                session: self.session,
                queue: self.queue,
                tag: delivery.delivery_tag,
                acker: delivery.acker,
                started: false,
            };
            if !self.submit(msg, delivery.redelivered, pending) {
                // Closed: the delivery stays unacknowledged and returns to the queue when
                // this process disconnects.
                return;
            }
        }
        let what = format!("RabbitMQ cancelled the consumer of {}", self.name);
        let _ = s.errors.send((self.session, anyhow!(what)));
    }

    /// Submits under the book's lock so the observer cannot look up the acker before it is
    /// stored (the event may finish before `submit` returns).
    fn submit(&self, msg: Message, redelivered: bool, pending: Pending) -> bool {
        let s = &self.shared;
        let duration = (!s.fixed).then(|| msg.duration_us.map_or(s.process_time, Micros));
        let mut book = lock(&s.book);
        let id = EventId(msg.event_id);
        let Ok(idx) = s.engine.submit(id, AccountId(msg.account_id), duration) else {
            return false;
        };
        book.pending.insert(idx, pending);
        book.stats.deliveries += 1;
        book.stats.redelivered += u64::from(redelivered);
        if !book.seen.insert(msg.event_id) {
            book.stats.repeated += 1;
        }
        true
    }
}
