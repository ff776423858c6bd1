//! eventbench: process per-account event streams in strict per-account order as fast as the
//! machine allows, prove that the order held, and measure the result against the lower bound.
//!
//! The binary is a thin shell over this library: `cli` holds the shared flag groups, `cmd`
//! one module per subcommand, `pipeline` turns a validated run into a runner, `engine` owns
//! queues, strategies and clocks, `report` turns what happened into numbers, `live` and `web`
//! show what is happening now, and `intake` / `broker` bring events in over HTTP or RabbitMQ.
//! docs/ARCHITECTURE.md draws the layers.
//!
//! The modules are private. What is public: the entry points of the binary, the engine as a
//! library (with its workload and id types), and [`internals`], the few pieces that the
//! benchmarks and the integration tests drive directly.

#![warn(unreachable_pub)]

mod broker;
mod build_info;
mod cli;
mod cmd;
mod color;
pub mod engine;
mod error;
mod export;
mod handler;
mod http_url;
mod intake;
mod judge;
mod live;
mod live_log;
mod output;
mod pipeline;
mod prefetch;
mod progress;
mod report;
mod send;
mod shutdown;
mod sync;
mod token;
pub mod types;
mod url_authority;
mod web;
pub mod workload;

pub use cmd::{dispatch, parse, Cli};
pub use error::{exit_code, is_broken_pipe, print_error, render, UsageError};

/// What the benchmarks and the integration tests reach inside the binary: not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::broker::amqp;
    pub use crate::handler::http::HttpHandler;
    pub use crate::intake::{listen::Limits, origin::Origins, run as serve, Config, ServeOutcome};
    pub use crate::judge::{check::Judge, foreign_log};
    pub use crate::live::{Board, Info};
    pub use crate::report::{Report, RunInfo};
    pub use crate::send::{
        client::{send_all, SendConfig},
        request::SentLog,
    };
    pub use crate::token::Token;
}
