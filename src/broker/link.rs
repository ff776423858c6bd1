//! One connection to RabbitMQ and the queues consumed on it: opening it (joining the
//! membership, or registering on every queue when not cooperating) and starting one queue's
//! consumer on its own channel.

use super::acks::{AckMsg, Session};
use super::amqp;
use super::assign::Membership;
use super::consume::Running;
use super::pump::Pump;
use anyhow::{Context, Result};
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A queue's consumer on its own channel; kept until the queue is handed over.
pub(super) struct Held {
    pub(super) channel: Channel,
    pub(super) tag: String,
    pub(super) pump: JoinHandle<()>,
    pub(super) released: Arc<AtomicBool>,
    /// Handing over: cancelled, its unstarted deliveries given back (once the deliveries
    /// ended), and (once nothing of it is pending) its acks' flush.
    pub(super) draining: bool,
    pub(super) given_back: bool,
    pub(super) flush: Option<oneshot::Receiver<()>>,
    /// Its entry in `Running::owned` (cooperative workers).
    pub(super) record: Option<usize>,
}

/// One connection and its consumers.
pub(super) struct Link {
    pub(super) conn: Connection,
    pub(super) held: std::collections::BTreeMap<u32, Held>,
    pub(super) probe: Channel,
    pub(super) members: Option<Membership>,
}

impl Link {
    pub(super) fn drop_consumers(&self) {
        for h in self.held.values() {
            h.pump.abort();
        }
    }
}

impl Running {
    /// Connects and starts one consumer per queue, in a new session.
    ///
    /// Each queue has one active consumer: the first registered. So that workers started
    /// together share the queues, each starts at a random queue and registers first on the
    /// queues nobody consumes yet; the others it joins last, as standby.
    /// A cooperative worker joins the membership instead and takes its queues later
    /// ([`Running::rebalance`]).
    pub(super) async fn open_link(&self) -> Result<Link> {
        let conn = amqp::connect(&self.topology.url).await?;
        self.set_up_link(conn).await
    }

    /// [`Running::open_link`] once connected: declares the queues, then joins the membership
    /// or registers the consumers.
    pub(super) async fn set_up_link(&self, conn: Connection) -> Result<Link> {
        let probe = conn.create_channel().await?;
        amqp::declare(&probe, &self.topology).await?;
        let mut link = Link {
            conn,
            held: Default::default(),
            probe,
            members: None,
        };
        if let Some(view) = &self.view {
            let exchange = self.topology.members_exchange();
            let m = Membership::join(&link.conn, exchange, Arc::clone(view)).await?;
            link.members = Some(m);
            return Ok(link);
        }
        let session = self.session.load(Relaxed);
        let n = self.topology.queues;
        let offset = rand::random::<u32>() % n;
        let mut taken = Vec::new();
        for q in (0..n).map(|k| (offset + k) % n) {
            if amqp::consumer_count(&link.probe, &self.topology.queue_name(q)).await? > 0 {
                taken.push(q);
                continue;
            }
            let held = self.consume(&link.conn, session, q).await?;
            link.held.insert(q, held);
        }
        for q in taken {
            let held = self.consume(&link.conn, session, q).await?;
            link.held.insert(q, held);
        }
        Ok(link)
    }

    /// Starts the consumer of queue `q` on its own channel.
    pub(super) async fn consume(
        &self,
        conn: &Connection,
        session: Session,
        q: u32,
    ) -> Result<Held> {
        let name = self.topology.queue_name(q);
        let ch = conn.create_channel().await?;
        ch.basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        // The ack loop confirms its rounds with a call on this channel.
        let _ = self.shared.acks.send(AckMsg::Channel {
            session,
            queue: q,
            channel: ch.clone(),
            prefetch: self.prefetch,
        });
        let tag = format!("eventbench-{}-{session}-{q}", std::process::id());
        let consumer = ch
            .basic_consume(
                &name,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot consume queue {name}"))?;
        let released = Arc::new(AtomicBool::new(false));
        let pump = Pump {
            shared: self.shared.clone(),
            session,
            queue: q,
            name,
            one_at_a_time: self.one_at_a_time,
            released: Arc::clone(&released),
        };
        // The channel must outlive the consumer; the task owns a handle, and so does `Held`
        // (a handover closes it only once its acks are flushed).
        Ok(Held {
            channel: ch.clone(),
            tag,
            pump: tokio::spawn(pump.run(ch, consumer)),
            released,
            draining: false,
            given_back: false,
            flush: None,
            record: None,
        })
    }
}
