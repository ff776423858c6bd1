//! Publishing a workload: each event to its account's queue, persistent, with publisher
//! confirms, in arrival order. Several channels publish side by side, each owning a fixed set
//! of queues (so an account's events keep their order on one channel), and confirms are
//! awaited in a sliding window rather than stop-and-wait batches.

use super::amqp::{Message, Topology};
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

/// What a publish achieved.
#[derive(Clone, Copy, Debug)]
pub struct Published {
    pub events: u64,
    pub confirmed: u64,
    pub elapsed: Duration,
}

impl Published {
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.events as f64 / s
        } else {
            0.0
        }
    }
}

/// Publishes every event of `w`; with `with_durations`, each message carries its duration.
/// Fails unless the broker confirmed every message.
pub async fn publish(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    with_durations: bool,
) -> Result<Published> {
    publish_inner(conn, topo, w, with_durations, None).await
}

/// Like [`publish`], and returns when each event (in workload order) was handed to the broker,
/// read from `now` right before its publish: the moment it entered the queue.
pub async fn publish_timed(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    with_durations: bool,
    now: &(dyn Fn() -> Micros + Sync),
) -> Result<(Published, Vec<Micros>)> {
    let mut stamps = Vec::with_capacity(w.len());
    let p = publish_inner(conn, topo, w, with_durations, Some((now, &mut stamps))).await?;
    Ok((p, stamps))
}

type Stamps<'a> = Option<(&'a (dyn Fn() -> Micros + Sync), &'a mut Vec<Micros>)>;

async fn publish_inner(
    conn: &Connection,
    topo: &Topology,
    w: &Workload,
    with_durations: bool,
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
            with_durations,
        };
        part.publish(ch, topo, w)
    });
    let parts = futures_util::future::try_join_all(runs).await?;
    let mut confirmed = 0u64;
    let mut times = stamps.map(|(_, out)| {
        out.clear();
        out.resize(w.len(), Micros::ZERO);
        out
    });
    for (n, part_stamps) in parts {
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
    with_durations: bool,
}

impl Part<'_> {
    /// Publishes this part's events; returns how many were confirmed and, when timed, when
    /// each was handed to the broker.
    async fn publish(
        self,
        ch: &Channel,
        topo: &Topology,
        w: &Workload,
    ) -> Result<(u64, Vec<(EventIdx, Micros)>)> {
        let names = topo.queue_names();
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into());
        let mut window: VecDeque<PublisherConfirm> = VecDeque::with_capacity(WINDOW);
        let mut stamps = Vec::new();
        let mut confirmed = 0u64;
        let mut body = Vec::with_capacity(64);
        for e in w.indexes() {
            let account = w.account_id(w.account_of(e));
            let q = topo.queue_of(account) as usize;
            if q % self.lanes != self.lane {
                continue;
            }
            let msg = Message {
                event_id: w.event_id(e).0,
                account_id: account.0,
                duration_us: self.with_durations.then(|| w.duration(e).0),
            };
            msg.encode(&mut body);
            if let Some(now) = self.now {
                stamps.push((e, now()));
            }
            let confirm = ch
                .basic_publish(
                    "",
                    &names[q],
                    BasicPublishOptions::default(),
                    &body,
                    props.clone(),
                )
                .await
                .with_context(|| {
                    format!("cannot publish event {} to {}", msg.event_id, names[q])
                })?;
            window.push_back(confirm);
            if window.len() == WINDOW {
                confirmed += settle(window.pop_front()).await?;
            }
        }
        for c in window {
            confirmed += settle(Some(c)).await?;
        }
        Ok((confirmed, stamps))
    }
}

async fn settle(confirm: Option<PublisherConfirm>) -> Result<u64> {
    let Some(c) = confirm else { return Ok(0) };
    match c
        .await
        .context("lost the broker while waiting for confirms")?
    {
        Confirmation::Ack(_) | Confirmation::NotRequested => Ok(1),
        Confirmation::Nack(_) => bail!("the broker refused (nacked) a published event"),
    }
}
