//! The tests of the RabbitMQ wing (`run`/`worker`/`publish`/`serve`/`compare --broker`), one
//! module per feature, in one binary beside `tests/it` (see there why binaries are few).
//!
//! They need a RabbitMQ at EVENTBENCH_AMQP_URL (default amqp://127.0.0.1:5672/%2f). Without one
//! each such test prints "skipped: no RabbitMQ at …" and passes, except under CI=true, where a
//! missing broker is a failure (CI installs one with .ci/rabbitmq.sh). The few checks of bad
//! usage that need no broker live beside the features they guard.

#[path = "../common/mod.rs"]
mod common;

mod basics;
mod batch;
mod cluster;
mod compare;
mod cross_site;
mod fault;
mod front;
mod handlers;
mod relay_ids;
mod reruns;
mod resilience;
mod share;
