//! AMQP plumbing shared by the publisher and the consumer: connecting (to one node of a
//! cluster, [`Brokers`]), queue names and declarations, and the message body.

mod brokers;
pub use brokers::{Brokers, QueueType};

use crate::error::UsageError;
use crate::types::AccountId;
use crate::url_authority::{self, redact};
use anyhow::{Context, Result};
use lapin::options::{
    ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The queue prefix used when none is given.
pub const DEFAULT_PREFIX: &str = "eventbench";

/// Where the events go: a broker (or the nodes of a cluster) and N queues
/// `<prefix>.0 … <prefix>.N-1` of one type.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The broker URLs, tried in order ([`Brokers::connect`]).
    pub url: Brokers,
    pub queues: u32,
    pub prefix: String,
    pub queue_type: QueueType,
}

impl Topology {
    /// Classic queues; see [`Topology::with_queue_type`].
    pub fn new(url: impl Into<Brokers>, queues: u32, prefix: &str) -> Self {
        Topology {
            url: url.into(),
            queues: queues.max(1),
            prefix: prefix.to_string(),
            queue_type: QueueType::Classic,
        }
    }

    pub fn with_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    pub fn queue_name(&self, i: u32) -> String {
        format!("{}.{i}", self.prefix)
    }

    pub fn queue_names(&self) -> Vec<String> {
        (0..self.queues).map(|i| self.queue_name(i)).collect()
    }

    /// Every event of an account goes to the same queue, so the queue keeps their order.
    pub fn queue_of(&self, account: AccountId) -> u32 {
        (account.0 % u64::from(self.queues)) as u32
    }

    /// The fanout exchange the workers of these queues announce themselves on.
    pub fn members_exchange(&self) -> String {
        format!("{}.members", self.prefix)
    }

    /// The URLs without their passwords, for messages.
    pub fn display_url(&self) -> String {
        self.url.display()
    }
}

/// One event on the wire (JSON). `duration_us` is absent when the consumer's
/// `--process-time` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub event_id: u64,
    pub account_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_us: Option<u64>,
}

impl Message {
    /// The JSON body, written by hand: it is three plain numbers, and this is the publisher's
    /// hot path.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        self.append_to(out);
    }

    /// [`Message::encode`] without clearing `out` first (batches append event after event).
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(b"{\"event_id\":");
        out.extend_from_slice(buf.format(self.event_id).as_bytes());
        out.extend_from_slice(b",\"account_id\":");
        out.extend_from_slice(buf.format(self.account_id).as_bytes());
        if let Some(d) = self.duration_us {
            out.extend_from_slice(b",\"duration_us\":");
            out.extend_from_slice(buf.format(d).as_bytes());
        }
        out.push(b'}');
    }

    /// Parses a single-event body; `None` when it is not an event.
    pub fn decode(body: &[u8]) -> Option<Message> {
        serde_json::from_slice(body).ok()
    }

    /// Parses a body of either shape: one event object, or a non-empty array of them in
    /// queue order; `None` when it is neither (a batch is taken whole or not at all).
    pub fn decode_batch(body: &[u8]) -> Option<Vec<Message>> {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => serde_json::from_slice::<Vec<Message>>(body)
                .ok()
                .filter(|batch| !batch.is_empty()),
            Some(b'{') => Message::decode(body).map(|m| vec![m]),
            _ => None,
        }
    }
}

/// Writes message bodies: one event object at `--batch 1` (the original format, which
/// `serve --broker` also sends), else a JSON array of event objects, appended one at a time.
#[derive(Debug)]
pub struct BodyWriter {
    batch: usize,
    body: Vec<u8>,
    events: usize,
}

impl BodyWriter {
    /// A writer for messages of at most `batch` (≥ 1) events.
    pub fn new(batch: usize) -> Self {
        BodyWriter {
            batch: batch.max(1),
            body: Vec::with_capacity(64 * batch.max(1)),
            events: 0,
        }
    }

    /// Appends an event; true when the message is full and should be sent.
    pub fn push(&mut self, m: &Message) -> bool {
        if self.batch > 1 {
            self.body.push(if self.events == 0 { b'[' } else { b',' });
        }
        m.append_to(&mut self.body);
        self.events += 1;
        self.events == self.batch
    }

    /// Events in the message being written.
    pub fn events(&self) -> usize {
        self.events
    }

    /// The finished body (empty when no event was pushed); the writer starts a new message.
    pub fn take(&mut self) -> Vec<u8> {
        if self.batch > 1 && self.events > 0 {
            self.body.push(b']');
        }
        self.events = 0;
        std::mem::replace(&mut self.body, Vec::with_capacity(64 * self.batch))
    }
}

/// What a valid `--broker` looks like, for error messages.
pub const EXAMPLE_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Checks a `--broker` value before anything runs: an `amqp://` or `amqps://` URL that lapin
/// parses, with the authority as strict as [`crate::url_authority`] makes it (lapin would take
/// `amqp://h:/%2f` for port 5672 and a missing host for `localhost`).
pub fn check_url(url: &str) -> Result<(), String> {
    let example = format!(
        "a valid one looks like {EXAMPLE_URL} (user:password@host:port/vhost, the default \
         vhost / written %2f; amqps:// for TLS)"
    );
    // Trimmed as the `url` crate trims, so the authority checked is the one lapin reads.
    let text = url.trim_matches(|c: char| c <= ' ');
    let (scheme, rest) = text.split_once(':').unwrap_or(("", ""));
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "amqp" => 5672,
        "amqps" => 5671,
        _ => {
            return Err(format!(
                "'{}' is not a RabbitMQ URL; {example}",
                redact(url)
            ))
        }
    };
    let amqp = url_authority::Scheme {
        default_port,
        backslash_ends_authority: false,
    };
    let host = url_authority::check(rest, amqp)
        .map_err(|e| format!("'{}': {e}; {example}", redact(url)))?;
    if let url_authority::Host::Ipv6(_) = host {
        // lapin takes the host from `Url::domain`, which is None for an IP literal in
        // brackets, and then connects to `localhost` instead.
        return Err(format!(
            "'{}': the RabbitMQ client cannot connect to an IPv6 address (it would go to \
             localhost); give a host name that resolves to it",
            redact(url)
        ));
    }
    url.parse::<lapin::uri::AMQPUri>()
        .map_err(|e| format!("invalid RabbitMQ URL '{}' ({e}); {example}", redact(url)))?;
    Ok(())
}

/// Opens a connection to the first node that answers, with a bounded wait per node and an
/// error that names them.
pub async fn connect(to: impl Into<Brokers>) -> Result<Connection> {
    to.into().connect().await
}

/// Declares the durable single-active-consumer queues of `topo`'s type (idempotent: same
/// arguments every time). A queue that exists with another type is bad usage (exit 2).
pub async fn declare(ch: &Channel, topo: &Topology) -> Result<()> {
    let mut args = FieldTable::default();
    args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    // Classic stays without the argument, so queues declared before --queue-type still match.
    if topo.queue_type == QueueType::Quorum {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    let opts = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for name in topo.queue_names() {
        let declared = ch.queue_declare(&name, opts, args.clone()).await;
        let Err(e) = declared else { continue };
        if let Some(current) = brokers::existing_type(&e.to_string()) {
            return Err(UsageError(format!(
                "queue {name} exists as a {current} queue, but --queue-type is {}: give \
                 --queue-type {current}, or delete the queues {}.* to change their type",
                topo.queue_type.name(),
                topo.prefix
            ))
            .into());
        }
        return Err(e).with_context(|| {
            format!("cannot declare queue {name} (if it exists with other arguments, delete it)")
        });
    }
    Ok(())
}

/// Empties the queues; returns how many messages were dropped.
pub async fn purge(ch: &Channel, topo: &Topology) -> Result<u64> {
    let mut dropped = 0u64;
    for name in topo.queue_names() {
        dropped += u64::from(
            ch.queue_purge(&name, QueuePurgeOptions::default())
                .await
                .with_context(|| format!("cannot purge queue {name}"))?,
        );
    }
    Ok(dropped)
}

/// Messages ready for delivery (not counting those delivered and unacknowledged) over all queues.
pub async fn ready_messages(ch: &Channel, topo: &Topology) -> Result<u64> {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut ready = 0u64;
    for name in topo.queue_names() {
        let q = ch
            .queue_declare(&name, opts, FieldTable::default())
            .await
            .with_context(|| format!("cannot inspect queue {name}"))?;
        ready += u64::from(q.message_count());
    }
    Ok(ready)
}

/// Consumers registered on one queue (active or standby).
pub async fn consumer_count(ch: &Channel, name: &str) -> Result<u32> {
    let opts = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = ch
        .queue_declare(name, opts, FieldTable::default())
        .await
        .with_context(|| format!("cannot inspect queue {name}"))?;
    Ok(q.consumer_count())
}

/// Deletes the queues and the workers' exchange (tests and one-off benchmarks clean up after
/// themselves).
pub async fn delete(url: impl Into<Brokers>, topo: &Topology) -> Result<()> {
    let conn = connect(url).await?;
    let ch = conn.create_channel().await?;
    for name in topo.queue_names() {
        ch.queue_delete(&name, QueueDeleteOptions::default())
            .await
            .with_context(|| format!("cannot delete queue {name}"))?;
    }
    let members = topo.members_exchange();
    ch.exchange_delete(&members, ExchangeDeleteOptions::default())
        .await
        .with_context(|| format!("cannot delete exchange {members}"))?;
    let _ = conn.close(200, "done").await;
    Ok(())
}

/// True when something accepts TCP connections at the URL's host and port (tests use this to
/// decide whether a broker is there at all).
pub fn reachable(url: &str) -> bool {
    let Ok(uri) = url.parse::<lapin::uri::AMQPUri>() else {
        return false;
    };
    let addr = format!("{}:{}", uri.authority.host, uri.authority.port);
    let Ok(mut addrs) = std::net::ToSocketAddrs::to_socket_addrs(&addr) else {
        return false;
    };
    addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

#[cfg(test)]
mod tests;
