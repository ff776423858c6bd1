//! Several nodes of one RabbitMQ cluster (`--broker` given more than once) and the kind of
//! queue declared on them (`--queue-type`): connecting fails over from a lost node to the next.

use crate::sync::lock;
use crate::url_authority::redact;
use anyhow::{anyhow, Context, Result};
use lapin::{Connection, ConnectionProperties, ConnectionStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A blackholed address would otherwise make `connect` hang for minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// With other nodes to try, a silent one is given up sooner.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The AMQP heartbeat asked for unless the URL names one (`?heartbeat=N`), in seconds. With
/// RabbitMQ's 60 s, a connection cut without a word (a network partition) went unnoticed for a
/// minute or two on both sides: the worker kept waiting instead of failing over, and the broker
/// kept its consumers, so nobody else could take its queues. Each side now gives up on the
/// other after about twice this.
const HEARTBEAT_S: u16 = 10;

/// `url` as connected to: with the default heartbeat when it names none.
fn with_heartbeat(url: &str) -> Result<lapin::uri::AMQPUri> {
    let mut uri: lapin::uri::AMQPUri = url
        .parse()
        .map_err(|e: String| anyhow!("{e}"))
        .with_context(|| format!("bad RabbitMQ URL {}", redact(url)))?;
    uri.query.heartbeat.get_or_insert(HEARTBEAT_S);
    Ok(uri)
}

/// The queue kind: RabbitMQ's classic queue (one node holds it) or its quorum queue (Raft,
/// replicated on every node of the cluster; survives the loss of a minority of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

impl QueueType {
    pub fn name(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }
}

/// The broker URLs of one cluster, tried in the order given. Clones share which one to try
/// first: the one that last answered while its connection is up, the one after it once that
/// connection is lost.
#[derive(Clone)]
pub struct Brokers {
    urls: Arc<[String]>,
    last: Arc<Mutex<Option<(usize, ConnectionStatus)>>>,
}

impl std::fmt::Debug for Brokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl Brokers {
    /// The URLs, tried in this order (at least one).
    pub fn new(urls: Vec<String>) -> Self {
        assert!(!urls.is_empty(), "Brokers needs a URL");
        Brokers {
            urls: urls.into(),
            last: Arc::new(Mutex::new(None)),
        }
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The URLs without their passwords, for messages.
    pub fn display(&self) -> String {
        let shown: Vec<String> = self.urls.iter().map(|u| redact(u)).collect();
        shown.join(", ")
    }

    /// The URL of the last connection made (redacted), or all of them before the first.
    pub fn current(&self) -> String {
        match &*lock(&self.last) {
            Some((i, _)) => redact(&self.urls[*i]),
            None => self.display(),
        }
    }

    /// The order of the next attempt: the preferred URL first, then the ones after it.
    fn order(&self) -> impl Iterator<Item = usize> {
        let n = self.urls.len();
        let first = match &*lock(&self.last) {
            None => 0,
            Some((i, status)) if status.connected() => *i,
            Some((i, _)) => i + 1,
        } % n;
        (0..n).map(move |k| (first + k) % n)
    }

    /// Opens a connection to the first node that answers, starting with the one of the last
    /// connection while that is up, else with the next: a reconnect after a loss goes to
    /// another node first.
    pub async fn connect(&self) -> Result<Connection> {
        let wait = if self.urls.len() == 1 {
            CONNECT_TIMEOUT
        } else {
            FAILOVER_TIMEOUT
        };
        let mut failures = Vec::new();
        for i in self.order() {
            let url = &self.urls[i];
            let uri = with_heartbeat(url)?;
            let attempt = tokio::time::timeout(
                wait,
                Connection::connect_uri(uri, ConnectionProperties::default()),
            )
            .await;
            let err = match attempt {
                Ok(Ok(conn)) => {
                    *lock(&self.last) = Some((i, conn.status().clone()));
                    return Ok(conn);
                }
                Ok(Err(e)) => anyhow::Error::new(e),
                Err(_) => anyhow!("no answer within {}s", wait.as_secs()),
            };
            failures.push(err.context(format!("cannot connect to RabbitMQ at {}", redact(url))));
        }
        let last = failures.pop().expect("at least one URL was tried");
        if failures.is_empty() {
            return Err(last);
        }
        Err(last).with_context(|| {
            format!(
                "none of the {} RabbitMQ nodes answered ({})",
                self.urls.len(),
                self.display()
            )
        })
    }
}

impl From<&str> for Brokers {
    fn from(url: &str) -> Self {
        Brokers::new(vec![url.to_string()])
    }
}

impl From<&String> for Brokers {
    fn from(url: &String) -> Self {
        Brokers::from(url.as_str())
    }
}

impl From<&Brokers> for Brokers {
    fn from(b: &Brokers) -> Self {
        b.clone()
    }
}

/// The kind of an existing queue named in RabbitMQ's refusal of a declaration with another
/// `x-queue-type` ("inequivalent arg 'x-queue-type' … received X but current is Y"); `None`
/// when the refusal is about something else.
pub(super) fn existing_type(refusal: &str) -> Option<&'static str> {
    if !refusal.contains("inequivalent arg 'x-queue-type'") {
        return None;
    }
    let current = refusal.split("but current is").nth(1)?;
    Some(if current.contains("'quorum'") {
        "quorum"
    } else if current.contains("'stream'") {
        "stream"
    } else {
        "classic"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_existing_type_is_read_from_the_refusal() {
        let was_quorum = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue \
                          'eb.0' in vhost '/': received none but current is the value 'quorum' \
                          of type 'longstr'";
        assert_eq!(existing_type(was_quorum), Some("quorum"));
        let was_classic = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue \
                           'eb.0' in vhost '/': received the value 'quorum' of type 'longstr' \
                           but current is none";
        assert_eq!(existing_type(was_classic), Some("classic"));
        assert_eq!(
            existing_type("inequivalent arg 'x-single-active-consumer'"),
            None
        );
    }

    #[test]
    fn a_ten_second_heartbeat_is_asked_for_unless_the_url_names_one() {
        let default = with_heartbeat("amqp://127.0.0.1:5672/%2f").unwrap();
        assert_eq!(default.query.heartbeat, Some(10));
        let named = with_heartbeat("amqp://127.0.0.1:5672/%2f?heartbeat=30").unwrap();
        assert_eq!(named.query.heartbeat, Some(30));
        let off = with_heartbeat("amqp://127.0.0.1:5672/%2f?heartbeat=0").unwrap();
        assert_eq!(
            off.query.heartbeat,
            Some(0),
            "0: the server's value, as lapin reads it"
        );
    }

    #[test]
    fn urls_are_tried_from_the_preferred_one_and_shown_without_passwords() {
        let b = Brokers::new(vec![
            "amqp://u:secret@a:1/%2f".into(),
            "amqp://u:secret@b:2/%2f".into(),
            "amqp://u:secret@c:3/%2f".into(),
        ]);
        assert_eq!(b.order().collect::<Vec<_>>(), [0, 1, 2]);
        // The connection to the second is gone (a fresh status is not connected).
        *lock(&b.clone().last) = Some((1, ConnectionStatus::default()));
        assert_eq!(b.order().collect::<Vec<_>>(), [2, 0, 1], "clones share it");
        assert!(!b.display().contains("secret"), "{}", b.display());
        assert_eq!(b.display().matches("amqp://").count(), 3);
    }
}
