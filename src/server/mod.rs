//! The web API of the original system (being written).

pub mod ingest;
