//! Events CSV loading (temporary minimal version; replaced by the full validating loader).
use super::{Durations, Source, Workload};
use crate::error::InputError;
use crate::types::{AccountId, EventId, Micros};
use std::path::Path;

pub fn load(path: &Path, process_time: Micros) -> Result<Workload, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n);
    let (ei, ai, di) = (
        col("event_id").unwrap(),
        col("account_id").unwrap(),
        col("duration_us"),
    );
    let mut w = match di {
        Some(_) => Workload::with_durations(Source::File(path.into()), Durations::PerEvent(vec![])),
        None => Workload::new(Source::File(path.into()), process_time),
    };
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        w.push(
            EventId(f[ei].parse().unwrap()),
            AccountId(f[ai].parse().unwrap()),
            di.map(|i| Micros(f[i].parse().unwrap())),
        );
    }
    Ok(w)
}
