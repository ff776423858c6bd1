//! A confirmed publisher shared by many concurrent callers (the web API in front of RabbitMQ):
//! each call returns only once the broker confirmed the message, or says it could not.
//!
//! An account's events always travel on the same channel (its queue's), so their publish
//! order is their call order. A lost connection fails the calls at once and is re-opened in
//! the background with backoff; until then callers are told the broker is unavailable.

use super::amqp::{self, Message, Topology};
use crate::sync::{read, write};
use crate::types::AccountId;
use anyhow::{Context, Result};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::{BasicProperties, Channel, Connection};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Longest wait for one confirm before the connection is taken for lost.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a message was not confirmed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfirmError {
    #[error("RabbitMQ is unreachable (reconnecting)")]
    Unavailable,
    #[error("RabbitMQ refused the message: {0}")]
    Refused(&'static str),
}

struct Link {
    conn: Connection,
    channels: Vec<Channel>,
}

/// The shared publisher.
pub(crate) struct ConfirmedPublisher {
    topology: Topology,
    names: Vec<String>,
    width: usize,
    link: RwLock<Option<Arc<Link>>>,
    reconnecting: AtomicBool,
    props: BasicProperties,
}

impl ConfirmedPublisher {
    /// Connects, declares the queues and opens `channels` confirm-mode channels (at most one
    /// per queue).
    pub(crate) async fn connect(
        topology: Topology,
        channels: usize,
    ) -> Result<Arc<ConfirmedPublisher>> {
        let width = channels.clamp(1, topology.queues as usize);
        let link = open(&topology, width).await?;
        Ok(Arc::new(ConfirmedPublisher {
            names: topology.queue_names(),
            topology,
            width,
            link: RwLock::new(Some(Arc::new(link))),
            reconnecting: AtomicBool::new(false),
            props: BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
        }))
    }

    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    /// True while a connection is open.
    pub(crate) fn is_up(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<Link>> {
        read(&self.link).clone()
    }

    /// Publishes `msg` (persistent, mandatory) to its account's queue and waits for the
    /// broker's confirm.
    pub(crate) async fn publish(self: &Arc<Self>, msg: &Message) -> Result<(), ConfirmError> {
        let Some(link) = self.current() else {
            return Err(ConfirmError::Unavailable);
        };
        let queue = self.topology.queue_of(AccountId(msg.account_id)) as usize;
        let ch = &link.channels[queue % self.width];
        let mut body = Vec::with_capacity(64);
        msg.encode(&mut body);
        // Mandatory: a message no queue takes (a queue deleted behind our back) comes back
        // instead of being confirmed and dropped.
        let opts = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let sent = ch
            .basic_publish("", &self.names[queue], opts, &body, self.props.clone())
            .await;
        let confirmed = match sent {
            // A silently dead connection would otherwise hold the request until the heartbeat
            // notices; after the timeout the message may still land (at-least-once).
            Ok(confirm) => tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
                .await
                .unwrap_or(Err(lapin::Error::InvalidConnectionState(
                    lapin::ConnectionState::Error,
                ))),
            Err(e) => Err(e),
        };
        match confirmed {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(_))) => Err(ConfirmError::Refused("no queue took it")),
            Ok(Confirmation::Nack(_)) => Err(ConfirmError::Refused("nacked")),
            Ok(Confirmation::NotRequested) => Err(ConfirmError::Refused("not confirmed")),
            Err(_) => {
                self.lost(&link);
                Err(ConfirmError::Unavailable)
            }
        }
    }

    /// Drops `link` (if still current) and reconnects in the background.
    fn lost(self: &Arc<Self>, link: &Arc<Link>) {
        {
            let mut cur = write(&self.link);
            if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, link)) {
                *cur = None;
                eprintln!(
                    "warning: lost RabbitMQ at {}; answering 503 until it is back",
                    self.topology.display_url()
                );
            }
        }
        if self.reconnecting.swap(true, SeqCst) {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                tokio::time::sleep(backoff).await;
                if let Ok(link) = open(&me.topology, me.width).await {
                    *write(&me.link) = Some(Arc::new(link));
                    eprintln!("reconnected to RabbitMQ at {}", me.topology.display_url());
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            me.reconnecting.store(false, SeqCst);
        });
    }

    /// Closes the connection (after the last confirm was awaited).
    pub(crate) async fn close(&self) {
        let link = write(&self.link).take();
        if let Some(l) = link {
            let _ = l.conn.close(200, "done").await;
        }
    }
}

async fn open(topology: &Topology, width: usize) -> Result<Link> {
    let conn = amqp::connect(&topology.url).await?;
    let ch = conn.create_channel().await?;
    amqp::declare(&ch, topology).await?;
    let _ = ch.close(200, "declared").await;
    let mut channels = Vec::with_capacity(width);
    for _ in 0..width {
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .context("cannot put a channel into confirm mode")?;
        channels.push(ch);
    }
    Ok(Link { conn, channels })
}
