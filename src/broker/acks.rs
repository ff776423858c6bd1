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
//! the acks (and with them the prefetch window) of everything delivered after it. The
//! `multiple` ack goes out before the single ones: an account's later delivery is never acked
//! ahead of its earlier one, so a connection lost between the two frames cannot hand back an
//! older event of an account whose newer one is gone.
//!
//! Each round ends with a synchronous call on every channel it acked on (a `basic.qos` that
//! changes nothing), all awaited together: its answer means the broker has processed the acks
//! before it, and only then are the acked messages' events forgotten by [`Finished`], the
//! memory that keeps a redelivered event from running twice in this process.

use crate::sync::lock;
use anyhow::anyhow;
use futures_util::future::join_all;
use lapin::acker::Acker;
use lapin::options::{BasicAckOptions, BasicQosOptions};
use lapin::Channel;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
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
    /// Their event ids, forgotten by [`Finished`] once the ack is confirmed.
    pub ids: Vec<u64>,
}

/// The event ids that finished in this process and whose message the broker has not been
/// seen to take the ack of. A redelivered copy of one of them is skipped, not run again: the
/// broker hands back every unacknowledged message when a connection drops (a broker restart,
/// a cut network), and a batched message may hold events that finished long ago.
///
/// Ids of a lost connection's messages stay until the redelivered copy is acked here; if the
/// queue went to another worker meanwhile they stay for good (at most the prefetch window per
/// loss).
#[derive(Debug, Default)]
pub(crate) struct Finished(Mutex<HashSet<u64>>);

impl Finished {
    pub(crate) fn insert(&self, id: u64) {
        lock(&self.0).insert(id);
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        lock(&self.0).contains(&id)
    }

    fn forget(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let mut set = lock(&self.0);
        for id in ids {
            set.remove(id);
        }
    }
}

/// What the loop acknowledged so far.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    pub messages: AtomicU64,
    pub events: AtomicU64,
}

pub(crate) enum AckMsg {
    /// A queue's consumer channel of a session, with the prefetch it was opened with (the
    /// no-op `basic.qos` that confirms a round repeats it).
    Channel {
        session: Session,
        queue: u32,
        channel: Channel,
        prefetch: u16,
    },
    Settled(Settled),
    /// Answered once every ack queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// An ack that failed, with the session it belonged to (errors of old sessions are expected).
pub(crate) type AckError = (Session, anyhow::Error);

/// A settled delivery waiting for the frontier: `acker` is `Some` while processed and not
/// acked yet, `None` once rejected or already acked on its own.
struct Entry {
    acker: Option<Acker>,
    events: u64,
    ids: Vec<u64>,
}

/// The delivery tags of one channel: settled but not yet covered by an ack.
struct Line {
    /// Every tag below this is acked (or rejected). Tags start at 1.
    next: u64,
    /// Settled tags at or above `next`.
    settled: BTreeMap<u64, Entry>,
    /// The channel and its prefetch, once the consumer announced it.
    channel: Option<(Channel, u16)>,
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
    /// Their event ids.
    ids: Vec<u64>,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            next: 1,
            settled: BTreeMap::new(),
            channel: None,
        }
    }
}

impl Line {
    fn settle(&mut self, s: Settled) {
        if s.tag >= self.next {
            let entry = Entry {
                acker: s.acker,
                events: s.events,
                ids: s.ids,
            };
            self.settled.insert(s.tag, entry);
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
            ids: Vec::new(),
        };
        while let Some(entry) = self.settled.remove(&self.next) {
            if let Some(a) = entry.acker {
                plan.multiple = Some(a);
                plan.count += 1;
                plan.events += entry.events;
                plan.ids.extend(entry.ids);
            }
            self.next += 1;
        }
        for entry in self.settled.values_mut() {
            if let Some(a) = entry.acker.take() {
                plan.single.push(a);
                plan.count += 1;
                plan.events += entry.events;
                plan.ids.append(&mut entry.ids);
            }
        }
        plan
    }
}

/// Runs until every sender is gone: collects completions, acks them per round, and forgets
/// the confirmed messages' events in `finished`.
pub(crate) async fn ack_loop(
    mut rx: mpsc::UnboundedReceiver<AckMsg>,
    errors: mpsc::UnboundedSender<AckError>,
    (acked, finished): (Arc<Acked>, Arc<Finished>),
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
                    lines.entry(key).or_default().settle(s);
                    touched.push(key);
                }
                AckMsg::Channel { session, .. } if session != live => {}
                AckMsg::Channel {
                    session,
                    queue,
                    channel,
                    prefetch,
                } => {
                    // A new channel numbers its deliveries from 1 again (a queue taken back
                    // after a handover, whose old channel was flushed and closed).
                    let line = Line {
                        channel: Some((channel, prefetch)),
                        ..Line::default()
                    };
                    lines.insert((session, queue), line);
                }
                AckMsg::Flush(tx) => flushes.push(tx),
            }
        }
        touched.sort_unstable();
        touched.dedup();
        // Every queue's acks go out at once and their confirmations are awaited together: a
        // round costs one round trip to the broker, not one per queue (with one message at a
        // time per queue, each queue's next delivery waits for its ack).
        let rounds = touched.into_iter().filter_map(|key| {
            let line = lines.get_mut(&key)?;
            let mut plan = line.plan();
            let (messages, events) = (plan.count, plan.events);
            let ids = std::mem::take(&mut plan.ids);
            let sent = send(plan, line.channel.clone());
            let current = &current;
            Some(async move {
                let outcome = while_current(sent, key.0, current).await;
                (key.0, messages, events, ids, outcome)
            })
        });
        for (session, messages, events, ids, outcome) in join_all(rounds).await {
            match outcome {
                Ok(()) => {
                    acked.messages.fetch_add(messages, Relaxed);
                    acked.events.fetch_add(events, Relaxed);
                    finished.forget(&ids);
                }
                Err(e) => {
                    let _ = errors.send((session, e));
                }
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

/// Longest wait for the broker to take a round of acks.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `round` while `session` is the live one: a call on a connection that died may never be
/// answered, and would hold back the acks of the new connection forever.
async fn while_current(
    round: impl std::future::Future<Output = anyhow::Result<()>>,
    session: Session,
    current: &AtomicU64,
) -> anyhow::Result<()> {
    tokio::pin!(round);
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    loop {
        let check = tokio::time::sleep(Duration::from_millis(100));
        tokio::select! {
            done = &mut round => return done,
            _ = check => {
                if current.load(Relaxed) != session {
                    return Err(anyhow!("the connection was replaced while acknowledging"));
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(anyhow!(
                        "RabbitMQ took no acks for {}s",
                        ROUND_TIMEOUT.as_secs()
                    ));
                }
            }
        }
    }
}

/// Sends a plan's acks, the frontier's `multiple` first, then waits for the broker to answer
/// a no-op call on the channel (frames of a channel are processed in order).
async fn send(plan: Plan, channel: Option<(Channel, u16)>) -> anyhow::Result<()> {
    let lost = |e: lapin::Error| anyhow!(e).context("lost RabbitMQ while acknowledging");
    let any = plan.count > 0;
    if let Some(a) = plan.multiple {
        a.ack(BasicAckOptions { multiple: true })
            .await
            .map_err(lost)?;
    }
    for a in plan.single {
        a.ack(BasicAckOptions::default()).await.map_err(lost)?;
    }
    if let (true, Some((ch, prefetch))) = (any, channel) {
        ch.basic_qos(prefetch, BasicQosOptions::default())
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
            .map(|(t, e)| (*t, e.acker.is_some()))
            .collect()
    }

    fn settled(tag: u64, acker: Option<Acker>, events: u64) -> Settled {
        Settled {
            session: 0,
            queue: 0,
            tag,
            acker,
            events,
            ids: (0..events).map(|i| tag * 100 + i).collect(),
        }
    }

    #[test]
    fn the_frontier_moves_over_the_settled_prefix_only() {
        let mut line = Line::default();
        // Acker::default() is a no-op acker: enough to follow which tags are covered.
        // Tag t carries t events (a batch), so the event counts can be told apart.
        for t in [1, 2, 4] {
            line.settle(settled(t, Some(Acker::default()), t));
        }
        let plan = line.plan();
        assert_eq!(line.next, 3, "tag 3 is still running");
        assert!(plan.multiple.is_some());
        assert_eq!((plan.single.len(), plan.count, plan.events), (1, 3, 7));
        assert_eq!(plan.ids, [100, 200, 201, 400, 401, 402, 403]);
        assert_eq!(
            tags(&line),
            vec![(4, false)],
            "4 acked singly, kept as settled"
        );
        line.settle(settled(3, None, 0)); // rejected
        let plan = line.plan();
        assert_eq!(line.next, 5);
        assert!(plan.multiple.is_none() && plan.single.is_empty());
        assert_eq!((plan.count, plan.events), (0, 0));
        line.settle(settled(2, Some(Acker::default()), 2)); // stale: below the frontier
        assert!(line.settled.is_empty());
    }
}
