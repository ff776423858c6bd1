//! A serve's shutdown: finishing the accepted events, and past the drain timeout handing back
//! the ones that did not finish (in a CSV `run --input` accepts; with a data dir they stay on
//! disk instead).

use super::processing::LiveEngine;
use super::{Config, Leftover};
use crate::types::Micros;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Finishes the accepted events; past the drain timeout, starts no more, waits for none still
/// running, and hands back the unfinished ones (never started or cut off) in a CSV that
/// `run --input` accepts.
pub(super) async fn drain(
    engine: &LiveEngine,
    config: &Config,
    durable: bool,
) -> Result<Option<Leftover>> {
    engine.close();
    let finished = match config.drain_timeout {
        None => {
            engine.wait().await;
            true
        }
        Some(limit) => tokio::time::timeout(limit, engine.wait()).await.is_ok(),
    };
    if finished {
        return Ok(None);
    }
    let cut_off = engine
        .counters()
        .in_flight
        .load(std::sync::atomic::Ordering::Relaxed);
    // An hour-long handler would keep the process for an hour: the deadline is the deadline.
    engine.abandon();
    engine.wait().await;
    let unfinished = engine.unstarted();
    if unfinished.is_empty() {
        return Ok(None);
    }
    if durable {
        // They are on disk already; handing them back too would run them twice.
        if config.announce {
            eprintln!(
                "drain timeout: {} accepted events did not finish ({cut_off} of them cut off \
                 while running, counted redelivered); they stay in the data dir and run again \
                 at the next start",
                unfinished.len()
            );
        }
        return Ok(None);
    }
    write_leftover(&config.leftover, &unfinished)?;
    if config.announce {
        eprintln!(
            "drain timeout: {} accepted events did not finish ({cut_off} of them cut off while \
             running); written to {} (re-run with: eventbench run --input {})",
            unfinished.len(),
            config.leftover.display(),
            config.leftover.display()
        );
    }
    Ok(Some(Leftover {
        path: config.leftover.clone(),
        events: unfinished.len(),
    }))
}

fn write_leftover(
    path: &Path,
    events: &[(crate::types::EventId, crate::types::AccountId, Micros)],
) -> Result<()> {
    crate::output::write_atomic(path, |f| {
        writeln!(f, "event_id,account_id,duration_us")?;
        for (e, a, d) in events {
            writeln!(f, "{},{},{}", e.0, a.0, d.0)?;
        }
        Ok(())
    })
    .with_context(|| {
        format!(
            "cannot hand back the unstarted events to {}",
            path.display()
        )
    })
}
