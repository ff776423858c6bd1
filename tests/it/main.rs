//! The integration tests that need neither RabbitMQ nor a browser, one module per feature.
//!
//! They are modules of one test binary rather than files of their own under `tests/`: Cargo
//! builds every `tests/*.rs` as a separate binary, each linking the whole crate with axum,
//! lapin, rusqlite and plotters, and those links dominated `cargo test` on a small machine.
//! A new feature's tests go here as a module; `tests/broker` holds the tests of the RabbitMQ
//! wing and `tests/browser` those that drive Chromium.

#[path = "../common/mod.rs"]
mod common;

mod blast;
mod color;
mod compare;
mod consistent_flags;
mod crash_workflow;
mod cross_site;
mod damaged_data_dir;
mod drain_in_flight;
mod durable;
mod durations;
mod fresh_state;
mod generate;
mod handler_io;
mod handlers;
mod honest_pages;
mod intake_strict;
mod interrupted;
mod layers;
mod live_bound;
mod long_lines;
mod papercuts;
mod qa;
mod repeat;
mod report;
mod run;
mod scheduler_props;
mod secrets;
mod send;
mod send_limits;
mod serve;
mod serve_fault;
mod serve_slow_clients;
mod shell;
mod slow_bodies;
mod stdin;
mod sweep_progress;
mod tls;
mod token;
mod verdict;
mod verify;
mod version;
