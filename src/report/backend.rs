//! Where a run's events were queued: in memory, or in RabbitMQ with one of the two consumer
//! designs that `compare --broker` measures side by side. Named here, below the broker, so a
//! report can say which ran without knowing how a broker run works.

use serde::{Deserialize, Serialize};

/// Which consumer runs the RabbitMQ queues.
///
/// - [`Design::Original`]: the original PHP system: W queues routed by `account_id % W`, one
///   consumer per queue with prefetch 1, so each queue runs strictly one message at a time and
///   an account's backlog blocks every other account of its queue (the `sharded` schedule).
/// - [`Design::Ours`]: our consumer (`run --broker`): everything prefetched, the accounts of a
///   queue processed concurrently by the plan's strategy and lanes, each account in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Design {
    Original,
    Ours,
}

impl Design {
    pub fn name(self) -> &'static str {
        match self {
            Design::Original => "original",
            Design::Ours => "ours",
        }
    }
}

/// Where a run's events were queued: in memory, or in RabbitMQ (`compare --broker`) with one
/// of the two consumer designs. Written as `memory`, `broker-ours`, `broker-original`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    #[default]
    Memory,
    Broker(Design),
}

impl Backend {
    /// For `skip_serializing_if`: memory runs keep the JSON they always had.
    pub fn is_memory(&self) -> bool {
        *self == Backend::Memory
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Broker(Design::Ours) => "broker-ours",
            Backend::Broker(Design::Original) => "broker-original",
        }
    }

    /// What the workers cell (and a plot's legend) adds to a broker run's label.
    pub fn tag(self) -> &'static str {
        match self {
            Backend::Memory => "",
            Backend::Broker(Design::Ours) => " (RabbitMQ, ours)",
            Backend::Broker(Design::Original) => " (RabbitMQ, original)",
        }
    }
}

impl Serialize for Backend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Backend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        [
            Backend::Memory,
            Backend::Broker(Design::Ours),
            Backend::Broker(Design::Original),
        ]
        .into_iter()
        .find(|b| b.name() == name)
        .ok_or_else(|| {
            serde::de::Error::unknown_variant(&name, &["memory", "broker-ours", "broker-original"])
        })
    }
}
