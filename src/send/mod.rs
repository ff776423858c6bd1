//! The client of any web API: `send` and `run --ingest http` post a workload's events over
//! HTTP in per-account order ([`client`]), shaped by a request template, and keep the `--sent`
//! log of answers ([`request`]). The crate's only user of `reqwest`.

pub(crate) mod client;
pub(crate) mod request;
