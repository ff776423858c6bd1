//! The RabbitMQ backend: publishing workloads to N durable single-active-consumer queues routed
//! by account, and consuming them through the live engine with acks in per-account order.
//!
//! [`amqp`] holds the wire details, [`publish`] the batch publisher and [`confirm`] the shared
//! confirmed publisher behind `serve --broker`; [`consume`] runs a consumer (reconnecting
//! after a lost connection) over one connection at a time (`link`); `pump` is one queue's
//! consumer, `book` what it has in the engine, and [`acks`] acknowledges in few frames;
//! `assign` and `handover` share the queues among workers through the broker; [`logged`] is
//! the consumer's handler, which writes the live log; [`design`] runs the original
//! one-message-at-a-time design and ours on throwaway queues for `compare --broker`.

pub(crate) mod acks;
pub mod amqp;
mod assign;
mod book;
pub(crate) mod confirm;
pub(crate) mod consume;
pub(crate) mod design;
mod handover;
mod link;
pub(crate) mod logged;
mod ownership;
pub(crate) mod publish;
mod pump;

use crate::engine::record::{Execution, Records};
use crate::engine::timer::TimerMode;
use crate::engine::Plan;
use crate::types::{EventIdx, LaneId, Micros};
use crate::workload::{Durations, Source, Workload};
use amqp::Topology;
use anyhow::Result;
use consume::{Config, StopWhen};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

/// How an in-process broker run consumes and times its events.
#[derive(Clone)]
pub(crate) struct Options {
    /// Unacknowledged messages per queue: `u16::MAX` for our consumer, 1 for the original
    /// one-message-at-a-time design.
    pub prefetch: u16,
    /// Count latency from the publish (the event entered RabbitMQ) instead of from the
    /// delivery to the consumer; matters when messages wait in the broker (prefetch 1).
    pub arrival_at_publish: bool,
    /// Events per message (see [`publish::Shape::batch`]).
    pub batch: u32,
    /// How the consumer's sleeps end (`--timer`).
    pub timer: TimerMode,
    /// A live dashboard's board holding the run's workload (`run --broker --dashboard`).
    pub board: Option<std::sync::Arc<crate::live::Board>>,
}

impl Default for Options {
    /// What `run --broker` does: our consumer, latency from delivery.
    fn default() -> Self {
        Options {
            prefetch: u16::MAX,
            arrival_at_publish: false,
            batch: publish::IN_PROCESS_BATCH,
            timer: TimerMode::Precise,
            board: None,
        }
    }
}

/// `run --broker URL --queues N`: publishes `workload` to the N queues of `topo` and consumes it in this
/// process; returns the workload and what happened, checked against the original arrival order.
pub(crate) fn run_through(
    topo: Topology,
    workload: Workload,
    plan: Plan,
    opts: Options,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    let rt = crate::engine::runtime()?;
    rt.block_on(run_async(topo, workload, plan, opts, quiet))
}

/// Publishes and consumes `workload` on `topo` (declared and purged first) in this process.
pub(crate) async fn run_async(
    topo: Topology,
    workload: Workload,
    plan: Plan,
    opts: Options,
    quiet: bool,
) -> Result<(Workload, Execution)> {
    let conn = amqp::connect(&topo.url).await?;
    let ch = conn.create_channel().await?;
    amqp::declare(&ch, &topo).await?;
    let stale = amqp::purge(&ch, &topo).await?;
    if stale > 0 && !quiet {
        eprintln!("broker: purged {stale} old messages from {}.*", topo.prefix);
    }
    let per_event = workload.has_per_event_durations();
    let cfg = consumer_config(&topo, &workload, plan, &opts);
    let running = consume::start(cfg).await?;
    let progress = crate::progress::Progress::new(workload.len() as u64, "processing", quiet);
    let engine = running.engine().clone();
    let ticker = progress.follow(move || engine.counters().finished.load(Relaxed));
    let clock = running.engine().clone();
    let now = move || clock.now();
    let shape = publish::Shape {
        with_durations: per_event,
        batch: opts.batch,
    };
    let (published, stamps) = publish::publish_timed(&conn, &topo, &workload, shape, &now).await?;
    let consumed = running
        .finish(StopWhen::Processed(published.events))
        .await?;
    let _ = conn.close(200, "done").await;
    if let Some(t) = ticker {
        t.stop().await;
    }
    progress.finish();
    if !quiet {
        eprintln!(
            "broker: published {} events in {} messages to {} queues in {:.3}s ({:.0} \
             events/s); {} deliveries, {} acked",
            published.events,
            published.messages,
            topo.queues,
            published.elapsed.as_secs_f64(),
            published.rate(),
            consumed.stats.deliveries,
            consumed.stats.acked
        );
    }
    let stamps = opts.arrival_at_publish.then_some(stamps.as_slice());
    Ok(remap(
        workload,
        &consumed.workload,
        consumed.execution,
        stamps,
    ))
}

/// The in-process consumer of a run: the plan's strategy and lanes, durations as loaded.
fn consumer_config(topo: &Topology, workload: &Workload, plan: Plan, opts: &Options) -> Config {
    let prefetch = opts.prefetch;
    let template = Workload::with_durations(
        Source::Live(format!("RabbitMQ {}", topo.display_url())),
        if workload.has_per_event_durations() {
            Durations::PerEvent(Vec::new())
        } else {
            Durations::Fixed(workload.uniform_duration().unwrap_or(Micros::ZERO))
        },
    );
    Config {
        topology: topo.clone(),
        strategy: plan.strategy(),
        lanes: plan.lanes(workload.account_count() as u64),
        prefetch,
        // The original design (prefetch 1) runs strictly one event at a time per queue.
        one_at_a_time: prefetch == 1,
        workload: template,
        process_time: Micros::ZERO,
        abort: None,
        handler: logged::Logged {
            inner: crate::handler::AnyHandler::Sleep,
            log: None,
            worker: u64::from(std::process::id()),
            skip: None,
            board: None,
        },
        // One process publishes and consumes: a lost broker ends the run (exit 3).
        reconnect_timeout: None,
        timer: opts.timer,
        live: opts.board.clone().map(|board| consume::Live {
            board,
            preloaded: true,
        }),
        // One process publishes and consumes: nobody to share the queues with.
        cooperative: false,
    }
}

/// Leaves out the events in `gone` (deliveries given up unstarted after a lost connection:
/// they were redelivered and appear again later in the workload).
pub(crate) fn forget(
    w: Workload,
    exec: Execution,
    gone: &std::collections::HashSet<EventIdx>,
) -> (Workload, Execution) {
    if gone.is_empty() {
        return (w, exec);
    }
    let per_event = w.has_per_event_durations();
    let mut kept = empty_like(&w);
    let mut records = Records::live();
    for e in w.indexes().filter(|e| !gone.contains(e)) {
        let duration = per_event.then(|| w.duration(e));
        let k = kept.push(w.event_id(e), w.account_id(w.account_of(e)), duration);
        records.push_arrival(exec.records.arrival_of(e));
        if let Some(r) = exec.records.get(e) {
            records.set(k, r.start, r.end, exec.records.lane(e, &w));
        }
    }
    (kept, exec.with_records(records))
}

/// An empty workload from the same source whose events will take their durations as `w`'s do.
fn empty_like(w: &Workload) -> Workload {
    let durations = if w.has_per_event_durations() {
        Durations::PerEvent(Vec::new())
    } else {
        Durations::Fixed(w.uniform_duration().unwrap_or(Micros::ZERO))
    };
    Workload::with_durations(w.source().clone(), durations)
}

/// One event per event id, in first-delivery order: a second run of an id in this process is
/// recorded as a duplicate of its first run (which the report counts and fails on), not as a
/// new event the order check would take for a later arrival.
pub(crate) fn fold_reruns(w: Workload, exec: Execution) -> (Workload, Execution) {
    let mut seen = std::collections::HashSet::with_capacity(w.len());
    if w.indexes().all(|e| seen.insert(w.event_id(e).0)) {
        return (w, exec);
    }
    let per_event = w.has_per_event_durations();
    let mut first = empty_like(&w);
    seen.clear();
    for e in w.indexes().filter(|&e| seen.insert(w.event_id(e).0)) {
        let duration = per_event.then(|| w.duration(e));
        first.push(w.event_id(e), w.account_id(w.account_of(e)), duration);
    }
    let (first, exec) = remap(first, &w, exec, None);
    (first, exec)
}

/// Re-expresses what ran (indexed in delivery order) against the original workload, so the
/// verifier checks the original arrival order; a second run of an event counts as a duplicate.
/// Each event's arrival is taken from `published` (in workload order) when given.
pub(crate) fn remap(
    original: Workload,
    consumed: &Workload,
    exec: Execution,
    published: Option<&[Micros]>,
) -> (Workload, Execution) {
    let by_id: HashMap<u64, EventIdx> = original
        .indexes()
        .map(|e| (original.event_id(e).0, e))
        .collect();
    let mut runs: Vec<(EventIdx, crate::engine::record::Record, LaneId)> = Vec::new();
    let mut arrival = vec![Micros::ZERO; original.len()];
    let mut seen = vec![false; original.len()];
    for c in consumed.indexes() {
        let Some(&e) = by_id.get(&consumed.event_id(c).0) else {
            continue;
        };
        let Some(r) = exec.records.get(c) else {
            continue;
        };
        if !seen[e.0 as usize] {
            seen[e.0 as usize] = true;
            arrival[e.0 as usize] = r.arrival;
        }
        runs.push((e, r, exec.records.lane(c, consumed)));
    }
    if let Some(p) = published.filter(|p| p.len() == arrival.len()) {
        arrival.copy_from_slice(p);
    }
    let mut records = Records::live();
    for at in arrival {
        records.push_arrival(at);
    }
    for (e, r, lane) in runs {
        records.set(e, r.start, r.end, lane);
    }
    (original, exec.with_records(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ClockKind;
    use crate::types::{AccountId, EventId, LaneId};

    /// A worker's run of `(event, account)` deliveries, in order: the i-th arrived at i µs and
    /// ran 5 µs from 10·i µs, on one lane.
    fn consumed_run(deliveries: &[(u64, u64)]) -> (Workload, Execution) {
        let mut consumed = Workload::new(Source::Live("c".into()), Micros(5));
        let mut records = Records::live();
        for (i, &(e, a)) in deliveries.iter().enumerate() {
            let idx = consumed.push(EventId(e), AccountId(a), None);
            records.push_arrival(Micros(i as u64));
            let start = Micros(10 * i as u64);
            records.set(idx, start, start.saturating_add(Micros(5)), LaneId(0));
        }
        let exec = Execution {
            records,
            wall: Micros(10 * deliveries.len() as u64 - 5),
            clock: ClockKind::Real,
            interrupted: false,
            timer: None,
        };
        (consumed, exec)
    }

    #[test]
    fn remap_follows_event_ids_and_counts_second_runs() {
        let mut original = Workload::new(Source::Live("o".into()), Micros(5));
        for (e, a) in [(1, 7), (2, 8), (3, 7)] {
            original.push(EventId(e), AccountId(a), None);
        }
        // Delivered as 2, 1, 1 (again), 3; the repeat of 1 is a duplicate.
        let (consumed, exec) = consumed_run(&[(2, 8), (1, 7), (1, 7), (3, 7)]);
        let (w, exec) = remap(original, &consumed, exec, None);
        assert_eq!(w.event_id(EventIdx(0)), EventId(1));
        let first = exec.records.get(EventIdx(0)).unwrap();
        assert_eq!((first.arrival, first.start), (Micros(1), Micros(10)));
        assert_eq!(exec.records.get(EventIdx(1)).unwrap().start, Micros(0));
        assert_eq!(exec.records.duplicates(), 1);
    }

    #[test]
    fn a_second_run_of_an_id_in_one_worker_is_a_duplicate_not_a_new_event() {
        // Delivered and run as A:5, A:6, A:5 (a redelivery that ran again): two events, one
        // duplicate, so the report cannot say every event ran once.
        let (consumed, exec) = consumed_run(&[(5, 1), (6, 1), (5, 1)]);
        let (w, exec) = fold_reruns(consumed, exec);
        assert_eq!(w.len(), 2);
        assert_eq!(exec.records.duplicates(), 1);
        assert_eq!(exec.records.get(EventIdx(0)).unwrap().start, Micros(0));
    }
}
