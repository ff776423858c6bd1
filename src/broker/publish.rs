//! Publishing a workload: each event to its account's queue, persistent, with publisher
//! confirms, in arrival order. Several channels publish side by side, each owning a fixed set
//! of queues (so an account's events keep their order on one channel), and confirms are
//! awaited in a sliding window rather than stop-and-wait batches.
//!
//! With a batch above 1, consecutive events of one queue travel together in one message (a
//! JSON array, in arrival order): the broker's cost is per message (tens of µs of CPU for a
//! persistent, confirmed one), so batching is the way past its per-message ceiling.

use super::amqp::{BodyWriter, Message, Topology};
use crate::types::{EventIdx, Micros};
use crate::workload::Workload;
use anyhow::{bail, Context, Result};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::{BasicProperties, Channel, Connection};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Confirms outstanding per channel before the oldest is awaited: keeps memory bounded while
/// the broker always has work queued.
const WINDOW: usize = 2048;

/// Channels publishing side by side (at most one per queue).
const CHANNELS: usize = 4;

/// Events per message `publish` sends unless `--batch` says otherwise: one, so a worker that
/// dies hands back only what it had in flight and what finished since its last ack (a message
/// is acked only when all its events are done; results/2026-12-07-broker-reruns/).
pub(crate) const DEFAULT_BATCH: u32 = 1;

/// Events per message of `run --broker` and of our design in `compare --broker`: one process
/// publishes and consumes, and a lost broker ends the run, so no other worker ever runs a
/// message's finished events again; batches divide the broker's per-message cost
/// (results/2026-11-28-broker/, session 3).
pub(crate) const IN_PROCESS_BATCH: u32 = 100;

/// What a publish achieved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Published {
    pub events: u64,
    /// AMQP messages sent (events / batch, rounded up per queue).
    pub messages: u64,
    /// Messages the broker confirmed.
    pub confirmed: u64,
    pub elapsed: Duration,
}

impl Published {
    pub(crate) fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.events as f64 / s
        } else {
            0.0
        }
    }
}

/// How to publish: whether each event carries its duration, and events per message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub with_durations: bool,
    /// Events per message, ≥ 1; 1 is one JSON object per message.
    pub batch: u32,
}

/// Publishes every event of `w`. Fails unless the broker confirmed every message.
pub(crate) async fn publish(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    shape: Shape,
) -> Result<Published> {
    publish_inner(conn, topo, w, shape, None).await
}

/// Like [`publish`], and returns when each event (in workload order) was taken by the
/// publisher, read from `now` as it was written into its message. With batches this counts the
/// wait for the rest of the message as time in the queue, as it would be for a live source.
pub(crate) async fn publish_timed(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    shape: Shape,
    now: &(dyn Fn() -> Micros + Sync),
) -> Result<(Published, Vec<Micros>)> {
    let mut stamps = Vec::with_capacity(w.len());
    let p = publish_inner(conn, topo, w, shape, Some((now, &mut stamps))).await?;
    Ok((p, stamps))
}

type Stamps<'a> = Option<(&'a (dyn Fn() -> Micros + Sync), &'a mut Vec<Micros>)>;

async fn publish_inner(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    shape: Shape,
    stamps: Stamps<'_>,
) -> Result<Published> {
    let started = Instant::now();
    let lanes = CHANNELS.min(topo.queues as usize);
    let mut channels = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        channels.push(ch);
    }
    let now = stamps.as_ref().map(|(now, _)| *now);
    let runs = channels.iter().enumerate().map(|(lane, ch)| {
        let part = Part {
            lane,
            lanes,
            now,
            shape,
        };
        part.publish(ch, topo, w)
    });
    let parts = futures_util::future::try_join_all(runs).await?;
    let (mut confirmed, mut messages) = (0u64, 0u64);
    let mut times = stamps.map(|(_, out)| {
        out.clear();
        out.resize(w.len(), Micros::ZERO);
        out
    });
    for (sent, n, part_stamps) in parts {
        messages += sent;
        confirmed += n;
        if let Some(out) = times.as_mut() {
            for (e, at) in part_stamps {
                out[e.0 as usize] = at;
            }
        }
    }
    for ch in channels {
        let _ = ch.close(200, "published").await;
    }
    Ok(Published {
        events: w.len() as u64,
        messages,
        confirmed,
        elapsed: started.elapsed(),
    })
}

/// One channel's share of a publish: the queues `q` with `q % lanes == lane`, so every event
/// of an account goes out on one channel, in workload order.
struct Part<'a> {
    lane: usize,
    lanes: usize,
    now: Option<&'a (dyn Fn() -> Micros + Sync)>,
    shape: Shape,
}

/// One channel's sending state: the open confirms and the counts.
struct Sender<'a> {
    ch: &'a Channel,
    props: BasicProperties,
    window: VecDeque<PublisherConfirm>,
    sent: u64,
    confirmed: u64,
}

impl Sender<'_> {
    async fn send(&mut self, queue: &str, body: &[u8]) -> Result<()> {
        let confirm = self
            .ch
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                body,
                self.props.clone(),
            )
            .await
            .with_context(|| format!("cannot publish to {queue}"))?;
        self.sent += 1;
        self.window.push_back(confirm);
        if self.window.len() == WINDOW {
            self.confirmed += settle(self.window.pop_front()).await?;
        }
        Ok(())
    }
}

impl Part<'_> {
    /// Publishes this part's events; returns how many messages were sent and confirmed and,
    /// when timed, when each event was taken.
    async fn publish(
        self,
        ch: &Channel,
        topo: &Topology,
        w: &Workload,
    ) -> Result<(u64, u64, Vec<(EventIdx, Micros)>)> {
        let names = topo.queue_names();
        let mut out = Sender {
            ch,
            props: BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
            window: VecDeque::with_capacity(WINDOW),
            sent: 0,
            confirmed: 0,
        };
        // One open message per queue of this part; a queue's messages leave in order.
        let batch = self.shape.batch.max(1) as usize;
        let mut open: Vec<Option<BodyWriter>> = (0..names.len()).map(|_| None).collect();
        let mut stamps = Vec::new();
        for e in w.indexes() {
            let account = w.account_id(w.account_of(e));
            let q = topo.queue_of(account) as usize;
            if q % self.lanes != self.lane {
                continue;
            }
            let msg = Message {
                event_id: w.event_id(e).0,
                account_id: account.0,
                duration_us: self.shape.with_durations.then(|| w.duration(e).0),
            };
            if let Some(now) = self.now {
                stamps.push((e, now()));
            }
            let writer = open[q].get_or_insert_with(|| BodyWriter::new(batch));
            if writer.push(&msg) {
                out.send(&names[q], &writer.take()).await?;
            }
        }
        for (q, writer) in open.iter_mut().enumerate() {
            if let Some(w) = writer.as_mut().filter(|w| w.events() > 0) {
                out.send(&names[q], &w.take()).await?;
            }
        }
        for c in std::mem::take(&mut out.window) {
            out.confirmed += settle(Some(c)).await?;
        }
        Ok((out.sent, out.confirmed, stamps))
    }
}

async fn settle(confirm: Option<PublisherConfirm>) -> Result<u64> {
    let Some(c) = confirm else { return Ok(0) };
    match c
        .await
        .context("lost the broker while waiting for confirms")?
    {
        Confirmation::Ack(_) | Confirmation::NotRequested => Ok(1),
        Confirmation::Nack(_) => bail!("the broker refused (nacked) a published message"),
    }
}
