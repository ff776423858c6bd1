//! The cooperative worker's side of [`super::assign`], run on every tick of the consumer: hear
//! who is there, hand over the queues the split gives to others (cancel, finish and ack what
//! was delivered, close), take the queues it gives to this worker once nobody holds them, and
//! send the heartbeat.

use super::acks::AckMsg;
use super::assign::{self, Beat};
use super::consume::{Ownership, Running};
use crate::sync::lock;
use anyhow::{Context, Result};
use lapin::options::{BasicCancelOptions, BasicNackOptions};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::oneshot;

impl Running {
    /// One round of the assignment; an error is a lost connection.
    pub(super) async fn rebalance(&mut self) -> Result<()> {
        let Some(view) = self.view.clone() else {
            return Ok(());
        };
        let mut changed = self.progress_handovers().await?;
        let now = Instant::now();
        let (members, me, settled, others) = {
            let mut v = lock(&view);
            v.expire(now);
            let held: Vec<bool> = (0..self.topology.queues)
                .map(|q| v.held_by_other(q))
                .collect();
            (v.members(), v.me().to_string(), v.settled(now), held)
        };
        let mine = members.iter().position(|m| *m == me).unwrap_or(0);
        let owners = assign::split(&members, self.topology.queues);
        let listened = self
            .link
            .as_ref()
            .and_then(|l| l.members.as_ref())
            .is_some_and(|m| now.duration_since(m.joined) >= assign::LISTEN);
        for (q, owner) in (0..self.topology.queues).zip(owners) {
            let held = self.link.as_ref().and_then(|l| l.held.get(&q));
            match held {
                Some(h) if owner != mine && !h.draining => {
                    self.release(q).await?;
                    changed = true;
                }
                None if owner == mine && settled && listened && !others[q as usize] => {
                    changed |= self.acquire(q).await?;
                }
                _ => {}
            }
        }
        if changed {
            self.show_owned();
        }
        self.heartbeat(changed, false).await
    }

    /// The dashboard's input line names the queues this worker holds now.
    fn show_owned(&self) {
        let Some(live) = &self.shared.live else {
            return;
        };
        let held: Vec<String> = self
            .link
            .as_ref()
            .map(|l| l.held.keys().map(u32::to_string).collect())
            .unwrap_or_default();
        let t = &self.topology;
        let text = format!(
            "{} queues {}.*; owns {} ({}) since {:.1}s",
            t.queues,
            t.prefix,
            held.len(),
            held.join(", "),
            self.seconds()
        );
        live.board.amend(|i| i.input = text);
    }

    /// Sends this worker's heartbeat when something changed or one is due.
    async fn heartbeat(&mut self, changed: bool, leaving: bool) -> Result<()> {
        let Some(view) = &self.view else {
            return Ok(());
        };
        let me = lock(view).me().to_string();
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        let held: Vec<u32> = link.held.keys().copied().collect();
        let Some(members) = link.members.as_mut() else {
            return Ok(());
        };
        let due = members
            .last_beat
            .is_none_or(|t| t.elapsed() >= assign::HEARTBEAT);
        if !(changed || due || leaving) {
            return Ok(());
        }
        let beat = Beat {
            member: me,
            held,
            leaving,
        };
        members.beat(&beat).await?;
        // Heard at once by this worker too: its own view holds it without a round trip.
        lock(view).heard(beat, Instant::now());
        Ok(())
    }

    /// Registers the only consumer of queue `q`, unless someone still consumes it (another
    /// worker that is not cooperating, or one whose connection the broker has not dropped
    /// yet). True when taken.
    async fn acquire(&mut self, q: u32) -> Result<bool> {
        let session = self.session.load(Relaxed);
        let Some(link) = self.link.as_ref() else {
            return Ok(false);
        };
        let name = self.topology.queue_name(q);
        if super::amqp::consumer_count(&link.probe, &name).await? > 0 {
            return Ok(false);
        }
        let mut held = self.consume(&link.conn, session, q).await?;
        held.record = Some(self.owned.len());
        self.owned.push(Ownership {
            queue: q,
            from_s: self.seconds(),
            to_s: None,
            from_unix_ms: super::ownership::unix_ms(),
            to_unix_ms: None,
        });
        if let Some(link) = self.link.as_mut() {
            link.held.insert(q, held);
        }
        Ok(true)
    }

    /// Stops the deliveries of queue `q`; what was delivered still runs and is acked before the
    /// queue is let go ([`Running::progress_handovers`]).
    async fn release(&mut self, q: u32) -> Result<()> {
        let Some(h) = self.link.as_mut().and_then(|l| l.held.get_mut(&q)) else {
            return Ok(());
        };
        h.released.store(true, Relaxed);
        h.draining = true;
        h.channel
            .basic_cancel(&h.tag, BasicCancelOptions::default())
            .await
            .with_context(|| format!("cannot stop consuming {}", self.topology.queue_name(q)))
    }

    /// Moves the handovers on: once a queue's deliveries ended, its messages nothing of which
    /// started go back to the broker (requeued in order, for the next owner); once nothing of
    /// it is pending in the engine, its acks are flushed (and confirmed); then it is let go.
    /// True when one was let go.
    async fn progress_handovers(&mut self) -> Result<bool> {
        let session = self.session.load(Relaxed);
        let acks = self.shared.acks.clone();
        let book = std::sync::Arc::clone(&self.shared.book);
        let Some(link) = self.link.as_mut() else {
            return Ok(false);
        };
        let mut done = Vec::new();
        for (&q, h) in link.held.iter_mut().filter(|(_, h)| h.draining) {
            if !h.pump.is_finished() {
                continue;
            }
            if !h.given_back {
                h.given_back = true;
                let back = lock(&book).give_back(session, q);
                let requeue = BasicNackOptions {
                    multiple: false,
                    requeue: true,
                };
                for (_, acker) in back {
                    acker
                        .nack(requeue)
                        .await
                        .context("lost RabbitMQ while handing a queue over")?;
                }
            }
            if lock(&book).pending_in(session, q) > 0 {
                continue;
            }
            match h.flush.as_mut() {
                None => {
                    let (tx, rx) = oneshot::channel();
                    let _ = acks.send(AckMsg::Flush(tx));
                    h.flush = Some(rx);
                }
                Some(rx) => {
                    if !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                        done.push(q);
                    }
                }
            }
        }
        for q in &done {
            if let Some(h) = link.held.remove(q) {
                let _ = h.channel.close(200, "handed over").await;
                if let Some(r) = h.record {
                    self.owned[r].to_s = Some(self.shared.engine.now().as_secs_f64());
                    self.owned[r].to_unix_ms = Some(super::ownership::unix_ms());
                }
            }
        }
        Ok(!done.is_empty())
    }

    /// Stopping: tells the others at once, so they need not wait for the heartbeats to stop.
    pub(super) async fn leave(&mut self) {
        if self.view.is_some() {
            let _ = self.heartbeat(true, true).await;
        }
    }

    /// Ends the open ownership records (the connection is gone, or the run ended).
    pub(super) fn close_records(&mut self) {
        let (at, unix) = (self.seconds(), super::ownership::unix_ms());
        for o in self.owned.iter_mut().filter(|o| o.to_s.is_none()) {
            o.to_s = Some(at);
            o.to_unix_ms = Some(unix);
        }
    }

    fn seconds(&self) -> f64 {
        self.shared.engine.now().as_secs_f64()
    }
}
