//! Cooperative queue assignment through the broker itself. Every worker binds an exclusive
//! queue to the fanout exchange `<prefix>.members` and sends a heartbeat there every second:
//! its id and the queues it holds (consuming, or handing over). All workers keep the same view
//! of who is there and compute the same fair split from it ([`split`]); a worker consumes only
//! the queues the split gives it, once nobody else holds them.
//!
//! Handing a queue over is the holder's job: it cancels its consumer (no more deliveries),
//! finishes and acknowledges everything it was delivered, closes the queue's channel and only
//! then leaves the queue out of its heartbeat. No worker registers as a standby consumer, so
//! single-active-consumer never activates one while the old holder still has events in hand.

use crate::sync::lock;
use anyhow::{Context, Result};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How often a worker announces itself.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(1);
/// A worker not heard from for this long is gone (three missed heartbeats and a half).
pub(super) const EXPIRY: Duration = Duration::from_millis(3500);
/// After (re)connecting, a worker listens this long before it takes a queue, so it knows who
/// else is there.
pub(super) const LISTEN: Duration = Duration::from_millis(1500);
/// A queue is taken only when the view has not changed for this long (views converge within
/// one heartbeat).
pub(super) const SETTLE: Duration = Duration::from_millis(1200);

/// What a heartbeat says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Beat {
    pub member: String,
    /// Queues it consumes or is handing over.
    pub held: Vec<u32>,
    /// It is stopping: forget it now rather than after [`EXPIRY`].
    #[serde(default)]
    pub leaving: bool,
}

/// One worker as last heard.
#[derive(Clone, Debug)]
struct Member {
    seen: Instant,
    held: Vec<u32>,
}

/// Who is there, as this worker knows it.
#[derive(Debug)]
pub(super) struct View {
    me: String,
    members: HashMap<String, Member>,
    /// When the set of members last changed.
    changed: Instant,
}

impl View {
    pub(super) fn new(me: String) -> Self {
        View {
            me,
            members: HashMap::new(),
            changed: Instant::now(),
        }
    }

    pub(super) fn me(&self) -> &str {
        &self.me
    }

    /// Takes in a heartbeat (this worker's own included).
    pub(super) fn heard(&mut self, beat: Beat, now: Instant) {
        if beat.leaving {
            if self.members.remove(&beat.member).is_some() {
                self.changed = now;
            }
            return;
        }
        let member = Member {
            seen: now,
            held: beat.held,
        };
        if self.members.insert(beat.member, member).is_none() {
            self.changed = now;
        }
    }

    /// Forgets the workers not heard from within [`EXPIRY`] (never this one).
    pub(super) fn expire(&mut self, now: Instant) {
        let me = self.me.clone();
        let before = self.members.len();
        self.members
            .retain(|id, m| *id == me || now.duration_since(m.seen) < EXPIRY);
        if self.members.len() != before {
            self.changed = now;
        }
    }

    /// After this worker's own outage: the others get a fresh [`EXPIRY`] to be heard again
    /// (they were cut off too, or we could not hear them).
    pub(super) fn grace(&mut self, now: Instant) {
        for m in self.members.values_mut() {
            m.seen = now;
        }
    }

    /// The members, sorted, this worker included.
    pub(super) fn members(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.members.keys().cloned().collect();
        if !self.members.contains_key(&self.me) {
            ids.push(self.me.clone());
        }
        ids.sort();
        ids
    }

    /// True when another worker says it holds `queue`.
    pub(super) fn held_by_other(&self, queue: u32) -> bool {
        self.members
            .iter()
            .any(|(id, m)| *id != self.me && m.held.contains(&queue))
    }

    pub(super) fn settled(&self, now: Instant) -> bool {
        now.duration_since(self.changed) >= SETTLE
    }
}

/// The owner (an index into `members`, sorted) of each of `queues` queues: each member gets
/// ⌊N/k⌋ or ⌈N/k⌉ (the first N mod k members one more), and each queue goes to the member it
/// ranks highest (by a hash of queue and member) among those with room left, so a join or a
/// leave moves few queues. Every worker computes the same split from the same members.
pub(super) fn split(members: &[String], queues: u32) -> Vec<usize> {
    let k = members.len().max(1);
    let n = queues as usize;
    let mut room: Vec<usize> = (0..k).map(|i| n / k + usize::from(i < n % k)).collect();
    let mut owners = Vec::with_capacity(n);
    for q in 0..queues {
        let mut ranked: Vec<usize> = (0..k).collect();
        ranked.sort_by_key(|&i| std::cmp::Reverse((rank(q, &members[i]), i)));
        let owner = ranked
            .into_iter()
            .find(|&i| room[i] > 0)
            .expect("room for every queue");
        room[owner] -= 1;
        owners.push(owner);
    }
    owners
}

/// FNV-1a of the queue number and the member id: stable across builds and machines.
fn rank(queue: u32, member: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in queue.to_le_bytes().iter().chain(member.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A new worker id: host, process and a random part, so restarts are new members.
pub(super) fn member_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// One connection's side of the membership: the channel heartbeats go out on and the task
/// that hears the others.
pub(super) struct Membership {
    channel: Channel,
    exchange: String,
    listener: JoinHandle<()>,
    pub(super) joined: Instant,
    pub(super) last_beat: Option<Instant>,
}

impl Membership {
    /// Declares the fanout `exchange` and this worker's exclusive queue bound to it on `conn`,
    /// and starts hearing.
    pub(super) async fn join(
        conn: &Connection,
        exchange: String,
        view: Arc<Mutex<View>>,
    ) -> Result<Membership> {
        let channel = conn.create_channel().await?;
        channel
            .exchange_declare(
                &exchange,
                ExchangeKind::Fanout,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot declare exchange {exchange}"))?;
        let me = lock(&view).me().to_string();
        let inbox = format!("{exchange}.{me}");
        let opts = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(&inbox, opts, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                &inbox,
                &exchange,
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut beats = channel
            .basic_consume(&inbox, &inbox, consume, FieldTable::default())
            .await?;
        let listener = tokio::spawn(async move {
            while let Some(Ok(d)) = beats.next().await {
                if let Ok(beat) = serde_json::from_slice::<Beat>(&d.data) {
                    lock(&view).heard(beat, Instant::now());
                }
            }
        });
        Ok(Membership {
            channel,
            exchange,
            listener,
            joined: Instant::now(),
            last_beat: None,
        })
    }

    /// Sends a heartbeat (not confirmed: the next one follows within a second).
    pub(super) async fn beat(&mut self, beat: &Beat) -> Result<()> {
        let body = serde_json::to_vec(beat)?;
        self.channel
            .basic_publish(
                &self.exchange,
                "",
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default(),
            )
            .await
            .context("cannot send a heartbeat")?;
        self.last_beat = Some(Instant::now());
        Ok(())
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("host-{i}")).collect()
    }

    #[test]
    fn the_split_is_fair_and_the_same_for_everyone() {
        for k in 1..=7 {
            for n in [1u32, 5, 20, 101] {
                let owners = split(&ids(k), n);
                let mut counts = vec![0u32; k];
                for o in &owners {
                    counts[*o] += 1;
                }
                let (lo, hi) = (n / k as u32, n.div_ceil(k as u32));
                assert!(
                    counts.iter().all(|c| *c == lo || *c == hi),
                    "{k} {n} {counts:?}"
                );
                assert_eq!(owners, split(&ids(k), n));
            }
        }
    }

    #[test]
    fn a_join_moves_few_queues() {
        let before = split(&ids(2), 20);
        let after = split(&ids(3), 20);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        // The newcomer's share must move (6 or 7); a plain modulo would move about 13.
        assert!(moved <= 10, "{moved} queues moved");
    }

    #[test]
    fn the_view_expires_the_silent_and_forgets_who_leaves() {
        let t0 = Instant::now();
        let mut v = View::new("b".into());
        let beat = |m: &str, held: Vec<u32>, leaving| Beat {
            member: m.into(),
            held,
            leaving,
        };
        v.heard(beat("a", vec![1, 2], false), t0);
        v.heard(beat("c", vec![3], false), t0);
        assert_eq!(v.members(), ["a", "b", "c"]);
        assert!(v.held_by_other(2) && !v.held_by_other(5));
        v.heard(beat("c", vec![], true), t0);
        assert_eq!(v.members(), ["a", "b"]);
        v.expire(t0 + EXPIRY);
        assert_eq!(v.members(), ["b"], "a missed its heartbeats");
        assert!(!v.held_by_other(2));
        assert!(v.settled(t0 + EXPIRY + SETTLE));
    }
}
