//! Acknowledging processed deliveries in as few frames as order allows.
//!
//! A delivery is one message, which may carry a batch of events; it is settled once all of
//! them are (the consumer's book decides that), and only then does it reach this loop.
//!
//! Accounts of one queue finish out of delivery order, so a plain `multiple` ack could cover
//! events still running. Each queue's channel keeps a frontier instead: the highest delivery
//! tag below which every delivery is settled. One `multiple` ack moves the frontier (the
//! common case when events are short: they finish roughly in delivery order); a delivery that
//! finishes above the frontier is acked on its own at once, so a long event never holds back
//! the acks (and with them the prefetch window) of everything delivered after it.

use anyhow::anyhow;
use lapin::acker::Acker;
use lapin::options::BasicAckOptions;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most completions folded into one round of acks.
const MAX_ROUND: usize = 4096;

/// One connection's lifetime; deliveries of an older session cannot be acked any more.
pub(crate) type Session = u64;

/// A settled delivery: processed (`acker` given) or rejected by the consumer (`None`).
pub(crate) struct Settled {
    pub session: Session,
    pub queue: u32,
    pub tag: u64,
    pub acker: Option<Acker>,
    /// Events the message carried (counted as acked with it).
    pub events: u64,
}

/// What the loop acknowledged so far.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    pub messages: AtomicU64,
    pub events: AtomicU64,
}

pub(crate) enum AckMsg {
    Settled(Settled),
    /// Answered once every ack queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// An ack that failed, with the session it belonged to (errors of old sessions are expected).
pub(crate) type AckError = (Session, anyhow::Error);

/// The delivery tags of one channel: settled but not yet covered by an ack.
struct Line {
    /// Every tag below this is acked (or rejected). Tags start at 1.
    next: u64,
    /// Settled tags at or above `next`, with their event counts: `Some` = processed, not
    /// acked yet; `None` = rejected or already acked on its own.
    settled: BTreeMap<u64, (Option<Acker>, u64)>,
}

/// What a round decided for one line.
struct Plan {
    /// A `multiple` ack with this acker covers the frontier's advance.
    multiple: Option<Acker>,
    /// Acked one by one (above the frontier).
    single: Vec<Acker>,
    /// Deliveries (messages) acknowledged by this plan.
    count: u64,
    /// Events in those messages.
    events: u64,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            next: 1,
            settled: BTreeMap::new(),
        }
    }
}

impl Line {
    fn settle(&mut self, tag: u64, acker: Option<Acker>, events: u64) {
        if tag >= self.next {
            self.settled.insert(tag, (acker, events));
        }
    }

    /// Advances the frontier over the settled prefix; the rest are acked singly and kept
    /// (as `None`) so the frontier can pass them later.
    fn plan(&mut self) -> Plan {
        let mut plan = Plan {
            multiple: None,
            single: Vec::new(),
            count: 0,
            events: 0,
        };
        while let Some((acker, events)) = self.settled.remove(&self.next) {
            if let Some(a) = acker {
                plan.multiple = Some(a);
                plan.count += 1;
                plan.events += events;
            }
            self.next += 1;
        }
        for (acker, events) in self.settled.values_mut() {
            if let Some(a) = acker.take() {
                plan.single.push(a);
                plan.count += 1;
                plan.events += *events;
            }
        }
        plan
    }
}

/// Runs until every sender is gone: collects completions, acks them per round.
pub(crate) async fn ack_loop(
    mut rx: mpsc::UnboundedReceiver<AckMsg>,
    errors: mpsc::UnboundedSender<AckError>,
    acked: Arc<Acked>,
    current: Arc<AtomicU64>,
) {
    let mut lines: HashMap<(Session, u32), Line> = HashMap::new();
    let mut round = Vec::with_capacity(MAX_ROUND);
    while rx.recv_many(&mut round, MAX_ROUND).await > 0 {
        let live = current.load(Relaxed);
        lines.retain(|(s, _), _| *s == live);
        let mut flushes = Vec::new();
        let mut touched = Vec::new();
        for msg in round.drain(..) {
            match msg {
                // Acks of a lost connection would only fail: the broker redelivers those.
                AckMsg::Settled(s) if s.session != live => {}
                AckMsg::Settled(s) => {
                    let key = (s.session, s.queue);
                    lines
                        .entry(key)
                        .or_default()
                        .settle(s.tag, s.acker, s.events);
                    touched.push(key);
                }
                AckMsg::Flush(tx) => flushes.push(tx),
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for key in touched {
            let Some(line) = lines.get_mut(&key) else {
                continue;
            };
            let plan = line.plan();
            let (messages, events) = (plan.count, plan.events);
            match send(plan).await {
                Ok(()) => {
                    acked.messages.fetch_add(messages, Relaxed);
                    acked.events.fetch_add(events, Relaxed);
                }
                Err(e) => {
                    let _ = errors.send((key.0, e));
                }
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

async fn send(plan: Plan) -> anyhow::Result<()> {
    let lost = |e: lapin::Error| anyhow!(e).context("lost RabbitMQ while acknowledging");
    for a in plan.single {
        a.ack(BasicAckOptions::default()).await.map_err(lost)?;
    }
    if let Some(a) = plan.multiple {
        a.ack(BasicAckOptions { multiple: true })
            .await
            .map_err(lost)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(line: &Line) -> Vec<(u64, bool)> {
        line.settled
            .iter()
            .map(|(t, (a, _))| (*t, a.is_some()))
            .collect()
    }

    #[test]
    fn the_frontier_moves_over_the_settled_prefix_only() {
        let mut line = Line::default();
        // Acker::default() is a no-op acker: enough to follow which tags are covered.
        // Tag t carries t events (a batch), so the event counts can be told apart.
        for t in [1, 2, 4] {
            line.settle(t, Some(Acker::default()), t);
        }
        let plan = line.plan();
        assert_eq!(line.next, 3, "tag 3 is still running");
        assert!(plan.multiple.is_some());
        assert_eq!((plan.single.len(), plan.count, plan.events), (1, 3, 7));
        assert_eq!(
            tags(&line),
            vec![(4, false)],
            "4 acked singly, kept as settled"
        );
        line.settle(3, None, 0); // rejected
        let plan = line.plan();
        assert_eq!(line.next, 5);
        assert!(plan.multiple.is_none() && plan.single.is_empty());
        assert_eq!((plan.count, plan.events), (0, 0));
        line.settle(2, Some(Acker::default()), 2); // stale: below the frontier
        assert!(line.settled.is_empty());
    }
}
