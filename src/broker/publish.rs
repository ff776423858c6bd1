//! Publishing a workload: each event to its account's queue, persistent, with publisher
//! confirms, in arrival order (one channel, so an account's events keep their order).

use super::amqp::{Message, Topology};
use crate::types::Micros;
use crate::workload::Workload;
use anyhow::{bail, Context, Result};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::{BasicProperties, Connection};
use std::time::{Duration, Instant};

/// Confirms awaited per batch: keeps memory bounded without waiting on every message.
const CONFIRM_BATCH: usize = 1000;

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
    mut stamps: Stamps<'_>,
) -> Result<Published> {
    let started = Instant::now();
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let names = topo.queue_names();
    let props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    let mut pending: Vec<PublisherConfirm> = Vec::with_capacity(CONFIRM_BATCH);
    let mut confirmed = 0u64;
    for e in w.indexes() {
        let account = w.account_id(w.account_of(e));
        let msg = Message {
            event_id: w.event_id(e).0,
            account_id: account.0,
            duration_us: with_durations.then(|| w.duration(e).0),
        };
        let body = serde_json::to_vec(&msg)?;
        let queue = &names[topo.queue_of(account) as usize];
        if let Some((now, out)) = stamps.as_mut() {
            out.push(now());
        }
        let confirm = ch
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                &body,
                props.clone(),
            )
            .await
            .with_context(|| format!("cannot publish event {} to {queue}", msg.event_id))?;
        pending.push(confirm);
        if pending.len() == CONFIRM_BATCH {
            confirmed += settle(&mut pending).await?;
        }
    }
    confirmed += settle(&mut pending).await?;
    let _ = ch.close(200, "published").await;
    Ok(Published {
        events: w.len() as u64,
        confirmed,
        elapsed: started.elapsed(),
    })
}

async fn settle(pending: &mut Vec<PublisherConfirm>) -> Result<u64> {
    let mut ok = 0u64;
    for c in pending.drain(..) {
        match c
            .await
            .context("lost the broker while waiting for confirms")?
        {
            Confirmation::Ack(_) | Confirmation::NotRequested => ok += 1,
            Confirmation::Nack(_) => bail!("the broker refused (nacked) a published event"),
        }
    }
    Ok(ok)
}
