//! The consumer's book: which delivered messages and events are in the engine, which events
//! were given up after a lost connection or passed over as already finished here, and the
//! delivery counts.
//!
//! A message may carry a batch of events. It is acknowledged once every one of its events is
//! settled; each event keeps its own `started` mark, so after a lost connection the events of
//! a message that had not started are given up (the broker redelivers the whole message) while
//! those running finish. When the redelivered copy of an event that finished here comes up, it
//! is passed over (see [`Finished`]), so no event runs twice in one process.

use super::acks::{Finished, Session};
use crate::types::{EventIdx, Micros};
use lapin::acker::Acker;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::sync::oneshot;

/// What became of an event when the engine settled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// It ran; it was delivered (booked) at this time.
    Ran(Micros),
    /// It ran, and its connection was lost meanwhile (its booking is gone).
    RanUnbooked,
    /// It did not run: given up after a lost connection (`None`), or already finished here
    /// (`Some(arrival)`).
    PassedOver(Option<Micros>),
}

/// A message whose events are in the engine and not all settled yet.
pub(super) struct Pending {
    pub(super) session: Session,
    pub(super) queue: u32,
    pub(super) tag: u64,
    pub(super) acker: Acker,
    /// The message's event ids, in its order.
    pub(super) ids: Vec<u64>,
    /// How many of its events have not settled yet.
    left: u32,
}

/// An event of a pending message.
pub(super) struct Slot {
    message: u64,
    started: bool,
    /// Its turn came and it was not run: it had finished in this process before (see
    /// [`Finished`]).
    skipped: bool,
    /// The broker flagged its message as delivered before (to this process or another).
    redelivered: bool,
    /// When it entered the engine's queue (for the dashboard's latency).
    pub(super) arrived: Micros,
    /// Told when the event finished (one-at-a-time consumers wait for it).
    pub(super) done: Option<oneshot::Sender<()>>,
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
    /// Deliveries of an event id this process had already received (at-least-once duplicates):
    /// each was either skipped (`skipped_finished`), dropped unstarted (`abandoned`), or ran
    /// here for the first time (it had not finished here before).
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
    /// Deliveries dropped before they started, after a lost connection or given back with a
    /// queue handed over (the broker redelivers them); not in the report's events.
    pub abandoned: u64,
    /// Redelivered events not run again because they had finished in this process: the broker
    /// had not taken their message's ack (it was lost with the connection), or lost it after
    /// taking it (a quorum queue's leader that died); acked now, not in the report's events.
    pub skipped_finished: u64,
}

/// Pending messages and their events, and the counts.
#[derive(Default)]
pub(super) struct Book {
    messages: HashMap<u64, Pending>,
    events: Window,
    next_message: u64,
    pub(super) abandoned: HashSet<EventIdx>,
    /// Events whose turn came after they had finished here before (not run).
    pub(super) skipped: HashSet<EventIdx>,
    /// Every event id delivered here, and whether it ran here.
    seen: HashMap<u64, bool>,
    pub(super) stats: BrokerStats,
    /// The connection deliveries are taken from; those of an earlier one are refused.
    live: Session,
}

impl Book {
    /// The connection is gone: no pending message can be acked any more. Unstarted events are
    /// skipped when their turn comes; started ones finish. From now on only deliveries of
    /// session `next` are taken: a lost connection's consumer may still hold deliveries the
    /// client library had buffered, and those must not run, for the broker hands them back
    /// behind the earlier ones given up here (an account would run its later events first).
    pub(super) fn abandon(&mut self, next: Session) {
        self.live = next;
        for (idx, slot) in self.events.drain() {
            if !slot.started {
                self.abandoned.insert(idx);
            }
        }
        self.messages.clear();
        self.stats.abandoned = self.abandoned.len() as u64;
    }

    /// Handing queue `q` over: its messages none of whose events started are taken out of the
    /// book (their events are skipped at their turn, like a lost connection's) and returned,
    /// in delivery order, for the broker to requeue. Messages with a started event stay: they
    /// finish and are acked before the queue is let go.
    pub(super) fn give_back(&mut self, session: Session, q: u32) -> Vec<(u64, Acker)> {
        let of_queue: HashSet<u64> = self
            .messages
            .iter()
            .filter(|(_, p)| p.session == session && p.queue == q)
            .map(|(k, _)| *k)
            .collect();
        let mut touched: HashSet<u64> = HashSet::new();
        for slot in self.events.slots.iter().flatten() {
            if of_queue.contains(&slot.message) && (slot.started || slot.skipped) {
                touched.insert(slot.message);
            }
        }
        let unstarted: HashSet<u64> = of_queue.difference(&touched).copied().collect();
        let base = self.events.base;
        let gone: Vec<EventIdx> = (self.events.slots.iter().enumerate())
            .filter(|(_, s)| s.as_ref().is_some_and(|s| unstarted.contains(&s.message)))
            .map(|(i, _)| EventIdx(base + i as u32))
            .collect();
        for idx in gone {
            if let Some(mut slot) = self.events.remove(idx) {
                if let Some(done) = slot.done.take() {
                    let _ = done.send(());
                }
                self.abandoned.insert(idx);
            }
        }
        self.stats.abandoned = self.abandoned.len() as u64;
        let mut back: Vec<(u64, Acker)> = unstarted
            .iter()
            .filter_map(|k| self.messages.remove(k))
            .map(|p| (p.tag, p.acker))
            .collect();
        back.sort_by_key(|(tag, _)| *tag);
        back
    }

    /// True while deliveries of `session` may still be taken (its connection was not lost).
    pub(super) fn is_live(&self, session: Session) -> bool {
        session == self.live
    }

    /// Notes a delivery of event `id`; true when it was delivered here before (a repeat).
    pub(super) fn note_delivery(&mut self, id: u64) -> bool {
        match self.seen.entry(id) {
            Entry::Occupied(_) => true,
            Entry::Vacant(v) => {
                v.insert(false);
                false
            }
        }
    }

    /// Event `id` ran here (it finished, or was running when its connection was lost).
    pub(super) fn ran(&mut self, id: u64) {
        self.seen.insert(id, true);
    }

    /// Starts tracking a delivered message with the events `ids`; returns its key, or `None`
    /// when its connection was lost (see [`Book::abandon`]).
    pub(super) fn open(
        &mut self,
        session: Session,
        queue: u32,
        tag: u64,
        acker: Acker,
        ids: Vec<u64>,
    ) -> Option<u64> {
        if !self.is_live(session) {
            return None;
        }
        let key = self.next_message;
        self.next_message += 1;
        let pending = Pending {
            session,
            queue,
            tag,
            acker,
            left: ids.len() as u32,
            ids,
        };
        self.messages.insert(key, pending);
        self.stats.messages += 1;
        Some(key)
    }

    /// Messages of `queue` in `session` not settled yet.
    pub(super) fn pending_in(&self, session: Session, queue: u32) -> usize {
        self.messages
            .values()
            .filter(|p| p.session == session && p.queue == queue)
            .count()
    }

    /// Books a submitted event of message `key`; `redelivered` as the broker flagged it.
    pub(super) fn book(
        &mut self,
        idx: EventIdx,
        (key, redelivered): (u64, bool),
        arrived: Micros,
        done: Option<oneshot::Sender<()>>,
    ) {
        let slot = Slot {
            message: key,
            started: false,
            skipped: false,
            redelivered,
            arrived,
            done,
        };
        self.events.insert(idx, slot);
    }

    /// An event's turn came: true to pass it over, because its delivery was given up after a
    /// lost connection, or because event `id` already ran here: its message not acked yet
    /// ([`Finished`]), or a redelivery of it (a quorum queue's leader that dies may lose acks it
    /// had confirmed, and its successor delivers those messages again). Otherwise it is
    /// marked started, so a later loss lets it finish.
    pub(super) fn start(&mut self, idx: EventIdx, id: u64, finished: &Finished) -> bool {
        let Some(slot) = self.events.get_mut(idx) else {
            return self.abandoned.contains(&idx);
        };
        let ran_before = slot.redelivered && self.seen.get(&id) == Some(&true);
        if ran_before || finished.contains(id) {
            slot.skipped = true;
            self.skipped.insert(idx);
            self.stats.skipped_finished += 1;
            return true;
        }
        slot.started = true;
        false
    }

    /// An event finished (or was passed over); returns what became of it and its message once
    /// that was the message's last event.
    pub(super) fn settle(&mut self, idx: EventIdx) -> (Settled, Option<Pending>) {
        let Some(mut slot) = self.events.remove(idx) else {
            // No longer booked: its connection was lost. Passed over if it had not started.
            let settled = if self.abandoned.contains(&idx) {
                Settled::PassedOver(None)
            } else {
                Settled::RanUnbooked
            };
            return (settled, None);
        };
        if let Some(done) = slot.done.take() {
            let _ = done.send(());
        }
        let settled = if slot.skipped {
            Settled::PassedOver(Some(slot.arrived))
        } else {
            Settled::Ran(slot.arrived)
        };
        let Some(p) = self.messages.get_mut(&slot.message) else {
            return (settled, None);
        };
        p.left -= 1;
        if p.left > 0 {
            return (settled, None);
        }
        (settled, self.messages.remove(&slot.message))
    }
}

#[cfg(test)]
mod tests;
