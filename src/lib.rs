//! eventbench: process per-account event streams in strict per-account order as fast as the
//! machine allows, prove that the order held, and measure the result against the lower bound.
//!
//! The binary is a thin shell over this library: [`cli`] parses flags into validated types,
//! [`cmd`] holds one module per subcommand, [`engine`] owns queues, strategies and clocks,
//! [`report`] turns what happened into numbers, [`live`] shows what is happening now, and
//! [`intake`] / [`broker`] bring events in over HTTP or RabbitMQ.

pub mod broker;
pub mod cli;
pub mod cmd;
pub mod engine;
pub mod error;
pub mod export;
pub mod handler;
pub mod http_url;
pub mod intake;
pub mod judge;
pub mod live;
pub mod live_log;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod send;
pub mod shutdown;
pub mod sync;
pub mod types;
pub mod url_authority;
pub mod web;
pub mod workload;
